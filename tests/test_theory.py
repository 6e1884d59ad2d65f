"""SE dynamics, generating functions, stability and asymptotics (theory.md §3-§9, §13).

Every check compares the package with an independent computation written here: a 2x2
second-moment propagation ``S' = B S B^T + noise``, brute-force power series of the propagators,
the renewal equation, and the translation-invariant problem where SE(tau=1) is exact.
"""

import itertools
import math

import numpy as np
import pytest
from scipy.special import gamma as gamma_fn

from sgd_spectra.spectra import kernel_spectrum
from sgd_spectra.theory import (
    DIVERGENCE_FACTOR,
    asymptotic_loss,
    batch_noise_factor,
    critical_lr,
    critical_regularisation,
    exact_loss_trajectory,
    late_time_exponent,
    log_spaced_steps,
    noiseless_lr_bound,
    phase,
    se_loss_trajectory,
    stability,
    u_at_one,
    v_at_one,
)

# ------------------------------------------------------------------------------------------
# independent reference implementations
# ------------------------------------------------------------------------------------------


def mode_matrices(lam, lr, beta):
    """Per-mode deterministic update of (x, v): x' = (1-a) x + beta v, v' = -a x + beta v."""
    a = lr * np.asarray(lam)
    B = np.zeros((len(a), 2, 2))
    B[:, 0, 0], B[:, 0, 1] = 1 - a, beta
    B[:, 1, 0], B[:, 1, 1] = -a, beta
    return B


def se_reference(lam, c, lr, beta, gam, tau, n_steps, n_samples):
    """SE recursion as a 2x2 covariance propagation per mode, S' = B S B^T + n 11^T."""
    lam = np.asarray(lam, dtype=np.float64)
    B = mode_matrices(lam, lr, beta)
    S = np.zeros((len(lam), 2, 2))
    S[:, 0, 0] = c
    a = lr * lam
    out = np.empty(n_steps + 1)
    for t in range(n_steps + 1):
        C = S[:, 0, 0]
        out[t] = C.sum() / (2 * n_samples)
        noise = gam * a**2 * (C.sum() - tau * C)
        S = np.einsum("kij,kjl,kml->kim", B, S, B) + noise[:, None, None] * np.ones((2, 2))
    return out


def propagator_3x3(lam, lr, beta, gam, tau):
    """A_k acting on (C, J, V): the map S -> B S B^T written as a 3x3 matrix by applying it to
    the basis moments, plus the diagonal noise -gamma tau a^2 C injected into all components."""
    B = mode_matrices(lam, lr, beta)
    A = np.zeros((len(lam), 3, 3))
    for col, (i, j) in enumerate([(0, 0), (0, 1), (1, 1)]):
        E = np.zeros((2, 2))
        E[i, j] = E[j, i] = 1.0
        out = np.einsum("kij,jl,kml->kim", B, E, B)
        A[:, :, col] = np.stack([out[:, 0, 0], out[:, 0, 1], out[:, 1, 1]], axis=1)
    a = lr * np.asarray(lam)
    A[:, :, 0] -= (gam * tau * a**2)[:, None]
    return A


def propagator_series(lam, c, lr, beta, gam, tau, n_samples, n_steps):
    """U_t, V_t for t = 0..n_steps by iterating A_k (theory.md §5, output-space c_k)."""
    A = propagator_3x3(lam, lr, beta, gam, tau)
    sig = np.zeros((len(lam), 3))
    sig[:, 0] = 1.0
    noi = np.ones((len(lam), 3))
    U = np.zeros(n_steps + 1)
    V = np.zeros(n_steps + 1)
    for t in range(n_steps + 1):
        V[t] = np.sum(c * sig[:, 0]) / (2 * n_samples)
        sig = np.einsum("kij,kj->ki", A, sig)
        if t + 1 <= n_steps:
            U[t + 1] = gam * lr**2 * np.sum(np.asarray(lam) ** 2 * noi[:, 0])
            noi = np.einsum("kij,kj->ki", A, noi)
    return U, V


def circulant_problem(n=48, p=1.5, seed=0):
    dist = np.minimum(np.arange(n), n - np.arange(n))
    row = (1.0 + dist) ** -p
    K = np.stack([np.roll(row, i) for i in range(n)])
    eig = np.linalg.eigvalsh(K)
    assert eig[0] > 0  # a valid (positive definite) kernel
    e0 = np.random.default_rng(seed).standard_normal(n)
    return K / eig[-1], e0


# ------------------------------------------------------------------------------------------
# small helpers
# ------------------------------------------------------------------------------------------


def test_batch_noise_factor_by_enumeration():
    """gamma = Var(batch-mean gradient) / Var(one-sample gradient), enumerating every batch."""
    x = np.random.default_rng(1).standard_normal(7)
    n = len(x)
    for b in range(1, n + 1):
        means = np.array([x[list(s)].mean() for s in itertools.combinations(range(n), b)])
        var_batch = np.mean((means - x.mean()) ** 2)
        expected = var_batch / np.var(x)
        assert batch_noise_factor(n, b) == pytest.approx(expected, rel=1e-12, abs=1e-15)
    assert batch_noise_factor(n, 1) == pytest.approx(1.0)
    assert batch_noise_factor(n, n) == 0.0


def test_log_spaced_steps():
    s = log_spaced_steps(1000, 50)
    assert s[0] == 0 and s[-1] == 1000
    assert np.all(np.diff(s) > 0)
    assert 30 <= len(s) <= 52


# ------------------------------------------------------------------------------------------
# SE recursion
# ------------------------------------------------------------------------------------------


def test_circulant_se_equals_exact():
    """Translation-invariant kernel: SE(tau=1) is exact (Prop. 2)."""
    K, e0 = circulant_problem()
    n = len(e0)
    lam, c = kernel_spectrum(K, e0)
    assert lam[0] == pytest.approx(1.0, rel=1e-12)
    gam = batch_noise_factor(n, 8)
    steps = [0, 1, 2, 5, 10, 30, 100, 300]
    for lr, beta in [(0.5, 0.0), (0.3, 0.6)]:
        st = stability(lam, lr, beta, gam, 1.0)
        assert st["stable"] and st["u1"] < 1
        se, div = se_loss_trajectory(lam, c, lr, beta, gam, 1.0, steps, n_samples=n)
        ex = exact_loss_trajectory(K, e0, lr, beta, gam, steps)
        assert div[0] == -1
        assert ex[0] == pytest.approx(np.sum(e0**2) / (2 * n), rel=1e-14)
        assert np.all(np.diff(ex) < 0)  # a converging run
        assert ex[-1] < 1e-3 * ex[0]
        np.testing.assert_allclose(se[0], ex, rtol=1e-10, atol=0)


def test_circulant_se_differs_for_wrong_tau():
    """Sanity of the previous test: the match is specific to tau=1 (it can fail)."""
    K, e0 = circulant_problem()
    n = len(e0)
    lam, c = kernel_spectrum(K, e0)
    gam = batch_noise_factor(n, 8)
    steps = [0, 10, 100]
    ex = exact_loss_trajectory(K, e0, 0.5, 0.0, gam, steps)
    se, _ = se_loss_trajectory(lam, c, 0.5, 0.0, gam, -1.0, steps, n_samples=n)
    assert abs(se[0, -1] / ex[-1] - 1) > 1e-3


def test_se_matches_reference_vectorised():
    rng = np.random.default_rng(5)
    lam = np.sort(rng.uniform(0.02, 1.0, 15))[::-1]
    lam[0] = 1.0
    c = rng.uniform(0.1, 1.0, 15)
    n = 40
    settings = [
        (0.8, 0.0, 0.1, -1.0),
        (0.5, 0.5, 0.1, 0.0),
        (1.2, -0.3, 0.05, 1.0),
        (0.3, 0.8, 0.1, 1.0),
        (1.5, 0.2, 0.02, -1.0),
    ]
    lr, beta, gam, tau = (np.array(x) for x in zip(*settings))
    steps = np.array([0, 1, 2, 3, 7, 20, 50, 120])
    loss, div = se_loss_trajectory(lam, c, lr, beta, gam, tau, steps, n_samples=n)
    assert loss.shape == (len(settings), len(steps))
    assert np.all(div == -1)
    for i, s in enumerate(settings):
        assert u_at_one(lam, *s) < 1
        ref = se_reference(lam, c, *s, n_steps=steps[-1], n_samples=n)[steps]
        np.testing.assert_allclose(loss[i], ref, rtol=1e-12, atol=0)
        single, _ = se_loss_trajectory(lam, c, *s, steps, n_samples=n)
        np.testing.assert_allclose(single[0], loss[i], rtol=1e-14, atol=0)
    # broadcasting a scalar setting against an array one
    mixed, _ = se_loss_trajectory(lam, c, lr, beta, 0.02, 1.0, steps, n_samples=n)
    for i in range(len(settings)):
        assert u_at_one(lam, lr[i], beta[i], 0.02, 1.0) < 1
        ref = se_reference(lam, c, lr[i], beta[i], 0.02, 1.0, n_steps=steps[-1], n_samples=n)[steps]
        np.testing.assert_allclose(mixed[i], ref, rtol=1e-12)


def test_se_marks_divergence():
    rng = np.random.default_rng(2)
    lam = np.sort(rng.uniform(0.05, 1.0, 10))[::-1]
    c = rng.uniform(0.1, 1.0, 10)
    steps = np.arange(0, 200)
    loss, div = se_loss_trajectory(lam, c, [0.5, 3.0], 0.0, 0.1, 1.0, steps)
    ref = se_reference(lam, c, 3.0, 0.0, 0.1, 1.0, n_steps=199, n_samples=10)
    first_bad = int(np.argmax(ref > DIVERGENCE_FACTOR * ref[0]))
    assert first_bad > 0
    assert div[0] == -1 and div[1] == first_bad
    assert np.all(np.isinf(loss[1, first_bad:]))
    np.testing.assert_allclose(loss[1, :first_bad], ref[:first_bad], rtol=1e-12)
    assert np.all(np.isfinite(loss[0]))


# ------------------------------------------------------------------------------------------
# generating functions at z = 1 and the renewal equation
# ------------------------------------------------------------------------------------------


@pytest.mark.parametrize("tau", [-1.0, 0.0, 1.0])
@pytest.mark.parametrize("lr,beta,gam", [(0.7, 0.0, 0.3), (0.4, 0.5, 0.15), (0.9, -0.3, 0.2)])
def test_generating_functions_at_one(tau, lr, beta, gam):
    rng = np.random.default_rng(11)
    lam = np.sort(rng.uniform(0.05, 1.0, 12))[::-1]
    c = rng.uniform(0.1, 2.0, 12)
    n = 30
    u1 = u_at_one(lam, lr, beta, gam, tau)
    assert 0 < u1 < 1
    U, V = propagator_series(lam, c, lr, beta, gam, tau, n, n_steps=4000)
    assert abs(U[-1]) < 1e-14 * U.max() and abs(V[-1]) < 1e-14 * V.max()  # converged series
    assert U.sum() == pytest.approx(u1, rel=1e-8)
    assert V.sum() == pytest.approx(v_at_one(lam, c, lr, beta, gam, tau, n_samples=n), rel=1e-8)
    # renewal equation L_t = V_t + sum_{s=1}^t U_s L_{t-s} reproduces the SE loss
    T = 300
    L = np.zeros(T + 1)
    for t in range(T + 1):
        L[t] = V[t] + np.dot(U[1 : t + 1], L[t - 1 :: -1][:t]) if t else V[0]
    se, _ = se_loss_trajectory(lam, c, lr, beta, gam, tau, np.arange(T + 1), n_samples=n)
    np.testing.assert_allclose(se[0], L, rtol=1e-10, atol=0)


def test_u_v_edge_cases():
    lam = np.array([1.0, 0.5, 0.1])
    c = np.array([1.0, 1.0, 1.0])
    # beta = 0: U(1) = gamma sum a / (2 - a (1 - gamma tau))
    lr, gam, tau = 0.8, 0.25, 0.5
    a = lr * lam
    assert u_at_one(lam, lr, 0.0, gam, tau) == pytest.approx(
        gam * np.sum(a / (2 - a * (1 - gam * tau))), rel=1e-14
    )
    # gamma = 0 (full batch): V(1) = 1/(2N) sum c_k / (a_k (2 - a_k)) = sum_t (1-a)^(2t) c / (2N)
    assert v_at_one(lam, c, lr, 0.0, 0.0, n_samples=3) == pytest.approx(
        np.sum(c / (1 - (1 - a) ** 2)) / 6, rel=1e-14
    )
    # past the pole of U(1): infinite
    assert u_at_one(lam, 2.5, 0.0, 0.1, 1.0) == math.inf
    # a coefficient on a zero eigenvalue never decays
    assert v_at_one(np.array([1.0, 0.0]), np.array([1.0, 1.0]), 0.5, 0.0, 0.1) == math.inf
    assert v_at_one(np.array([1.0, 0.0]), np.array([1.0, 0.0]), 0.5, 0.0, 0.1) < math.inf


# ------------------------------------------------------------------------------------------
# stability: critical learning rate and critical regularisation
# ------------------------------------------------------------------------------------------


@pytest.mark.parametrize("beta", [0.5, 0.9])
def test_critical_lr_separates_convergence_from_divergence(beta):
    n = 200
    k = np.arange(1, n + 1)
    lam = k**-1.5
    c = k**-2.0
    gam = batch_noise_factor(n, 10)
    lr_c = critical_lr(lam, beta, gam, 1.0)
    assert 1.02 * lr_c < noiseless_lr_bound(beta)  # the noise sets the limit here
    assert u_at_one(lam, lr_c, beta, gam, 1.0) == pytest.approx(1.0, abs=1e-9)
    steps = [0, 2000, 5000, 10000]
    loss, div = se_loss_trajectory(lam, c, [0.98 * lr_c, 1.02 * lr_c], beta, gam, 1.0, steps, n_samples=n)
    assert div[0] == -1 and np.all(np.diff(loss[0]) < 0) and loss[0, -1] < 1e-3 * loss[0, 0]
    assert div[1] >= 0 and np.isinf(loss[1, -1])


@pytest.mark.parametrize("beta", [0.0, 0.5, 0.9, 0.99])
def test_critical_lr_bounds_from_lambda_crit(beta):
    """Prop. 4: 2/(gamma lc + lmax (1-b)/(1+b)) <= lr_eff,c <= 2/(gamma lc) for tau >= 0."""
    lam = np.arange(1, 1001) ** -1.5
    gam = batch_noise_factor(1000, 10)
    lc = critical_regularisation(lam, 1.0)
    lr_eff = critical_lr(lam, beta, gam, 1.0) / (1 - beta)
    upper = 2 / (gam * lc)
    lower = 2 / (gam * lc + (1 - beta) / (1 + beta))
    assert lower * (1 - 1e-9) <= lr_eff <= upper * (1 + 1e-9)


def test_critical_lr_full_batch_is_noiseless_bound():
    lam = np.array([1.0, 0.3, 0.1])
    for beta in (0.0, 0.5, -0.5):
        assert critical_lr(lam, beta, 0.0) == pytest.approx(2 * (1 + beta), rel=1e-12)
        assert critical_lr(2 * lam, beta, 0.0) == pytest.approx(1 + beta, rel=1e-12)
    with pytest.raises(ValueError):
        critical_lr(lam, 1.0, 0.1)


def test_stability_flags():
    lam = np.arange(1, 101) ** -1.5
    gam = batch_noise_factor(100, 4)
    lr_c = critical_lr(lam, 0.3, gam)
    below = stability(lam, 0.9 * lr_c, 0.3, gam)
    above = stability(lam, 1.1 * lr_c, 0.3, gam)
    assert below["stable"] and not above["stable"]
    assert below["lr_critical"] == pytest.approx(lr_c)
    assert below["effective_lr"] == pytest.approx(0.9 * lr_c / 0.7)
    assert below["lr_noiseless_bound"] == pytest.approx(2.6)
    assert not stability(lam, 2.7, 0.3, 0.0)["stable"]  # above the noiseless bound


def test_critical_regularisation():
    rng = np.random.default_rng(3)
    lam = rng.uniform(0.01, 1.0, 50)
    for tau in (0.5, 1.0, 2.0):
        x = critical_regularisation(lam, tau)
        assert np.sum(lam / (tau * lam + x)) == pytest.approx(1.0, rel=1e-10)
    assert critical_regularisation(lam, 0.0) == pytest.approx(lam.sum(), rel=1e-14)
    # theory.md §13 (independent computation): k^-1.5 and k^-2, N = 1000, tau = 1
    k = np.arange(1, 1001)
    assert critical_regularisation(k**-1.5, 1.0) == pytest.approx(2.1477, abs=1e-4)
    assert critical_regularisation(k**-2.0, 1.0) == pytest.approx(1.1065, abs=1e-4)
    with pytest.raises(ValueError):
        critical_regularisation(lam, -1.0)


# ------------------------------------------------------------------------------------------
# phases and asymptotics
# ------------------------------------------------------------------------------------------


def test_phase_and_exponent():
    assert phase(0.4, 1.0) == "immediate divergence"
    assert phase(0.5, 1.0) == "immediate divergence"
    assert phase(0.8, 1.0) == "eventual divergence"
    assert phase(1.0, 0.5) == "eventual divergence"
    assert phase(1.5, 1.0) == "signal-dominated"  # kappa < 2 nu - 1 = 2
    assert phase(1.5, 3.0) == "noise-dominated"
    assert phase(2.0, 2.5) == "signal-dominated"  # zeta > 1 but still signal (< 3)
    assert phase(2.0, 4.0) == "noise-dominated"
    assert late_time_exponent(1.5, 1.0) == pytest.approx(-1.0 / 1.5)
    assert late_time_exponent(1.5, 3.0) == pytest.approx(-(2 - 1 / 1.5))
    assert late_time_exponent(2.0, 2.5) == pytest.approx(-1.25)
    # continuous across the phase boundary kappa = 2 nu - 1
    for nu in (1.2, 1.5, 3.0):
        kb = 2 * nu - 1
        assert late_time_exponent(nu, kb - 1e-9) == pytest.approx(late_time_exponent(nu, kb + 1e-9))


def power_law_problem(n_modes, nu, kappa):
    """lambda_k = k^-nu (Lambda = 1) and output coefficients with tail sums
    sum_{l>=k} c_l / N = k^-kappa - (n+1)^-kappa (K = 1, cut at n modes), N = n_modes."""
    k = np.arange(1, n_modes + 1, dtype=np.float64)
    c = n_modes * (k**-kappa - (k + 1) ** -kappa)
    return k**-nu, c


def test_asymptotic_loss_signal_phase():
    nu, kappa, lr, gam, beta = 1.5, 1.0, 0.5, 0.1, 0.0
    lam, c = power_law_problem(20000, nu, kappa)
    u1 = u_at_one(lam, lr, beta, gam, 1.0)
    v1 = v_at_one(lam, c, lr, beta, gam, 1.0, n_samples=len(lam))
    steps = np.array([0, 1000, 2000])
    se, _ = se_loss_trajectory(lam, c, lr, beta, gam, 1.0, steps, n_samples=len(lam))
    # (28a) written out independently
    zeta = kappa / nu
    formula = gamma_fn(zeta + 1) / (2 * (1 - u1)) * (2 * lr / (1 - beta) * steps[1:]) ** -zeta
    pkg = asymptotic_loss(steps[1:], nu, kappa, 1.0, 1.0, lr, beta, gam, u1, v1)
    np.testing.assert_allclose(pkg, formula, rtol=1e-12)
    ratio = se[0, 1:] / pkg
    assert np.all(np.abs(ratio - 1) < 0.03)
    slope = np.log(se[0, 2] / se[0, 1]) / np.log(2.0)
    assert slope == pytest.approx(-zeta, abs=0.02)


def test_asymptotic_loss_noise_phase():
    """(28b): convergence is slow (theory.md §9); within 10% at t = 1e4 and improving."""
    nu, kappa, lr, gam, beta = 1.5, 3.0, 0.5, 1.0, 0.0
    lam, c = power_law_problem(3000, nu, kappa)
    u1 = u_at_one(lam, lr, beta, gam, 1.0)
    v1 = v_at_one(lam, c, lr, beta, gam, 1.0, n_samples=len(lam))
    steps = np.array([0, 1000, 3000, 10000])
    se, _ = se_loss_trajectory(lam, c, lr, beta, gam, 1.0, steps, n_samples=len(lam))
    p = 2 - 1 / nu
    formula = (
        gam * v1 * gamma_fn(p) / (nu * (1 - u1) ** 2) * 2 ** (1 / nu - 2) * lr ** (1 / nu) * steps[1:] ** -p
    )
    pkg = asymptotic_loss(steps[1:], nu, kappa, 1.0, 1.0, lr, beta, gam, u1, v1)
    np.testing.assert_allclose(pkg, formula, rtol=1e-12)
    ratio = se[0, 1:] / pkg
    assert np.all(np.diff(ratio) > 0)
    assert abs(ratio[-1] - 1) < 0.1


def test_record_steps_in_any_order_with_duplicates():
    """Unsorted or repeated record steps give the same losses as the sorted request, not inf."""
    from sgd_spectra.dynamics import linearized_sgd

    lam, c = np.array([1.0, 0.5]), np.array([1.0, 1.0])
    sorted_loss, _ = se_loss_trajectory(lam, c, 0.5, 0.0, 0.1, 1.0, [0, 5, 10])
    loss, _ = se_loss_trajectory(lam, c, 0.5, 0.0, 0.1, 1.0, [10, 5, 5, 0])
    np.testing.assert_array_equal(loss[0], sorted_loss[0][[2, 1, 1, 0]])
    K = np.diag(lam)
    exact = exact_loss_trajectory(K, np.ones(2), 0.5, 0.0, 0.1, [10, 0, 10])
    assert exact[0] == exact[2] and exact[1] == pytest.approx(0.5)
    lin, _ = linearized_sgd(K, np.ones(2), 0.5, 0.0, 1, [0], [3, 0, 3])
    assert lin[0, 0] == lin[0, 2] and lin[0, 1] == pytest.approx(0.5)


def test_asymptote_refuses_non_power_law_phases():
    for nu in (0.4, 0.9):
        with pytest.raises(ValueError, match="no power-law asymptote"):
            asymptotic_loss(10.0, nu, 1.0, 1.0, 1.0, 0.5, 0.0, 0.1, 0.5, 1.0)
