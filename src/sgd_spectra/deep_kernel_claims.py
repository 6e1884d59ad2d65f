"""Claims of the deep-network experiments (paper Figs. 9 and 11, in kind) on a pretrained model's
empirical NTK (:mod:`sgd_spectra.deep_kernels`), with verdicts; rows as in :mod:`sgd_spectra.claims`.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from .claims import claim_row
from .experiment_claims import CRITICAL_LR_TOLERANCE, critical_detail, critical_rel, predicted_column

#: Report anchor of the deep-network section (paper Figs. 9 and 11, in kind).
DEEP_KERNEL_SECTION = "deep-kernels"


def deep_kernel_label(model: str, dataset: str) -> str:
    """The claims table's dataset cell of one deep-kernel model, e.g. ``cnn on fashion_mnist``."""
    return f"{model} on {dataset}"


def deep_kernel_claims(summary: dict, critical: pd.DataFrame) -> list[dict]:
    """Figs. 9 and 11 in kind, for one pretrained model's empirical NTK (:mod:`sgd_spectra.deep_kernels`):
    SE(tau = +1) tracks the seed-mean linearized loss within the tracking claim's tolerance, and
    alpha_c(b) of the exact second moments is U(1) = 1 with tau = +1 within the critical-lr
    claims' tolerance.  tau is fixed a priori (real image data, the paper's choice in both figures)."""
    from .claims import TRACKING_TOLERANCE

    label = deep_kernel_label(summary["model"], summary["dataset"])
    tau, steps = float(summary["tau"]), int(summary["steps"])
    setting = f"α = {summary['lr']:g}, β = {summary['momentum']:g}, b = {int(summary['batch'])}"
    prediction = (
        f"SE(τ = {tau:+g}) = mean of {int(summary['seeds'])} linearized runs, {setting}, "
        f"{steps} steps (predicted α_c = {summary['lr_critical_setting']:.3f})"
    )
    error = float(summary["tracking_error"])
    if (
        not summary["linearized_converged"]
        or not np.isfinite(summary["loss_final_se"])
        or not np.isfinite(error)
    ):
        tracking = claim_row(
            "deep_se_tracks_linearized",
            "SE(τ = +1) tracks linearized SGD on a pretrained network's NTK",
            label,
            "paper §4, Fig. 9 (in kind)",
            prediction,
            "a linearized seed or SE did not converge at this setting: choose experiments.deep_kernels.lr inside "
            "the stable region",
            "—",
            "inconclusive",
            section=DEEP_KERNEL_SECTION,
        )
    else:
        tracking = claim_row(
            "deep_se_tracks_linearized",
            "SE(τ = +1) tracks linearized SGD on a pretrained network's NTK",
            label,
            "paper §4, Fig. 9 (in kind)",
            prediction,
            f"mean relative error over {steps} steps: {100 * error:.1f}% (final loss SE {summary['loss_final_se']:.4g}, "
            f"linearized {summary['loss_final_linearized']:.4g}, initial {summary['loss0']:.4g})",
            f"≤ {100 * TRACKING_TOLERANCE:.0f}%",
            "holds" if error <= TRACKING_TOLERANCE else "fails",
            section=DEEP_KERNEL_SECTION,
            measured_value=error,
            tolerance_value=TRACKING_TOLERANCE,
        )
    return [tracking, _deep_critical_claim(label, critical, tau)]


def _deep_critical_claim(label: str, critical: pd.DataFrame, tau: float) -> dict:
    claim = "α_c(b) of a pretrained network's NTK is the U(1) = 1 root with τ = +1, up to 2(1+β)"
    source = "paper §5, Fig. 11 (in kind)"
    prediction = f"α_c(b) from U(1) = 1 with τ = {tau:+g}, capped by 2(1+β)"
    if predicted_column(tau) not in critical or not (critical.gamma > 0).any():
        return claim_row(
            "deep_critical_lr_vs_batch",
            claim,
            label,
            source,
            prediction,
            "no batch size with noise (every b ≥ N)",
            "—",
            "inconclusive",
            section=DEEP_KERNEL_SECTION,
        )
    g = critical_rel(critical, tau)
    worst = g.loc[g.rel.abs().idxmax()]
    return claim_row(
        "deep_critical_lr_vs_batch",
        claim,
        label,
        source,
        prediction,
        "exact second moments (N×N): " + critical_detail(g),
        f"± {100 * CRITICAL_LR_TOLERANCE:.0f}% at every b < N",
        "holds" if g.rel.abs().max() <= CRITICAL_LR_TOLERANCE else "fails",
        section=DEEP_KERNEL_SECTION,
        predicted_value=worst.predicted,
        measured_value=worst.measured,
        tolerance_value=CRITICAL_LR_TOLERANCE,
    )
