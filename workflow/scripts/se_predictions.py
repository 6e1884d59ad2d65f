"""SE(tau) loss trajectories and stability for every configured setting, one vectorised run."""

import itertools

import numpy as np
import pandas as pd

from sgd_spectra.asymptotics import spectrum_asymptotics
from sgd_spectra.io import curves_frame, read_json, redirect_log, use_threads, write_json
from sgd_spectra.powerlaw import REFERENCE_LR, fit_spectrum, horizon_fit_range, theorem2_slope
from sgd_spectra.theory import (
    asymptotic_loss,
    batch_noise_factor,
    log_spaced_steps,
    se_loss_trajectory,
    stability,
    v_at_one,
)


def local_prediction(lr_eff: float) -> dict:
    """The late-time slope over [T/10, T] predicted from the modes this setting resolves there."""
    k_min, k_max = horizon_fit_range(lam, snakemake.params.steps, lr_eff)
    f = fit_spectrum(lam, c, k_min, k_max)
    return {
        "late_slope_predicted": f["late_time_exponent"],
        "late_slope_err": f["late_time_exponent_err"],
        "late_fit_range": [k_min, k_max],
        "late_nu": f["nu"]["exponent"],
        "late_kappa": f["kappa"]["exponent"],
    }


redirect_log(snakemake.log[0])
use_threads(snakemake.threads)
spec = np.load(snakemake.input.spectrum)
fit = read_json(snakemake.input.fit)
lam, c = spec["eigenvalues"], spec["coefficients"]
n = len(lam)
dataset = snakemake.wildcards.dataset
record = log_spaced_steps(snakemake.params.steps, snakemake.params.record_points)
runs = [dict(s, tau=float(t)) for s, t in itertools.product(snakemake.params.settings, snakemake.params.taus)]
gamma = np.array([batch_noise_factor(n, r["batch"]) for r in runs])
loss, diverged_at = se_loss_trajectory(
    lam,
    c,
    [r["lr"] for r in runs],
    [r["momentum"] for r in runs],
    gamma,
    [r["tau"] for r in runs],
    record,
    progress=True,
)

nu, kappa = fit["nu"]["exponent"], fit["kappa"]["exponent"]
summaries = []
for r, g, div in zip(runs, gamma, diverged_at):
    s = stability(lam, r["lr"], r["momentum"], g, r["tau"])
    s.update(
        r,
        gamma=float(g),
        se_diverged_at=int(div),
        v1=v_at_one(lam, c, r["lr"], r["momentum"], g, r["tau"]) if s["stable"] else None,
    )
    if s["stable"] and nu > 1:
        # late-time power law C t^p from the fitted exponents (Theorem 2, eq. 28a/28b)
        const = float(
            asymptotic_loss(
                1.0,
                nu,
                kappa,
                fit["nu"]["prefactor"],
                fit["kappa"]["prefactor"],
                r["lr"],
                r["momentum"],
                g,
                s["u1"],
                s["v1"],
            )
        )
        s.update(asymptote_constant=const, asymptote_exponent=fit["late_time_exponent"])
    s.update(local_prediction(s["effective_lr"]))
    summaries.append(s)

# Theorem 2 on its own terms: the fitted power law made effectively infinite, at the smallest batch
gamma_min = float(batch_noise_factor(n, min(r["batch"] for r in runs)))
theorem2 = dict(
    theorem2_slope(nu, kappa, REFERENCE_LR, gamma_min, snakemake.params.asymptote_steps),
    steps=snakemake.params.asymptote_steps,
    gamma=gamma_min,
    nu=nu,
    kappa=kappa,
    predicted_err=fit["late_time_exponent_err"],
)
print("Theorem 2 check:", theorem2)
# Prop. 4 bounds, the divergence rate above alpha_c (eq. 24), the transition time (eq. 29)
asymptotics = spectrum_asymptotics(lam, c, nu, kappa)

frames = [
    curves_frame(
        loss[i : i + 1],
        record,
        diverged_at[i : i + 1],
        dataset=dataset,
        regime="se",
        tau=r["tau"],
        lr=r["lr"],
        momentum=r["momentum"],
        batch=r["batch"],
    )
    for i, r in enumerate(runs)
]
pd.concat(frames, ignore_index=True).to_parquet(snakemake.output.curves, index=False)
write_json(
    snakemake.output.summary,
    {
        "dataset": dataset,
        "n_samples": n,
        "record_steps": record,
        "settings": summaries,
        "theorem2": theorem2,
        "asymptotics": asymptotics,
    },
)
