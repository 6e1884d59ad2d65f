"""What a workflow job asks a cluster for: memory (MB) and wall time (minutes) from the work it does,
doubled on each resubmission.

The rules (workflow/rules/common.smk) combine these with their measured costs per unit of work;
the SLURM fault tests' own workflow (tests/slurm/Snakefile) uses the same doubling.  Snakemake passes
``attempt`` (1, then 2, ... when the profile's ``restart-times`` resubmits a failed job), so a job
killed for memory or time comes back with twice as much.
"""

from __future__ import annotations

import math

BASE_MB = 2000  # one job's Python with numpy, numba, torch and pandas loaded: about 1 GB
FLOOR_MINUTES = 10  # start-up, imports, numba compilation, a slow shared file system
SAFETY = 3  # wall time asked = FLOOR_MINUTES + SAFETY x the measured estimate
MATRIX_MB = 8 / 2**20  # one float64 entry, in MB (an N x N matrix: MATRIX_MB * N**2)


def retry_factor(attempt: int) -> int:
    """Twice the memory and time on each resubmission."""
    return 2 ** (attempt - 1)


def mem_for(attempt: int, n: int = 0, matrices: float = 0, extra_mb: float = 0) -> int:
    """MB for ``matrices`` float64 N x N arrays and ``extra_mb`` more on top of BASE_MB."""
    return math.ceil((BASE_MB + matrices * MATRIX_MB * n**2 + extra_mb) * retry_factor(attempt))


def minutes_for(attempt: int, seconds: float = 0.0, margin: float = SAFETY) -> int:
    """Wall-time minutes for work estimated at ``seconds``."""
    return math.ceil((FLOOR_MINUTES + margin * seconds / 60) * retry_factor(attempt))
