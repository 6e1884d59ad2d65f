"""Seed 001 (:mod:`.edge_of_stability`): the honest tests of companions.md as claim rows, from the
tables alone; each tolerance is a module constant, written once."""

from __future__ import annotations

import pandas as pd

from ..claims import claim_row
from .edge_of_stability_factorisation import CONVERGED_TOL
from .edge_of_stability_orbits import MAX_PERIOD, MIN_SWING, PERIOD_TOL

SECTION = "companion-edge_of_stability"

#: Honest-test tolerances of companions.md.
LEADING_ORDER_REL_TOL = 0.02
LEADING_ORDER_MAX_OVERSHOOT = 0.02  # log cosh: leading order checked for η − 2 ≤ this
EXACT_ROOT_TOL = 1e-8
MF_RATIO_RANGE = (0.97, 1.05)
MF_SMALL_OVERSHOOT_MAX_C = 1.05  # period-2 with the leading-order amplitude expected for 1 < c ≤ this
MF_LARGE_OVERSHOOT_MIN_C = 1.15  # not period-2 expected for c ≥ this
MF_REDUCTION_TOL = 1e-8  # measured vs exact reduced 2-cycle half-amplitude
SHARPNESS_SLACK = 1e-3
#: Slack of the comparisons of grid values (η − 2, c) with the bounds above, against round-off.
GRID_SLACK = 1e-12

SOURCE_CONDITION = "Chen & Bruna 2023, abstract (local third-derivative condition; statement derived here)"
SOURCE_MF = "Chen & Bruna 2023, abstract (period-2 orbits of GD in matrix factorisation)"
DATASET_1D = "1-D log cosh vs convex quartic x²/2+x⁴/24"


def _fmt(values, digits=4):
    return ", ".join(f"{v:.{digits}g}" for v in values)


def _verdict(empty: bool, holds: bool) -> str:
    """ "inconclusive" without runs to judge, else "holds" or "fails"."""
    return "inconclusive" if empty else "holds" if holds else "fails"


def _leading_order_row(log_cosh: pd.DataFrame) -> dict:
    """Log cosh just above η = 2: a 2-cycle with the leading-order half-amplitude."""
    near = log_cosh[log_cosh.eta - 2 <= LEADING_ORDER_MAX_OVERSHOOT + GRID_SLACK]
    rel = (near.measured_half_amplitude / near.leading_half_amplitude - 1).abs()
    verdict = _verdict(near.empty, bool(near.is_period2.all() and (rel <= LEADING_ORDER_REL_TOL).all()))
    return claim_row(
        "001-logcosh-leading-order",
        "For log cosh (3f'''²−f''f''''=+2 > 0) GD just above η=2 converges to a 2-cycle of half-amplitude "
        "√(μ/(α²+β)) to leading order.",
        DATASET_1D,
        SOURCE_CONDITION,
        f"2-cycle with half-amplitude {_fmt(near.leading_half_amplitude)} at η = {_fmt(near.eta)}",
        f"period-2: {list(near.is_period2)}; half-amplitude {_fmt(near.measured_half_amplitude)}; "
        f"relative error {_fmt(rel, 3)}",
        f"period-2 (|x_T−x_(T−2)|<{PERIOD_TOL:g}, |x_T−x_(T−1)|>{MIN_SWING:g}) and within "
        f"{100 * LEADING_ORDER_REL_TOL:g}% for η−2 ≤ {LEADING_ORDER_MAX_OVERSHOOT}",
        verdict,
        SECTION,
        measured_value=rel.max() if len(rel) else None,
        tolerance_value=LEADING_ORDER_REL_TOL,
    )


def _exact_root_row(log_cosh: pd.DataFrame) -> dict:
    """The log cosh 2-cycle is ±x*, x* = (η/2) tanh x*."""
    gap = (log_cosh.measured_half_amplitude - log_cosh.exact_half_amplitude).abs()
    verdict = _verdict(log_cosh.empty, bool(log_cosh.is_period2.all() and (gap <= EXACT_ROOT_TOL).all()))
    return claim_row(
        "001-logcosh-exact-root",
        "The log cosh 2-cycle is ±x* with x* = (η/2) tanh x* for every tested η > 2.",
        DATASET_1D,
        SOURCE_CONDITION,
        f"x* = {_fmt(log_cosh.exact_half_amplitude, 10)} at η = {_fmt(log_cosh.eta)}",
        f"period-2: {list(log_cosh.is_period2)}; max |half-amplitude − x*| = {gap.max():.2e}",
        f"≤ {EXACT_ROOT_TOL:g}",
        verdict,
        SECTION,
        measured_value=gap.max() if len(gap) else None,
        tolerance_value=EXACT_ROOT_TOL,
    )


def _quartic_row(quartic: pd.DataFrame, params: dict) -> dict:
    """The convex quartic (condition < 0): GD diverges for every η > 2."""
    verdict = _verdict(quartic.empty, bool(quartic.diverged.all() and (quartic.condition < 0).all()))
    return claim_row(
        "001-quartic-diverges",
        "For the convex quartic (3f'''²−f''f''''=−1 < 0) the flip is subcritical: GD diverges for every η > 2.",
        DATASET_1D,
        SOURCE_CONDITION,
        f"no stable 2-cycle (condition {quartic.condition.iloc[0]:+g}); divergence for η = {_fmt(quartic.eta)}"
        if not quartic.empty
        else "divergence",
        f"diverged: {list(quartic.diverged)}; at steps {list(quartic.diverged_at_step)}",
        f"|x| > {params['divergence_bound']:g} or non-finite within {params['onedim_steps']} steps",
        verdict,
        SECTION,
    )


def onedim_claims(tables: dict[str, pd.DataFrame], params: dict) -> list[dict]:
    """Part (a): the log cosh 2-cycle (leading order and exact) and the quartic's divergence."""
    onedim = tables["onedim_summary"]
    log_cosh = onedim[onedim.function == "log cosh"].sort_values("eta")
    quartic = onedim[onedim.function == "convex quartic"].sort_values("eta")
    return [_leading_order_row(log_cosh), _exact_root_row(log_cosh), _quartic_row(quartic, params)]


def _mf_amplitude_row(small: pd.DataFrame, dataset: str) -> dict:
    """Slightly above the threshold: a period-2 orbit with the predicted top-direction half-amplitude."""
    per_c = small.drop_duplicates("c")
    ratio = small.measured_half_amplitude / small.predicted_half_amplitude
    lo, hi = MF_RATIO_RANGE
    verdict = _verdict(small.empty, bool(small.is_period2.all() and ratio.between(lo, hi).all()))
    return claim_row(
        "001-mf-period2-amplitude",
        "For η = c/σ1 slightly above the threshold, GD on matrix factorisation converges to a period-2 orbit whose "
        "top-direction half-amplitude is √(2(c−1)/(c(9c−1)))·√σ1.",
        dataset,
        SOURCE_MF,
        f"period-2, half-amplitude {_fmt(per_c.predicted_half_amplitude)} at c = {_fmt(per_c.c)}",
        f"period-2: {int(small.is_period2.sum())}/{len(small)} (c, seed) runs; ratio measured/predicted "
        f"{_fmt(ratio, 4)}",
        f"ratio in [{lo}, {hi}] for 1 < c ≤ {MF_SMALL_OVERSHOOT_MAX_C}",
        verdict,
        SECTION,
    )


def _mf_reduction_row(small: pd.DataFrame, dataset: str) -> dict:
    """The matrix-factorisation 2-cycle is the reduced map's 2-cycle."""
    per_c = small.drop_duplicates("c")
    gap = (small.measured_half_amplitude - small.reduced_exact_half_amplitude).abs()
    verdict = _verdict(small.empty, bool((gap <= MF_REDUCTION_TOL).all()))
    return claim_row(
        "001-mf-reduction",
        "The matrix-factorisation 2-cycle is the 2-cycle of the balanced top-direction map s ↦ s − ηs(s²−σ1).",
        dataset,
        "derived (balanced top-direction reduction, companions.md)",
        f"half-amplitude {_fmt(per_c.reduced_exact_half_amplitude, 10)} (exact 2-cycle of the reduced map)",
        f"max |measured − reduced| = {gap.max():.2e}"
        if not small.empty
        else f"no c in (1, {MF_SMALL_OVERSHOOT_MAX_C}]",
        f"≤ {MF_REDUCTION_TOL:g}",
        verdict,
        SECTION,
        measured_value=gap.max() if len(gap) else None,
        tolerance_value=MF_REDUCTION_TOL,
    )


def _mf_large_c_row(mf: pd.DataFrame, dataset: str) -> dict:
    """Far above the threshold the orbit is no longer period-2."""
    large = mf[mf.c >= MF_LARGE_OVERSHOOT_MIN_C - GRID_SLACK]
    return claim_row(
        "001-mf-not-period2-large-c",
        "Far enough above the threshold the matrix-factorisation orbit is no longer period-2.",
        dataset,
        "companions.md honest test (range of the leading-order theory)",
        f"not period-2 at c = {_fmt(large.c.unique())}",
        f"period-2: {list(large.is_period2)}; detected period {list(large.period)} (0 = none ≤ {MAX_PERIOD}); "
        f"max|P_T−P_(T−2)| = {_fmt(large.period2_residual, 3)}",
        f"period-2 residual ≥ {PERIOD_TOL:g} or swing ≤ {MIN_SWING:g}",
        _verdict(large.empty, bool((~large.is_period2).all())),
        SECTION,
    )


def _mf_below_threshold_row(mf: pd.DataFrame, dataset: str) -> dict:
    """Below the threshold GD converges to a global minimum."""
    below = mf[mf.c < 1]
    return claim_row(
        "001-mf-converges-below-threshold",
        "Below the threshold (c < 1) GD on matrix factorisation converges to a global minimum.",
        dataset,
        "classical (η < 2/λ_max)",
        f"‖UVᵀ−M‖_F → 0 at c = {_fmt(below.c.unique())}",
        f"final ‖UVᵀ−M‖_F = {_fmt(below.residual_norm, 3)}",
        f"< {CONVERGED_TOL:g}",
        _verdict(below.empty, bool(below.converged.all())),
        SECTION,
        measured_value=below.residual_norm.max() if len(below) else None,
        tolerance_value=CONVERGED_TOL,
    )


def mf_claims(tables: dict[str, pd.DataFrame], params: dict) -> list[dict]:
    """Part (b): period-2 orbits of matrix factorisation and their amplitude, by the range of c."""
    mf = tables["mf_summary"].sort_values(["c", "seed"])
    dataset = (
        f"matrix factorisation ½‖UVᵀ−M‖², d={params['mf_dim']}, σ={params['mf_spectrum']}, "
        f"{params['mf_seeds']} seed(s)"
    )
    small = mf[(mf.c > 1) & (mf.c <= MF_SMALL_OVERSHOOT_MAX_C + GRID_SLACK)]
    return [
        _mf_amplitude_row(small, dataset),
        _mf_reduction_row(small, dataset),
        _mf_large_c_row(mf, dataset),
        _mf_below_threshold_row(mf, dataset),
    ]


def sharpness_claims(tables: dict[str, pd.DataFrame], params: dict) -> list[dict]:
    """Part (c): from minima sharper than 2/η, GD converges to a minimum of sharpness ≤ 2/η."""
    sharp = tables["sharpness"]
    done = sharp[sharp.converged]
    excess = done.final_sharpness / done.threshold
    n_unstable_start = int((done.initial_sharpness > done.threshold).sum())
    verdict = _verdict(done.empty or n_unstable_start == 0, bool((excess <= 1 + SHARPNESS_SLACK).all()))
    row = claim_row(
        "001-sharpness-selection",
        "Started near a minimum sharper than 2/η with η below the threshold, GD converges to a minimum of "
        "sharpness ≤ 2/η.",
        f"unbalanced MF minima U=tQ√Σ, V=Q√Σ/t, t ∈ {params['sharp_scales']}",
        "Zhu et al. ICLR 2023 §4.1 summarising Chen & Bruna 2023",
        "final λ_max ≤ 2/η for every converged run",
        f"{len(done)}/{len(sharp)} runs converged ({int(sharp.diverged.sum())} diverged), {n_unstable_start} of them "
        f"from λ_max(0)·η/2 in [{(done.initial_sharpness / done.threshold).min():.3g}, "
        f"{(done.initial_sharpness / done.threshold).max():.3g}]; max final λ_max/(2/η) = {excess.max():.4f}"
        if not done.empty
        else f"0/{len(sharp)} runs converged",
        f"λ_max ≤ (2/η)(1+{SHARPNESS_SLACK:g})",
        verdict,
        SECTION,
        measured_value=excess.max() if len(excess) else None,
        tolerance_value=1 + SHARPNESS_SLACK,
    )
    return [row]
