"""Benchmark: training the real network for several seeds, the per-seed loop
(sgd_spectra.dynamics.train_network: torch.optim.SGD, one seed after the other) against the seeds
stacked (sgd_spectra.network_training.train_networks, route "mlp": batched matmuls, the backward
pass and the momentum update written out), in one run.

    python benchmarks/bench_network.py [--steps 100] [--seeds 3 10 20] [--batch 10 100]
                                       [--sizes 1000x64 3000x784] [--width 1000] [--threads 1]
                                       [--job] [--cnn]

``--sizes`` with no size skips the throughput table.

Default model (one-hidden-layer ReLU MLP, NTK parametrisation, width 1000, float32), Gaussian
data of N x d.  Per (N x d, b): the loop's time per step per seed (its cost does not depend on
the number of seeds: timed on 3 seeds) and, per number of seeds S, the stacked route's, both
with the full-train loss at steps 0 and ``--steps`` only; the ratio is the throughput gain.  The
losses of the two routes are checked equal (rtol 1e-4).  Times are CPU times of this process
(one thread: the wall time of a quiet machine; steadier than wall time on a shared one), best of
3 repeats.
``--job``: the default training job as the workflow runs it (N = 1000, d = 64, 3 seeds, 1000
steps, loss at 120 log-spaced steps, b = 10 and 100), whole-job time.
``--cnn``: the small CNN (models.SmallCNN on 8x8 images) by the loop against the seeds as one
``torch.func`` state (stack_module_state + vmap(grad)), the route not adopted.
"""

import argparse
import copy
import time

import numpy as np
import torch

from sgd_spectra.dynamics import batch_rng, draw_batch, train_network
from sgd_spectra.models import build_model, flat_output
from sgd_spectra.network_training import train_networks
from sgd_spectra.theory import DIVERGENCE_FACTOR, log_spaced_steps


def problem(n, d, width, spec=None):
    rng = np.random.default_rng(0)
    X = torch.as_tensor(rng.standard_normal((n, d)), dtype=torch.float32)
    y = torch.as_tensor(rng.standard_normal(n), dtype=torch.float32)
    net = flat_output(build_model(spec or {"kind": "mlp", "width": width}, (d,), 0, torch.float32))
    return X, y, net


def loop(net, X, y, lr, momentum, b, seeds, record):
    out = [train_network(copy.deepcopy(net), X, y, lr, momentum, b, s, record) for s in seeds]
    return np.array([o[0] for o in out]), np.array([o[1] for o in out])


def best_of(fn, repeats=3):
    best, out = np.inf, None
    for _ in range(repeats):
        t0 = time.process_time()
        out = fn()
        best = min(best, time.process_time() - t0)
    return best, out


def check(a, b, rtol=1e-4):
    np.testing.assert_array_equal(a[1], b[1])
    np.testing.assert_allclose(a[0], b[0], rtol=rtol)


def throughput(args):
    lr, momentum = 0.5, 0.9
    print(
        f"per step per seed: (time with the full loss at steps 0 and {args.steps}) minus (at 0 and 1), "
        f"over {args.steps - 1} steps; lr {lr}, momentum {momentum}"
    )
    print(f"{'N x d':>10} {'b':>4} {'S':>3} {'loop ms':>8} {'stacked ms':>10} {'ratio':>6}")
    for size in args.sizes:
        n, d = (int(v) for v in size.split("x"))
        X, y, net = problem(n, d, args.width)
        for b in args.batch:

            def per_step(run, seeds):
                t_long, out = best_of(lambda: run(net, X, y, lr, momentum, b, range(seeds), [0, args.steps]))
                t_short, _ = best_of(lambda: run(net, X, y, lr, momentum, b, range(seeds), [0, 1]))
                return (t_long - t_short) / (seeds * (args.steps - 1)), out

            per_loop, ref = per_step(loop, 3)
            for S in args.seeds:
                per, out = per_step(train_networks, S)
                check((ref[0], ref[1]), (out[0][:3], out[1][:3]))
                print(
                    f"{size:>10} {b:>4} {S:>3} {per_loop * 1e3:8.3f} {per * 1e3:10.3f} {per_loop / per:6.1f}",
                    flush=True,
                )


def job(args):
    X, y, net = problem(1000, 64, args.width)
    record = log_spaced_steps(1000, 120)
    print(f"\ntraining job: N = 1000, d = 64, 3 seeds, 1000 steps, {len(record)} record steps")
    for b in (10, 100):
        t_loop, ref = best_of(lambda: loop(net, X, y, 0.5, 0.9, b, range(3), record), 2)
        t, out = best_of(lambda: train_networks(net, X, y, 0.5, 0.9, b, range(3), record), 2)
        # over 1000 steps at this rate round-off grows: moving X by one ulp moves the loop's own
        # losses by up to 3e-4 (b = 100), as much as the stacked route differs from it
        check(ref, out, rtol=2e-3)
        print(f"b = {b:>3}: loop {t_loop:6.2f} s, stacked {t:6.2f} s, ratio {t_loop / t:5.1f}", flush=True)


def vmapped(net, X, y, lr, momentum, b, seeds, record):
    """The seeds as one torch.func state: stack_module_state + vmap(grad) of a functional_call,
    the heavy-ball update on the stacked tensors (torch._foreach), divergence as the loop."""
    from torch.func import functional_call, grad, stack_module_state, vmap

    nets = [copy.deepcopy(net) for _ in seeds]
    params, buffers = stack_module_state(nets)
    base = copy.deepcopy(net).to("meta")
    n = len(y)

    def batch_loss(p, bf, xb, yb):
        return 0.5 * torch.mean((functional_call(base, (p, bf), (xb,)) - yb) ** 2)

    def full_loss(p, bf):
        return 0.5 * torch.mean((functional_call(base, (p, bf), (X,)) - y) ** 2)

    grads_of = vmap(grad(batch_loss, has_aux=False), in_dims=(0, 0, 0, 0))
    loss_of = vmap(batch_loss, in_dims=(0, 0, 0, 0))
    full_of = vmap(full_loss, in_dims=(0, 0))
    names = list(params)
    bufs = [torch.zeros_like(params[k]) for k in names]
    rngs = [batch_rng(0, s, b) for s in seeds]
    record = sorted(set(int(s) for s in record))
    loss = np.full((len(seeds), len(record)), np.inf)
    with torch.no_grad():
        limit = DIVERGENCE_FACTOR * float(0.5 * torch.mean((net(X) - y) ** 2))
    rec = 0
    for t in range(record[-1] + 1):
        if t == record[rec]:
            with torch.no_grad():
                loss[:, rec] = full_of(params, buffers).numpy()
            rec += 1
            if rec == len(record):
                break
        idx = torch.as_tensor(np.stack([draw_batch(r, n, b) for r in rngs]))
        xb, yb = X[idx], y[idx]
        g = grads_of(params, buffers, xb, yb)
        with torch.no_grad():
            values = loss_of(params, buffers, xb, yb).numpy()
            torch._foreach_mul_(bufs, momentum)
            torch._foreach_add_(bufs, [g[k] for k in names])
            torch._foreach_add_([params[k] for k in names], bufs, alpha=-lr)
        assert np.all(values * b / n <= limit)
    return loss, np.full(len(seeds), -1)


def cnn(args):
    print("\nsmall CNN (channels [16, 32], 8x8 images), N = 1000: loop vs torch.func vmapped state")
    X, y, net = problem(1000, 64, 0, {"kind": "cnn"})
    record = [0, args.steps]
    for b in args.batch:
        for S in (3, 10):
            t_loop, ref = best_of(lambda: loop(net, X, y, 0.05, 0.9, b, range(S), record), 2)
            t, out = best_of(lambda: vmapped(net, X, y, 0.05, 0.9, b, range(S), record), 2)
            np.testing.assert_allclose(out[0], ref[0], rtol=1e-3)
            print(
                f"b = {b:>3}, S = {S:>2}: loop {t_loop / (S * args.steps) * 1e3:7.3f} ms, "
                f"vmapped {t / (S * args.steps) * 1e3:7.3f} ms per step per seed, ratio {t_loop / t:4.2f}",
                flush=True,
            )


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--steps", type=int, default=100)
    parser.add_argument("--seeds", type=int, nargs="+", default=[3, 10, 20])
    parser.add_argument("--batch", type=int, nargs="+", default=[10, 100])
    parser.add_argument("--sizes", nargs="*", default=["1000x64", "3000x784"])
    parser.add_argument("--width", type=int, default=1000)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--job", action="store_true")
    parser.add_argument("--cnn", action="store_true")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    print(f"torch {torch.__version__}, {args.threads} thread(s), width {args.width}, float32")
    if args.sizes:
        throughput(args)
    if args.job:
        job(args)
    if args.cnn:
        cnn(args)


if __name__ == "__main__":
    main()
