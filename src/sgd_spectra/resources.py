"""What a workflow job asks a cluster for: memory (MB) and wall time (minutes) from the work it does,
doubled on each resubmission.

The rules (workflow/rules/common.smk) combine these with their measured costs per unit of work;
the SLURM fault tests' own workflow (tests/slurm/Snakefile) uses the same doubling.  Snakemake passes
``attempt`` (1, then 2, ... when the profile's ``restart-times`` resubmits a failed job), so a job
killed for memory or time comes back with twice as much.

:func:`allocator_environment` is the other half of a job's set-up: the glibc malloc settings every
job runs with (the Snakefile exports them, so local, SLURM and container jobs inherit them).
"""

from __future__ import annotations

import math

BASE_MB = 2000  # one job's Python with numpy, numba, torch and pandas loaded: about 1 GB
FLOOR_MINUTES = 10  # start-up, imports, numba compilation, a slow shared file system
SAFETY = 3  # wall time asked = FLOOR_MINUTES + SAFETY x the measured estimate
MATRIX_MB = 8 / 2**20  # one float64 entry, in MB (an N x N matrix: MATRIX_MB * N**2)

#: glibc malloc tunables for every job.  By default glibc serves each block above 32 MB with its own
#: mmap and unmaps it on free, so a loop that makes and drops N x N temporaries has the kernel fault
#: in and zero every page of every one of them: a third of du_gram's CPU time at its paper preset
#: was system time (49 of 141 s).  With blocks up to 4 GiB taken from the heap, and the heap's free
#: top kept, a freed block is reused as it is (benchmarks/bench_allocator.py: du_gram 1.74x faster,
#: system time 49.2 s -> 0.9 s; the whole paper-scale run's system time went 399 s -> 343 s).
#: The cost is memory that stays with the process once freed: du_gram's peak rose 1.5x, the
#: largest job's 23% (empirical_ntk at N = 10^4: 3.7 -> 4.6 GiB; its request counts four kernels).
MALLOC_ENV = {"MALLOC_MMAP_THRESHOLD_": str(4 << 30), "MALLOC_TRIM_THRESHOLD_": str(64 << 30)}


def allocator_environment(environ) -> dict[str, str]:
    """The :data:`MALLOC_ENV` settings to add to ``environ`` (a mapping such as ``os.environ``): those
    it does not set already, so a user's own ``MALLOC_*`` value wins.  glibc reads them when a
    process starts, so they are set for the jobs, not for the process that sets them."""
    return {key: value for key, value in MALLOC_ENV.items() if key not in environ}


def retry_factor(attempt: int) -> int:
    """Twice the memory and time on each resubmission."""
    return 2 ** (attempt - 1)


def mem_for(attempt: int, n: int = 0, matrices: float = 0, extra_mb: float = 0) -> int:
    """MB for ``matrices`` float64 N x N arrays and ``extra_mb`` more on top of BASE_MB."""
    return math.ceil((BASE_MB + matrices * MATRIX_MB * n**2 + extra_mb) * retry_factor(attempt))


def minutes_for(attempt: int, seconds: float = 0.0, margin: float = SAFETY) -> int:
    """Wall-time minutes for work estimated at ``seconds``."""
    return math.ceil((FLOOR_MINUTES + margin * seconds / 60) * retry_factor(attempt))
