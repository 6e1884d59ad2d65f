"""Trace-distance analysis of which tau fits the true noise (sgd_spectra.noise_fit, paper Fig. 8).

References are independent of the code under test: the gradient-noise covariance of SGD built by
enumerating every batch of explicit features, the data-basis noise term of theory.md §3, direct
evaluation of the distance and numerical minimisation, and the translation-invariant case where
SE(tau1 = tau2 = 1) is exact.
"""

import itertools

import numpy as np
import pandas as pd
import pytest
from scipy.optimize import minimize, minimize_scalar
from test_second_moment import circulant_kernel, random_kernel

from sgd_spectra import noise_fit as nf
from sgd_spectra import second_moment as sm
from sgd_spectra import theory as th


def features_problem(n: int, d: int, seed: int):
    """Linear model with features x_i (rows of X): H = X^T X / N, K = X X^T / N, a random PSD
    parameter-space second moment C^w, and the output-space one Psi^T C^w Psi in K's eigenbasis."""
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((n, d))
    R = rng.standard_normal((d, d))
    Cw = R @ R.T / d
    lam, U = np.linalg.eigh(X @ X.T / n)
    C_out = U.T @ (X @ Cw @ X.T) @ U
    return X, Cw, np.clip(lam, 0, None), U, (C_out + C_out.T) / 2


def brute_force_noise(X, Cw, batch):
    """E_B[H_B C H_B] - H C H over every batch of ``batch`` distinct points (H_B = the batch mean
    of x x^T): the covariance of the mini-batch gradient H_B dw given E[dw dw^T] = C^w."""
    n = len(X)
    H = X.T @ X / n
    maps = [X[list(B)].T @ X[list(B)] / batch for B in itertools.combinations(range(n), batch)]
    return np.mean([Hb @ Cw @ Hb for Hb in maps], axis=0) - H @ Cw @ H, H


def parameter_basis(X, lam, U):
    """H's eigenvectors v_k = X^T u_k / sqrt(N lambda_k) (columns) for lambda_k > 0."""
    keep = lam > 1e-12
    return X.T @ U[:, keep] / np.sqrt(len(X) * lam[keep]), keep


def circulant_covariance(n: int, seed: int):
    """A random translation-invariant (circulant) PSD data-basis second moment."""
    k = np.arange(n)
    spec = np.random.default_rng(seed).uniform(0.1, 1.0, n)
    spec = (spec + spec[(-k) % n]) / 2  # symmetric: a real circulant
    row = np.real(np.fft.ifft(spec))
    C = row[(k[:, None] - k[None, :]) % n]
    return (C + C.T) / 2


# --------------------------------------------------------------------------------------------
# 1. The noise matrices against SGD's batch enumeration
# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize("n, d, batch", [(6, 9, 1), (6, 9, 2), (6, 9, 3), (6, 4, 1), (6, 4, 2)])
def test_true_noise_is_the_batch_enumerated_gradient_covariance(n, d, batch):
    X, Cw, lam, U, C = features_problem(n, d, seed=n + d + batch)
    reference, H = brute_force_noise(X, Cw, batch)
    V, keep = parameter_basis(X, lam, U)
    gamma = float(th.batch_noise_factor(n, batch))
    true, trace_part, hch = nf.noise_matrices(lam, U, C)
    sub = np.ix_(keep, keep)
    np.testing.assert_allclose(gamma * true[sub], V.T @ reference @ V, atol=1e-12 * np.abs(reference).max())
    np.testing.assert_allclose(trace_part[sub], V.T @ (np.trace(H @ Cw) * H) @ V, atol=1e-12)
    np.testing.assert_allclose(hch[sub], V.T @ H @ Cw @ H @ V, atol=1e-12)
    for m in (true, trace_part, hch):  # K's null space takes no noise (sqrt of a round-off lambda)
        scale = 1e-6 * np.abs(m).max()
        assert np.abs(m[~keep]).max(initial=0) < scale and np.abs(m[:, ~keep]).max(initial=0) < scale
    # the (gamma-free) distance is the same computed in the full parameter space
    direct = np.sum((reference / gamma - (np.trace(H @ Cw) * H - 0.3 * H @ Cw @ H)) ** 2)  # all d x d
    assert nf.distance(true, trace_part, hch, 1.0, 0.3) == pytest.approx(
        direct / np.sum((reference / gamma) ** 2)
    )


def test_output_space_matrices_are_the_recursions_noise_term():
    """space="output": U^T (N K diag(C) K - K C K) U, the sampling noise of theory.md §3 (/gamma),
    and the SE output-space diagonal lambda_k^2 (tau1 tr C - tau2 C_kk)."""
    K, e0 = random_kernel(12, 20, seed=3)
    lam, U = np.linalg.eigh(K)
    rng = np.random.default_rng(4)
    R = rng.standard_normal((12, 12))
    C_data = R @ R.T
    true, trace_part, hch = nf.noise_matrices(lam, U, U.T @ C_data @ U, space="output")
    noise = 12 * K @ np.diag(np.diag(C_data)) @ K - K @ C_data @ K
    np.testing.assert_allclose(true, U.T @ noise @ U, atol=1e-11 * np.abs(noise).max())
    np.testing.assert_allclose(np.diag(trace_part), lam**2 * np.trace(C_data), rtol=1e-10)
    np.testing.assert_allclose(hch, U.T @ K @ C_data @ K @ U, atol=1e-11 * np.abs(noise).max())
    with pytest.raises(ValueError, match="space"):
        nf.noise_matrices(lam, U, C_data, space="data")


# --------------------------------------------------------------------------------------------
# 2. Translation invariance: SE(1, 1) is exact
# --------------------------------------------------------------------------------------------


def test_translation_invariant_second_moment_is_fitted_exactly_by_tau_one_one():
    n = 16
    K = circulant_kernel(n, lambda f: (1.0 + f) ** -1.5)
    lam, U = np.linalg.eigh(K)
    C_data = circulant_covariance(n, seed=5)
    form = nf.trace_distance_form(*nf.noise_matrices(lam, U, U.T @ C_data @ U))
    assert form["distance_tau_p1"] < 1e-24
    assert form["distance_opt"] < 1e-24
    assert form["tau1_opt"] == pytest.approx(1.0, abs=1e-10)
    assert form["tau2_opt"] == pytest.approx(1.0, abs=1e-10)
    assert form["tau2_at_tau1_1"] == pytest.approx(1.0, abs=1e-10)
    assert form["distance_tau_m1"] > 1e-3 and form["distance_tau_0"] > 1e-4


def test_translation_invariance_is_kept_along_the_exact_trajectory():
    """Started from a translation-invariant second moment, the exact recursion stays translation
    invariant: d(1, 1) = 0 and the optimum is (1, 1) at every recorded step."""
    n = 16
    K = circulant_kernel(n, lambda f: (1.0 + f) ** -1.2)
    lam, U = np.linalg.eigh(K)
    table = nf.trace_distance_trajectory(lam, U, circulant_covariance(n, seed=6), 0.8, 0.4, 3, 200, 12)
    assert table.step.iloc[-1] == 200 and table.step.iloc[0] == 0
    assert table.distance_tau_p1.max() < 1e-24
    np.testing.assert_allclose(table[["tau1_opt", "tau2_opt"]].to_numpy(), 1.0, atol=1e-8)
    assert (table.loss.diff().iloc[1:] < 0).all()


def test_a_rank_one_second_moment_breaks_translation_invariance():
    """The exactness needs a translation-invariant C, not only a circulant kernel: from one error
    vector the true noise has off-diagonal parts no SE tau reproduces."""
    n = 16
    K = circulant_kernel(n, lambda f: (1.0 + f) ** -1.5)
    lam, U = np.linalg.eigh(K)
    e0 = np.random.default_rng(7).standard_normal(n)
    form = nf.trace_distance_form(*nf.noise_matrices(lam, U, np.outer(U.T @ e0, U.T @ e0)))
    assert form["distance_opt"] > 1e-3


# --------------------------------------------------------------------------------------------
# 3. The quadratic form against direct evaluation
# --------------------------------------------------------------------------------------------


@pytest.fixture
def features_form():
    X, Cw, lam, U, C = features_problem(30, 12, seed=8)
    mats = nf.noise_matrices(lam, U, C)
    return mats, nf.trace_distance_form(*mats)


def test_quadratic_form_equals_the_direct_distance(features_form):
    mats, form = features_form
    for tau1, tau2 in [(0.0, 0.0), (1.0, -1.0), (1.0, 1.0), (0.3, 2.5), (-1.7, 0.4)]:
        t = np.array([tau1, tau2])
        assert t @ form["A"] @ t + form["b"] @ t + form["c"] == pytest.approx(
            nf.distance(*mats, tau1, tau2), rel=1e-11
        )
    for name, (tau1, tau2) in nf.NAMED_TAUS.items():
        assert form[f"distance_tau_{name}"] == pytest.approx(nf.distance(*mats, tau1, tau2), rel=1e-11)


def test_optimum_and_tau1_one_slice_match_numerical_minimisation(features_form):
    mats, form = features_form
    best = minimize(
        lambda t: nf.distance(*mats, *t),
        x0=[0.0, 0.0],
        method="Nelder-Mead",
        options=dict(xatol=1e-10, fatol=1e-14, maxiter=4000),
    )
    assert form["tau1_opt"] == pytest.approx(best.x[0], abs=1e-6)
    assert form["tau2_opt"] == pytest.approx(best.x[1], abs=1e-6)
    assert form["distance_opt"] == pytest.approx(best.fun, rel=1e-8)
    line = minimize_scalar(lambda t2: nf.distance(*mats, 1.0, t2), bracket=(-5, 5), tol=1e-12)
    assert form["tau2_at_tau1_1"] == pytest.approx(line.x, abs=1e-6)
    assert form["distance_at_tau1_1"] == pytest.approx(line.fun, rel=1e-10)
    assert (
        form["distance_opt"]
        <= form["distance_at_tau1_1"]
        <= min(form[f"distance_tau_{k}"] for k in nf.NAMED_TAUS) + 1e-15
    )


def test_axis_ratio_is_that_of_the_level_set_ellipse(features_form):
    """The level set d = d_opt + 1 has semi-axes 1/sqrt(eig of the Hessian / 2): measure them by
    the distance from the optimum to the level set along many directions."""
    mats, form = features_form
    opt = np.array([form["tau1_opt"], form["tau2_opt"]])
    radii = []
    for angle in np.linspace(0, np.pi, 721):
        u = np.array([np.cos(angle), np.sin(angle)])
        excess = nf.distance(*mats, *(opt + u)) - form["distance_opt"]  # quadratic: r^2 * excess = 1
        radii.append(1 / np.sqrt(excess))
    assert form["axis_ratio"] == pytest.approx(min(radii) / max(radii), rel=1e-3)


def test_zero_true_noise_is_rejected():
    z = np.zeros((3, 3))
    with pytest.raises(ValueError, match="zero"):
        nf.trace_distance_form(z, np.eye(3), np.eye(3))


# --------------------------------------------------------------------------------------------
# 4. The trajectory
# --------------------------------------------------------------------------------------------


def test_second_moment_generator_follows_the_exact_recursion():
    K, e0 = random_kernel(15, 25, seed=9)
    lam, U = np.linalg.eigh(K)
    gamma = float(th.batch_noise_factor(15, 2))
    steps = [0, 1, 5, 40]
    reference = th.exact_loss_trajectory(K, e0, 0.9, 0.5, gamma, steps)
    got = [
        (t, np.trace(C) / 30, C.copy(), M)
        for t, C, M in sm.exact_second_moments_eigen(lam, U, e0, 0.9, 0.5, gamma, steps)
    ]
    assert [g[0] for g in got] == steps
    np.testing.assert_allclose([g[1] for g in got], reference, rtol=1e-10)
    for _, _, C, M in got:  # M is the noise matrix of that C
        np.testing.assert_allclose(M, sm.diagonal_in_eigenbasis(U, sm.data_diagonal(U, C)), atol=1e-13)
    from_covariance = [
        C.copy()
        for _, C, _ in sm.exact_second_moments_eigen(lam, U, np.outer(e0, e0), 0.9, 0.5, gamma, steps)
    ]
    for (_, _, C, _), C2 in zip(got, from_covariance):
        np.testing.assert_allclose(C2, C, atol=1e-12 * np.abs(C).max())


def test_trajectory_table_has_one_row_per_recorded_step():
    K, e0 = random_kernel(20, 30, seed=10)
    lam, U = np.linalg.eigh(K)
    table = nf.trace_distance_trajectory(lam, U, e0, 1.0, 0.0, 4, 30, [0, 3, 30, 10])
    assert list(table.step) == [0, 3, 10, 30]
    for key in ["step", "loss", *nf.TABLE_KEYS]:
        assert key in table and np.isfinite(table[key]).all()
    gamma = float(th.batch_noise_factor(20, 4))
    np.testing.assert_allclose(
        table.loss, th.exact_loss_trajectory(K, e0, 1.0, 0.0, gamma, [0, 3, 10, 30]), rtol=1e-10
    )
    C = np.outer(U.T @ e0, U.T @ e0)
    first = nf.trace_distance_form(*nf.noise_matrices(lam, U, C))
    assert table.tau2_opt.iloc[0] == pytest.approx(first["tau2_opt"], rel=1e-10)
    with pytest.raises(ValueError, match="batch"):
        nf.trace_distance_trajectory(lam, U, e0, 1.0, 0.0, 21, 30, 5)
    with pytest.raises(ValueError, match="horizon"):
        nf.trace_distance_trajectory(lam, U, e0, 1.0, 0.0, 4, 30, [0, 31])


# --------------------------------------------------------------------------------------------
# 5. Claims: each verdict can fail
# --------------------------------------------------------------------------------------------


def claim_table(tau1, ratio, steps=(0, 1, 10, 30, 100)):
    n = len(steps)
    return pd.DataFrame(
        dict(
            step=list(steps),
            loss=np.linspace(1, 0.1, n),
            tau1_opt=np.broadcast_to(tau1, n),
            tau2_opt=0.5,
            axis_ratio=np.broadcast_to(ratio, n),
            lr=1.0,
            momentum=0.0,
            batch=10,
        )
    )


def verdicts(table):
    rows = nf.trace_distance_claims("toy", table, 100)
    assert all(r["section"] == "experiments" and r["dataset"] == "toy" for r in rows)
    return {r["claim_id"]: r["verdict"] for r in rows}


def test_claims_hold_on_a_close_tau1_and_a_stretched_ellipse():
    assert verdicts(claim_table(1.01, 0.02)) == {
        "trace_optimal_tau1": "holds",
        "trace_ellipse_stretched": "holds",
    }


def test_optimal_tau1_claim_fails_when_tau1_is_far_from_one():
    got = verdicts(claim_table(1 + 3 * nf.TAU1_TOLERANCE, 0.02))
    assert got == {"trace_optimal_tau1": "fails", "trace_ellipse_stretched": "holds"}


def test_stretched_ellipse_claim_fails_on_a_round_ellipse():
    ratio = [0.01, 0.01, 0.02, 0.5, 0.02]  # one round ellipse after the transient
    got = verdicts(claim_table(1.0, ratio))
    assert got == {"trace_optimal_tau1": "holds", "trace_ellipse_stretched": "fails"}


def test_transient_steps_do_not_decide_the_verdicts():
    got = verdicts(claim_table([3.0, 3.0, 1.0, 1.0, 1.0], [0.9, 0.9, 0.01, 0.01, 0.01]))
    assert set(got.values()) == {"holds"}
    assert set(verdicts(claim_table(1.0, 0.01, steps=(0, 1, 2))).values()) == {"inconclusive"}
