"""Companion study 000 (Benning & Döring): GRF and network loss curves concentrate on computable limits."""

import math

import jsonschema
import numpy as np
import pandas as pd
import pytest
import torch
from scipy.integrate import quad

from sgd_spectra.companions import gradient_span as gs
from sgd_spectra.companions import gradient_span_claims as gsc
from sgd_spectra.ntk import relu_ntk_parts
from sgd_spectra.theory import se_loss_trajectory

C, LR, BETA = 2.5, 0.3, 0.5


def scalar_recursion(h: float, lr: float, momentum: float, steps: int) -> np.ndarray:
    """ρ_t(h), t = 0..steps: ρ_0 = ρ_{-1} = 1, ρ_{t+1} = (1 - lr h + momentum) ρ_t - momentum ρ_{t-1}."""
    rho = np.empty(steps + 1)
    prev, cur = 1.0, 1.0
    for t in range(steps + 1):
        rho[t] = cur
        prev, cur = cur, (1 - lr * h + momentum) * cur - momentum * prev
    return rho


# ---------------------------------------------------------------- (a) GRF


@pytest.mark.parametrize("momentum", [0.0, BETA])
def test_spectral_recursion_matches_heavy_ball_iterates_on_diagonal_problem(momentum):
    """se_loss_trajectory with gamma = 0 (coefficients h_k x0_k^2, n_samples = N) is the cost of
    the actual GD / heavy-ball iterates on f = x^T diag(h) x / 2."""
    rng = np.random.default_rng(1)
    h = rng.uniform(C - 2, C + 2, size=50)
    x0 = rng.standard_normal(50)
    direct = gs.gradient_span_costs(np.diag(h), x0, LR, [momentum], steps=12)[0]
    spectral = se_loss_trajectory(h, h * x0**2, LR, momentum, 0.0, 0.0, np.arange(13), n_samples=50)[0][0]
    np.testing.assert_allclose(spectral, direct, rtol=1e-12)
    # and the scalar recursion of the module docstring, mode by mode
    rho = np.array([scalar_recursion(hk, LR, momentum, 12) for hk in h])
    np.testing.assert_allclose((h[:, None] * (x0[:, None] * rho) ** 2).sum(0) / 100, direct, rtol=1e-12)
    # runs batched as columns are independent of each other
    both = gs.gradient_span_costs(np.diag(h), x0, LR, [momentum, 0.9 - momentum], steps=12)
    np.testing.assert_allclose(both[0], direct, rtol=1e-13)


@pytest.mark.parametrize("momentum", [0.0, BETA])
def test_semicircle_limit_matches_adaptive_quadrature(momentum):
    limit = gs.grf_cost_limit(C, LR, momentum, steps=10)
    for t in (0, 3, 10):
        integrand = lambda lam: (
            0.5
            * (C + lam)
            * scalar_recursion(C + lam, LR, momentum, t)[t] ** 2
            * math.sqrt(4 - lam * lam)
            / (2 * math.pi)
        )
        expected = quad(integrand, -2, 2, epsabs=1e-13, epsrel=1e-11)[0]
        assert limit[t] == pytest.approx(expected, rel=1e-8)
    assert limit[0] == pytest.approx(C / 2, rel=1e-12)  # ∫ dSC = 1 and ∫ λ dSC = 0


@pytest.fixture(scope="module")
def goe_eigenvalues():
    """Eigenvalues of one GOE / sqrt(N) sample, N = 1200."""
    dim = 1200
    return np.linalg.eigvalsh(gs.goe_matrix(dim, np.random.default_rng(2)) / math.sqrt(dim))


@pytest.mark.parametrize("momentum", [0.0, BETA])
def test_semicircle_limit_matches_large_goe_sample(momentum, goe_eigenvalues):
    """Brute force: cost of the iterates on diag(c + eigenvalues of one large GOE/sqrt(N)) from
    x0 = (1, ..., 1), i.e. 1/2 mean_k (c + λ_k) ρ_t(c + λ_k)^2 over the sample."""
    lam = goe_eigenvalues
    brute = gs.gradient_span_costs(np.diag(C + lam), np.ones(len(lam)), LR, [momentum], steps=10)[0]
    limit = gs.grf_cost_limit(C, LR, momentum, steps=10)
    # linear eigenvalue statistics of the GOE deviate from the semicircle by O(1/N)
    np.testing.assert_allclose(brute, limit, rtol=0.02, atol=1e-4)


def test_goe_scaling_gives_semicircle_on_minus_two_two(goe_eigenvalues):
    lam = goe_eigenvalues
    assert np.mean(lam**2) == pytest.approx(1.0, abs=0.02)  # second moment of SC is 1
    assert np.mean(lam**4) == pytest.approx(2.0, abs=0.06)  # fourth moment (Catalan 2)
    assert -2.15 < lam.min() < -1.85 and 1.85 < lam.max() < 2.15


def test_sphere_point_has_radius_sqrt_dim():
    x = gs.sphere_point(37, np.random.default_rng(0))
    assert np.linalg.norm(x) == pytest.approx(math.sqrt(37), rel=1e-12)


def test_grf_costs_concentrate_on_limit_small_sizes():
    """Honest test at small sizes: std ∝ N^-1/2 at t ∈ {0, 5, 10} for GD and HB, max |z| < 4."""
    params = dict(gs.DEFAULT_PARAMS, grf_dims=[50, 200, 800], grf_seeds=30)
    costs, limit = gs.grf_tables(params)
    rows = {r["claim_id"]: r for r in gsc.grf_claims(costs, limit, params)}
    assert set(rows) == {"000-grf-std-slope-gd", "000-grf-std-slope-hb", "000-grf-mean-limit"}
    assert all(r["verdict"] == "holds" for r in rows.values()), rows
    # the t = 0 spread is known exactly: std(x0^T W x0 / (2N)) = 1 / sqrt(2N)
    std0 = costs[(costs.step == 0) & (costs.algorithm == "GD")].groupby("dim").cost.std()
    np.testing.assert_allclose(std0.values, 1 / np.sqrt(2 * std0.index.values), rtol=0.35)


def test_grf_slope_claim_fails_when_runs_share_w_and_x0():
    """Reusing (W, x0) across seeds makes the spread vanish: the slope claim cannot hold."""
    params = dict(gs.TINY_PARAMS)
    costs, limit = gs.grf_tables(params)
    shared = costs[costs.seed == 0]
    reused = pd.concat([shared.assign(seed=s) for s in range(4)], ignore_index=True)
    rows = {r["claim_id"]: r for r in gsc.grf_claims(reused, limit, params)}
    assert rows["000-grf-std-slope-gd"]["verdict"] != "holds"


# ---------------------------------------------------------------- (b) network


def test_loss_gradients_match_autograd():
    rng = np.random.default_rng(0)
    X, y = rng.standard_normal((12, 5)), rng.standard_normal(12)
    W_t, a = gs.init_parameters(7, 5, [0, 1, 2], base_seed=0)
    X_scaled, target = torch.from_numpy(X / math.sqrt(5)), torch.from_numpy(y)
    W_ref, a_ref = W_t.clone().requires_grad_(), a.clone().requires_grad_()
    out_ref = torch.einsum(
        "snm,sm->sn", torch.relu(torch.einsum("nd,sdm->snm", X_scaled, W_ref)), a_ref
    ) / math.sqrt(7)
    (0.5 * ((out_ref - target) ** 2).mean(dim=1)).sum().backward()
    out, hidden = gs.network_outputs(X_scaled, W_t, a)
    torch.testing.assert_close(out, out_ref.detach())
    gate_part, readout_scale, grad_a = gs.loss_gradients(X_scaled, a, hidden, out - target)
    torch.testing.assert_close(gate_part * readout_scale, W_ref.grad)
    torch.testing.assert_close(grad_a, a_ref.grad)


def unit_rows(n, d, seed):
    X = np.random.default_rng(seed).standard_normal((n, d))
    return X * (math.sqrt(d) / np.linalg.norm(X, axis=1, keepdims=True))


def test_empirical_ntk_of_wide_network_is_relu_ntk_parts():
    """J J^T of f(x) = a.relu(W x / sqrt d)/sqrt m over (W, a), by autograd, -> K_W + K_a of X/sqrt(d)."""
    from torch.func import jacrev

    n, d, width = 8, 5, 20000
    X = unit_rows(n, d, 4)
    W_t, a = gs.init_parameters(width, d, [0], base_seed=0)
    X_scaled = torch.from_numpy(X / math.sqrt(d))
    jac_W, jac_a = jacrev(lambda w, v: gs.network_outputs(X_scaled, w, v)[0], argnums=(0, 1))(W_t, a)
    J = torch.cat([jac_W.reshape(n, -1), jac_a.reshape(n, -1)], dim=1).numpy()
    k_w, k_a = relu_ntk_parts(X / math.sqrt(d))
    np.testing.assert_allclose(J @ J.T, k_w + k_a, atol=0.03)
    assert np.allclose(np.diag(k_w + k_a), 1.0)  # |x|^2 = d: each part contributes 1/2


def direct_prediction(X, y, lr, steps, f0_cov=None):
    """1/2 mean(((I - lr Θ∞/n)^t e0)^2) by explicit matrix powers; with ``f0_cov`` the expectation
    over e0 = f0 - y, f0 ~ N(0, f0_cov)."""
    n = len(y)
    k_w, k_a = relu_ntk_parts(X / math.sqrt(X.shape[1]))
    step_matrix = np.eye(n) - lr * (k_w + k_a) / n
    out, power = [], np.eye(n)
    for _ in range(steps + 1):
        loss = np.mean((power @ y) ** 2) / 2
        if f0_cov is not None:
            loss += np.trace(power @ f0_cov @ power.T) / (2 * n)
        out.append(loss)
        power = step_matrix @ power
    return np.array(out)


def test_ntk_prediction_conventions_match_matrix_powers():
    X, y = gs.digits_parity(60, 0)
    predicted = gs.ntk_loss_prediction(X, y, 1.0, 40)
    np.testing.assert_allclose(predicted["centred"], direct_prediction(X, y, 1.0, 40), rtol=1e-10)
    k_a = relu_ntk_parts(X / math.sqrt(X.shape[1]))[1]
    np.testing.assert_allclose(predicted["standard"], direct_prediction(X, y, 1.0, 40, k_a), rtol=1e-10)


def test_very_wide_centred_network_follows_ntk_prediction():
    """Actual training (lr = 1 on 1/2 mean loss) of a very wide centred net = the Θ∞/n curve."""
    n, d, width, steps = 16, 8, 2**14, 30
    X = unit_rows(n, d, 5)
    y = np.where(np.arange(n) % 2 == 0, 1.0, -1.0)
    W_t, a = gs.init_parameters(width, d, [0], base_seed=0)
    losses = gs.train_networks(X, y, W_t, a, 1.0, steps, centred=True)[0]
    predicted = gs.ntk_loss_prediction(X, y, 1.0, steps)["centred"]
    assert losses[0] == pytest.approx(0.5)
    np.testing.assert_allclose(losses, predicted, rtol=0.04)  # finite width: O(1/sqrt(m)) off
    # a factor n off (gradient of the sum instead of the mean) would be a different curve entirely
    assert not np.allclose(losses, gs.ntk_loss_prediction(X, y, 1.0 / n, steps)["centred"], rtol=0.2)


def test_network_honest_tests_small_sizes():
    """Centred: std ∝ width^-1/2 and mean on the NTK curve; standard: spread does not shrink."""
    params = dict(
        gs.DEFAULT_PARAMS,
        mlp_samples=64,
        mlp_widths=[64, 256, 1024],
        mlp_seeds=16,
        mlp_steps=30,
        mlp_slope_steps=[10, 30],
        mlp_match_min_width=1024,
    )
    losses, prediction = gs.mlp_tables(params)
    rows = {r["claim_id"]: r for r in gsc.mlp_claims(losses, prediction, params)}
    assert set(rows) == {
        "000-mlp-centred-std-slope",
        "000-mlp-centred-mean-prediction",
        "000-mlp-standard-std-slope",
    }
    assert all(r["verdict"] == "holds" for r in rows.values()), rows


# ---------------------------------------------------------------- module interface


@pytest.fixture(scope="module")
def tiny_tables():
    return gs.run_study(gs.TINY_PARAMS)


def test_run_study_tiny_tables_and_claims(tiny_tables, tmp_path):
    assert set(tiny_tables) == {"grf_costs", "grf_limit", "mlp_losses", "mlp_prediction"}
    for name, table in tiny_tables.items():
        assert len(table) > 0
        assert not any(
            table[c].dtype == object and not table[c].map(lambda v: isinstance(v, str)).all()
            for c in table.columns
        )
        table.to_parquet(tmp_path / f"{name}.parquet")
        pd.testing.assert_frame_equal(pd.read_parquet(tmp_path / f"{name}.parquet"), table)
    p = gs.TINY_PARAMS
    assert len(tiny_tables["grf_costs"]) == 2 * len(p["grf_dims"]) * p["grf_seeds"] * (p["grf_steps"] + 1)
    assert len(tiny_tables["mlp_losses"]) == 2 * len(p["mlp_widths"]) * p["mlp_seeds"] * (p["mlp_steps"] + 1)
    rows = gs.study_claims(tiny_tables, p)
    assert len(rows) == 6
    for row in rows:
        assert row["verdict"] in {"holds", "fails", "inconclusive"}
        assert row["claim_id"].startswith("000-") and row["section"] == "companion-gradient_span"


def test_run_study_is_deterministic(tiny_tables):
    again = gs.run_study(gs.TINY_PARAMS)
    for name, table in tiny_tables.items():
        pd.testing.assert_frame_equal(again[name], table, check_exact=True)


@pytest.mark.parametrize("name", ["DEFAULT_PARAMS", "TINY_PARAMS", "PAPER_PARAMS"])
def test_param_dicts_validate(name):
    jsonschema.validate(getattr(gs, name), gs.PARAMS_SCHEMA)
    assert set(getattr(gs, name)) == set(gs.PARAMS_SCHEMA["required"])


@pytest.mark.parametrize(
    "change", [{"grf_seeds": 1}, {"mlp_widths": []}, {"grf_lr": "0.3"}, {"extra": 1}, {"grf_curvature": 1.5}]
)
def test_bad_params_rejected(change):
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(dict(gs.DEFAULT_PARAMS, **change), gs.PARAMS_SCHEMA)


def test_missing_param_rejected():
    params = dict(gs.DEFAULT_PARAMS)
    del params["mlp_steps"]
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(params, gs.PARAMS_SCHEMA)
