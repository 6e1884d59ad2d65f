"""Generating functions, stability, divergence, asymptotics and optimal hyper-parameters
(theory.md §5-§11), each against an independent computation."""

import numpy as np
import pytest

from sgd_spectra import generating_functions as gf
from sgd_spectra import theory as th


def power_spectrum(n, nu=1.5, kappa=0.75):
    k = np.arange(1, n + 1, dtype=float)
    return k**-nu, k ** -(kappa + 1)


def binned_power_law(nu, kappa, exact=2000, k_max=1e9, ratio=1.02):
    """Effectively infinite power law: modes 1..exact, then geometric bins (merged modes).

    Returns eigenvalues, per-bin ``lambda C`` with tail sums exactly k^-kappa (so K = 1,
    Lambda = 1), and multiplicities."""
    edges = np.unique(
        np.round(np.geomspace(exact + 1, k_max, int(np.log(k_max / exact) / np.log(ratio)))).astype(np.int64)
    )
    ka = np.concatenate([np.arange(1, exact + 1), edges[:-1]]).astype(float)
    kb = np.concatenate([np.arange(2, exact + 2), edges[1:]]).astype(float)
    mult = kb - ka
    lam = np.where(mult == 1, ka, np.sqrt(ka * (kb - 1))) ** -nu
    return lam, ka**-kappa - kb**-kappa, mult


# --- §5: the closed forms are the generating functions of the 3x3 recursion -----------------


def test_sympy_determinant_and_adjugate():
    sp = pytest.importorskip("sympy")
    z, a, b, g, lr, lam = sp.symbols("z a beta g alpha lambda")
    n = g * a**2  # the diagonal noise part -gamma tau a^2 C, with g = gamma tau
    A = sp.Matrix(
        [
            [(1 - a) ** 2 - n, 2 * b * (1 - a), b**2],
            [-a * (1 - a) - n, b * (1 - 2 * a), b**2],
            [a**2 - n, -2 * b * a, b**2],
        ]
    )
    S = (
        (1 - z) * (1 - b * z) * (1 - b**2 * z)
        + 2 * a * z * (1 + b) * (1 - b * z)
        - a**2 * z * ((1 - g) - b * (1 + g) * z)
    )
    M = sp.eye(3) - z * A
    assert sp.expand(M.det() - S) == 0
    inv = M.adjugate()
    # U: injection (1,1,1) read in C, one step delayed (factor z); V: start (1,0,0) read in C
    u_num = sp.expand((inv * sp.Matrix([1, 1, 1]))[0] * z)
    v_num = sp.expand((inv * sp.Matrix([1, 0, 0]))[0])
    assert sp.expand(u_num - z * (1 + b * z)) == 0
    assert sp.expand(v_num.subs(a, lr * lam) - ((1 - b * z) * (1 - b**2 * z) + 2 * lr * b * lam * z)) == 0


@pytest.mark.parametrize(
    "lr, beta, gamma, tau", [(0.5, 0.0, 0.1, 1.0), (0.3, 0.6, 0.05, -1.0), (1.2, -0.3, 0.02, 0.0)]
)
def test_power_series_equal_closed_forms(lr, beta, gamma, tau):
    lam, c = power_spectrum(300)
    z, T = 0.97, 2500  # 0.97^2500 ~ 1e-33: the series has converged
    loss, _ = th.se_loss_trajectory(lam, c, lr, beta, gamma, tau, np.arange(T))
    series = np.sum(loss[0] * z ** np.arange(T))
    assert series == pytest.approx(float(gf.loss_gf(z, lam, c, lr, beta, gamma, tau)), rel=1e-8)
    # U and V separately, from the propagators iterated per eigenvalue
    A = per_mode_matrices(lam, lr, beta, gamma, tau)
    u_t, v_t = propagators(A, lam, c, lr, gamma, T)
    assert np.sum(u_t * z ** np.arange(T)) == pytest.approx(
        float(gf.noise_gf(z, lam, lr, beta, gamma, tau)), rel=1e-8
    )
    assert np.sum(v_t * z ** np.arange(T)) == pytest.approx(
        float(gf.signal_gf(z, lam, c, lr, beta, gamma, tau)), rel=1e-8
    )


def per_mode_matrices(lam, lr, beta, gamma, tau):
    a = lr * lam
    n = gamma * tau * a**2
    A = np.empty((len(lam), 3, 3))
    A[:, 0] = np.stack([(1 - a) ** 2 - n, 2 * beta * (1 - a), np.full_like(a, beta**2)], 1)
    A[:, 1] = np.stack([-a * (1 - a) - n, beta * (1 - 2 * a), np.full_like(a, beta**2)], 1)
    A[:, 2] = np.stack([a**2 - n, -2 * beta * a, np.full_like(a, beta**2)], 1)
    return A


def propagators(A, lam, c, lr, gamma, T):
    """U_t = gamma lr^2 sum lam^2 [A^(t-1)(1,1,1)]_C, V_t = 1/(2N) sum c [A^t(1,0,0)]_C."""
    n = len(lam)
    x_u = np.ones((n, 3))
    x_v = np.tile([1.0, 0.0, 0.0], (n, 1))
    u, v = np.zeros(T), np.zeros(T)
    for t in range(T):
        v[t] = np.sum(c * x_v[:, 0]) / (2 * n)
        x_v = np.einsum("kij,kj->ki", A, x_v)
        if t + 1 < T:
            u[t + 1] = gamma * lr**2 * np.sum(lam**2 * x_u[:, 0])
            x_u = np.einsum("kij,kj->ki", A, x_u)
    return u, v


# --- §6: stability ------------------------------------------------------------------------


def se_grows(lam, c, lrs, beta, gamma, T=10_000):
    """Long SE runs: a setting is unstable when its loss still grows at the end (L_T > L_T/2)."""
    loss, diverged = th.se_loss_trajectory(lam, c, lrs, beta, gamma, 1.0, [T // 2, T])
    return (diverged >= 0) | ~(loss[:, 1] < loss[:, 0])


@pytest.mark.parametrize("batch", [10, 100])
@pytest.mark.parametrize("beta", [0.0, 0.6])
def test_bisection_on_se_runs_finds_the_closed_form_critical_lr(batch, beta):
    lam, c = power_spectrum(1000)
    gamma = float(th.batch_noise_factor(1000, batch))
    lo, hi = 0.5, th.noiseless_lr_bound(beta) * 1.5
    for _ in range(4):  # vectorised bisection: 16 learning rates a round
        grid = np.linspace(lo, hi, 16)
        grows = se_grows(lam, c, grid, beta, gamma)
        i = int(np.argmax(grows))
        assert grows[i] and not grows[max(i - 1, 0)] or i == 0
        lo, hi = grid[i - 1], grid[i]
    measured = (lo + hi) / 2
    assert measured == pytest.approx(th.critical_lr(lam, beta, gamma), rel=5e-3)


def test_critical_lr_bounds_and_noiseless_cap():
    lam, _ = power_spectrum(1000)
    gamma = float(th.batch_noise_factor(1000, 10))
    for beta in (0.9, 0.99):
        lo, hi = th.effective_lr_bounds(lam, beta, gamma)
        eff = th.critical_lr(lam, beta, gamma) / (1 - beta)
        assert lo <= eff <= hi
    # b = N: no noise, the critical lr is the noiseless bound 2(1+beta)
    assert th.critical_lr(lam, 0.3, 0.0) == pytest.approx(2.6)


def test_exact_recursion_critical_lr_equals_closed_form_on_circulant():
    n, b = 32, 2
    d = np.minimum(np.arange(n), n - np.arange(n))
    first = 1.0 / (1 + d) ** 2
    K = np.array([np.roll(first, i) for i in range(n)])
    K /= np.linalg.eigvalsh(K).max()
    lam = np.sort(np.linalg.eigvalsh(K))[::-1]
    gamma = float(th.batch_noise_factor(n, b))
    e0 = np.random.default_rng(1).standard_normal(n)
    for beta in (0.0, 0.6):
        lr_c = th.critical_lr(lam, beta, gamma)
        below = th.exact_loss_trajectory(K, e0, 0.97 * lr_c, beta, gamma, [1500, 3000])
        above = th.exact_loss_trajectory(K, e0, 1.03 * lr_c, beta, gamma, [1500, 3000])
        assert below[1] < below[0] and above[1] > above[0]


# --- §7: divergence rate ------------------------------------------------------------------


def test_divergence_rate_matches_se():
    lam, c = power_spectrum(500)
    gamma = float(th.batch_noise_factor(500, 10))
    lr = 1.02 * th.critical_lr(lam, 0.5, gamma)
    assert gf.divergence_rate(lam, c, 0.9 * lr, 0.5, gamma) is None
    div = gf.divergence_rate(lam, c, lr, 0.5, gamma)
    # late enough for the leading pole to dominate, early enough to stay below the
    # divergence cut-off (10^6 L_0 ~ e^13.8, i.e. ~13 t_div)
    t = np.round(np.array([6.0, 10.0]) * div["t_div"]).astype(int)
    loss, _ = th.se_loss_trajectory(lam, c, lr, 0.5, gamma, 1.0, t)
    ratio = loss[0] / (div["prefactor"] * div["r"] ** -t)
    assert np.all(np.abs(ratio - 1) < 0.05), ratio


# --- §8-§10: phases, asymptotics, transition time ----------------------------------------


def test_phases():
    assert th.phase(0.4, 1.0) == "immediate divergence"
    assert th.phase(0.8, 1.0) == "eventual divergence"
    assert th.phase(1.5, 1.0) == "signal-dominated" and th.phase(1.5, 3.0) == "noise-dominated"
    assert th.late_time_exponent(1.5, 1.0) == pytest.approx(-2 / 3)
    assert th.late_time_exponent(1.5, 3.0) == pytest.approx(-4 / 3)


@pytest.mark.parametrize(
    "nu, kappa, lr, beta, gamma, tol",
    [
        (1.5, 1.0, 0.5, 0.0, 0.1, 0.02),  # signal phase, eq. (28a)
        (1.5, 1.0, 0.2, 0.6, 0.1, 0.02),  # signal phase with momentum
        (1.5, 3.0, 0.5, 0.0, 1.0, 0.05),  # noise phase, eq. (28b): slow corrections (§9)
    ],
)
def test_asymptotic_loss_on_effectively_infinite_power_law(nu, kappa, lr, beta, gamma, tol):
    lam, c, mult = binned_power_law(nu, kappa)
    u1 = th.u_at_one(lam, lr, beta, gamma, 1.0, multiplicity=mult)
    v1 = th.v_at_one(lam, c, lr, beta, gamma, 1.0, n_samples=1)
    t = np.array([100_000])
    loss, _ = th.se_loss_trajectory(lam, c, lr, beta, gamma, 1.0, t, n_samples=1, multiplicity=mult)
    predicted = th.asymptotic_loss(t, nu, kappa, 1.0, 1.0, lr, beta, gamma, u1, v1)
    assert loss[0, 0] / predicted[0] == pytest.approx(1.0, abs=tol)


def test_gd_constant_and_transition_time():
    nu, kappa, lr = 1.5, 3.0, 0.5
    lam, c, mult = binned_power_law(nu, kappa)
    # full-batch GD (gamma = 0) on the infinite power law: L_t ~ C t^-zeta
    t = np.array([3000])
    gd, _ = th.se_loss_trajectory(lam, c, lr, 0.0, 0.0, 1.0, t, n_samples=1, multiplicity=mult)
    assert gd[0, 0] / (th.gd_constant(nu, kappa, 1.0, 1.0, lr) * t[0] ** -(kappa / nu)) == pytest.approx(
        1, abs=0.05
    )
    # the transition time of theory.md §10's example, and signal + noise = SE there
    gamma = 0.03
    u1 = th.u_at_one(lam, lr, 0.0, gamma, multiplicity=mult)
    v1 = th.v_at_one(lam, c, lr, 0.0, gamma, n_samples=1)
    t_tr = th.transition_time(nu, kappa, 1.0, 1.0, lr, 0.0, gamma, u1, v1)
    assert t_tr == pytest.approx(3881, rel=0.02)
    se, _ = th.se_loss_trajectory(lam, c, lr, 0.0, gamma, 1.0, [round(t_tr)], n_samples=1, multiplicity=mult)
    signal_plus_noise = 2 * th.gd_constant(nu, kappa, 1.0, 1.0, lr) / (1 - u1) * t_tr ** -(kappa / nu)
    assert se[0, 0] / signal_plus_noise == pytest.approx(1.0, abs=0.03)


# --- §11: optimal learning rate at a fixed horizon -----------------------------------------


@pytest.mark.parametrize("nu, kappa, printed", [(1.5, 4.0, 0.113), (2.0, 8.0, 0.251)])
def test_optimal_lr_reproduces_the_papers_printed_values(nu, kappa, printed):
    """N = 10^4, b = 1 (gamma = 1), T = 10^4, beta = 0, tau = 1 (LossDerivative notebook).
    Modes beyond 2000 are merged in bins of ~1% width to keep the test fast."""
    n = 10_000
    edges = np.unique(np.round(np.geomspace(2001, n + 1, 160)).astype(int))
    ka = np.concatenate([np.arange(1, 2001), edges[:-1]]).astype(float)
    kb = np.concatenate([np.arange(2, 2002), edges[1:]]).astype(float)
    mult = kb - ka
    lam = np.where(mult == 1, ka, np.sqrt(ka * (kb - 1))) ** -nu
    c = np.array([np.sum(np.arange(a, b) ** -(kappa + 1)) for a, b in zip(ka, kb)])
    grid = np.geomspace(printed / 3, printed * 2, 24)
    loss, _ = th.se_loss_trajectory(lam, c, grid, 0.0, 1.0, 1.0, [10_000], n_samples=n, multiplicity=mult)
    i = int(np.argmin(loss[:, 0]))
    x, y = np.log(grid[i - 1 : i + 2]), np.log(loss[i - 1 : i + 2, 0])
    p = np.polyfit(x, y, 2)
    best = float(np.exp(-p[1] / (2 * p[0])))
    assert best == pytest.approx(printed, rel=0.05)
