#!/usr/bin/env bash
# Regenerate the hashed locks of the container image from envs/requirements.txt, the single
# source of the versions.  Run from anywhere after changing a pin in envs/requirements.txt:
#
#   pip install pip-tools && bash envs/lock.sh
#
# Writes envs/torch-cpu.lock (torch alone, the CPU build, from PyTorch's CPU index),
# envs/build.lock (setuptools, to build the package and the few sdist-only dependencies) and
# envs/requirements.lock (everything else, from PyPI, with torch's own dependencies).
# Changes to the input, nothing else: torch is locked as its CPU build (`+cpu`, which lives only
# on PyTorch's CPU index and whose metadata lists no CUDA packages), and setuptools, the build
# backend of the package, is locked too, so that the image builds the package from hashed files.
#
# pip-compile keeps the pins already in envs/requirements.lock that still fit (it only moves
# the ones a changed pin forces); delete the lock first to re-resolve every dependency.
# Optional:
#   TORCH_FIND_LINKS=DIR    take the torch wheel from DIR instead of the CPU index
#   LOCK_CONSTRAINTS=FILE   constrain the dependencies, e.g. to `pip freeze --all` of a tested
#                           environment (how the committed lock was made)
set -euo pipefail
cd "$(dirname "$0")/.."
cpu_index="https://download.pytorch.org/whl/cpu"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
sed -E 's/^torch==([0-9.]+)$/torch==\1+cpu/' envs/requirements.txt > "$work/requirements.in"
echo "setuptools>=77.0.3   # the build backend of sgd-spectra (pyproject: >=64; torch: >=77.0.3)" \
    >> "$work/requirements.in"
args=()
if [[ -n "${TORCH_FIND_LINKS:-}" ]]; then args+=(--find-links "$TORCH_FIND_LINKS")
else args+=(--extra-index-url "$cpu_index"); fi
if [[ -n "${LOCK_CONSTRAINTS:-}" ]]; then
    grep -v -E '^(-e |#)| @ |^sgd-spectra==' "$LOCK_CONSTRAINTS" > "$work/constraints.txt"
    args+=(--constraint "$work/constraints.txt")
fi
if [[ -f envs/requirements.lock ]]; then   # keep the current pins (see above)
    cat envs/torch-cpu.lock envs/build.lock envs/requirements.lock 2>/dev/null | grep -v '^#' > "$work/compiled.txt" || true
fi
# No user or site pip configuration: only pip's default index and the torch source above are asked.
PIP_CONFIG_FILE=/dev/null pip-compile --quiet --generate-hashes --allow-unsafe --strip-extras \
    --no-emit-index-url --no-emit-find-links --no-emit-trusted-host --no-header \
    "${args[@]}" \
    --output-file "$work/compiled.txt" "$work/requirements.in"
python3 - "$work/compiled.txt" "$work/requirements.in" "$cpu_index" "$work/constraints.txt" <<'PY'
import re, sys
compiled, source, cpu_index, constraints = sys.argv[1:]
BUILD = {"setuptools"}
blocks, block = [], []
for line in open(compiled).read().splitlines():
    if line and not line[0].isspace() and not line.startswith("#") and block:
        blocks.append(block); block = []
    if line.strip() and not (line.startswith("#") and not block):
        block.append(line.replace(source, "envs/requirements.txt").replace(constraints, "$LOCK_CONSTRAINTS"))
blocks.append(block)
def named(block, names):
    return block[0].split("==")[0].lower() in names
torch = [b for b in blocks if named(b, {"torch"})]
build = [b for b in blocks if named(b, BUILD)]
rest = [b for b in blocks if not named(b, {"torch"} | BUILD)]
assert len(torch) == 1 and "+cpu" in torch[0][0], torch
assert len(build) == len(BUILD), build
head = ("# Hashed lock generated from envs/requirements.txt by envs/lock.sh (pip-tools); do not edit.\n"
        "# Installed by envs/Dockerfile and envs/sgd-spectra.def with --require-hashes --no-deps.\n")
for path, what, chosen in [
        ("envs/torch-cpu.lock", f"torch alone, its CPU build, from {cpu_index}", torch),
        ("envs/build.lock", "the build backend, installed first: the package and the few sdists of\n"
         "# envs/requirements.lock are built with it (--no-build-isolation), so no build step fetches\n"
         "# anything unhashed", build),
        ("envs/requirements.lock", "everything else, from PyPI", rest)]:
    with open(path, "w") as out:
        out.write(head + f"# This file: {what}.\n")
        out.write("\n".join(line for b in chosen for line in b
                             if not line.startswith("# The following packages are considered")) + "\n")
PY
