"""One SGD setting predicted from a spectrum: stability, critical learning rate, exponents, phase
and the SE loss (theory.md), as a plain dict (what ``sgd-spectra predict --json`` prints) or as
a :class:`Prediction` (``sgd_spectra.predict``).  Imports neither torch nor, until a prediction
is computed, the theory's numba kernels.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, fields
from pathlib import Path

import numpy as np

DEFAULT_STEPS = (1, 10, 100, 1000, 10000)
#: The arrays of a spectrum file (``sgd_spectra.ntk_generic.save_spectrum``, the workflow's
#: results/spectra/{dataset}.npz); ``scale`` is optional.
SPECTRUM_KEYS = ("eigenvalues", "coefficients", "n_samples")


@dataclass(frozen=True)
class Prediction:
    """The prediction for one setting; ``None`` where a number cannot be computed (too few
    modes, tau < 0, no coefficients), ``inf`` where it is infinite (a diverging V(1) or loss)."""

    n_samples: int
    batch_size: int
    lr: float
    momentum: float
    tau: float
    gamma: float
    lambda_max: float
    u1: float
    lr_critical: float
    lr_noiseless_bound: float
    stable: bool
    effective_lr: float
    lambda_crit: float | None = None
    nu: float | None = None
    kappa: float | None = None
    phase: str | None = None
    v1: float | None = None
    loss: dict | None = None  # {step: SE loss}
    late_time_slope: float | None = None
    fit_range: list | None = None
    divergence_time: float | None = None
    torch_lr: float | None = None  # lr x the spectrum's scale: the rate for torch.optim.SGD


def read_spectrum_file(path) -> dict:
    """``eigenvalues``, ``coefficients``, ``n_samples`` and ``scale`` (None if absent) of a
    spectrum ``.npz``; ``ValueError`` naming the file for anything missing or malformed."""
    path = Path(path)
    if not path.is_file():
        raise ValueError(f"spectrum file not found: {path}")
    try:
        with np.load(path, allow_pickle=False) as data:
            arrays = {key: data[key] for key in data.files}
    except Exception as err:
        raise ValueError(f"cannot read spectrum {path}: {str(err).splitlines()[0]}") from None
    missing = [key for key in SPECTRUM_KEYS if key not in arrays]
    if missing:
        raise ValueError(
            f"spectrum {path} lacks {missing} (it holds {sorted(arrays)}); write it "
            "with `sgd-spectra spectrum` or ntk_generic.save_spectrum"
        )
    lam = check_vector(arrays["eigenvalues"], f"eigenvalues in {path}")
    coef = check_vector(arrays["coefficients"], f"coefficients in {path}")
    if len(coef) != len(lam):
        raise ValueError(f"{path}: {len(coef)} coefficients for {len(lam)} eigenvalues")
    scale = float(arrays["scale"]) if "scale" in arrays else None
    return {"eigenvalues": lam, "coefficients": coef, "n_samples": int(arrays["n_samples"]), "scale": scale}


def check_vector(values, what: str) -> np.ndarray:
    """A non-empty 1-D array of finite non-negative floats, or ``ValueError`` naming ``what``."""
    values = np.asarray(values, dtype=np.float64)
    if values.ndim > 1:
        raise ValueError(f"{what} must be a 1-D list of numbers")
    values = values.reshape(-1)
    if values.size == 0:
        raise ValueError(f"{what} is empty")
    if not np.all(np.isfinite(values)):
        raise ValueError(f"{what} contain NaN or infinite values")
    if np.any(values < 0):
        raise ValueError(f"{what} must be non-negative (found {values.min():g})")
    return values


def descending(eigenvalues, coefficients):
    """Eigenvalues largest first, and the coefficients (or None) in the same order."""
    order = np.argsort(eigenvalues)[::-1]
    return eigenvalues[order], (None if coefficients is None else coefficients[order])


def prediction_dict(
    eigenvalues,
    coefficients,
    n_samples: int,
    batch_size: int,
    lr: float,
    momentum: float,
    tau: float,
    steps: list[int],
) -> dict:
    """The whole prediction as a plain dict (the ``--json`` output)."""
    from . import theory
    from .generating_functions import divergence_rate
    from .powerlaw import fit_eigenvalue_decay, fit_tail_decay, horizon_fit_range, late_time_slope

    lam, c = descending(eigenvalues, coefficients)
    gamma = float(theory.batch_noise_factor(n_samples, batch_size))
    stab = theory.stability(lam, lr, momentum, gamma, tau)
    out = {
        "n_samples": n_samples,
        "batch_size": batch_size,
        "lr": lr,
        "momentum": momentum,
        "tau": tau,
        "gamma": gamma,
        "lambda_max": float(lam[0]),
        "lambda_crit": theory.critical_regularisation(lam, tau) if tau >= 0 else None,
        "u1": stab["u1"],
        "lr_critical": stab["lr_critical"],
        "lr_noiseless_bound": stab["lr_noiseless_bound"],
        "stable": stab["stable"],
        "effective_lr": stab["effective_lr"],
        "nu": None,
        "kappa": None,
        "phase": None,
    }
    # the modes this run resolves over the last decade of its horizon (powerlaw module docstring)
    try:
        k_lo, k_hi = horizon_fit_range(lam, max(steps), stab["effective_lr"])
    except ValueError:
        k_lo, k_hi = 1, len(lam)
    if len(lam) >= 4 and np.all(lam[k_lo - 1 : k_hi] > 0):
        out["nu"] = fit_eigenvalue_decay(lam, k_lo, k_hi).exponent
    if c is not None:
        out["v1"] = (
            theory.v_at_one(lam, c, lr, momentum, gamma, tau, n_samples) if stab["stable"] else math.inf
        )
        loss, _ = theory.se_loss_trajectory(lam, c, lr, momentum, gamma, tau, steps, n_samples)
        out["loss"] = [{"step": t, "loss": float(v)} for t, v in zip(steps, loss[0])]
        if len(c) >= 4 and np.all(np.cumsum(c[::-1])[::-1][k_lo - 1 : k_hi] > 0):
            out["kappa"] = fit_tail_decay(c, k_lo, k_hi, n_samples=n_samples).exponent
        if out["nu"] is not None and out["kappa"] is not None:
            out["phase"] = theory.phase(out["nu"], out["kappa"])
            out["late_time_slope"] = late_time_slope(out["nu"], out["kappa"])
            out["fit_range"] = [int(k_lo), int(k_hi)]
        if not stab["stable"]:
            div = divergence_rate(lam, c, lr, momentum, gamma, tau, n_samples)
            if div is not None:
                out["divergence_time"] = div["t_div"]
    return out


def predict(
    spectrum,
    *,
    lr: float,
    batch_size: int,
    momentum: float = 0.0,
    tau: float = 1.0,
    steps=DEFAULT_STEPS,
    n_samples: int | None = None,
) -> Prediction:
    """Predict SGD with momentum on ``spectrum``: a path to a spectrum ``.npz``, or an object
    (such as :class:`sgd_spectra.ntk_generic.Spectrum`) or mapping with ``eigenvalues``,
    ``coefficients`` (may be None) and ``n_samples``.  ``lr`` is in the eigenvalues' units (for a
    normalised spectrum, 1/lambda_max); ``ValueError`` for a setting outside its range."""
    arrays = _spectrum_arrays(spectrum)
    n = int(n_samples if n_samples is not None else arrays["n_samples"] or len(arrays["eigenvalues"]))
    if not (math.isfinite(lr) and lr > 0):
        raise ValueError(f"lr must be a positive number, got {lr}")
    if not -1 < momentum < 1:
        raise ValueError(f"momentum must lie in (-1, 1), got {momentum}")
    if not 1 <= batch_size <= n:
        raise ValueError(f"batch_size must be in [1, n_samples={n}], got {batch_size}")
    if not arrays["eigenvalues"].max() > 0:
        raise ValueError("eigenvalues must include a positive value")
    steps = sorted({int(t) for t in steps})
    out = prediction_dict(
        arrays["eigenvalues"],
        arrays["coefficients"],
        n,
        int(batch_size),
        float(lr),
        float(momentum),
        float(tau),
        steps,
    )
    if out.get("loss") is not None:
        out["loss"] = {p["step"]: p["loss"] for p in out["loss"]}
    if arrays.get("scale") is not None:
        out["torch_lr"] = float(lr) * arrays["scale"]
    known = {f.name for f in fields(Prediction)}
    return Prediction(**{k: v for k, v in out.items() if k in known})


def _spectrum_arrays(spectrum) -> dict:
    if isinstance(spectrum, (str, Path)):
        return read_spectrum_file(spectrum)
    get = (
        spectrum.get
        if isinstance(spectrum, dict)
        else lambda key, default=None: getattr(spectrum, key, default)
    )
    lam, coef = get("eigenvalues"), get("coefficients")
    lam = check_vector(lam, "eigenvalues")
    coef = None if coef is None else check_vector(coef, "coefficients")
    if coef is not None and len(coef) != len(lam):
        raise ValueError(f"{len(coef)} coefficients for {len(lam)} eigenvalues: lengths must match")
    return {"eigenvalues": lam, "coefficients": coef, "n_samples": get("n_samples"), "scale": get("scale")}
