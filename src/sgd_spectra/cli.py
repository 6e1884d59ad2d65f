"""``sgd-spectra``: is this learning rate / momentum / batch size safe for my spectrum, and what
loss will I get?  (The SE theory of theory.md on a user's own eigenvalues.)

``predict`` answers for one setting, ``sweep`` for a grid of settings as a CSV table, and
``spectrum`` computes the spectrum of a user's own model on their data (the one command that
imports torch, inside it)."""

from __future__ import annotations

import argparse
import csv
import json
import math
import sys
from pathlib import Path

import numpy as np

from .prediction import DEFAULT_STEPS, check_vector, descending, prediction_dict, read_spectrum_file

# The theory (numba, scipy.optimize) is imported inside the functions that compute, so that
# --help, --version and bad input answer at once, without compiling or loading anything heavy.

EXIT_CONVERGES, EXIT_BAD_INPUT, EXIT_DIVERGES = 0, 2, 3
#: ntk_generic.DEFAULT_MEMORY_GB, restated so that --help imports no torch (a test checks they agree)
DEFAULT_MEMORY_GB = 2.0

EPILOG = """\
exit status: 0 when the prediction is "converges" (sweep: whenever the table was written),
3 when it is "diverges", 2 for bad input (one line on stderr naming the option).

non-finite numbers: JSON has none, so a number that is not finite is written as null (an empty
cell in a sweep's CSV).  u1, v1 and a loss are always computed, and null there means infinite:
U(1) past a pole, a diverging V(1), a loss that blew up past 1e6 L_0.  nu, kappa, phase and
lambda_crit are null when they cannot be computed (too few modes, tau < 0)."""


SPECTRUM_EPILOG = """\
exit status: 0 when the spectrum was written, 2 for bad input (one line on stderr naming the
option: a missing file, data.npz without X and y, a factory that fails, a model without one
output per sample).

then: sgd-spectra predict --spectrum OUT.npz --batch-size B --lr LR --momentum M
(LR in units of 1/lambda_max; the torch learning rate is LR x the file's `scale`)."""


class InputError(Exception):
    """Bad user input: reported as one line, exit status 2."""


class _Parser(argparse.ArgumentParser):
    def error(self, message):  # one line, no usage dump, exit status 2
        raise InputError(message)


class _HelpFormatter(argparse.ArgumentDefaultsHelpFormatter, argparse.RawDescriptionHelpFormatter):
    """Every option shows its default, or that it is required; the epilog keeps its line breaks."""

    def _get_help_string(self, action):
        if action.required:
            return f"{action.help} (required)"
        if action.default is None:  # the help text says what happens without the option
            return action.help
        return super()._get_help_string(action)


class _VersionAction(argparse.Action):
    """``--version``, read from the installed metadata only when asked for."""

    def __init__(self, option_strings, dest, **kwargs):
        super().__init__(
            option_strings,
            dest,
            nargs=0,
            default=argparse.SUPPRESS,
            help="print the installed version and exit",
        )

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
    except Exception as err:
        raise InputError(f"cannot read {what} from {path}: {str(err).splitlines()[0]}") from None
    try:
        return check_vector(values, f"{what} in {path}")
    except ValueError as err:
        raise InputError(str(err)) from None


def read_spectrum(args) -> tuple[np.ndarray, np.ndarray | None, int]:
    """Eigenvalues, coefficients (or None) and N from the options every subcommand shares:
    ``--spectrum FILE``, or ``--eigenvalues FILE [--coefficients FILE]``."""
    if args.spectrum and (args.eigenvalues or args.coefficients):
        raise InputError("--spectrum and --eigenvalues/--coefficients are mutually exclusive: give one")
    if args.spectrum:
        try:
            found = read_spectrum_file(args.spectrum)
        except ValueError as err:
            raise InputError(f"--spectrum: {err}") from None
        lam, coef, n_file = found["eigenvalues"], found["coefficients"], found["n_samples"]
    elif args.eigenvalues:
        lam = read_vector(args.eigenvalues, "eigenvalues")
        coef = read_vector(args.coefficients, "coefficients") if args.coefficients else None
        n_file = len(lam)
    else:
        raise InputError("give --spectrum FILE, or --eigenvalues FILE (and --coefficients FILE)")
    if coef is not None and len(coef) != len(lam):
        raise InputError(f"{len(coef)} coefficients for {len(lam)} eigenvalues: lengths must match")
    if not lam.max() > 0:
        raise InputError("eigenvalues must include a positive value")
    n = args.n_samples if args.n_samples is not None else n_file
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


def sweep(
    eigenvalues, coefficients, n_samples: int, batch_sizes, lrs, momenta, tau: float, steps: list[int]
) -> list[dict]:
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
            rows.append(
                {
                    "batch": batch,
                    "lr": float(lr),
                    "momentum": float(momentum),
                    "gamma": gamma,
                    "u1": stab["u1"],
                    "stable": stab["stable"],
                    "lr_critical": stab["lr_critical"],
                    **{f"loss_t{t}": float(v) for t, v in zip(steps, cell_loss)},
                }
            )
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
    rows = [
        ("batch noise factor gamma", result["gamma"]),
        ("U(1)  (converges iff < 1)", result["u1"]),
        ("critical learning rate", result["lr_critical"]),
        ("noiseless bound 2(1+beta)/lambda_max", result["lr_noiseless_bound"]),
        ("lambda_crit", result["lambda_crit"]),
        ("nu (eigenvalue decay)", result["nu"]),
        ("kappa (target tail decay)", result["kappa"]),
        ("phase", result["phase"]),
    ]
    if "v1" in result:
        rows.append(("V(1)", result["v1"]))
    if "divergence_time" in result:
        rows.append(("divergence time t_div", result["divergence_time"]))
    for name, value in rows:
        text = "n/a" if value is None else (f"{value:.6g}" if isinstance(value, float) else str(value))
        lines.append(f"  {name:<40s} {text}")
    if "loss" in result:
        lines += ["", "  SE loss L_t:"] + [
            f"    t = {p['step']:>10d}   {p['loss']:.6g}" for p in result["loss"]
        ]
    return "\n".join(lines)


# --------------------------------------------------------------------------------------------
# Command line
# --------------------------------------------------------------------------------------------


def _add_spectrum_options(p: argparse.ArgumentParser, coefficients_required: bool) -> None:
    p.add_argument(
        "--spectrum",
        metavar="FILE",
        help="a spectrum .npz (eigenvalues, coefficients, n_samples), as `sgd-spectra "
        "spectrum` and the workflow (results/spectra/{dataset}.npz) write it (default: "
        "none; give it or --eigenvalues)",
    )
    p.add_argument(
        "--eigenvalues",
        metavar="FILE",
        help="eigenvalues of K/N (.npy or one number a line) (default: none; give it or --spectrum)",
    )
    p.add_argument(
        "--coefficients",
        metavar="FILE",
        help="c_k = <u_k, f0(X) - y>^2, same order and format, with --eigenvalues"
        + (
            " (default: none; required with --eigenvalues)"
            if coefficients_required
            else " (default: none; then no loss, V(1), kappa or phase)"
        ),
    )
    p.add_argument(
        "--n-samples",
        type=int,
        metavar="N",
        help="N (default: the spectrum file's n_samples, else the number of eigenvalues)",
    )
    p.add_argument("--tau", type=float, default=1.0, help="SE parameter tau (tau_1 = 1)")
    p.add_argument(
        "--steps",
        default=",".join(map(str, DEFAULT_STEPS)),
        metavar="LIST",
        help="comma-separated steps at which to give the SE loss",
    )


def _add_spectrum_command(sub) -> None:
    p = sub.add_parser(
        "spectrum",
        help="the empirical NTK spectrum of your own model on your data (needs torch)",
        description="The empirical NTK of a scalar-output model on your data, its eigenvalues\n"
        "(normalised so that the largest is 1) and the initial error's coefficients,\n"
        "written for `sgd-spectra predict --spectrum`.",
        epilog=SPECTRUM_EPILOG,
        formatter_class=_HelpFormatter,
    )
    p.add_argument(
        "--model",
        required=True,
        metavar="FACTORY",
        help="'my_net.py:make_model' or 'package.module:make_model', a function returning a "
        "torch.nn.Module with one output per sample; or a built-in kind: mlp, cnn, resnet",
    )
    p.add_argument(
        "--data", required=True, metavar="FILE", help=".npz with X (N x any input shape) and y (N,)"
    )
    p.add_argument(
        "--out",
        required=True,
        metavar="FILE",
        help="spectrum .npz to write; the model's state_dict goes beside it (.pt)",
    )
    p.add_argument("--n-samples", type=int, metavar="N", help="a random subset of N samples (default: all)")
    p.add_argument(
        "--seed",
        type=int,
        default=0,
        help="seed of the model's initialisation (the factory runs under torch.manual_seed) and "
        "of the subset",
    )
    p.add_argument("--dtype", choices=("float64", "float32"), default="float64", help="precision of the NTK")
    p.add_argument(
        "--memory-gb", type=float, default=DEFAULT_MEMORY_GB, help="memory cap of the Jacobian chunks, in GB"
    )
    p.add_argument(
        "--device",
        choices=("cpu", "cuda", "auto"),
        default="cpu",
        help="where the NTK is computed (auto: a GPU when torch sees one)",
    )


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog="sgd-spectra",
        epilog=EPILOG,
        formatter_class=_HelpFormatter,
        description="Is this learning rate / momentum / batch size safe for my spectrum,\n"
        "and what loss will I get?  (The SE theory, on your own eigenvalues.)",
    )
    parser.add_argument("--version", action=_VersionAction)
    sub = parser.add_subparsers(dest="command", required=True)
    p = sub.add_parser(
        "predict",
        help="stability and SE loss of SGD with momentum for a given spectrum",
        description="Stability and SE loss of one setting.",
        epilog=EPILOG,
        formatter_class=_HelpFormatter,
    )
    _add_spectrum_options(p, coefficients_required=False)
    p.add_argument("--batch-size", type=int, required=True, help="batch size b")
    p.add_argument("--lr", type=float, required=True, help="learning rate (same units as the eigenvalues)")
    p.add_argument("--momentum", type=float, default=0.0, help="heavy-ball momentum beta")
    p.add_argument("--json", action="store_true", help="print a JSON object instead of a table")
    s = sub.add_parser(
        "sweep",
        help="predict a grid of settings, one CSV row per (batch size, lr, momentum)",
        description="Stability and SE loss of every (batch size, lr, momentum) as a CSV\n"
        "table: one row per cell, one loss_t<step> column per step.",
        epilog=EPILOG,
        formatter_class=_HelpFormatter,
    )
    _add_spectrum_options(s, coefficients_required=True)
    s.add_argument("--lrs", required=True, metavar="LIST", help="comma-separated learning rates")
    s.add_argument("--momenta", default="0", metavar="LIST", help="comma-separated momenta")
    s.add_argument("--batch-sizes", required=True, metavar="LIST", help="comma-separated batch sizes")
    s.add_argument("--out", metavar="FILE", help="CSV file to write (default: standard output)")
    _add_spectrum_command(sub)
    return parser


def run_predict(args) -> int:
    lam, coef, n = read_spectrum(args)
    check_batch_size(args.batch_size, n, "--batch-size")
    check_lr(args.lr, "--lr")
    check_momentum(args.momentum, "--momentum")
    result = prediction_dict(
        lam, coef, n, args.batch_size, args.lr, args.momentum, args.tau, parse_steps(args.steps)
    )
    print(json.dumps(json_ready(result), indent=2, allow_nan=False) if args.json else _table(result))
    return EXIT_CONVERGES if result["stable"] else EXIT_DIVERGES


def run_sweep(args) -> int:
    lam, coef, n = read_spectrum(args)
    if coef is None:
        raise InputError("sweep needs coefficients: give --coefficients FILE, or --spectrum FILE")
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


BUILT_IN_KINDS = ("mlp", "cnn", "resnet")


def read_data(path: str, n_samples: int | None, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """``X`` (N x input shape) and ``y`` (N,) from an .npz, optionally a random subset of N."""
    p = Path(path)
    if not p.is_file():
        raise InputError(f"--data file not found: {path}")
    try:
        with np.load(p, allow_pickle=False) as data:
            arrays = {key: data[key] for key in data.files}
        if not {"X", "y"} <= set(arrays):
            raise InputError(f"--data {path} must hold arrays 'X' and 'y'; it holds {sorted(arrays)}")
        X, y = np.asarray(arrays["X"], dtype=np.float64), np.asarray(arrays["y"], dtype=np.float64)
    except InputError:
        raise
    except Exception as err:
        raise InputError(f"cannot read --data {path}: {str(err).splitlines()[0]}") from None
    if X.ndim < 2 or y.reshape(len(y), -1).shape[1] != 1 or len(y) != len(X):
        raise InputError(
            f"--data {path}: need X of shape (N, ...) and y of shape (N,); got {X.shape} and {y.shape}"
        )
    if not (np.all(np.isfinite(X)) and np.all(np.isfinite(y))):
        raise InputError(f"--data {path}: X or y contain NaN or infinite values")
    y = y.reshape(-1)
    if n_samples is not None:
        if not 2 <= n_samples <= len(y):
            raise InputError(f"--n-samples must be in [2, {len(y)}] (the samples in --data), got {n_samples}")
        keep = np.sort(np.random.default_rng(seed).choice(len(y), size=n_samples, replace=False))
        X, y = X[keep], y[keep]
    return X, y


def run_spectrum(args) -> int:
    if not args.out.endswith(".npz"):
        raise InputError(f"--out must end in .npz (the state_dict goes beside it as .pt), got {args.out}")
    if not args.memory_gb > 0:
        raise InputError(f"--memory-gb must be positive, got {args.memory_gb}")
    X, y = read_data(args.data, args.n_samples, args.seed)
    import torch  # only this command needs it

    from .models import ModelSpecError, build_model, resolve_device
    from .ntk_generic import empirical_spectrum, save_spectrum

    spec = {"kind": args.model} if args.model in BUILT_IN_KINDS else {"kind": "custom", "factory": args.model}
    dtype = getattr(torch, args.dtype)
    try:
        device = resolve_device(args.device)
        model = build_model(spec, X.shape[1:], args.seed, dtype).to(device)
    except ModelSpecError as err:
        raise InputError(f"--model: {err}") from None
    try:
        spectrum = empirical_spectrum(
            model, X, y, dtype=dtype, memory_gb=args.memory_gb, progress=sys.stderr.isatty()
        )
        npz, pt = save_spectrum(args.out, spectrum, model)
    except ValueError as err:  # the memory cap, an output that is not one scalar
        raise InputError(f"--model {args.model}: {err}") from None
    except OSError as err:
        raise InputError(f"cannot write --out {args.out}: {err.strerror}") from None
    n_params = sum(t.numel() for t in model.parameters() if t.requires_grad)
    print(
        f"N = {spectrum.n_samples} samples, {n_params} parameters; eigenvalues of K/N normalised to "
        f"lambda_max = 1 (scale N/lambda_max(K) = {spectrum.scale:.6g}); L0 = "
        f"{spectrum.coefficients.sum() / (2 * spectrum.n_samples):.6g}"
    )
    print(f"wrote {npz} and {pt}")
    return EXIT_CONVERGES


def main(argv=None) -> int:
    try:
        args = build_parser().parse_args(argv)
        return {"predict": run_predict, "sweep": run_sweep, "spectrum": run_spectrum}[args.command](args)
    except InputError as err:
        print(f"sgd-spectra: error: {' '.join(str(err).split())}", file=sys.stderr)
        return EXIT_BAD_INPUT


if __name__ == "__main__":
    sys.exit(main())
