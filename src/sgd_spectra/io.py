"""Small I/O helpers shared by the workflow scripts: logs, JSON, tidy loss-curve tables."""

from __future__ import annotations

import json
import math
import os
import sys
from collections.abc import Mapping
from pathlib import Path

import numpy as np
import pandas as pd

#: Columns of every loss-curve table (one row per dataset, regime, setting, seed, step).
CURVE_COLUMNS = ["dataset", "regime", "tau", "lr", "momentum", "batch", "seed", "step", "loss", "diverged_at"]


def redirect_log(path: str | os.PathLike) -> None:
    """Send this process's stdout and stderr (tqdm progress included) to the rule's log file."""
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    fh = open(path, "w", buffering=1)
    sys.stdout = sys.stderr = fh


def use_threads(n: int) -> None:
    """Run BLAS and numba's parallel loops on a job's ``threads`` and no more: numba would take
    every core, and jobs that Snakemake runs side by side would then share cores."""
    import numba
    from threadpoolctl import threadpool_limits

    numba.set_num_threads(max(1, min(int(n), numba.config.NUMBA_NUM_THREADS)))
    threadpool_limits(int(n))


def to_plain(obj):
    """Plain Python (dict, list, str, int, float, bool) from numpy types and mappings; non-finite
    floats become the strings "inf", "-inf", "nan" (JSON has no such numbers)."""
    if isinstance(obj, Mapping):
        return {str(k): to_plain(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [to_plain(v) for v in obj]
    if isinstance(obj, np.ndarray):
        return [to_plain(v) for v in obj.tolist()]
    if isinstance(obj, (np.bool_,)):
        return bool(obj)
    if isinstance(obj, (np.integer,)):
        return int(obj)
    if isinstance(obj, (float, np.floating)):
        x = float(obj)
        return x if math.isfinite(x) else ("inf" if x > 0 else "-inf" if x < 0 else "nan")
    return obj


def write_json(path: str | os.PathLike, obj) -> None:
    """JSON with numpy types converted and non-finite floats written as strings."""
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w") as fh:
        json.dump(to_plain(obj), fh, indent=2)
        fh.write("\n")


def read_json(path: str | os.PathLike):
    with open(path) as fh:
        return json.load(fh)


def as_float(value) -> float:
    """Inverse of :func:`write_json`'s encoding of non-finite floats."""
    return float(value) if value is not None else math.nan


def curves_frame(loss: np.ndarray, record_steps, diverged_at, **labels) -> pd.DataFrame:
    """Tidy table from a (runs, steps) loss array; ``labels`` are scalars or per-run sequences."""
    loss = np.atleast_2d(loss)
    n_runs, n_steps = loss.shape
    data = {}
    for key in CURVE_COLUMNS:
        if key in ("step", "loss", "diverged_at"):
            continue
        value = labels.get(key, np.nan if key == "tau" else -1)
        data[key] = np.repeat(np.broadcast_to(np.asarray(value), (n_runs,)), n_steps)
    data["step"] = np.tile(np.asarray(record_steps, dtype=np.int64), n_runs)
    data["loss"] = loss.reshape(-1)
    data["diverged_at"] = np.repeat(np.asarray(diverged_at, dtype=np.int64), n_steps)
    frame = pd.DataFrame(data)[CURVE_COLUMNS]
    return frame.astype({"tau": float, "lr": float, "momentum": float, "batch": int, "seed": int})
