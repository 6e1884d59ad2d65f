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
"""
from __future__ import annotations

import argparse
import os
import platform
import resource
import statistics
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
        rows = jac_fn(params, X[start:start + chunk])
        J[start:start + chunk] = torch.cat([j.reshape(j.shape[0], -1) for j in rows.values()], 1)
        del rows
    return J @ J.T


def matmul_peak(size: int, reps: int, dtype=torch.float32):
    """Measured peak: the best (not median) of ``reps`` square matmuls, as GFLOP/s and seconds.

    The best run is the least disturbed by other load on a shared machine."""
    gen = torch.Generator().manual_seed(0)
    A = torch.randn(size, size, generator=gen, dtype=dtype)
    B = torch.randn(size, size, generator=gen, dtype=dtype)
    _, times, _ = timed(lambda: torch.mm(A, B), reps, warmup=1)
    return 2 * size ** 3 / min(times) / 1e9, min(times)


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--threads", type=int, default=os.cpu_count(),
                        help="torch intra-op threads (default: all cores)")
    parser.add_argument("--n", type=int, default=1000, help="number of data points N")
    parser.add_argument("--d", type=int, default=784, help="input dimension d")
    parser.add_argument("--width", type=int, default=1000, help="hidden width m")
    parser.add_argument("--reps", type=int, default=5, help="timed repetitions (closed form, matmul)")
    parser.add_argument("--autograd-reps", type=int, default=3, help="timed repetitions (autograd)")
    parser.add_argument("--matmul-size", type=int, default=4096, help="square matmul for the peak")
    parser.add_argument("--chunk", action="store_true", help="force the chunked autograd Jacobian")
    args = parser.parse_args()

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
    peak_after = matmul_peak(args.matmul_size, args.reps)       # measured on both sides
    peak_gflops, t_mm = max(peak_before, peak_after)
    flops = 2 * n * d * m + 2 * n * n * d + 2 * 2 * n * n * m
    closed_gflops = flops / t_closed / 1e9

    auto_fn = (lambda: ntk_autograd_chunked(net, X)) if chunked else (lambda: ntk_autograd(net, X))
    t_auto, auto_times, k_auto = timed(auto_fn, args.autograd_reps, warmup=1)
    rss_gb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024 / 1e9
    rel_err = float(torch.linalg.norm(k_closed.double() - k_auto.double())
                    / torch.linalg.norm(k_auto.double()))

    print("Empirical NTK benchmark: one-hidden-layer ReLU net, NTK parametrisation")
    print(f"  machine: {platform.processor() or platform.machine()}, {os.cpu_count()} cores, "
          f"torch {torch.__version__}, threads={torch.get_num_threads()}")
    print(f"  size: N={n}, d={d}, m={m}, dtype=float32, params P={n_params:,}, "
          f"J = {jac_bytes / 1e9:.2f} GB, MemAvailable = "
          f"{'?' if avail is None else f'{avail / 1e9:.1f} GB'}"
          f"{' -> chunked Jacobian' if chunked else ''}")
    print(f"  closed-form flops (GEMMs): {flops / 1e9:.3f} GFLOP")
    print()
    rule = "-" * 92
    print(f"{'route':<26}{'time [s]':>12}{'runs [s]':>44}{'GFLOP/s':>10}")
    print(rule)
    fmt = lambda ts: ", ".join(f"{x:.3g}" for x in ts)  # noqa: E731
    print(f"{'matmul ' + str(args.matmul_size) + '^2 (best)':<26}{t_mm:>12.4f}{'':>44}"
          f"{peak_gflops:>10.1f}")
    print(f"{'ntk_closed_form':<26}{t_closed:>12.4f}{fmt(closed_times):>44}{closed_gflops:>10.1f}")
    print(f"{'ntk_autograd' + (' (chunked)' if chunked else ''):<26}{t_auto:>12.3f}"
          f"{fmt(auto_times):>44}{'':>10}")
    print(rule)
    print("  (time = median of the timed runs after warm-up; for the matmul, the best run)")
    print(f"  speed-up autograd / closed form : {t_auto / t_closed:,.0f}x")
    print(f"  matmul peak before / after      : {peak_before[0]:.1f} / {peak_after[0]:.1f} GFLOP/s")
    print(f"  closed form (median) vs peak    : {100 * closed_gflops / peak_gflops:.0f}% "
          f"({closed_gflops:.1f} of {peak_gflops:.1f} GFLOP/s)")
    print(f"  relative Frobenius difference   : {rel_err:.2e} (float32)")
    print(f"  peak RSS of the process         : {rss_gb:.1f} GB")


if __name__ == "__main__":
    main()
