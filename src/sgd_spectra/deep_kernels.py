"""The paper's deep-network experiments in kind (Figs. 9 and 11; issue 14).

The paper took empirical NTKs of ImageNet-pretrained ResNet-18 and MobileNet-V2 on CIFAR-10 (kernels
loaded from files the authors computed; theory.md §12).  Those weights cannot be had offline, so
here each model kind of :data:`DEEP_KERNEL_SPECS` (small sizes) is pretrained for a few epochs
(:func:`sgd_spectra.pretrain.pretrain`) on a split of Fashion-MNIST (digits when it is missing)
disjoint from the N kernel samples, and then, on its empirical NTK at the pretrained weights:

* the spectrum and the fitted nu, kappa and phase, on the fit range of the workflow's rule
  (:func:`sgd_spectra.powerlaw.horizon_fit_range`);
* sampled linearized SGD (seed mean) against SE(tau = 1) at one setting (Fig. 9), with the
  relative curve error of the tracking claim (:func:`sgd_spectra.claims.relative_curve_error`);
* alpha_c(b) of the exact second moments against U(1) = 1 with tau = +1 (Fig. 11), by
  :func:`sgd_spectra.experiments.critical_lr_vs_batch`.

:func:`run_deep_kernel` does all of it for one model kind and returns tidy tables.  No Snakemake here.
"""

from __future__ import annotations

import time

import numpy as np
import pandas as pd

from .claims import relative_curve_error
from .datasets import find_idx_pair, load_regression_dataset
from .dynamics import linearized_sgd
from .experiments import critical_lr_vs_batch
from .io import curves_frame
from .powerlaw import REFERENCE_LR, fit_spectrum, horizon_fit_range
from .spectra import kernel_spectrum, tail_sums
from .theory import batch_noise_factor, critical_lr, log_spaced_steps, phase, se_loss_trajectory

#: The small networks standing in for ResNet-18 / MobileNet-V2 (specs of models.build_model).  The
#: mlp is not the closed-form network: two layers in standard parametrisation, so that Adam's
#: pretraining steps move its weights on the scale they live on.
DEEP_KERNEL_SPECS = {
    "mlp": {"kind": "mlp", "depth": 2, "width": 64, "activation": "relu", "parametrisation": "standard"},
    "cnn": {"kind": "cnn", "channels": [8, 16]},
    "resnet": {"kind": "resnet", "channels": [8, 16], "blocks": 1},
}
#: The tau the verdicts use, fixed before any comparison: real image data, the paper's MNIST
#: finding (as claims.a_priori_tau rules for real data), and the tau of the paper's Figs. 9, 11.
DEEP_KERNEL_TAU = 1.0
#: Digits has 1797 images, at least 174 per class: a balanced draw of N + pretraining samples
#: must stay below ten times that.
DIGITS_BALANCED_LIMIT = 1740


def resolve_dataset(dataset: str, fashion_mnist_dir: str | None) -> tuple[str, str]:
    """``(dataset used, note)``: ``auto`` takes Fashion-MNIST when its files are found, else digits
    (and the note says so); ``fashion_mnist`` and ``digits`` are taken as asked."""
    if dataset != "auto":
        return dataset, ""
    if find_idx_pair(fashion_mnist_dir) is not None:
        return "fashion_mnist", ""
    return "digits", "Fashion-MNIST not found: fell back to scikit-learn digits"


def deep_kernel_data(
    dataset: str, n_samples: int, n_pretrain: int, seed: int, fashion_mnist_dir: str | None = None
) -> dict:
    """The N kernel samples and a disjoint pretraining split of the same dataset, standardised
    alike (``X, y, X_pretrain, y_pretrain``), with the dataset used, its source and a note."""
    from .pretrain import pretraining_split

    used, note = resolve_dataset(dataset, fashion_mnist_dir)
    spec = {"name": used, "source": used, "kind": used, "directory": fashion_mnist_dir}
    if used == "digits" and n_samples + n_pretrain > DIGITS_BALANCED_LIMIT:
        n_pretrain = DIGITS_BALANCED_LIMIT - n_samples
        note = "; ".join(
            filter(None, [note, f"pretraining samples capped at {n_pretrain} (digits has 1797)"])
        )
    X, y, indices, source = load_regression_dataset(spec, n_samples, seed)
    X_pre, y_pre, pre_indices = pretraining_split(spec, indices, n_pretrain, seed)
    overlap = int(np.isin(pre_indices, indices).sum())
    return {
        "X": X,
        "y": y,
        "X_pretrain": X_pre,
        "y_pretrain": y_pre,
        "dataset": used,
        "source": source,
        "note": note,
        "n_pretrain": len(y_pre),
        "pretrain_overlap": overlap,
    }


def pretrained_kernel(
    kind: str,
    data: dict,
    epochs: int,
    lr: float,
    batch_size: int,
    seed: int,
    memory_gb: float = 2.0,
    log=print,
) -> dict:
    """Build the ``kind`` model, pretrain it (Adam, ½ MSE) on the pretraining split, and take its
    empirical NTK on the N samples: eigenvalues/coefficients of K/N (λmax = 1), the normalised
    kernel and initial error for the simulators, and the pretraining record."""
    import torch

    from .models import build_model
    from .ntk import normalise_kernel
    from .ntk_generic import model_kernel, model_outputs
    from .pretrain import pretrain

    spec = DEEP_KERNEL_SPECS[kind]
    model = build_model(spec, data["X"].shape[1:], seed, torch.float64)
    history = pretrain(
        model, data["X_pretrain"], data["y_pretrain"], epochs, lr, "mse", batch_size, seed, log=log
    )
    start = time.perf_counter()
    kernel_over_n, scale = normalise_kernel(model_kernel(model, data["X"], memory_gb=memory_gb))
    initial_error = model_outputs(model, data["X"]) - data["y"]
    eigenvalues, coefficients = kernel_spectrum(kernel_over_n, initial_error)
    return {
        "kernel_over_n": kernel_over_n,
        "initial_error": initial_error,
        "eigenvalues": eigenvalues,
        "coefficients": coefficients,
        "scale": float(scale),
        "pretrain_losses": history,
        "n_params": sum(p.numel() for p in model.parameters()),
        "ntk_seconds": time.perf_counter() - start,
    }


def spectrum_fit(eigenvalues, coefficients, steps: int) -> dict:
    """nu, kappa (with their sub-range errors), the phase and the fit range, by the workflow's
    rule: the modes resolved over the last decade of ``steps`` at effective rate 1."""
    k_min, k_max = horizon_fit_range(eigenvalues, steps)
    fit = fit_spectrum(eigenvalues, coefficients, k_min, k_max, n_samples=len(eigenvalues))
    nu, kappa = fit["nu"]["exponent"], fit["kappa"]["exponent"]
    return {
        "nu": nu,
        "nu_err": fit["nu"]["exponent_err"],
        "nu_r2": fit["nu"]["r2"],
        "kappa": kappa,
        "kappa_err": fit["kappa"]["exponent_err"],
        "kappa_r2": fit["kappa"]["r2"],
        "phase": phase(nu, kappa),
        "late_time_exponent": fit["late_time_exponent"],
        "k_min": k_min,
        "k_max": k_max,
        "fit_range_rule": f"modes resolved over steps [{steps // 10}, {steps}] at effective rate {REFERENCE_LR:g}",
    }


def spectrum_table(eigenvalues, coefficients) -> pd.DataFrame:
    """One row per mode: k (1-based), eigenvalue, coefficient and normalised tail sum S_k/S_1."""
    tails = tail_sums(coefficients)
    return pd.DataFrame(
        {
            "k": np.arange(1, len(eigenvalues) + 1),
            "eigenvalue": eigenvalues,
            "coefficient": coefficients,
            "tail_sum": tails / tails[0],
        }
    )


def tracking_curves(
    kernel: dict,
    lr: float,
    momentum: float,
    batch: int,
    steps: int,
    seeds: int,
    record_points: int,
    base_seed: int,
) -> pd.DataFrame:
    """Sampled linearized SGD (``seeds`` batch sequences) and SE(tau = 1) at one setting, tidy
    (columns of :func:`sgd_spectra.io.curves_frame`; SE rows have seed -1)."""
    record = log_spaced_steps(steps, record_points)
    n = len(kernel["eigenvalues"])
    setting = dict(lr=lr, momentum=momentum, batch=int(batch))
    loss, div = linearized_sgd(
        kernel["kernel_over_n"],
        kernel["initial_error"],
        lr,
        momentum,
        int(batch),
        range(seeds),
        record,
        base_seed=base_seed,
    )
    lin = curves_frame(loss, record, div, regime="linearized", seed=np.arange(seeds), **setting)
    se, se_div = se_loss_trajectory(
        kernel["eigenvalues"],
        kernel["coefficients"],
        lr,
        momentum,
        batch_noise_factor(n, batch),
        DEEP_KERNEL_TAU,
        record,
    )
    return pd.concat(
        [lin, curves_frame(se, record, se_div, regime="se", tau=DEEP_KERNEL_TAU, **setting)],
        ignore_index=True,
    )


def tracking_summary(curves: pd.DataFrame, eigenvalues) -> dict:
    """The relative curve error of SE(tau = 1) against the seed-mean linearized loss, whether every
    seed converged, and the predicted alpha_c of the setting (is it inside the stable region?)."""
    lin = curves[curves.regime == "linearized"]
    mean = lin.groupby("step").loss.mean().sort_index()  # inf if any seed diverged
    se = curves[curves.regime == "se"].set_index("step").loss.sort_index()
    first = curves.iloc[0]
    n = len(eigenvalues)
    lr_c = critical_lr(
        eigenvalues, float(first.momentum), float(batch_noise_factor(n, int(first.batch))), DEEP_KERNEL_TAU
    )
    converged = bool(
        (lin.diverged_at < 0).all() and np.isfinite(mean.iloc[-1]) and mean.iloc[-1] < mean.iloc[0]
    )
    return {
        "tracking_error": relative_curve_error(se.reindex(mean.index).values, mean.values),
        "linearized_converged": converged,
        "lr_critical_setting": lr_c,
        "loss0": float(mean.iloc[0]),
        "loss_final_linearized": float(mean.iloc[-1]),
        "loss_final_se": float(se.iloc[-1]),
    }


def run_deep_kernel(kind: str, params: dict, log=print) -> dict[str, pd.DataFrame]:
    """Everything for one model kind.  ``params``: dataset, n_samples, pretrain_samples,
    pretrain_epochs, pretrain_lr, pretrain_batch_size, lr, momentum, batch_size, steps, seeds,
    record_points, critical_batch_sizes, seed (and optionally fashion_mnist_dir, memory_gb).
    Returns the tables ``summary`` (one row), ``spectrum``, ``curves`` and ``critical``."""
    p = params
    start = time.perf_counter()
    data = deep_kernel_data(
        p["dataset"], p["n_samples"], p["pretrain_samples"], p["seed"], p.get("fashion_mnist_dir")
    )
    kernel = pretrained_kernel(
        kind,
        data,
        p["pretrain_epochs"],
        p["pretrain_lr"],
        p["pretrain_batch_size"],
        p["seed"],
        p.get("memory_gb", 2.0),
        log=log,
    )
    fit = spectrum_fit(kernel["eigenvalues"], kernel["coefficients"], p["steps"])
    curves = tracking_curves(
        kernel, p["lr"], p["momentum"], p["batch_size"], p["steps"], p["seeds"], p["record_points"], p["seed"]
    )
    critical = critical_lr_vs_batch(
        kernel["kernel_over_n"], p["critical_batch_sizes"], [p["momentum"]], [DEEP_KERNEL_TAU]
    )
    labels = {"model": kind, "dataset": data["dataset"]}
    summary = {
        **labels,
        "source": data["source"],
        "dataset_note": data["note"],
        "n_samples": len(data["y"]),
        "n_pretrain": data["n_pretrain"],
        "pretrain_overlap": data["pretrain_overlap"],
        "pretrain_epochs": p["pretrain_epochs"],
        "pretrain_loss_first": _first(kernel["pretrain_losses"]),
        "pretrain_loss_last": _last(kernel["pretrain_losses"]),
        "n_params": kernel["n_params"],
        "scale": kernel["scale"],
        "ntk_seconds": kernel["ntk_seconds"],
        **fit,
        **tracking_summary(curves, kernel["eigenvalues"]),
        "lr": p["lr"],
        "momentum": p["momentum"],
        "batch": p["batch_size"],
        "steps": p["steps"],
        "seeds": p["seeds"],
        "tau": DEEP_KERNEL_TAU,
        "seconds": time.perf_counter() - start,
    }
    tables = {
        "summary": pd.DataFrame([summary]),
        "curves": curves,
        "critical": critical,
        "spectrum": spectrum_table(kernel["eigenvalues"], kernel["coefficients"]),
    }
    for name in ("curves", "critical", "spectrum"):  # model and dataset first, in every table
        rest = [c for c in tables[name].columns if c not in labels]
        tables[name] = tables[name].assign(**labels)[[*labels, *rest]]
    return tables


def _first(values) -> float:
    return float(values[0]) if len(values) else float("nan")


def _last(values) -> float:
    return float(values[-1]) if len(values) else float("nan")
