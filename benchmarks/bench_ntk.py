"""Benchmark: closed-form empirical NTK vs the torch.func (autograd) oracle.

Prints, in one run, the median time of ``ntk_closed_form`` and ``ntk_autograd`` at the same size
(default N=1000 points, d=784 inputs, width m=1000, float32, random data), their ratio, the
closed form's achieved GFLOP/s and the machine's measured float32 matmul GFLOP/s (a large square
``torch.mm``), and the percentage of that peak the closed form reaches.

Flop count of the closed form (GEMMs only, elementwise work ignored):
    hidden layer    X W^T          2 N d m
    X_t X_t^T                      2 N^2 d
    R R^T, D D^T                   2 * 2 N^2 m

Memory: the autograd route materialises the Jacobian J (N x P, P = m d + 2 m, ~3.1 GB in float32
at the default size) plus vmap intermediates and the concatenated copy (~3 x |J| peak).  If the
machine has less memory available than that, the script uses a chunked Jacobian (rows written
into one preallocated J, one GEMM) instead and says so.

Usage:  PYTHONPATH=src python benchmarks/bench_ntk.py [--threads T] [--n N] [--reps R] ...

``ntk_autograd`` is now the generic route (``sgd_spectra.ntk_generic.empirical_ntk``), which
splits the Jacobian into column groups under its default 2 GB cap instead of materialising J.

``--cnn``: the generic route on the small CNN of ``sgd_spectra.models`` (``{"kind": "cnn"}``,
``--channels``) for N Fashion-MNIST-shaped 1x28x28 random inputs, float64, against the PyTorch
"Neural Tangent Kernels" tutorial's method (``vmap(jacrev)`` of all N samples at once, then one
``einsum`` per parameter tensor, stacked and summed).  Each method runs in a fresh subprocess
(peak memory = its ``ru_maxrss``): a warm-up on 8 samples, then one cold full-size run and
``--reps`` warm ones.  Also the Gram step's achieved GFLOP/s (``syrk``: N^2 P flops) against a
plain square float64 ``torch.mm`` measured in the same process.

Usage:  PYTHONPATH=src nice python benchmarks/bench_ntk.py --cnn --threads 1 [--n 1000]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import statistics
import subprocess
import sys
import time

import torch

from sgd_spectra.ntk import init_network, ntk_autograd, ntk_closed_form


def timed(fn, reps: int, warmup: int = 1):
    """Median wall time of ``fn()`` over ``reps`` runs after ``warmup`` runs; also the last result."""
    out = None
    for _ in range(warmup):
        out = fn()
    times = []
    for _ in range(reps):
        t0 = time.perf_counter()
        out = fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times), times, out


def mem_available_bytes() -> int | None:
    try:
        with open("/proc/meminfo") as fh:
            for line in fh:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    return None


def ntk_autograd_chunked(net, X, chunk: int = 100):
    """Same kernel as ``ntk_autograd`` with the Jacobian built ``chunk`` rows at a time."""
    from torch.func import functional_call, jacrev, vmap

    params = {name: p.detach() for name, p in net.named_parameters()}
    n_params = sum(p.numel() for p in params.values())
    X = X.to(net.weight.dtype)

    def f_single(p, x):
        return functional_call(net, p, (x.unsqueeze(0),)).squeeze(0)

    jac_fn = vmap(jacrev(f_single), in_dims=(None, 0))
    J = torch.empty(X.shape[0], n_params, dtype=X.dtype)
    for start in range(0, X.shape[0], chunk):
        rows = jac_fn(params, X[start : start + chunk])
        J[start : start + chunk] = torch.cat([j.reshape(j.shape[0], -1) for j in rows.values()], 1)
        del rows
    return J @ J.T


def matmul_peak(size: int, reps: int, dtype=torch.float32):
    """Measured peak: the best (not median) of ``reps`` square matmuls, as GFLOP/s and seconds.

    The best run is the least disturbed by other load on a shared machine."""
    gen = torch.Generator().manual_seed(0)
    A = torch.randn(size, size, generator=gen, dtype=dtype)
    B = torch.randn(size, size, generator=gen, dtype=dtype)
    _, times, _ = timed(lambda: torch.mm(A, B), reps, warmup=1)
    return 2 * size**3 / min(times) / 1e9, min(times)


def parse_args():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument(
        "--threads", type=int, default=os.cpu_count(), help="torch intra-op threads (default: all cores)"
    )
    parser.add_argument("--n", type=int, default=1000, help="number of data points N")
    parser.add_argument("--d", type=int, default=784, help="input dimension d")
    parser.add_argument("--width", type=int, default=1000, help="hidden width m")
    parser.add_argument("--reps", type=int, default=5, help="timed repetitions (closed form, matmul)")
    parser.add_argument("--autograd-reps", type=int, default=3, help="timed repetitions (autograd)")
    parser.add_argument("--matmul-size", type=int, default=4096, help="square matmul for the peak")
    parser.add_argument("--chunk", action="store_true", help="force the chunked autograd Jacobian")
    parser.add_argument(
        "--cnn", action="store_true", help="benchmark the generic route on a CNN against the tutorial method"
    )
    parser.add_argument("--channels", default="16,32", help="CNN channels per conv layer")
    parser.add_argument("--memory-gb", type=float, default=0.25, help="cap of the generic route")
    parser.add_argument("--worker", choices=["generic", "tutorial"], help=argparse.SUPPRESS)
    parser.add_argument("--kernel-out", help=argparse.SUPPRESS)
    return parser.parse_args()


def main():
    args = parse_args()
    if args.worker:
        cnn_worker(args)
    elif args.cnn:
        cnn_main(args)
    else:
        mlp_main(args)


def mlp_main(args):

    torch.set_num_threads(args.threads)
    n, d, m = args.n, args.d, args.width
    dtype = torch.float32
    gen = torch.Generator().manual_seed(0)
    X = torch.randn(n, d, generator=gen, dtype=dtype)
    net = init_network(d, m, seed=0, dtype=dtype)

    n_params = m * d + 2 * m
    jac_bytes = n * n_params * torch.finfo(dtype).bits // 8
    avail = mem_available_bytes()
    chunked = args.chunk or (avail is not None and avail < 3.5 * jac_bytes)

    peak_before = matmul_peak(args.matmul_size, args.reps)
    t_closed, closed_times, k_closed = timed(lambda: ntk_closed_form(net, X), args.reps, warmup=2)
    peak_after = matmul_peak(args.matmul_size, args.reps)  # measured on both sides
    peak_gflops, t_mm = max(peak_before, peak_after)
    flops = 2 * n * d * m + 2 * n * n * d + 2 * 2 * n * n * m
    closed_gflops = flops / t_closed / 1e9

    auto_fn = (lambda: ntk_autograd_chunked(net, X)) if chunked else (lambda: ntk_autograd(net, X))
    t_auto, auto_times, k_auto = timed(auto_fn, args.autograd_reps, warmup=1)
    rss_gb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024 / 1e9
    rel_err = float(
        torch.linalg.norm(k_closed.double() - k_auto.double()) / torch.linalg.norm(k_auto.double())
    )

    print("Empirical NTK benchmark: one-hidden-layer ReLU net, NTK parametrisation")
    print(
        f"  machine: {platform.processor() or platform.machine()}, {os.cpu_count()} cores, "
        f"torch {torch.__version__}, threads={torch.get_num_threads()}"
    )
    print(
        f"  size: N={n}, d={d}, m={m}, dtype=float32, params P={n_params:,}, "
        f"J = {jac_bytes / 1e9:.2f} GB, MemAvailable = "
        f"{'?' if avail is None else f'{avail / 1e9:.1f} GB'}"
        f"{' -> chunked Jacobian' if chunked else ''}"
    )
    print(f"  closed-form flops (GEMMs): {flops / 1e9:.3f} GFLOP")
    print()
    rule = "-" * 92
    print(f"{'route':<26}{'time [s]':>12}{'runs [s]':>44}{'GFLOP/s':>10}")
    print(rule)
    fmt = lambda ts: ", ".join(f"{x:.3g}" for x in ts)
    print(f"{'matmul ' + str(args.matmul_size) + '^2 (best)':<26}{t_mm:>12.4f}{'':>44}{peak_gflops:>10.1f}")
    print(f"{'ntk_closed_form':<26}{t_closed:>12.4f}{fmt(closed_times):>44}{closed_gflops:>10.1f}")
    print(
        f"{'ntk_autograd' + (' (chunked)' if chunked else ''):<26}{t_auto:>12.3f}"
        f"{fmt(auto_times):>44}{'':>10}"
    )
    print(rule)
    print("  (time = median of the timed runs after warm-up; for the matmul, the best run)")
    print(f"  speed-up autograd / closed form : {t_auto / t_closed:,.0f}x")
    print(f"  matmul peak before / after      : {peak_before[0]:.1f} / {peak_after[0]:.1f} GFLOP/s")
    print(
        f"  closed form (median) vs peak    : {100 * closed_gflops / peak_gflops:.0f}% "
        f"({closed_gflops:.1f} of {peak_gflops:.1f} GFLOP/s)"
    )
    print(f"  relative Frobenius difference   : {rel_err:.2e} (float32)")
    print(f"  peak RSS of the process         : {rss_gb:.1f} GB")


# ----------------------------------------------------------------------------- --cnn


def cnn_model(args):
    from sgd_spectra.models import build_model

    channels = [int(c) for c in args.channels.split(",")]
    spec = {"kind": "cnn", "channels": channels, "input_shape": [1, 28, 28]}
    return build_model(spec, (784,), seed=0, dtype=torch.float64)


def tutorial_ntk(model, X):
    """The PyTorch tutorial's ``empirical_ntk_jacobian_contraction`` with x1 = x2 = X (the
    Jacobian computed once, which favours the tutorial: it computes jac1 and jac2 separately)."""
    from torch.func import functional_call, jacrev, vmap

    params = {name: p.detach() for name, p in model.named_parameters()}

    def fnet_single(params, x):
        return functional_call(model, params, (x.unsqueeze(0),))  # shape (1,): one output

    jac = vmap(jacrev(fnet_single), (None, 0))(params, X)
    jac = [j.flatten(2) for j in jac.values()]
    result = torch.stack([torch.einsum("Naf,Mbf->NMab", j1, j2) for j1, j2 in zip(jac, jac)])
    return result.sum(0)[:, :, 0, 0]


def resident_bytes() -> int:
    with open("/proc/self/statm") as fh:
        return int(fh.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


def cnn_worker(args):
    """One method in a fresh process: warm-up, one cold and ``--reps`` warm full-size runs."""
    import numpy as np

    import sgd_spectra.ntk_generic as generic

    torch.set_num_threads(args.threads)
    model = cnn_model(args)
    X = torch.randn(args.n, 784, generator=torch.Generator().manual_seed(0), dtype=torch.float64)
    gram_seconds = []
    add = generic.GramAccumulator.add

    def timed_add(self, block):
        t0 = time.perf_counter()
        add(self, block)
        gram_seconds.append(time.perf_counter() - t0)

    generic.GramAccumulator.add = timed_add
    if args.worker == "generic":
        run = lambda Z: generic.empirical_ntk(model, Z, memory_gb=args.memory_gb)
    else:
        run = lambda Z: tutorial_ntk(model, Z).numpy()
    run(X[:8])  # loads kernels, vmap machinery
    rss_before = resident_bytes()
    times, grams = [], []
    for _ in range(1 + args.reps):
        gram_seconds.clear()
        t0 = time.perf_counter()
        kernel = run(X)
        times.append(time.perf_counter() - t0)
        grams.append(sum(gram_seconds))
    np.save(args.kernel_out, kernel)
    plan = generic.plan_chunks(model, X, memory_gb=args.memory_gb)
    print(
        "RESULT "
        + json.dumps(
            {
                "times": times,
                "gram_seconds": grams,
                "rss_before": rss_before,
                "peak_rss": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024,
                "n_params": plan.n_params,
                "groups": len(plan.groups),
                "sample_chunk": plan.groups[0].sample_chunk,
            }
        )
    )


def run_worker(method: str, args, kernel_out: str) -> dict:
    command = [
        sys.executable,
        __file__,
        "--worker",
        method,
        "--n",
        str(args.n),
        "--threads",
        str(args.threads),
        "--reps",
        str(args.reps),
        "--channels",
        args.channels,
        "--memory-gb",
        str(args.memory_gb),
        "--kernel-out",
        kernel_out,
    ]
    done = subprocess.run(command, capture_output=True, text=True, check=True)
    line = next(x for x in done.stdout.splitlines() if x.startswith("RESULT "))
    return json.loads(line[len("RESULT ") :])


def cnn_main(args):
    import tempfile

    import numpy as np

    torch.set_num_threads(args.threads)
    with tempfile.TemporaryDirectory() as tmp:
        results = {m: run_worker(m, args, os.path.join(tmp, m + ".npy")) for m in ("tutorial", "generic")}
        kernels = {m: np.load(os.path.join(tmp, m + ".npy")) for m in results}
    mm_gflops, _ = max(matmul_peak(2048, 3, torch.float64), matmul_peak(2048, 3, torch.float64))
    n, p = args.n, results["generic"]["n_params"]
    rows = {m: summarise(r) for m, r in results.items()}
    print_cnn_report(args, rows, n, p, results["generic"], mm_gflops, kernels)


def summarise(result: dict) -> dict:
    gb = 1e9
    return {
        "cold": result["times"][0],
        "warm": statistics.median(result["times"][1:]),
        "peak": result["peak_rss"] / gb,
        "increase": (result["peak_rss"] - result["rss_before"]) / gb,
    }


def print_cnn_report(args, rows, n, p, generic, mm_gflops, kernels):
    import numpy as np

    tut, gen = rows["tutorial"], rows["generic"]
    print(
        f"Empirical NTK of the CNN (channels {args.channels}, 1x28x28, random inputs): generic "
        f"route vs the PyTorch tutorial's vmap(jacrev) + einsum"
    )
    print(
        f"  torch {torch.__version__}, threads={args.threads}, float64, N={n}, P={p:,}, "
        f"generic cap {args.memory_gb} GB -> {generic['groups']} column group(s), "
        f"{generic['sample_chunk']} samples per chunk"
    )
    print(
        f"{'method':<12}{'cold [s]':>10}{'warm [s]':>10}{'peak RSS [GB]':>15}{'peak - RSS before [GB]':>24}"
    )
    for name, row in rows.items():
        print(
            f"{name:<12}{row['cold']:>10.2f}{row['warm']:>10.2f}{row['peak']:>15.3f}{row['increase']:>24.3f}"
        )
    print(
        f"  speed-up (tutorial / generic): cold {tut['cold'] / gen['cold']:.2f}x, "
        f"warm {tut['warm'] / gen['warm']:.2f}x   (target >= 3x)"
    )
    print(
        f"  memory (generic / tutorial): peak RSS {gen['peak'] / tut['peak']:.2f}, increase "
        f"{gen['increase'] / tut['increase']:.2f}   (target <= 0.25)"
    )
    gram = statistics.median(generic["gram_seconds"][1:])
    syrk_gflops = n * n * p / gram / 1e9
    print(
        f"  Gram step (syrk, N^2 P = {n * n * p / 1e9:.2f} GFLOP): {gram:.3f} s, "
        f"{syrk_gflops:.1f} GFLOP/s = {100 * syrk_gflops / mm_gflops:.0f}% of a 2048^2 float64 "
        f"torch.mm ({mm_gflops:.1f} GFLOP/s, best of 3)   (target >= 50%)"
    )
    print(f"  Gram share of the generic route's warm time: {100 * gram / gen['warm']:.0f}%")
    a, b = kernels["generic"], kernels["tutorial"]
    print(
        f"  relative Frobenius difference of the two kernels: {np.linalg.norm(a - b) / np.linalg.norm(b):.1e}"
    )


if __name__ == "__main__":
    main()
