"""Exact second moments without the SE approximation (sgd_spectra.second_moment).

Every reference here is computed independently of the code under test: the data-basis recursion
of theory.md §3 (theory.exact_loss_trajectory, or a batched copy written below), the pair map
built from the heavy-ball update, the second-moment map of SGD by enumerating all batches, the SE
closed forms of theory.py, and long time-domain runs.
"""

import itertools

import numpy as np
import pytest

from sgd_spectra import second_moment as sm
from sgd_spectra import theory as th

# --------------------------------------------------------------------------------------------
# Problems and independent references
# --------------------------------------------------------------------------------------------


def random_kernel(n: int, n_features: int, seed: int):
    """Linear kernel of Gaussian features (x ~ N(0, I_d)), normalised to lambda_max = 1, with a
    realisable initial error (in the kernel's range, so no loss floor is left over)."""
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((n, n_features))
    K = X @ X.T
    scale = np.linalg.eigvalsh(K)[-1]
    return K / scale, X @ rng.standard_normal(n_features) / np.sqrt(n_features)


def circulant_kernel(n: int, spectrum):
    """Translation-invariant kernel on a ring: eigenvalue ``spectrum(min(f, n - f))`` on Fourier
    mode f (symmetric, so real), normalised to lambda_max = 1."""
    k = np.arange(n)
    lam = spectrum(np.minimum(k, n - k)).astype(float)
    row = np.real(np.fft.ifft(lam / lam.max()))
    K = row[(k[:, None] - k[None, :]) % n]
    return (K + K.T) / 2


def eig(K):
    return np.linalg.eigh(K)


def heavy_ball(a: float, beta: float) -> np.ndarray:
    """One mode's noiseless update of (e_k, v_k): e' = (1-a) e + beta v, v' = -a e + beta v."""
    return np.array([[1 - a, beta], [-a, beta]])


def pair_map(a_k, a_l, beta, gamma) -> np.ndarray:
    """Deterministic map of (C_kl, J_kl, J_lk, P_kl) = E[(e_k, v_k) (x) (e_l, v_l)]: the product of
    two heavy-ball updates, plus the -gamma lr^2 lambda_k lambda_l C_kl noise part in all four."""
    return np.kron(heavy_ball(a_k, beta), heavy_ball(a_l, beta)) - gamma * a_k * a_l * np.outer(
        np.ones(4), [1, 0, 0, 0]
    )


def sgd_second_moment_map(K, lr, beta, batch) -> np.ndarray:
    """``E_B[A_B (x) A_B]`` over every batch of ``batch`` distinct points: the exact linear map of
    the second moment of (e, v), straight from the SGD definition (theory.md §2)."""
    n = len(K)
    maps = []
    for B in itertools.combinations(range(n), batch):
        grad = np.zeros((n, n))
        grad[:, B] = n / batch * K[:, B]  # e -> (N/b) K[:, B] e_B
        A = np.block([[np.eye(n) - lr * grad, beta * np.eye(n)], [-lr * grad, beta * np.eye(n)]])
        maps.append(np.kron(A, A))
    return np.mean(maps, axis=0)


def batched_loss(K, e0, lrs, beta, gamma, steps):
    """theory.md §3 in the data basis, many learning rates at once: loss at each of ``steps``."""
    n = len(e0)
    lr = np.asarray(lrs, dtype=float)[:, None, None]
    sym = lambda m: (m + np.swapaxes(m, 1, 2)) / 2
    C = np.tile(np.outer(e0, e0), (lr.shape[0], 1, 1))
    J, P = np.zeros_like(C), np.zeros_like(C)
    out = []
    for t in range(max(steps) + 1):
        if t in steps:
            out.append(np.trace(C, axis1=1, axis2=2) / (2 * n))
        CK = C @ K
        KCK = sym(K @ CK)
        KdK = sym((K[None] * np.diagonal(C, axis1=1, axis2=2)[:, None, :]) @ K)
        KJ = K @ J
        common = (
            lr**2 * KCK
            - lr * beta * (KJ + np.swapaxes(KJ, 1, 2))
            + beta**2 * P
            + lr**2 * gamma * (n * KdK - KCK)
        )
        C, J, P = (
            sym(C - lr * (CK + np.swapaxes(CK, 1, 2)) + beta * (J + np.swapaxes(J, 1, 2)) + common),
            beta * J - lr * CK + common,
            sym(common),
        )
    return np.array(out).T


def time_domain_critical_lr(K, e0, beta, gamma, lo, hi, steps):
    """Bisection on long runs: a learning rate is unstable if its loss at T is not below T/2."""

    def unstable(grid):
        loss = batched_loss(K, e0, grid, beta, gamma, [steps // 2, steps])
        return ~(loss[:, 1] < loss[:, 0])

    return th.bisect_first_unstable(unstable, lo, hi, rounds=1, points=3)


# --------------------------------------------------------------------------------------------
# 1. The eigenbasis recursion
# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize("beta", [0.0, 0.6])
def test_eigenbasis_recursion_equals_the_data_basis_recursion(beta):
    K, _ = random_kernel(20, 30, seed=1)
    e0 = np.random.default_rng(2).standard_normal(20)
    gamma = float(th.batch_noise_factor(20, 3))
    steps = [0, 1, 2, 10, 100, 400]
    reference = th.exact_loss_trajectory(K, e0, 0.7, beta, gamma, steps)
    lam, U = eig(K)
    got = sm.exact_loss_trajectory_eigen(lam, U, e0, 0.7, beta, gamma, steps)
    np.testing.assert_allclose(got, reference, rtol=1e-10)


# --------------------------------------------------------------------------------------------
# 2. Pair map: closed forms
# --------------------------------------------------------------------------------------------


def _noiseless_draws(count, seed):
    """Random (a_k, a_l, beta, gamma) with both modes inside the noiseless region."""
    rng = np.random.default_rng(seed)
    beta = rng.uniform(-0.9, 0.95, count)
    a = rng.uniform(0, 1, (2, count)) * 2 * (1 + beta)
    return a[0], a[1], beta, rng.uniform(0, 1, count)


def test_pair_response_is_the_summed_c_response_of_the_pair_map():
    for a_k, a_l, beta, gamma in zip(*_noiseless_draws(300, seed=3)):
        T = pair_map(a_k, a_l, beta, gamma)
        summed = np.linalg.solve(np.eye(4) - T, np.ones(4))[0]
        assert sm.pair_response(a_k, a_l, beta, gamma) == pytest.approx(summed, rel=1e-9)
        det = np.linalg.det(np.eye(4) - T)
        assert sm.pair_denominator(a_k, a_l, beta, gamma) == pytest.approx(det, rel=1e-8, abs=1e-12)
        assert sm.pair_denominator(a_k, a_l, beta, gamma) > 0  # no pole in the noiseless region


def test_pair_response_series_matches_for_a_stable_pair():
    a_k, a_l, beta, gamma = 0.3, 0.05, 0.5, 0.4
    T = pair_map(a_k, a_l, beta, gamma)
    assert np.abs(np.linalg.eigvals(T)).max() < 1
    x, total = np.ones(4), 0.0
    for _ in range(20000):
        total += x[0]
        x = T @ x
    assert sm.pair_response(a_k, a_l, beta, gamma) == pytest.approx(total, rel=1e-10)


@pytest.mark.parametrize("beta,batch", [(0.0, 1), (0.0, 10), (0.6, 4), (-0.3, 2)])
def test_diagonal_pair_response_gives_the_se_u_at_one(beta, batch):
    lam = np.arange(1, 201.0) ** -1.3
    gamma = float(th.batch_noise_factor(200, batch))
    lr = 0.7 * th.critical_lr(lam, beta, gamma, 1.0)
    terms = gamma * (lr * lam) ** 2 * sm.pair_response(lr * lam, lr * lam, beta, gamma)
    assert terms.sum() == pytest.approx(th.u_at_one(lam, lr, beta, gamma, tau=1.0), rel=1e-12)


# --------------------------------------------------------------------------------------------
# 3. G(1) and the stability criterion
# --------------------------------------------------------------------------------------------


def test_renewal_operator_sums_the_propagated_noise():
    """G(1) x: inject N gamma lr^2 K diag(x) K into C, J and P once, propagate with the
    deterministic part of the data-basis recursion, and sum diag(C) over all later steps."""
    n, lr, beta = 12, 0.4, 0.5
    K = random_kernel(n, 40, seed=4)[0]
    gamma = float(th.batch_noise_factor(n, 2))
    x = np.random.default_rng(5).standard_normal(n)  # of either sign
    C = n * gamma * lr**2 * K @ np.diag(x) @ K
    J, P, total = C.copy(), C.copy(), np.zeros(n)
    for _ in range(6000):
        total += np.diag(C)
        common = (1 - gamma) * lr**2 * K @ C @ K - lr * beta * (K @ J + J.T @ K) + beta**2 * P
        C, J, P = (
            C - lr * (K @ C + C @ K) + beta * (J + J.T) + common,
            beta * J - lr * C @ K + common,
            common,
        )
    lam, U = eig(K)
    np.testing.assert_allclose(
        sm.renewal_operator(lam, U, lr, beta, gamma).matvec(x),
        total,
        rtol=1e-9,
        atol=1e-12 * np.abs(total).max(),
    )


@pytest.mark.parametrize("beta", [0.0, 0.6])
def test_critical_lr_is_where_the_sgd_second_moment_map_reaches_radius_one(beta):
    """The spectral radius of E_B[A_B (x) A_B] (all 28 batches of 2 out of 8) crosses 1 exactly at
    exact_critical_lr.  G(1) is positive semi-definite: a sum of rank-one terms with weights
    W_kl > 0 (every pair denominator is positive in the noiseless region)."""
    n, batch = 8, 2
    K = random_kernel(n, 3, seed=6)[0] + 0.05 * np.eye(n)
    K /= np.linalg.eigvalsh(K)[-1]
    lam, U = eig(K)
    gamma = float(th.batch_noise_factor(n, batch))
    lr_c = sm.exact_critical_lr(lam, U, beta, gamma)
    G = sm.renewal_operator(lam, U, lr_c, beta, gamma).matmat(np.eye(n))
    assert np.linalg.eigvalsh((G + G.T) / 2).min() > -1e-12 and np.allclose(G, G.T, atol=1e-14)
    radius = [
        np.abs(np.linalg.eigvals(sgd_second_moment_map(K, f * lr_c, beta, batch))).max()
        for f in (0.999, 1.0, 1.001)
    ]
    assert radius[0] < 1 < radius[2]
    assert radius[1] == pytest.approx(1.0, abs=1e-8)
    assert sm.second_moment_radius(lam, U, lr_c, beta, gamma) == pytest.approx(1.0, abs=1e-9)


@pytest.mark.parametrize("beta", [0.0, 0.6])
def test_translation_invariant_kernel_gives_the_se_tau_plus_one_value(beta):
    K = circulant_kernel(64, lambda f: (1.0 + f) ** -2.0)
    lam, U = eig(K)
    gamma = float(th.batch_noise_factor(64, 2))
    assert sm.exact_critical_lr(lam, U, beta, gamma) == pytest.approx(
        th.critical_lr(lam, beta, gamma, tau=1.0), rel=1e-8
    )


def test_an_unstable_pair_map_does_not_make_the_loss_diverge():
    """b = 1 on a sharply decaying circulant spectrum: at 0.99 alpha_c the top mode's pair map has
    an eigenvalue below -1, yet the expected loss converges (the injection is part of the same
    dynamics), and alpha_c is the SE tau = +1 value, not capped by pair stability."""
    K = circulant_kernel(64, lambda f: np.where(f == 0, 1.0, 0.005))
    lam, U = eig(K)
    gamma = float(th.batch_noise_factor(64, 1))
    lr_c = sm.exact_critical_lr(lam, U, 0.0, gamma)
    assert lr_c == pytest.approx(th.critical_lr(lam, 0.0, gamma, tau=1.0), rel=1e-8)
    a = 0.99 * lr_c * lam.max()
    assert np.abs(np.linalg.eigvals(pair_map(a, a, 0.0, gamma))).max() > 1
    e0 = np.random.default_rng(7).standard_normal(64)
    loss = batched_loss(K, e0, [0.99 * lr_c, 1.01 * lr_c], 0.0, gamma, [1000, 2000])
    assert loss[0, 1] < 0.6 * loss[0, 0] and loss[1, 1] > 1.5 * loss[1, 0]


@pytest.mark.parametrize("beta", [0.0, 0.6])
def test_gaussian_features_critical_lr_matches_time_domain_and_tau_minus_one(beta):
    K, e0 = random_kernel(64, 8, seed=0)
    lam, U = eig(K)
    gamma = float(th.batch_noise_factor(64, 2))
    lr_c = sm.exact_critical_lr(lam, U, beta, gamma)
    measured = time_domain_critical_lr(K, e0, beta, gamma, 0.99 * lr_c, 1.01 * lr_c, steps=1000)
    assert measured == pytest.approx(lr_c, rel=0.005)
    se_plus, se_minus = (th.critical_lr(lam, beta, gamma, tau) for tau in (1.0, -1.0))
    assert abs(se_minus - lr_c) < 0.1 * abs(se_plus - lr_c)


def test_radius_increases_with_the_learning_rate():
    K, _ = random_kernel(64, 8, seed=0)
    lam, U = eig(K)
    gamma = float(th.batch_noise_factor(64, 2))
    radii = [sm.second_moment_radius(lam, U, lr, 0.3, gamma) for lr in np.linspace(0.02, 2.58, 12)]
    assert np.all(np.diff(radii) > 0)


@pytest.fixture(scope="module")
def digits_ntk():
    torch = pytest.importorskip("torch")
    from sgd_spectra.datasets import load_digits_regression
    from sgd_spectra.ntk import init_network, normalise_kernel, ntk_closed_form

    X, y, _ = load_digits_regression(100, 0)
    X = torch.as_tensor(X, dtype=torch.float64)
    net = init_network(X.shape[1], 256, seed=0)
    K, _ = normalise_kernel(ntk_closed_form(net, X).numpy())
    with torch.no_grad():
        e0 = net(X).numpy() - y
    return K, e0


@pytest.mark.parametrize("batch,beta", [(1, 0.0), (4, 0.6)])
def test_relu_ntk_critical_lr_matches_time_domain(digits_ntk, batch, beta):
    K, e0 = digits_ntk
    lam, U = eig(K)
    gamma = float(th.batch_noise_factor(len(K), batch))
    lr_c = sm.exact_critical_lr(lam, U, beta, gamma)
    measured = time_domain_critical_lr(K, e0, beta, gamma, 0.99 * lr_c, 1.01 * lr_c, steps=1000)
    assert measured == pytest.approx(lr_c, rel=0.005)


def test_full_batch_is_the_noiseless_bound():
    K, _ = random_kernel(16, 20, seed=8)
    lam, U = eig(K)
    assert sm.exact_critical_lr(lam, U, 0.4, 0.0) == pytest.approx(th.noiseless_lr_bound(0.4, lam.max()))
    assert sm.second_moment_radius(lam, U, 1.0, 0.4, 0.0) == 0.0


# --------------------------------------------------------------------------------------------
# 4. theory.bisect_first_unstable
# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize("threshold", [0.7, 2.3442, 2.45])
def test_bisection_refines_wherever_the_threshold_lies(threshold):
    """Inside the first grid (0.7), in the last interval of a later round's grid (2.3442: grid
    point 16 of round 1 is 2.3529), and in the first grid's last interval (2.45 > 2.3529)."""
    lo, hi, rounds, points = 0.0, 2.5, 4, 16
    seen = []

    def is_unstable(grid):
        seen.append(np.asarray(grid))
        return np.asarray(grid) >= threshold

    found = th.bisect_first_unstable(is_unstable, lo, hi, rounds, points)
    width = (hi - lo) / (points + 1) ** rounds
    assert abs(found - threshold) <= width / 2 * (1 + 1e-9)
    assert len(seen) == rounds and all(((g > lo) & (g < hi)).all() for g in seen)


# --------------------------------------------------------------------------------------------
# Warm starts: power iteration certified by Perron-Frobenius, and the loss map's boundary chain
# --------------------------------------------------------------------------------------------


def test_renewal_operator_is_entrywise_positive(digits_ntk):
    """The certificate of the warm power iteration rests on G(1) >= 0 entrywise: checked on a real
    kernel, explicitly, at a stable and a near-critical setting."""
    K, _ = digits_ntk
    lam, U = eig(K)
    gamma = float(th.batch_noise_factor(len(K), 10))
    for lr, beta in [(0.5, 0.0), (0.9 * sm.exact_critical_lr(lam, U, 0.5, gamma), 0.5)]:
        G = sm.renewal_operator(lam, U, lr, beta, gamma).matmat(np.eye(len(K)))
        assert G.min() > 0


def test_warm_radius_equals_cold_lanczos_with_fewer_products(digits_ntk):
    K, _ = digits_ntk
    lam, U = eig(K)
    gamma = float(th.batch_noise_factor(len(K), 10))
    cold, near = {}, {}
    r_cold = sm.second_moment_radius(lam, U, 1.0, 0.3, gamma, info=cold)
    _, v_near = sm.second_moment_radius(lam, U, 1.02, 0.3, gamma, return_vector=True)
    r_warm = sm.second_moment_radius(lam, U, 1.0, 0.3, gamma, v0=-v_near, info=near)  # either sign
    assert r_warm == pytest.approx(r_cold, rel=1e-10)
    assert near["matvecs"] < cold["matvecs"]


def test_warm_start_on_another_eigenvector_falls_back_to_the_top_one(digits_ntk):
    """Started exactly on G's second eigenvector, power iteration has a zero residual at the wrong
    eigenvalue; that vector has entries of both signs, so it is not certified and Lanczos finds
    the top eigenvalue."""
    K, _ = digits_ntk
    lam, U = eig(K)
    gamma = float(th.batch_noise_factor(len(K), 10))
    G = sm.renewal_operator(lam, U, 1.0, 0.3, gamma).matmat(np.eye(len(K)))
    vals, vecs = np.linalg.eigh((G + G.T) / 2)
    assert vals[-2] < 0.9 * vals[-1]
    radius = sm.second_moment_radius(lam, U, 1.0, 0.3, gamma, v0=vecs[:, -2])
    assert radius == pytest.approx(vals[-1], rel=1e-10)


def test_loss_map_boundary_chain_equals_independent_solves(digits_ntk):
    """experiments.exact_boundary warm-starts each momentum from its neighbour (eigenvector and
    exact/SE ratio): the same alpha_c as a cold solve per momentum."""
    from sgd_spectra.experiments import exact_boundary

    K, _ = digits_ntk
    lam, U = eig(K)
    gamma = float(th.batch_noise_factor(len(K), 10))
    momenta = [0.5, -0.5, 0.0, 0.9]
    chained = exact_boundary(K, momenta, gamma)
    assert list(chained) == momenta
    for m in momenta:
        assert chained[m] == pytest.approx(sm.exact_critical_lr(lam, U, m, gamma), rel=1e-9)
