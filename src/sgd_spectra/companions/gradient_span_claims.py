"""Seed 000 (:mod:`.gradient_span`): the honest tests of companions.md as claim rows, from the tables
alone; each tolerance is a module constant, written once."""

from __future__ import annotations

import numpy as np
import pandas as pd

from ..claims import claim_row, loglog_slope

#: Honest-test tolerances (companions.md, Seed 000).
SLOPE_RANGE = (-0.75, -0.30)
MAX_ABS_Z = 4.0
MEAN_CURVE_TOLERANCE = 0.05
STANDARD_MAX_ABS_SLOPE = 0.2
#: The predicted log-log slope of the spread against the size (dimension or width).
CONCENTRATION_SLOPE = -0.5

SECTION = "companion-gradient_span"
SOURCE = "Benning & Döring 2024, main result (abstract, §1) and Fig. 1"


def spread_by_size(runs: pd.DataFrame, size: str, value: str) -> pd.DataFrame:
    """Mean, standard deviation (ddof 1) and count across seeds of ``value`` per (size, step)."""
    return runs.groupby([size, "step"], as_index=False)[value].agg(mean="mean", std="std", n_seeds="count")


def std_slope(spread: pd.DataFrame, size: str, step: int) -> float:
    """Least-squares slope of log std (across seeds) against log size at one step (nan if < 2 sizes
    or a zero std)."""
    at = spread[spread.step == step]
    return loglog_slope(at[size], at["std"])


def _in_range(values, lo, hi) -> str:
    values = np.asarray(values, dtype=float)
    if len(values) == 0 or np.isnan(values).any():
        return "inconclusive"
    return "holds" if np.all((values >= lo) & (values <= hi)) else "fails"


def _slope_text(steps, slopes) -> str:
    return ", ".join(f"t={t}: {s:.3f}" for t, s in zip(steps, slopes))


def _furthest(values, target: float) -> float:
    """The value furthest from ``target`` (the one that decides an "every value" verdict); nan if none."""
    finite = [v for v in values if np.isfinite(v)]
    return max(finite, key=lambda v: abs(v - target)) if finite else float("nan")


def grf_claims(costs: pd.DataFrame, limit: pd.DataFrame, params: dict) -> list[dict]:
    """Part (a), the GOE quadratic: the cost spread of GD and heavy ball, and the mean against the limit."""
    rows = []
    dims = sorted(costs.dim.unique())
    lo, hi = SLOPE_RANGE
    steps = params["grf_slope_steps"]
    z_all = []
    for name, runs in costs.groupby("algorithm", sort=False):
        spread = spread_by_size(runs, "dim", "cost")
        slopes = [std_slope(spread, "dim", t) for t in steps]
        rows.append(
            claim_row(
                f"000-grf-std-slope-{'gd' if name == 'GD' else 'hb'}",
                f"The spread across runs of the {name} cost f(x_t)/N on a scaled GRF shrinks as N^(−1/2).",
                "GOE quadratic",
                SOURCE,
                "log-log slope of std(f(x_t)/N) vs N ≈ −0.5",
                f"slopes over N ∈ {{{', '.join(map(str, dims))}}} ({params['grf_seeds']} seeds): "
                + _slope_text(steps, slopes),
                f"every slope in [{lo}, {hi}]",
                _in_range(slopes, lo, hi),
                SECTION,
                predicted_value=CONCENTRATION_SLOPE,
                measured_value=_furthest(slopes, CONCENTRATION_SLOPE),
            )
        )
        merged = spread.merge(limit[limit.algorithm == name], on="step")
        z_all.append(
            merged.assign(
                algorithm=name,
                z=(merged["mean"] - merged.cost_limit) / (merged["std"] / np.sqrt(merged.n_seeds)),
            )
        )
    z = pd.concat(z_all, ignore_index=True)
    worst = z.loc[z.z.abs().idxmax()]
    rows.append(
        claim_row(
            "000-grf-mean-limit",
            "The mean cost curve of GD and heavy ball on the GOE quadratic equals the semicircle limit "
            "½∫(c+λ)ρ_t(λ)² dSC(λ).",
            "GOE quadratic",
            SOURCE + " (limit derived for the quadratic)",
            f"mean f(x_t)/N = limit, e.g. t={int(worst.step)}: {worst.cost_limit:.5f}",
            f"max |z| = {abs(worst.z):.2f} over {len(z)} (algorithm, N, t) cells, at {worst.algorithm}, "
            f"N={int(worst.dim)}, t={int(worst.step)} (mean {worst['mean']:.5f})",
            f"max |z| < {MAX_ABS_Z:g}",
            "holds" if abs(worst.z) < MAX_ABS_Z else "fails",
            SECTION,
            measured_value=abs(worst.z),
            tolerance_value=MAX_ABS_Z,
        )
    )
    return rows


def _mlp_centred_slope_row(spread: pd.DataFrame, widths, params: dict) -> dict:
    """The loss spread of the centred network shrinks as width^(-1/2)."""
    steps = params["mlp_slope_steps"]
    lo, hi = SLOPE_RANGE
    slopes = [std_slope(spread, "width", t) for t in steps]
    return claim_row(
        "000-mlp-centred-std-slope",
        "The spread across seeds of the training loss of a centred-init ReLU network shrinks as width^(−1/2).",
        "digits",
        SOURCE + " (network analogue)",
        "log-log slope of std(L_t) vs width ≈ −0.5",
        f"slopes over m ∈ {{{', '.join(map(str, widths))}}} ({params['mlp_seeds']} seeds): "
        + _slope_text(steps, slopes),
        f"every slope in [{lo}, {hi}]",
        _in_range(slopes, lo, hi),
        SECTION,
        predicted_value=CONCENTRATION_SLOPE,
        measured_value=_furthest(slopes, CONCENTRATION_SLOPE),
    )


def _mlp_mean_prediction_row(spread: pd.DataFrame, prediction: pd.DataFrame, params: dict) -> dict:
    """The mean loss curve of the wide centred network equals the infinite-width NTK prediction."""
    claim = "The mean loss curve of the wide centred network equals the infinite-width NTK prediction."
    wide = spread[spread.width >= params["mlp_match_min_width"]]
    merged = wide.merge(prediction[prediction.init == "centred"], on="step")
    if merged.empty:
        return claim_row(
            "000-mlp-centred-mean-prediction",
            claim,
            "digits",
            SOURCE + " (network analogue)",
            "½·mean(((I − ηΘ∞/n)^t y)²)",
            f"no width ≥ {params['mlp_match_min_width']}",
            f"≤ {100 * MEAN_CURVE_TOLERANCE:.0f}%",
            "inconclusive",
            SECTION,
        )
    merged = merged.assign(rel=(merged["mean"] / merged.loss_prediction - 1).abs())
    per_width = merged.groupby("width").rel.max()
    worst = merged.loc[merged.rel.idxmax()]
    return claim_row(
        "000-mlp-centred-mean-prediction",
        claim,
        "digits",
        SOURCE + " (network analogue)",
        f"½·mean(((I − ηΘ∞/n)^t y)²), e.g. L_{int(worst.step)} = {worst.loss_prediction:.4f}",
        "max over t of |mean/prediction − 1|: "
        + ", ".join(f"m={w}: {100 * r:.2f}%" for w, r in per_width.items())
        + f" (worst at t={int(worst.step)}, mean {worst['mean']:.4f})",
        f"≤ {100 * MEAN_CURVE_TOLERANCE:.0f}% for m ≥ {params['mlp_match_min_width']}",
        "holds" if per_width.max() <= MEAN_CURVE_TOLERANCE else "fails",
        SECTION,
        measured_value=per_width.max(),
        tolerance_value=MEAN_CURVE_TOLERANCE,
    )


def _mlp_standard_slope_row(spread: pd.DataFrame, widths, params: dict) -> dict:
    """Control: with the standard init the loss spread stays O(1) at every width."""
    steps = params["mlp_slope_steps"]
    slopes = [std_slope(spread, "width", t) for t in steps]
    verdict = (
        "inconclusive"
        if np.isnan(slopes).any()
        else "holds"
        if np.all(np.abs(slopes) < STANDARD_MAX_ABS_SLOPE)
        else "fails"
    )
    return claim_row(
        "000-mlp-standard-std-slope",
        "With the standard init the random initial function keeps the loss spread O(1) at every width "
        "(control: no concentration without centring).",
        "digits",
        SOURCE + " (network analogue; control)",
        "log-log slope of std(L_t) vs width ≈ 0",
        f"slopes over m ∈ {{{', '.join(map(str, widths))}}}: " + _slope_text(steps, slopes),
        f"|slope| < {STANDARD_MAX_ABS_SLOPE}",
        verdict,
        SECTION,
        predicted_value=0.0,
        measured_value=_furthest(slopes, 0.0),
        tolerance_value=STANDARD_MAX_ABS_SLOPE,
    )


def mlp_claims(losses: pd.DataFrame, prediction: pd.DataFrame, params: dict) -> list[dict]:
    """Part (b), the ReLU network: the centred init's spread and mean curve, the standard init's spread."""
    widths = sorted(losses.width.unique())
    spreads = {
        init: spread_by_size(losses[losses.init == init], "width", "loss") for init in ("centred", "standard")
    }
    return [
        _mlp_centred_slope_row(spreads["centred"], widths, params),
        _mlp_mean_prediction_row(spreads["centred"], prediction, params),
        _mlp_standard_slope_row(spreads["standard"], widths, params),
    ]
