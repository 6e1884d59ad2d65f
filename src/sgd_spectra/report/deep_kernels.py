"""The report's deep-network section (paper Figs. 9 and 11, in kind): the exponents table, one row
per model kind, read from ``results/experiments/deep_kernels/{model}/summary.parquet``."""

from __future__ import annotations

import pandas as pd

from .format import esc, fmt, pm, table

HEADER = [
    "model",
    "data",
    "parameters",
    "N (pretrain)",
    "pretraining ½ MSE",
    "ν",
    "κ",
    "phase",
    "fit range k",
    "SE(τ = +1) vs linearized",
    "job time",
]


def read_summaries(paths) -> pd.DataFrame:
    """The per-model summaries as one frame (empty when the experiment did not run)."""
    frames = [pd.read_parquet(p) for p in paths]
    return pd.concat(frames, ignore_index=True) if frames else pd.DataFrame()


def exponents_table(summaries: pd.DataFrame) -> str:
    """ν, κ and the phase of each model's kernel side by side, with what was measured on it; HTML."""
    rows = [
        [
            f"<code>{esc(r.model)}</code>",
            esc(r.dataset),
            fmt(r.n_params),
            f"{int(r.n_samples)} ({int(r.n_pretrain)})",
            f"{fmt(r.pretrain_loss_first)} → {fmt(r.pretrain_loss_last)} ({int(r.pretrain_epochs)} epochs)",
            pm(r.nu, r.nu_err),
            pm(r.kappa, r.kappa_err),
            esc(r.phase),
            f"[{int(r.k_min)}, {int(r.k_max)}]",
            f"{fmt(100 * r.tracking_error)}% at α = {r.lr:g}, β = {r.momentum:g}, b = {int(r.batch)}",
            f"{r.seconds:.0f} s",
        ]
        for r in summaries.itertuples()
    ]
    return table(HEADER, rows, cls="deep-kernels")


def dataset_notes(summaries: pd.DataFrame) -> list[str]:
    """What happened to the data (a fallback to digits, capped pretraining), once each."""
    return sorted({note for note in summaries.get("dataset_note", pd.Series(dtype=str)) if note})
