#!/usr/bin/env bash
# Start a real single-node SLURM cluster on this machine for the tests (root, Debian).
# Idempotent: a second call finds the cluster running and exits 0. Stop it with stop_cluster.sh.
# No accounting storage (no slurmdbd): like many institute clusters, `sacct` has nothing to say,
# which is why profiles/slurm queries job states with squeue.
# Memory is enforced like on a real cluster: a job step whose processes' resident memory exceeds
# what the job asked for (--mem) is killed and the job ends OUT_OF_MEMORY. The jobacct_gather
# plugin does it by reading /proc every second (JobAcctGatherParams=OverMemoryKill), which works
# in a container too; production clusters usually use cgroups (task/cgroup, ConstrainRAMSpace).
set -euo pipefail

node_state() { sinfo -h -N -o '%T' 2>/dev/null | head -1 || true; }

# a running cluster is kept if it enforces memory; one started by an older version of this
# script is restarted with the configuration below
if command -v sinfo >/dev/null && [[ "$(node_state)" =~ ^(idle|mixed|allocated) ]]; then
    if scontrol show config 2>/dev/null | grep -q '^JobAcctGatherParams *= *OverMemoryKill'; then
        echo "slurm: cluster already running ($(node_state))"
        exit 0
    fi
    echo "slurm: restarting the running cluster to enforce memory"
    pkill -x slurmd || true
    pkill -x slurmctld || true
    for _ in $(seq 1 20); do
        pgrep -x slurmd >/dev/null || pgrep -x slurmctld >/dev/null || break
        sleep 0.5
    done
fi

if ! command -v slurmctld >/dev/null || ! command -v slurmd >/dev/null || ! command -v munged >/dev/null; then
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq slurm-wlm munge >/dev/null
fi

host=$(hostname -s)
cpus=$(nproc)
mem_mb=$(( $(awk '/MemTotal/ {print $2}' /proc/meminfo) / 1024 - 1024 ))   # leave 1 GiB to the OS

mkdir -p /etc/slurm /var/spool/slurmctld /var/spool/slurmd /var/log/slurm /run/munge /etc/munge
if [[ ! -s /etc/munge/munge.key ]]; then
    dd if=/dev/urandom bs=1 count=1024 of=/etc/munge/munge.key status=none
fi
chown -R munge:munge /etc/munge /run/munge /var/lib/munge /var/log/munge 2>/dev/null || true
chmod 400 /etc/munge/munge.key
if ! pgrep -x munged >/dev/null; then
    runuser -u munge -- /usr/sbin/munged
fi

cat > /etc/slurm/slurm.conf <<CONF
# written by tests/slurm/start_cluster.sh for $host
ClusterName=sgdspectra
SlurmctldHost=$host
SlurmUser=root
AuthType=auth/munge
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
SchedulerType=sched/backfill
SelectType=select/cons_tres
SelectTypeParameters=CR_Core_Memory
ReturnToService=2
StateSaveLocation=/var/spool/slurmctld
SlurmdSpoolDir=/var/spool/slurmd
SlurmctldPidFile=/run/slurmctld.pid
SlurmdPidFile=/run/slurmd.pid
SlurmctldLogFile=/var/log/slurm/slurmctld.log
SlurmdLogFile=/var/log/slurm/slurmd.log
AccountingStorageType=accounting_storage/none
# memory enforcement: sample every job step's processes each second, kill a step over its memory
JobAcctGatherType=jobacct_gather/linux
JobAcctGatherFrequency=task=1
JobAcctGatherParams=OverMemoryKill
JobCompType=jobcomp/none
# squeue must still know finished jobs when Snakemake asks (no accounting database here)
MinJobAge=600
MpiDefault=none
NodeName=$host CPUs=$cpus RealMemory=$mem_mb State=UNKNOWN
PartitionName=debug Nodes=$host Default=YES MaxTime=INFINITE State=UP
CONF

pgrep -x slurmctld >/dev/null || slurmctld
pgrep -x slurmd >/dev/null || slurmd

for _ in $(seq 1 60); do
    state=$(node_state)
    if [[ "$state" =~ ^(idle|mixed|allocated) ]]; then
        echo "slurm: node $host is $state ($cpus CPUs, ${mem_mb} MB)"
        exit 0
    fi
    [[ "$state" =~ ^(down|drained) ]] && scontrol update nodename="$host" state=resume 2>/dev/null || true
    sleep 1
done
echo "slurm: the node did not become idle; see /var/log/slurm/" >&2
sinfo >&2 || true
exit 1
