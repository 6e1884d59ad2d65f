"""Benchmark: three costs of the paper-scale configuration, each against the code it replaced, in
one run (times and ratios).

1. lambda_max of a kernel (``normalise_kernel``, every empirical_ntk job): a full ``eigvalsh``
   against Lanczos (``sgd_spectra.ntk.largest_eigenvalue``), on the closed-form NTK of the
   default network (width 1000) on N Fashion-MNIST-sized random inputs.
2. The spectrum of a synthetic power-law kernel (kernel_spectrum): ``eigh`` of the built N x N
   kernel against the spectrum it was built from (``power_law_spectrum``).
3. The which_minimizer companion's mini-batch runs on the linearized model (paper preset: width 128,
   P = 25216, n = 100, batch 10): the loop that copied the shuffled J every epoch against
   ``train_linearized``, which gathers one batch of rows; the same steps, so the same numbers.

Usage:  python benchmarks/bench_paper_jobs.py [--n 3000] [--threads 2] [--epochs 300]
"""

import argparse
import time

import numpy as np
import torch

from sgd_spectra.companions.which_minimizer import PAPER_PARAMS
from sgd_spectra.companions.which_minimizer_data import load_task
from sgd_spectra.companions.which_minimizer_network import DTYPE, forward, init_params, jacobian
from sgd_spectra.companions.which_minimizer_optimisers import train_linearized
from sgd_spectra.datasets import power_law_spectrum, synthetic_power_law
from sgd_spectra.ntk import init_network, largest_eigenvalue, ntk_closed_form
from sgd_spectra.spectra import kernel_spectrum


def timed(fn):
    start = time.perf_counter()
    out = fn()
    return time.perf_counter() - start, out


def report(name: str, before: float, after: float, detail: str) -> None:
    print(f"{name:<44} before {before:8.3f} s   after {after:8.3f} s   {before / after:7.1f}x   {detail}")


def copy_per_epoch(J, r0, lr, momentum, batch_size, epochs, generator):
    """The replaced loop: SGD with momentum, J[order] copied once per epoch, batches its slices."""
    n, n_params = J.shape
    delta = torch.zeros(n_params, dtype=J.dtype, requires_grad=True)
    opt = torch.optim.SGD([delta], lr=lr, momentum=momentum)
    for _ in range(epochs):
        with torch.no_grad():
            float(((r0 + J @ delta) ** 2).mean())  # the per-epoch full MSE both loops record
        order = torch.randperm(n, generator=generator)
        J_epoch, r0_epoch = J[order], r0[order]
        for start in range(0, n - batch_size + 1, batch_size):
            J_batch = J_epoch[start : start + batch_size]
            with torch.no_grad():
                residual = r0_epoch[start : start + batch_size] + J_batch @ delta
            delta.grad = J_batch.T @ residual / batch_size
            opt.step()
    return delta.detach()


def bench_minibatch(epochs: int) -> None:
    p = dict(PAPER_PARAMS)
    task = load_task(p["dataset"], p["fashion_mnist_dir"], p["n_train"], p["n_test"], p["data_seed"])
    X = torch.as_tensor(task["X_train"], dtype=DTYPE)
    params = init_params(X.shape[1], p["lin_width"], 1, p["lin_sigma"], 0)
    J, r0 = jacobian(params, X), forward(params, X) - torch.as_tensor(task["y_train"], dtype=DTYPE)
    lr, b = 0.05, p["batch_size"]

    def sgd(ps):
        return torch.optim.SGD(ps, lr=lr, momentum=p["momentum"])

    old_s, old = timed(
        lambda: copy_per_epoch(J, r0, lr, p["momentum"], b, epochs, torch.Generator().manual_seed(1))
    )
    new_s, new = timed(lambda: train_linearized(J, r0, sgd, b, 0.0, epochs, torch.Generator().manual_seed(1)))
    diff = float(torch.linalg.norm(new["delta"] - old) / torch.linalg.norm(old))
    report(
        f"which_minimizer SGD b={b}, {epochs} epochs",
        old_s,
        new_s,
        f"J {tuple(J.shape)}, rel diff {diff:.1e}",
    )


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=3000, help="kernel size N")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--epochs", type=int, default=300, help="epochs of the mini-batch runs")
    a = ap.parse_args()
    torch.set_num_threads(a.threads)
    X = torch.randn(a.n, 784, generator=torch.Generator().manual_seed(0), dtype=torch.float64)
    kernel = ntk_closed_form(init_network(784, 1000, seed=0), X).numpy()
    full_s, full = timed(lambda: float(np.linalg.eigvalsh(kernel)[-1]))
    lanczos_s, lanczos = timed(lambda: largest_eigenvalue(kernel))
    report(f"lambda_max, N = {a.n}", full_s, lanczos_s, f"rel diff {abs(lanczos - full) / full:.1e}")
    synthetic, e0 = synthetic_power_law(a.n, 1.5, 0.75, seed=0)
    eigh_s, (lam, _) = timed(lambda: kernel_spectrum(synthetic, e0))
    known_s, (known, _) = timed(lambda: power_law_spectrum(a.n, 1.5, 0.75))
    report(f"synthetic spectrum, N = {a.n}", eigh_s, known_s, f"max abs diff {np.abs(lam - known).max():.1e}")
    bench_minibatch(a.epochs)


if __name__ == "__main__":
    main()
