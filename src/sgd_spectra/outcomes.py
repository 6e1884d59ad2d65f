"""Per-seed outcomes of training runs: did a run diverge, did it end above where it started, and
did a setting converge.  The one home of these decisions: the claims, the report's tables and the
notebooks all call this module.

Every function takes the tidy curves table (``results/curves/{dataset}.parquet``: columns regime,
tau, lr, momentum, batch, seed, step, loss, diverged_at; ``diverged_at`` is the step a run
diverged at, -1 if it did not).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

#: The columns that name one SGD setting.
SETTING_KEYS = ["lr", "momentum", "batch"]
#: What :func:`setting_outcomes` returns, one row per setting.
OUTCOME_COLUMNS = [*SETTING_KEYS, "n_seeds", "n_diverged", "n_grew", "first"]


def select(curves: pd.DataFrame, regime: str, setting: dict | None = None, tau: float | None = None):
    """The rows of one regime (and one setting, and one tau for the SE regime, when given)."""
    sel = curves["regime"] == regime
    if setting is not None:
        sel &= np.all([curves[k] == setting[k] for k in SETTING_KEYS], axis=0)
    if tau is not None:
        sel &= np.isclose(curves["tau"], tau)
    return curves[sel]


def per_seed(runs: pd.DataFrame) -> pd.DataFrame:
    """One row per (setting, seed): ``diverged_at`` (-1 if never), its first and last recorded loss,
    ``diverged``, and ``grew`` (did not diverge, yet ended above its first loss)."""
    keys = [*SETTING_KEYS, "seed"]
    g = runs.sort_values([*keys, "step"]).groupby(keys)
    seeds = pd.DataFrame(
        {
            "diverged_at": g["diverged_at"].max(),
            "first_loss": g["loss"].first(),
            "last_loss": g["loss"].last(),
        }
    ).reset_index()
    seeds["diverged"] = seeds["diverged_at"] >= 0
    seeds["grew"] = (
        ~seeds["diverged"] & np.isfinite(seeds["last_loss"]) & (seeds["last_loss"] > seeds["first_loss"])
    )
    return seeds


def setting_outcomes(curves: pd.DataFrame, regime: str, tau: float | None = None) -> pd.DataFrame:
    """Per setting: seeds run, seeds that diverged, seeds that grew (see :func:`per_seed`), and
    the first divergence step (-1 if none)."""
    runs = select(curves, regime, tau=tau)
    if runs.empty:
        return pd.DataFrame(columns=OUTCOME_COLUMNS)
    agg = (
        per_seed(runs)
        .groupby(SETTING_KEYS)
        .agg(
            n_seeds=("seed", "size"),
            n_diverged=("diverged", "sum"),
            n_grew=("grew", "sum"),
            first=("diverged_at", lambda s: int(s[s >= 0].min()) if (s >= 0).any() else -1),
        )
    )
    return agg.reset_index()[OUTCOME_COLUMNS]


def diverged_count(runs: pd.DataFrame) -> tuple[int, int]:
    """(seeds that diverged, seeds run) among ``runs`` (one setting of one regime)."""
    seeds = runs.groupby("seed")["diverged_at"].max()
    return int((seeds >= 0).sum()), len(seeds)


def converged(curves: pd.DataFrame, regime: str, setting: dict) -> bool | None:
    """Did a setting converge: no seed diverged and the seed-mean loss ended below where it
    started?  None when the regime did not run that setting."""
    runs = select(curves, regime, setting)
    if runs.empty:
        return None
    if (runs["diverged_at"] >= 0).any():
        return False
    first = runs[runs["step"] == runs["step"].min()]["loss"].mean()
    last = runs[runs["step"] == runs["step"].max()]["loss"].mean()
    return bool(np.isfinite(last) and last < first)
