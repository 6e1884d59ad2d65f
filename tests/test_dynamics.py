"""Sampled SGD: linearized model (Monte Carlo vs exact second moments) and the real network."""

import numpy as np
import pytest
import torch

from sgd_spectra.datasets import haar_orthogonal
from sgd_spectra.dynamics import batch_rng, draw_batch, linearized_sgd, train_network
from sgd_spectra.ntk import init_network, normalise_kernel, ntk_closed_form
from sgd_spectra.theory import batch_noise_factor, exact_loss_trajectory, stability

N_MC, B_MC = 24, 3
STEPS = [0, 1, 3, 10, 30, 100]


@pytest.fixture(scope="module")
def small_problem():
    rng = np.random.default_rng(0)
    basis = haar_orthogonal(N_MC, rng)
    lam = np.arange(1, N_MC + 1) ** -1.2
    K = (basis * lam) @ basis.T
    return (K + K.T) / 2, rng.standard_normal(N_MC), lam


def test_draw_batch_distinct_and_reproducible():
    idx = draw_batch(batch_rng(1, 2, 5), 10, 5)
    assert len(np.unique(idx)) == 5 and idx.min() >= 0 and idx.max() < 10
    np.testing.assert_array_equal(idx, draw_batch(batch_rng(1, 2, 5), 10, 5))
    # every index equally likely
    rng = batch_rng(0, 0, 3)
    counts = np.bincount(np.concatenate([draw_batch(rng, 6, 3) for _ in range(6000)]), minlength=6)
    np.testing.assert_allclose(counts / 3000, 1.0, atol=0.06)


@pytest.mark.parametrize("lr,momentum", [(0.5, 0.0), (0.3, 0.6)])
def test_monte_carlo_matches_exact_moments(small_problem, lr, momentum):
    K, e0, lam = small_problem
    gam = batch_noise_factor(N_MC, B_MC)
    assert stability(lam, lr, momentum, gam, -1.0)["stable"]
    exact = exact_loss_trajectory(K, e0, lr, momentum, gam, STEPS)
    assert np.all(np.diff(exact) < 0)
    loss, div = linearized_sgd(K, e0, lr, momentum, B_MC, range(3000), STEPS)
    assert np.all(div == -1)
    assert loss[:, 0] == pytest.approx(np.sum(e0**2) / (2 * N_MC), rel=1e-14)
    assert exact[0] == pytest.approx(np.sum(e0**2) / (2 * N_MC), rel=1e-14)
    mean = loss.mean(axis=0)[1:]
    sem = loss.std(axis=0, ddof=1)[1:] / np.sqrt(loss.shape[0])
    assert np.all(sem > 0)
    z = (mean - exact[1:]) / sem
    assert np.all(np.abs(z) <= 3), z


def test_full_batch_is_deterministic_heavy_ball(small_problem):
    """b = N: every seed follows heavy-ball GD, e' = e - lr p, p' = K_norm e / N + beta p."""
    K, e0, _ = small_problem
    lr, beta = 0.7, 0.4
    steps = np.arange(0, 40)
    loss, _ = linearized_sgd(K, e0, lr, beta, N_MC, [0, 1], steps)
    e, p = e0.copy(), np.zeros(N_MC)
    ref = []
    for _ in steps:
        ref.append(e @ e / (2 * N_MC))
        p = K @ e + beta * p
        e = e - lr * p
    np.testing.assert_allclose(loss, np.tile(ref, (2, 1)), rtol=1e-12)
    np.testing.assert_allclose(loss[0], exact_loss_trajectory(K, e0, lr, beta, 0.0, steps), rtol=1e-10)


def test_single_step_update_by_hand(small_problem):
    """One step written out with the same batch: e1 = e0 - lr (N/b) K[:, B] e0[B]."""
    K, e0, _ = small_problem
    batch = draw_batch(batch_rng(5, 9, B_MC), N_MC, B_MC)
    e1 = e0 - 0.4 * (N_MC / B_MC) * K[:, batch] @ e0[batch]
    loss, _ = linearized_sgd(K, e0, 0.4, 0.0, B_MC, [9], [0, 1], base_seed=5)
    assert loss[0, 1] == pytest.approx(e1 @ e1 / (2 * N_MC), rel=1e-13)


def test_seeds_reproducible(small_problem):
    K, e0, _ = small_problem
    a, _ = linearized_sgd(K, e0, 0.5, 0.2, B_MC, [1, 2, 3], STEPS)
    b, _ = linearized_sgd(K, e0, 0.5, 0.2, B_MC, [1, 2, 3], STEPS)
    c, _ = linearized_sgd(K, e0, 0.5, 0.2, B_MC, [4, 5, 6], STEPS)
    d, _ = linearized_sgd(K, e0, 0.5, 0.2, B_MC, [1, 2, 3], STEPS, base_seed=1)
    np.testing.assert_array_equal(a, b)
    assert np.all(a[:, 1:] != c[:, 1:])
    assert np.all(a[:, 1:] != d[:, 1:])
    # a seed's numbers do not depend on which other seeds run beside it
    single, _ = linearized_sgd(K, e0, 0.5, 0.2, B_MC, [2], STEPS)
    np.testing.assert_allclose(single[0], a[1], rtol=1e-13)


def test_unstable_run_marked_diverged(small_problem):
    K, e0, _ = small_problem
    steps = np.arange(0, 200, 5)
    loss, div = linearized_sgd(K, e0, 5.0, 0.0, B_MC, range(4), steps)
    assert np.all(div >= 0)
    for s in range(4):
        after = steps >= div[s]
        assert np.all(np.isinf(loss[s, after]))
        assert np.all(np.isfinite(loss[s, ~after]))


# ------------------------------------------------------------------------------------------
# the real network against its linearization
# ------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def wide_net_problem():
    n, d, width = 50, 8, 2000
    rng = np.random.default_rng(1)
    X = rng.standard_normal((n, d))
    y = rng.standard_normal(n)
    net = init_network(d, width, seed=0)
    K = ntk_closed_form(net, torch.as_tensor(X)).numpy()
    k_over_n, scale = normalise_kernel(K)
    with torch.no_grad():
        e0 = net(torch.as_tensor(X)).numpy() - y
    return X, y, (d, width), k_over_n, scale, e0


def test_network_follows_linearization(wide_net_problem):
    X, y, (d, width), k_over_n, scale, e0 = wide_net_problem
    lr_eff, b, seed = 0.2, 5, 3
    steps = [0, 1, 5, 10, 20, 50]
    net_loss, div = train_network(
        init_network(d, width, seed=0), X, y, lr_eff * scale, 0.0, b, seed=seed, record_steps=steps
    )
    lin, _ = linearized_sgd(k_over_n, e0, lr_eff, 0.0, b, [seed], steps)
    assert div == -1
    assert net_loss[0] == pytest.approx(lin[0, 0], rel=1e-12)
    assert net_loss[-1] < 0.7 * net_loss[0]  # the loss moved substantially
    np.testing.assert_allclose(net_loss, lin[0], rtol=0.02)
    # and the agreement depends on using the same batches: another seed is far off
    other, _ = linearized_sgd(k_over_n, e0, lr_eff, 0.0, b, [seed + 1], steps)
    assert np.max(np.abs(other[0] / net_loss - 1)) > 0.05


def test_network_divergence_does_not_raise(wide_net_problem):
    X, y, (d, width), _, scale, _ = wide_net_problem
    steps = [0, 1, 2, 5, 10, 20]
    loss, div = train_network(
        init_network(d, width, seed=0), X, y, 50 * scale, 0.0, 5, seed=0, record_steps=steps
    )
    assert div >= 0
    assert np.isfinite(loss[0])
    assert np.isinf(loss[-1])


def test_a_run_does_not_depend_on_the_other_runs_of_its_call(small_problem, monkeypatch):
    """Runs are dealt to blocks (and dropped from them when they diverge) differently with other
    runs beside them; each run's numbers must not change: a 40-cell grid under two seeds, with
    blocks of 3 runs, against every cell run alone."""
    import sgd_spectra.dynamics as dyn

    K, e0, _ = small_problem
    monkeypatch.setattr(dyn, "BLOCK_BYTES", 3 * 16 * N_MC)
    lrs, momenta = np.repeat(np.linspace(0.2, 3.0, 10), 4), np.tile([-0.5, 0.0, 0.5, 0.9], 10)
    seeds = np.repeat([4, 7], 40)
    loss, div = linearized_sgd(K, e0, np.tile(lrs, 2), np.tile(momenta, 2), B_MC, seeds, STEPS)
    assert 0 < np.sum(div >= 0) < len(div)  # some diverge, some do not
    for r in range(0, 80, 7):
        alone, alone_div = linearized_sgd(
            K, e0, np.tile(lrs, 2)[r], np.tile(momenta, 2)[r], B_MC, [seeds[r]], STEPS
        )
        np.testing.assert_array_equal(loss[r], alone[0])
        assert div[r] == alone_div[0]
