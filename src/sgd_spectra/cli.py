"""``sgd-spectra predict``: is this learning rate / momentum / batch size safe for my spectrum,
and what loss will I get?  (The SE theory of theory.md on a user's own eigenvalues.)"""
from __future__ import annotations

import argparse
import json
import math
import sys
from pathlib import Path

import numpy as np

from . import theory
from .io import to_plain
from .powerlaw import fit_eigenvalue_decay, fit_tail_decay, horizon_fit_range, late_time_slope


class InputError(Exception):
    """Bad user input: reported as one line, exit status 2."""


class _Parser(argparse.ArgumentParser):
    def error(self, message):           # one line, no usage dump, exit status 2
        raise InputError(message)


def read_vector(path: str, what: str) -> np.ndarray:
    """A 1-D float array from ``.npy`` or a text file with one number a line."""
    p = Path(path)
    if not p.is_file():
        raise InputError(f"{what} file not found: {path}")
    try:
        values = np.load(p, allow_pickle=False) if p.suffix == ".npy" else np.loadtxt(p, ndmin=1)
    except Exception as err:            # noqa: BLE001 - any parse failure is the user's input
        raise InputError(f"cannot read {what} from {path}: {str(err).splitlines()[0]}") from None
    values = np.asarray(values, dtype=np.float64).reshape(-1) if np.ndim(values) <= 1 else None
    if values is None:
        raise InputError(f"{what} in {path} must be a 1-D list of numbers")
    if values.size == 0:
        raise InputError(f"{what} file {path} is empty")
    if not np.all(np.isfinite(values)):
        raise InputError(f"{what} in {path} contain NaN or infinite values")
    if np.any(values < 0):
        raise InputError(f"{what} in {path} must be non-negative (found {values.min():g})")
    return values


def _steps(text: str) -> list[int]:
    try:
        steps = sorted({int(s) for s in text.split(",") if s.strip()})
    except ValueError:
        raise InputError(f"--steps must be comma-separated integers, got {text!r}") from None
    if not steps or steps[0] < 0:
        raise InputError("--steps must be non-negative integers")
    return steps


def predict(eigenvalues, coefficients, n_samples: int, batch_size: int, lr: float, momentum: float,
            tau: float, steps: list[int]) -> dict:
    """The whole prediction as a plain dict (the ``--json`` output)."""
    order = np.argsort(eigenvalues)[::-1]
    lam = eigenvalues[order]
    gamma = float(theory.batch_noise_factor(n_samples, batch_size))
    stab = theory.stability(lam, lr, momentum, gamma, tau)
    out = {"n_samples": n_samples, "batch_size": batch_size, "lr": lr, "momentum": momentum, "tau": tau,
           "gamma": gamma, "lambda_max": float(lam[0]),
           "lambda_crit": theory.critical_regularisation(lam, tau) if tau >= 0 else None,
           "u1": stab["u1"], "lr_critical": stab["lr_critical"], "lr_noiseless_bound": stab["lr_noiseless_bound"],
           "stable": stab["stable"], "effective_lr": stab["effective_lr"], "nu": None, "kappa": None,
           "phase": None}
    # the modes this run resolves over the last decade of its horizon (powerlaw module docstring)
    try:
        k_lo, k_hi = horizon_fit_range(lam, max(steps), stab["effective_lr"])
    except ValueError:
        k_lo, k_hi = 1, len(lam)
    if len(lam) >= 4 and np.all(lam[k_lo - 1:k_hi] > 0):
        out["nu"] = fit_eigenvalue_decay(lam, k_lo, k_hi).exponent
    if coefficients is not None:
        c = coefficients[order]
        out["v1"] = theory.v_at_one(lam, c, lr, momentum, gamma, tau, n_samples) if stab["stable"] else math.inf
        loss, _ = theory.se_loss_trajectory(lam, c, lr, momentum, gamma, tau, steps, n_samples)
        out["loss"] = {str(t): float(v) for t, v in zip(steps, loss[0])}
        if len(c) >= 4 and np.all(np.cumsum(c[::-1])[::-1][k_lo - 1:k_hi] > 0):
            out["kappa"] = fit_tail_decay(c, k_lo, k_hi, n_samples=n_samples).exponent
        if out["nu"] is not None and out["kappa"] is not None:
            out["phase"] = theory.phase(out["nu"], out["kappa"])
            out["late_time_slope"] = late_time_slope(out["nu"], out["kappa"])
            out["fit_range"] = [int(k_lo), int(k_hi)]
        if not stab["stable"]:
            div = theory.divergence_rate(lam, c, lr, momentum, gamma, tau, n_samples)
            if div is not None:
                out["divergence_time"] = div["t_div"]
    return out


def _table(result: dict) -> str:
    verdict = "STABLE: the loss converges" if result["stable"] else "UNSTABLE: the loss diverges"
    lines = [verdict, ""]
    rows = [("batch noise factor gamma", result["gamma"]), ("U(1)  (converges iff < 1)", result["u1"]),
            ("critical learning rate", result["lr_critical"]),
            ("noiseless bound 2(1+beta)/lambda_max", result["lr_noiseless_bound"]),
            ("lambda_crit", result["lambda_crit"]), ("nu (eigenvalue decay)", result["nu"]),
            ("kappa (target tail decay)", result["kappa"]), ("phase", result["phase"])]
    if "v1" in result:
        rows.append(("V(1)", result["v1"]))
    if "divergence_time" in result:
        rows.append(("divergence time t_div", result["divergence_time"]))
    for name, value in rows:
        text = "n/a" if value is None else (f"{value:.6g}" if isinstance(value, float) else str(value))
        lines.append(f"  {name:<40s} {text}")
    if "loss" in result:
        lines += ["", "  SE loss L_t:"] + [f"    t = {t:>10s}   {v:.6g}" for t, v in result["loss"].items()]
    return "\n".join(lines)


def main(argv=None) -> int:
    parser = _Parser(prog="sgd-spectra", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    p = sub.add_parser("predict", help="stability and SE loss of SGD with momentum for a given spectrum")
    p.error = parser.error
    p.add_argument("--eigenvalues", required=True, help="eigenvalues of K/N (.npy or one number a line)")
    p.add_argument("--coefficients", help="c_k = <u_k, f0(X) - y>^2, same order and format")
    p.add_argument("--n-samples", type=int, help="N (default: the number of eigenvalues)")
    p.add_argument("--batch-size", type=int, required=True)
    p.add_argument("--lr", type=float, required=True, help="learning rate (same units as the eigenvalues)")
    p.add_argument("--momentum", type=float, default=0.0)
    p.add_argument("--tau", type=float, default=1.0, help="SE parameter tau (tau_1 = 1)")
    p.add_argument("--steps", default="1,10,100,1000,10000", help="comma-separated steps for the loss")
    p.add_argument("--json", action="store_true", help="print a JSON object instead of a table")
    try:
        args = parser.parse_args(argv)
        lam = read_vector(args.eigenvalues, "eigenvalues")
        coef = read_vector(args.coefficients, "coefficients") if args.coefficients else None
        if coef is not None and len(coef) != len(lam):
            raise InputError(f"{len(coef)} coefficients for {len(lam)} eigenvalues: lengths must match")
        n = args.n_samples if args.n_samples is not None else len(lam)
        if n < 2:
            raise InputError(f"--n-samples must be at least 2, got {n}")
        if not 1 <= args.batch_size <= n:
            raise InputError(f"--batch-size must be in [1, n_samples={n}], got {args.batch_size}")
        if not (math.isfinite(args.lr) and args.lr > 0):
            raise InputError(f"--lr must be a positive number, got {args.lr}")
        if not -1 < args.momentum < 1:
            raise InputError(f"--momentum must lie in (-1, 1), got {args.momentum}")
        if not lam.max() > 0:
            raise InputError("eigenvalues must include a positive value")
        result = predict(lam, coef, n, args.batch_size, args.lr, args.momentum, args.tau, _steps(args.steps))
    except InputError as err:
        print(f"sgd-spectra: error: {err}", file=sys.stderr)
        return 2
    print(json.dumps(to_plain(result), indent=2) if args.json else _table(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
