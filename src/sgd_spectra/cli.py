"""``sgd-spectra``: is this learning rate / momentum / batch size safe for my spectrum, and what
loss will I get?  (The SE theory of theory.md on a user's own eigenvalues.)

``predict`` answers for one setting, ``sweep`` for a grid of settings as a CSV table."""
from __future__ import annotations

import argparse
import csv
import json
import math
import sys
from pathlib import Path

import numpy as np

# The theory (numba, scipy.optimize) is imported inside the functions that compute, so that
# --help, --version and bad input answer at once, without compiling or loading anything heavy.

EXIT_CONVERGES, EXIT_BAD_INPUT, EXIT_DIVERGES = 0, 2, 3
DEFAULT_STEPS = "1,10,100,1000,10000"

EPILOG = """\
exit status: 0 when the prediction is "converges" (sweep: whenever the table was written),
3 when it is "diverges", 2 for bad input (one line on stderr naming the option).

non-finite numbers: JSON has none, so a number that is not finite is written as null (an empty
cell in a sweep's CSV).  u1, v1 and a loss are always computed, and null there means infinite:
U(1) past a pole, a diverging V(1), a loss that blew up past 1e6 L_0.  nu, kappa, phase and
lambda_crit are null when they cannot be computed (too few modes, tau < 0)."""


class InputError(Exception):
    """Bad user input: reported as one line, exit status 2."""


class _Parser(argparse.ArgumentParser):
    def error(self, message):           # one line, no usage dump, exit status 2
        raise InputError(message)


class _HelpFormatter(argparse.ArgumentDefaultsHelpFormatter, argparse.RawDescriptionHelpFormatter):
    """Every option shows its default, or that it is required; the epilog keeps its line breaks."""

    def _get_help_string(self, action):
        if action.required:
            return f"{action.help} (required)"
        if action.default is None:      # the help text says what happens without the option
            return action.help
        return super()._get_help_string(action)


class _VersionAction(argparse.Action):
    """``--version``, read from the installed metadata only when asked for."""

    def __init__(self, option_strings, dest, **kwargs):
        super().__init__(option_strings, dest, nargs=0, default=argparse.SUPPRESS,
                         help="print the installed version and exit")

    def __call__(self, parser, namespace, values, option_string=None):
        from importlib.metadata import version
        print(f"sgd-spectra {version('sgd-spectra')}")
        parser.exit()


# --------------------------------------------------------------------------------------------
# Input: files, comma-separated lists, and the checks every setting must pass
# --------------------------------------------------------------------------------------------

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


def read_spectrum(args) -> tuple[np.ndarray, np.ndarray | None, int]:
    """Eigenvalues, coefficients (or None) and N from the options every subcommand shares."""
    lam = read_vector(args.eigenvalues, "eigenvalues")
    coef = read_vector(args.coefficients, "coefficients") if args.coefficients else None
    if coef is not None and len(coef) != len(lam):
        raise InputError(f"{len(coef)} coefficients for {len(lam)} eigenvalues: lengths must match")
    if not lam.max() > 0:
        raise InputError("eigenvalues must include a positive value")
    n = args.n_samples if args.n_samples is not None else len(lam)
    if n < 2:
        raise InputError(f"--n-samples must be at least 2, got {n}")
    if not math.isfinite(args.tau):
        raise InputError(f"--tau must be a finite number, got {args.tau}")
    return lam, coef, n


def number_list(text: str, option: str, kind=float) -> list:
    """``"0.1,0.5,1"`` as a list of numbers, in the order given."""
    try:
        values = [kind(s) for s in text.split(",") if s.strip()]
    except ValueError:
        noun = "integers" if kind is int else "numbers"
        raise InputError(f"{option} must be comma-separated {noun}, got {text!r}") from None
    if not values:
        raise InputError(f"{option} is empty")
    return values


def parse_steps(text: str) -> list[int]:
    """The distinct requested steps, ascending."""
    steps = sorted(set(number_list(text, "--steps", int)))
    if steps[0] < 0:
        raise InputError("--steps must be non-negative integers")
    return steps


def check_lr(lr: float, option: str) -> None:
    if not (math.isfinite(lr) and lr > 0):
        raise InputError(f"{option} must be a positive number, got {lr}")


def check_momentum(momentum: float, option: str) -> None:
    if not -1 < momentum < 1:
        raise InputError(f"{option} must lie in (-1, 1), got {momentum}")


def check_batch_size(batch_size: int, n: int, option: str) -> None:
    if not 1 <= batch_size <= n:
        raise InputError(f"{option} must be in [1, n_samples={n}], got {batch_size}")


# --------------------------------------------------------------------------------------------
# The predictions
# --------------------------------------------------------------------------------------------

def descending(eigenvalues, coefficients):
    """Eigenvalues largest first, and the coefficients (or None) in the same order."""
    order = np.argsort(eigenvalues)[::-1]
    return eigenvalues[order], (None if coefficients is None else coefficients[order])


def predict(eigenvalues, coefficients, n_samples: int, batch_size: int, lr: float, momentum: float,
            tau: float, steps: list[int]) -> dict:
    """The whole prediction as a plain dict (the ``--json`` output)."""
    from . import theory
    from .powerlaw import fit_eigenvalue_decay, fit_tail_decay, horizon_fit_range, late_time_slope
    lam, c = descending(eigenvalues, coefficients)
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
    if c is not None:
        out["v1"] = theory.v_at_one(lam, c, lr, momentum, gamma, tau, n_samples) if stab["stable"] else math.inf
        loss, _ = theory.se_loss_trajectory(lam, c, lr, momentum, gamma, tau, steps, n_samples)
        out["loss"] = [{"step": t, "loss": float(v)} for t, v in zip(steps, loss[0])]
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


def sweep(eigenvalues, coefficients, n_samples: int, batch_sizes, lrs, momenta, tau: float,
          steps: list[int]) -> list[dict]:
    """One row per (batch size, lr, momentum), with the same numbers ``predict`` gives that cell;
    all cells of a batch size advance as one vectorised SE state."""
    from . import theory
    lam, c = descending(eigenvalues, coefficients)
    grid = np.array([(lr, momentum) for lr in lrs for momentum in momenta], dtype=np.float64)
    rows = []
    for batch in batch_sizes:
        gamma = float(theory.batch_noise_factor(n_samples, batch))
        loss, _ = theory.se_loss_trajectory(lam, c, grid[:, 0], grid[:, 1], gamma, tau, steps, n_samples)
        for (lr, momentum), cell_loss in zip(grid, loss):
            stab = theory.stability(lam, float(lr), float(momentum), gamma, tau)
            rows.append({"batch": batch, "lr": float(lr), "momentum": float(momentum), "gamma": gamma,
                         "u1": stab["u1"], "stable": stab["stable"], "lr_critical": stab["lr_critical"],
                         **{f"loss_t{t}": float(v) for t, v in zip(steps, cell_loss)}})
    return rows


# --------------------------------------------------------------------------------------------
# Output
# --------------------------------------------------------------------------------------------

def json_ready(obj):
    """Plain JSON values, with every non-finite float as None (the encoding of EPILOG)."""
    if isinstance(obj, dict):
        return {str(k): json_ready(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple, np.ndarray)):
        return [json_ready(v) for v in obj]
    if isinstance(obj, (bool, np.bool_)):
        return bool(obj)
    if isinstance(obj, (int, np.integer)):
        return int(obj)
    if isinstance(obj, (float, np.floating)):
        return float(obj) if math.isfinite(obj) else None
    return obj


def write_csv(rows: list[dict], out) -> None:
    """The rows as CSV, null as an empty cell (``csv`` writes None so)."""
    writer = csv.DictWriter(out, fieldnames=list(rows[0]), lineterminator="\n")
    writer.writeheader()
    writer.writerows(json_ready(rows))


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
        lines += ["", "  SE loss L_t:"] + [f"    t = {p['step']:>10d}   {p['loss']:.6g}" for p in result["loss"]]
    return "\n".join(lines)


# --------------------------------------------------------------------------------------------
# Command line
# --------------------------------------------------------------------------------------------

def _add_spectrum_options(p: argparse.ArgumentParser, coefficients_required: bool) -> None:
    p.add_argument("--eigenvalues", required=True, metavar="FILE",
                   help="eigenvalues of K/N (.npy or one number a line)")
    p.add_argument("--coefficients", required=coefficients_required, metavar="FILE",
                   help="c_k = <u_k, f0(X) - y>^2, same order and format"
                        + ("" if coefficients_required else " (default: none; then no loss, V(1), kappa or phase)"))
    p.add_argument("--n-samples", type=int, metavar="N", help="N (default: the number of eigenvalues)")
    p.add_argument("--tau", type=float, default=1.0, help="SE parameter tau (tau_1 = 1)")
    p.add_argument("--steps", default=DEFAULT_STEPS, metavar="LIST",
                   help="comma-separated steps at which to give the SE loss")


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="sgd-spectra", epilog=EPILOG, formatter_class=_HelpFormatter,
                     description="Is this learning rate / momentum / batch size safe for my spectrum,\n"
                                 "and what loss will I get?  (The SE theory, on your own eigenvalues.)")
    parser.add_argument("--version", action=_VersionAction)
    sub = parser.add_subparsers(dest="command", required=True)
    p = sub.add_parser("predict", help="stability and SE loss of SGD with momentum for a given spectrum",
                       description="Stability and SE loss of one setting.", epilog=EPILOG,
                       formatter_class=_HelpFormatter)
    _add_spectrum_options(p, coefficients_required=False)
    p.add_argument("--batch-size", type=int, required=True, help="batch size b")
    p.add_argument("--lr", type=float, required=True, help="learning rate (same units as the eigenvalues)")
    p.add_argument("--momentum", type=float, default=0.0, help="heavy-ball momentum beta")
    p.add_argument("--json", action="store_true", help="print a JSON object instead of a table")
    s = sub.add_parser("sweep", help="predict a grid of settings, one CSV row per (batch size, lr, momentum)",
                       description="Stability and SE loss of every (batch size, lr, momentum) as a CSV\n"
                                   "table: one row per cell, one loss_t<step> column per step.",
                       epilog=EPILOG, formatter_class=_HelpFormatter)
    _add_spectrum_options(s, coefficients_required=True)
    s.add_argument("--lrs", required=True, metavar="LIST", help="comma-separated learning rates")
    s.add_argument("--momenta", default="0", metavar="LIST", help="comma-separated momenta")
    s.add_argument("--batch-sizes", required=True, metavar="LIST", help="comma-separated batch sizes")
    s.add_argument("--out", metavar="FILE", help="CSV file to write (default: standard output)")
    return parser


def run_predict(args) -> int:
    lam, coef, n = read_spectrum(args)
    check_batch_size(args.batch_size, n, "--batch-size")
    check_lr(args.lr, "--lr")
    check_momentum(args.momentum, "--momentum")
    result = predict(lam, coef, n, args.batch_size, args.lr, args.momentum, args.tau, parse_steps(args.steps))
    print(json.dumps(json_ready(result), indent=2, allow_nan=False) if args.json else _table(result))
    return EXIT_CONVERGES if result["stable"] else EXIT_DIVERGES


def run_sweep(args) -> int:
    lam, coef, n = read_spectrum(args)
    lrs, momenta = number_list(args.lrs, "--lrs"), number_list(args.momenta, "--momenta")
    batch_sizes = number_list(args.batch_sizes, "--batch-sizes", int)
    for lr in lrs:
        check_lr(lr, "--lrs")
    for momentum in momenta:
        check_momentum(momentum, "--momenta")
    for batch in batch_sizes:
        check_batch_size(batch, n, "--batch-sizes")
    rows = sweep(lam, coef, n, batch_sizes, lrs, momenta, args.tau, parse_steps(args.steps))
    if args.out is None:
        write_csv(rows, sys.stdout)
        return EXIT_CONVERGES
    try:
        with open(args.out, "w", newline="") as out:
            write_csv(rows, out)
    except OSError as err:
        raise InputError(f"cannot write --out {args.out}: {err.strerror}") from None
    return EXIT_CONVERGES


def main(argv=None) -> int:
    try:
        args = build_parser().parse_args(argv)
        return {"predict": run_predict, "sweep": run_sweep}[args.command](args)
    except InputError as err:
        print(f"sgd-spectra: error: {err}", file=sys.stderr)
        return EXIT_BAD_INPUT


if __name__ == "__main__":
    sys.exit(main())
