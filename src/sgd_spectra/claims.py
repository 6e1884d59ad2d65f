"""Claims of the theory checked against the workflow's measurements, with verdicts.

Each function takes one dataset's outputs (fit summary, theory summary, tidy loss curves) and
returns claim rows: ``claim_id, claim, dataset, source, prediction, measurement, tolerance,
predicted_value, measured_value, tolerance_value, verdict, section, kind``.  A verdict is ``holds``,
``fails`` or ``inconclusive``; a claim that cannot be checked on a dataset is reported as
inconclusive with the reason, never dropped.

``kind`` keeps the paper apart from the code: ``paper`` rows test a claim of the paper on data;
``check`` rows (:data:`IMPLEMENTATION_CHECKS`) compare the code with itself or with an identity
(SE against SE, a fit against its own generator, Monte Carlo against a closed form) and are shown
in a table of their own.

This module holds the table's columns and rows, the shared tolerances, the claims on a dataset's
fits and theory summary, and :func:`dataset_claims`, which gathers them with the claims read off
the loss curves (:mod:`sgd_spectra.curve_claims`).
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd

from .io import as_float as _as_float
from .outcomes import SETTING_KEYS
from .powerlaw import loglog_slope  # noqa: F401  (re-exported for the companion studies)

CLAIM_COLUMNS = [
    "claim_id",
    "claim",
    "dataset",
    "source",
    "prediction",
    "measurement",
    "tolerance",
    "predicted_value",
    "measured_value",
    "tolerance_value",
    "verdict",
    "section",
    "kind",
]
#: The numeric twins of prediction, measurement and tolerance (nan where a claim has no single
#: number).  A claim judged at many settings gives the numbers of the setting that decides its
#: verdict (the worst one); a claim judged on a deviation (an error, a gap, a number of grid cells)
#: gives that deviation as ``measured_value``, its bound as ``tolerance_value`` and no prediction.
NUMERIC_COLUMNS = ("predicted_value", "measured_value", "tolerance_value")

#: Rows that check the implementation, not the paper: the one home of that distinction.
IMPLEMENTATION_CHECKS = frozenset(
    {
        "fit_recovers_exponents",  # the truncated-power-law fit inverts the synthetic generator
        "critical_lr_closed_form",  # U(1) = 1 against bisection on SE runs: SE against SE
        "divergence_rate",  # the SE growth rate against the root of U(r) = 1: SE against SE
        "eventual_divergence_rate",  # the same in the eventual-divergence phase
        "regime_exact_mean",  # Monte-Carlo mean of sampled SGD against the exact recursion
        "001-logcosh-exact-root",  # an amplitude against the root of its own fixed-point equation
        "001-mf-reduction",  # an algebraic reduction of the matrix-factorisation map
        "003-mc-closed-form",  # Monte Carlo against the closed-form H-infinity
        "004-excess-exponent-L1",  # exponents of a closed-form expression (exactly 2(L+1))
        "004-excess-exponent-L2",
        "004-hb-spectral-curve",  # heavy ball against the SE curve with gamma = 0
    }
)


def claim_kind(claim_id: str) -> str:
    """``check`` for an implementation check, ``paper`` for a claim of the paper."""
    return "check" if claim_id in IMPLEMENTATION_CHECKS else "paper"


#: A fitted power law "holds" with at least this R^2 and at most this relative sub-range spread.
POWER_LAW_R2 = 0.98
POWER_LAW_SPREAD = 0.10
#: A fit short of those with at least this R^2 is "inconclusive", not "fails".
POWER_LAW_R2_INCONCLUSIVE = 0.95
#: Synthetic problems: the fit must recover the generating exponents within this.
EXPONENT_TOLERANCE = 0.05
#: Mean relative error over time within which one loss curve "tracks" another.
TRACKING_TOLERANCE = 0.10
#: Late-time log-log slope tolerance.
SLOPE_TOLERANCE = 0.10
#: Relative agreement of the critical learning rate measured by SE bisection with U(1) = 1.
BISECTION_TOLERANCE = 0.005


def claim_row(
    claim_id,
    claim,
    dataset,
    source,
    prediction,
    measurement,
    tolerance,
    verdict,
    section=None,
    *,
    predicted_value=math.nan,
    measured_value=math.nan,
    tolerance_value=math.nan,
):
    """One row of the claims table.  ``section`` is the report anchor the row links to; the
    ``*_value`` numbers are described at :data:`NUMERIC_COLUMNS`."""
    return dict(
        claim_id=claim_id,
        claim=claim,
        dataset=dataset,
        source=source,
        prediction=prediction,
        measurement=measurement,
        tolerance=tolerance,
        predicted_value=_number(predicted_value),
        measured_value=_number(measured_value),
        tolerance_value=_number(tolerance_value),
        verdict=verdict,
        section=section or dataset,
        kind=claim_kind(claim_id),
    )


def _number(value) -> float:
    """A numeric column's value as a float (nan for None or anything that is not a number)."""
    try:
        return float(value)
    except (TypeError, ValueError):
        return math.nan


def mean_curves(curves: pd.DataFrame) -> pd.DataFrame:
    """Seed-averaged loss per (regime, tau, setting, step); a setting with any diverged seed is inf."""
    keys = ["regime", "tau", *SETTING_KEYS, "step"]
    return curves.groupby(keys, dropna=False, as_index=False)["loss"].mean()


def relative_curve_error(loss: np.ndarray, reference: np.ndarray) -> float:
    """Mean over recorded steps of |loss - reference| / reference (steps where both are finite)."""
    loss, reference = np.asarray(loss, float), np.asarray(reference, float)
    ok = np.isfinite(loss) & np.isfinite(reference) & (reference > 0)
    return float(np.mean(np.abs(loss[ok] - reference[ok]) / reference[ok])) if ok.any() else math.nan


def power_law_claims(dataset: str, fit: dict, meta: dict) -> list[dict]:
    rows = []
    for key, what, symbol in (("nu", "NTK eigenvalues", "ν"), ("kappa", "target coefficient tail sums", "κ")):
        f = fit[key]
        spread = f["exponent_err"] / abs(f["exponent"]) if f["exponent"] else math.inf
        good = f["r2"] >= POWER_LAW_R2 and spread <= POWER_LAW_SPREAD
        verdict = "holds" if good else ("inconclusive" if f["r2"] >= POWER_LAW_R2_INCONCLUSIVE else "fails")
        rows.append(
            claim_row(
                f"power_law_{key}",
                f"The {what} follow a power law",
                dataset,
                "paper §6 (eq. 25), theory.md §8",
                f"log-log linear on k ∈ [{f['k_min']}, {f['k_max']}]",
                f"{symbol} = {_value_pm(f['exponent'], f['exponent_err'])}, R² = {f['r2']:.4f}, "
                f"sub-range spread {100 * spread:.1f}%",
                f"R² ≥ {POWER_LAW_R2}, spread ≤ {100 * POWER_LAW_SPREAD:.0f}%",
                verdict,
                section="fits",
                measured_value=f["exponent"],
            )
        )
    if meta.get("kind") == "synthetic":
        kappa_check = fit["kappa_truncated_model"]
        err_nu = abs(fit["nu"]["exponent"] - meta["nu"])
        err_kappa = abs(kappa_check - meta["kappa"])
        rows.append(
            claim_row(
                "fit_recovers_exponents",
                "The fits recover the generating exponents",
                dataset,
                "implementation check (synthetic generator)",
                f"ν = {meta['nu']}, κ = {meta['kappa']}",
                f"ν = {fit['nu']['exponent']:.4f} (log-log fit), κ = {kappa_check:.4f} (exact truncated-power-law "
                f"model; the local κ that predicts the loss is {fit['kappa']['exponent']:.4f})",
                f"|Δ| ≤ {EXPONENT_TOLERANCE}",
                "holds" if max(err_nu, err_kappa) <= EXPONENT_TOLERANCE else "fails",
                section="fits",
                measured_value=max(err_nu, err_kappa),
                tolerance_value=EXPONENT_TOLERANCE,
            )
        )
    return rows


def data_modality(meta: dict) -> str:
    """'synthetic', 'tabular' or 'image' (digits, Fashion-MNIST, a user .npz copy), from a
    dataset's metadata ``kind``."""
    kind = meta.get("kind")
    return kind if kind in ("synthetic", "tabular") else "image"


def a_priori_tau(meta: dict, distances: pd.DataFrame | None = None, allowed=None) -> tuple[float, str]:
    """The SE tau a dataset's verdicts are judged against, fixed before any comparison it judges.

    In order: the best tau of the regime comparison at its smallest batch (a separate, short
    experiment); otherwise the data's structure -- a Haar-random eigenbasis behaves like Gaussian
    features, where tau = -1 is exact (theory.md §4) -- and for real data (image or tabular) the
    paper's MNIST finding, tau = +1.  ``allowed``: the taus the verdicts can use (those the SE
    predictions ran).  Returns ``(tau, the rule that applied)``.
    """
    se = distances[distances.regime == "se"] if distances is not None else None
    if se is not None and allowed is not None:
        se = se[se.tau.isin(list(allowed))]
    if se is not None and len(se):
        small = se[se.batch == se.batch.min()]
        best = small.loc[small.distance.idxmin()]
        return float(best.tau), f"best τ of the regime comparison at b = {int(best.batch)}"
    if data_modality(meta) == "synthetic":
        return -1.0, "Haar-random eigenbasis: Gaussian-like features, where τ = −1 is exact"
    return 1.0, f"real ({data_modality(meta)}) data: the paper's MNIST finding (τ = +1)"


def _value_pm(value: float, err: float) -> str:
    """``value ± err`` to three decimals; "(exact)" for an error that is only round-off (as
    everywhere in the report), no "± nan" for an unknown error."""
    from .report.format import is_round_off

    if is_round_off(value, err):
        return f"{value:.3f} (exact)"
    return f"{value:.3f} ± {err:.3f}" if np.isfinite(err) else f"{value:.3f}"


def _pm_text(value: float, err: float) -> str:
    """A predicted slope for a claim cell: :func:`_value_pm`, or "no prediction" for nan."""
    if not np.isfinite(value):
        return "no prediction (ν ≤ 1)"
    return _value_pm(value, err)


def theorem2_claims(dataset: str, theory: dict) -> list[dict]:
    """Theorem 2 on its own terms: the SE slope on the fitted power law made infinite (binned), at
    a horizon long enough for the asymptote, against -min(zeta, 2 - 1/nu)."""
    t2 = theory.get("theorem2")
    if not t2:
        return []
    predicted, measured = _as_float(t2["predicted"]), _as_float(t2["measured"])
    ok = np.isfinite(predicted) and np.isfinite(measured)
    return [
        claim_row(
            "theorem2_asymptote",
            "On an infinite power law the SE loss decays as t^(−min(ζ, 2−1/ν))",
            dataset,
            "paper Theorem 2 (eq. 28a/b)",
            f"slope {_pm_text(predicted, _as_float(t2['predicted_err']))} from the fitted ν = {t2['nu']:.3f}, "
            f"κ = {t2['kappa']:.3f}"
            if np.isfinite(predicted)
            else "no power-law decay for ν ≤ 1",
            f"SE(τ = 1) slope over steps [{int(t2['steps']) // 10}, {int(t2['steps'])}] on λ_k = k^−ν, "
            f"c_k = k^−(κ+1), {int(t2['n_modes']):.2g} modes (binned), α = {t2['lr']:.3g}, γ = {t2['gamma']:.3g}: "
            + (f"{measured:.3f}" if ok else "—"),
            f"|Δ| ≤ {SLOPE_TOLERANCE}",
            ("holds" if abs(measured - predicted) <= SLOPE_TOLERANCE else "fails") if ok else "inconclusive",
            section="across",
            predicted_value=predicted,
            measured_value=measured,
            tolerance_value=SLOPE_TOLERANCE,
        )
    ]


def _prop4_row(dataset: str, p4: dict) -> dict:
    from .asymptotics import TIGHTNESS_TOLERANCE

    return claim_row(
        "prop4_bounds",
        "α_c lies within the Prop. 4 bounds, which tighten to 2/(γλ_crit) as β → 1",
        dataset,
        "paper Prop. 4 (eqs. 22–23)",
        f"(1−β)·2/(γλ_crit + λ_max(1−β)/(1+β)) ≤ α_c ≤ (1−β)·2/(γλ_crit), b = 1, λ_crit = {_as_float(p4['lambda_crit']):.4f}",
        "; ".join(
            f"β={r['momentum']:g}: {_as_float(r['lr_lower']):.4f} ≤ {_as_float(r['lr_critical']):.4f} ≤ "
            f"{_as_float(r['lr_upper']):.4f}, α_eff,c·γλ_crit/2 = {_as_float(r['ratio']):.4f}"
            for r in p4["table"]
        ),
        f"inside at every β; ratio → 1 within {TIGHTNESS_TOLERANCE:g}",
        "holds" if p4["all_inside"] and p4["tight"] else "fails",
        section="theory",
        # the tightness: the ratio at the largest momentum, which should be 1
        predicted_value=1.0,
        measured_value=_as_float(max(p4["table"], key=lambda r: r["momentum"])["ratio"])
        if p4["table"]
        else math.nan,
        tolerance_value=TIGHTNESS_TOLERANCE,
    )


def _divergence_rate_row(dataset: str, div: dict) -> dict:
    from .asymptotics import DIVERGENCE_LR_FACTOR
    from .divergence_checks import RATE_TOLERANCE

    return claim_row(
        "divergence_rate",
        "Above α_c the loss grows as r^−t with U(r) = 1",
        dataset,
        "paper eq. (24), theory.md §7",
        f"growth rate ln(1/r) = {_as_float(div['growth_predicted']):.5f} at α = {DIVERGENCE_LR_FACTOR:g} α_c = "
        f"{div['lr']:.4f}, b = 1",
        f"SE(τ = 1) on the dataset's spectrum, last half of {div['steps']} steps: {_as_float(div['growth_measured']):.5f} "
        f"(ratio {_as_float(div['rate_ratio']):.4f})",
        f"ratio within ±{100 * RATE_TOLERANCE:g}%",
        "holds" if div["agrees"] else "fails",
        section="theory",
        predicted_value=_as_float(div["growth_predicted"]),
        measured_value=_as_float(div["growth_measured"]),
        tolerance_value=RATE_TOLERANCE,
    )


def _transition_time_row(dataset: str, tr: dict | None) -> dict:
    from .transition_checks import TRANSITION_TOLERANCE

    claim, source = (
        "The signal→noise transition happens at t_trans of eq. (29)",
        "paper eq. (29), Fig. 3 (centre)",
    )
    if tr is None:
        return claim_row(
            "transition_time",
            claim,
            dataset,
            source,
            "—",
            "signal phase: there is no transition",
            "—",
            "inconclusive",
            section="theory",
        )
    return claim_row(
        "transition_time",
        claim,
        dataset,
        source,
        f"t_trans = {_as_float(tr['predicted']):.1f} for ν = {tr['nu']:.3f}, κ = {tr['kappa']:.3f}, "
        f"α = {tr['lr']:g}, γ = {tr['gamma']:g}",
        f"SE on the fitted power law (binned, effectively infinite): the local slope crosses half way between "
        f"−ζ and −(2−1/ν) at t = {_as_float(tr['measured']):.1f} (ratio {_as_float(tr['ratio']):.3f})",
        f"ratio within ±{100 * TRANSITION_TOLERANCE:g}%",
        "holds" if tr["agrees"] else "fails",
        section="theory",
        predicted_value=_as_float(tr["predicted"]),
        measured_value=_as_float(tr["measured"]),
        tolerance_value=TRANSITION_TOLERANCE,
    )


def asymptotics_claims(dataset: str, theory: dict) -> list[dict]:
    """Prop. 4 (bounds on alpha_c, tight as beta -> 1), eq. (24) (the divergence rate above
    alpha_c) and eq. (29) (the signal -> noise transition time), measured as
    :func:`sgd_spectra.asymptotics.spectrum_asymptotics` describes."""
    a = theory.get("asymptotics")
    if not a:
        return []
    return [
        _prop4_row(dataset, a["prop4"]),
        _divergence_rate_row(dataset, a["divergence"]),
        _transition_time_row(dataset, a["transition"]),
    ]


def bisection_claims(dataset: str, stability_map: pd.DataFrame) -> list[dict]:
    """The closed-form alpha_c (U(1) = 1, capped by 2(1+beta)) against bisection on long SE runs."""
    checks = stability_map[stability_map.lr_critical_se_bisection.notna()]
    if checks.empty:
        return []
    rel = (checks.lr_critical_se_bisection / checks.lr_critical - 1).abs()
    worst = checks.loc[rel.idxmax()]
    return [
        claim_row(
            "critical_lr_closed_form",
            "The critical learning rate is the root of U(1) = 1 (or the noiseless bound)",
            dataset,
            "paper Prop. 3, eq. 21 (theory.md §6)",
            f"α_c from U(1) = 1, τ = 1, for b ∈ {{{', '.join(str(b) for b in sorted(checks.batch.unique()))}}}, "
            f"β ∈ {{{', '.join(f'{m:g}' for m in sorted(checks.momentum.unique()))}}}",
            f"bisection on SE runs: largest deviation {100 * rel.max():.3f}% (b={int(worst.batch)}, "
            f"β={worst.momentum:g}: {worst.lr_critical_se_bisection:.4f} vs {worst.lr_critical:.4f})",
            f"≤ {100 * BISECTION_TOLERANCE:.1f}%",
            "holds" if rel.max() <= BISECTION_TOLERANCE else "fails",
            section="theory",
            predicted_value=worst.lr_critical,
            measured_value=worst.lr_critical_se_bisection,
            tolerance_value=BISECTION_TOLERANCE,
        )
    ]


def dataset_claims(
    dataset: str,
    meta: dict,
    fit: dict,
    theory: dict,
    curves: pd.DataFrame,
    stability_map: pd.DataFrame | None = None,
    tau: float = 1.0,
    tau_rule: str = "τ = +1",
) -> pd.DataFrame:
    """All claim rows for one dataset; ``tau`` is its a-priori SE parameter (:func:`a_priori_tau`)."""
    from .curve_claims import slope_claims, stability_claims, tracking_claims

    means = mean_curves(curves)
    rows = (
        power_law_claims(dataset, fit, meta)
        + tracking_claims(dataset, curves, means, tau, tau_rule)
        + stability_claims(dataset, curves, theory, tau)
        + slope_claims(dataset, curves, means, theory, tau, tau_rule)
        + theorem2_claims(dataset, theory)
        + asymptotics_claims(dataset, theory)
        + (bisection_claims(dataset, stability_map) if stability_map is not None else [])
    )
    return pd.DataFrame(rows, columns=CLAIM_COLUMNS)
