#!/usr/bin/env bash
# Stop the test cluster started by start_cluster.sh (slurmctld, slurmd, munged).
set -uo pipefail
scancel --user "$(id -un)" 2>/dev/null
for daemon in slurmd slurmctld munged; do
    pkill -x "$daemon" 2>/dev/null
done
for _ in $(seq 1 20); do
    pgrep -x slurmd >/dev/null || pgrep -x slurmctld >/dev/null || pgrep -x munged >/dev/null || exit 0
    sleep 0.5
done
pkill -9 -x slurmd; pkill -9 -x slurmctld; pkill -9 -x munged
exit 0
