"""Companion study 004 (Nonnenmacher et al.): init scale and optimiser choice select the minimiser.

Core tests run on scikit-learn digits; only the Fashion-MNIST loader test needs the Debian
package and is skipped without it.
"""

import math

import jsonschema
import numpy as np
import pandas as pd
import pytest
import torch

from sgd_spectra.claims import loglog_slope
from sgd_spectra.companions import which_minimizer as wm
from sgd_spectra.companions import which_minimizer_data as wmd
from sgd_spectra.companions import which_minimizer_init_scale as wmi
from sgd_spectra.companions import which_minimizer_network as wmn
from sgd_spectra.companions import which_minimizer_optimisers as wmo
from sgd_spectra.datasets import DatasetUnavailable, find_idx_pair
from sgd_spectra.ntk import relu_ntk_parts
from sgd_spectra.spectra import kernel_spectrum
from sgd_spectra.theory import se_loss_trajectory

VERDICTS = {"holds", "fails", "inconclusive"}


@pytest.fixture(scope="module")
def task():
    return wmd.load_task("digits", None, n_train=20, n_test=30, data_seed=3)


@pytest.fixture(scope="module")
def tensors(task):
    return (
        torch.as_tensor(task["X_train"]),
        torch.as_tensor(task["y_train"]),
        torch.as_tensor(task["X_test"]),
    )


@pytest.fixture(scope="module")
def tiny_tables():
    return wm.run_study(wm.TINY_PARAMS)


# ------------------------------------------------------------------------------------------
# data
# ------------------------------------------------------------------------------------------


def test_digits_task(task):
    X, y, Xt, yt = task["X_train"], task["y_train"], task["X_test"], task["y_test"]
    assert X.shape == (20, 64) and Xt.shape == (30, 64) and task["dataset"] == "digits 0 vs 1"
    np.testing.assert_allclose(np.linalg.norm(X, axis=1), 1.0, rtol=1e-14)
    np.testing.assert_allclose(np.linalg.norm(Xt, axis=1), 1.0, rtol=1e-14)
    assert set(y) == {-1.0, 1.0} and y.sum() == 0  # balanced, targets ±1
    assert set(yt) == {-1.0, 1.0}
    # test points are disjoint from the training points
    assert np.min(np.linalg.norm(Xt[:, None] - X[None], axis=2)) > 0


def test_auto_falls_back_to_digits_and_fashion_raises(tmp_path):
    fallback = wmd.load_task("auto", str(tmp_path), 10, 10, 0)
    assert fallback["dataset"] == "digits 0 vs 1" and "not found" in fallback["source"]
    with pytest.raises(DatasetUnavailable, match="dataset-fashion-mnist"):
        wmd.load_task("fashion_mnist", str(tmp_path), 10, 10, 0)


def test_pool_images():
    images = np.arange(2 * 28 * 28, dtype=np.uint8).reshape(2, 28, 28)
    pooled = wmd.pool_images(images)
    assert pooled.shape == (2, 196)
    expected = images[1, 2:4, 6:8].astype(float).mean()  # pooled pixel (row 1, col 3)
    assert pooled[1, 14 + 3] == pytest.approx(expected)


@pytest.mark.skipif(find_idx_pair(None) is None, reason="Fashion-MNIST (dataset-fashion-mnist) not installed")
def test_fashion_task():
    data = wmd.load_task("fashion_mnist", None, 20, 40, 0)
    assert data["X_train"].shape == (20, 196) and data["X_test"].shape == (40, 196)
    assert data["dataset"].startswith("Fashion-MNIST") and set(data["y_train"]) == {-1.0, 1.0}


# ------------------------------------------------------------------------------------------
# network, NTK, homogeneity
# ------------------------------------------------------------------------------------------


@pytest.mark.parametrize("depth", [1, 2, 3])
def test_layerwise_ntk_matches_torch_func_jacobian(tensors, depth):
    X, _, Xt = tensors
    params = wmn.init_params(X.shape[1], 24, depth, 1.3, seed=5)
    J, Jt = wmn.jacobian(params, X), wmn.jacobian(params, Xt)
    assert J.shape[1] == sum(p.numel() for p in params)
    ref, ref_cross = J @ J.T, Jt @ J.T
    assert torch.linalg.norm(wmn.empirical_ntk(params, X) - ref) <= 1e-12 * torch.linalg.norm(ref)
    assert torch.linalg.norm(wmn.empirical_ntk(params, Xt, X) - ref_cross) <= 1e-12 * torch.linalg.norm(ref)


@pytest.mark.parametrize("depth", [1, 2])
def test_euler_identity_and_sigma_scaling(tensors, depth):
    """θᵀ∇f = (L+1) f (Lemma 4); f0 ∝ σ^(L+1) and Θ ∝ σ^(2L), each σ computed from scratch."""
    X, _, _ = tensors
    params = wmn.init_params(X.shape[1], 32, depth, 1.0, seed=1)
    theta_flat = torch.cat([p.reshape(-1) for p in params])
    f = wmn.forward(params, X)
    torch.testing.assert_close(wmn.jacobian(params, X) @ theta_flat, (depth + 1) * f, rtol=1e-12, atol=1e-12)
    for sigma in (0.5, 3.0):
        scaled = wmn.init_params(X.shape[1], 32, depth, sigma, seed=1)
        torch.testing.assert_close(wmn.forward(scaled, X), sigma ** (depth + 1) * f, rtol=1e-12, atol=0)
        torch.testing.assert_close(
            wmn.empirical_ntk(scaled, X),
            sigma ** (2 * depth) * wmn.empirical_ntk(params, X),
            rtol=1e-12,
            atol=0,
        )


def test_infinite_width_ntk(task):
    """L=1 is K_W + K_a; L=2 matches the seed-averaged empirical NTK of wide nets (Monte Carlo)."""
    X = task["X_train"][:12]
    k_w, k_a = relu_ntk_parts(X)
    np.testing.assert_allclose(wmn.infinite_width_ntk(X, 1), k_w + k_a, rtol=1e-13)
    inf = wmn.infinite_width_ntk(X, 2)
    draws = [
        wmn.empirical_ntk(wmn.init_params(64, 512, 2, 1.0, s), torch.as_tensor(X)).numpy() for s in range(64)
    ]
    error = np.linalg.norm(np.mean(draws, axis=0) - inf) / np.linalg.norm(inf)
    # Monte Carlo standard error of that norm (one draw's error / sqrt(draws)), plus O(1/m) bias room
    standard_error = (
        np.mean([np.linalg.norm(d - inf) for d in draws]) / np.linalg.norm(inf) / np.sqrt(len(draws))
    )
    assert error <= 3 * standard_error + 0.01


# ------------------------------------------------------------------------------------------
# (A) closed-form minimiser, antisymmetric pairs, trained network
# ------------------------------------------------------------------------------------------


def test_antisymmetric_pair_and_exact_exponent(task, tensors):
    X, _, Xt = tensors
    y, yt = task["y_train"], task["y_test"]
    for depth in (1, 2):
        excess = []
        for sigma in (0.5, 2.0):
            plus = wmi.linearized_minimiser(wmn.init_params(64, 64, depth, sigma, 0, 1.0), X, y, Xt)
            minus = wmi.linearized_minimiser(wmn.init_params(64, 64, depth, sigma, 0, -1.0), X, y, Xt)
            np.testing.assert_allclose(minus["f0_test"], -plus["f0_test"], rtol=1e-13)
            np.testing.assert_allclose(minus["theta"], plus["theta"], rtol=1e-13)
            np.testing.assert_allclose((plus["f_inf"] + minus["f_inf"]) / 2, plus["f_ker"], atol=1e-10)
            mse_ker = np.mean((plus["f_ker"] - yt) ** 2)
            pair = (np.mean((plus["f_inf"] - yt) ** 2) + np.mean((minus["f_inf"] - yt) ** 2)) / 2
            g = plus["f_inf"] - plus["f_ker"]
            assert pair - mse_ker == pytest.approx(np.mean(g**2), rel=1e-9)
            excess.append(pair - mse_ker)
        assert loglog_slope([0.5, 2.0], excess) == pytest.approx(2 * (depth + 1), abs=1e-6)


def test_closed_form_interpolates(task, tensors):
    X, _, _ = tensors
    sol = wmi.linearized_minimiser(wmn.init_params(64, 64, 2, 1.5, 2), X, task["y_train"], X)
    np.testing.assert_allclose(sol["f_inf"], task["y_train"], atol=1e-8)
    np.testing.assert_allclose(sol["f_ker"], task["y_train"], atol=1e-8)


def test_trained_wide_net_reaches_closed_form(task, tensors):
    """Heavy ball on the real L=1 net lands near the linearized minimiser, closer for wider nets."""
    X, y, Xt = tensors
    dists = []
    for width in (256, 4096):
        params = wmn.init_params(64, width, 1, 1.0, 0)
        sol = wmi.linearized_minimiser(params, X, task["y_train"], Xt)
        lr = 1.8 / np.linalg.eigvalsh(sol["theta"] / len(y))[-1]
        fit = wmi.train_network(params, X, y, lr, 0.9, 1e-8, 3000, [0])
        assert fit["train_mse"] < 1e-8
        f_test = wmn.forward(fit["params"], Xt).numpy()
        dists.append(np.linalg.norm(f_test - sol["f_inf"]) / np.linalg.norm(sol["f_inf"]))
    assert dists[1] < 0.05 and dists[1] < dists[0]


# ------------------------------------------------------------------------------------------
# (B) optimisers on the linearized model
# ------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def linear_problem(tensors):
    X, y, _ = tensors
    params = wmn.init_params(64, 32, 1, 1.0, 4)
    J = wmn.jacobian(params, X)
    r0 = wmn.forward(params, X) - y
    basis, _ = torch.linalg.qr(J.T)
    theta = (J @ J.T).numpy()
    delta_gd = J.T @ torch.as_tensor(np.linalg.solve(theta, -r0.numpy()))
    return J, r0, basis, theta, delta_gd


def test_sgd_stays_in_row_space_and_reaches_gd_adam_does_not(linear_problem):
    J, r0, basis, theta, delta_gd = linear_problem
    n = len(r0)
    lr = 1.0 / np.linalg.eigvalsh(theta / n)[-1]
    gen = torch.Generator().manual_seed(0)
    # unconverged (3 epochs) and converged: the leakage is round-off either way
    for epochs in (3, 4000):
        sgd = wmo.train_linearized(
            J, r0, lambda ps: torch.optim.SGD(ps, lr=lr, momentum=0.9), 5, 1e-12, epochs, gen
        )
        assert wmo.row_space_leakage(sgd["delta"], basis) < 1e-12
    assert sgd["train_mse"] < 1e-12
    assert torch.linalg.norm(sgd["delta"] - delta_gd) < 1e-4 * torch.linalg.norm(delta_gd)
    adam = wmo.train_linearized(J, r0, lambda ps: torch.optim.Adam(ps, lr=1e-3), n, 1e-8, 3000, gen)
    assert adam["train_mse"] < 1e-6
    assert wmo.row_space_leakage(adam["delta"], basis) > 0.1
    # Adam's interpolator is not the minimum-norm one
    assert torch.linalg.norm(adam["delta"]) > 1.01 * torch.linalg.norm(delta_gd)


def test_heavy_ball_follows_spectral_recursion(linear_problem):
    """Conventions: torch SGD(momentum) on (1/2n)Σr² is se_loss_trajectory(γ=0) on eig(Θ/n)."""
    J, r0, _, theta, _ = linear_problem
    n = len(r0)
    eig, coef = kernel_spectrum(theta / n, r0.numpy())
    lr, beta = 1.8 / eig[0], 0.9
    fit = wmo.train_linearized(
        J, r0, lambda ps: torch.optim.SGD(ps, lr=lr, momentum=beta), n, 0.0, 200, torch.Generator()
    )
    predicted, _ = se_loss_trajectory(eig, coef, lr, beta, 0.0, 0.0, np.arange(201), n_samples=n)
    np.testing.assert_allclose(0.5 * fit["curve"], predicted[0], rtol=1e-8)
    # and a wrong convention (sum loss, i.e. lr n times larger) would diverge
    wrong, diverged = se_loss_trajectory(eig, coef, lr * n, beta, 0.0, 0.0, [200], n_samples=n)
    assert diverged[0] >= 0


def test_learning_rate_probe(linear_problem):
    J, r0, _, _, _ = linear_problem
    assert wmo.is_monotone([3.0, 2.0, 2.0, 1.0], 0.0) and not wmo.is_monotone([3.0, 3.1], 0.01)
    assert wmo.is_monotone([3.0, 3.01], 0.01) and not wmo.is_monotone([1.0, math.nan], 1.0)
    big = wmo.train_linearized(
        J, r0, lambda ps: torch.optim.Adam(ps, lr=1.0), len(r0), 0.0, 50, torch.Generator(), probe_epochs=50
    )
    assert big["aborted"] and big["epochs"] < 50


# ------------------------------------------------------------------------------------------
# the study interface
# ------------------------------------------------------------------------------------------


def test_param_dicts_validate_and_bad_ones_are_rejected():
    for params in (wm.DEFAULT_PARAMS, wm.TINY_PARAMS, wm.PAPER_PARAMS):
        jsonschema.validate(params, wm.PARAMS_SCHEMA)
        assert set(params) == set(wm.PARAMS_SCHEMA["required"])
    for bad in (
        dict(wm.TINY_PARAMS, n_seeds=0),
        dict(wm.TINY_PARAMS, dataset="mnist"),
        dict(wm.TINY_PARAMS, extra=1),
        {k: v for k, v in wm.TINY_PARAMS.items() if k != "sigmas"},
    ):
        with pytest.raises(jsonschema.ValidationError):
            jsonschema.validate(bad, wm.PARAMS_SCHEMA)
    with pytest.raises(ValueError, match="same length"):
        wm.run_study(dict(wm.TINY_PARAMS, widths=[64]))


def test_tiny_run_tables_and_claims(tiny_tables):
    assert set(tiny_tables) == {"init_runs", "init_pairs", "optimizers", "adam_lr_grid", "loss_curves"}
    for name, table in tiny_tables.items():
        assert len(table) > 0, name
        assert not any(
            table[c].dtype == object and table[c].map(lambda v: isinstance(v, (list, np.ndarray))).any()
            for c in table.columns
        ), name
    rows = wm.study_claims(tiny_tables, wm.TINY_PARAMS)
    ids = [r["claim_id"] for r in rows]
    assert len(ids) == len(set(ids)) >= 11
    assert all(r["verdict"] in VERDICTS and r["section"] == "companion-which_minimizer" for r in rows)
    assert all(r["claim_id"].startswith("004-") and r["dataset"] == "digits 0 vs 1" for r in rows)
    by_id = {r["claim_id"]: r for r in rows}
    # exact algebra holds even at tiny sizes
    for cid in (
        "004-excess-exponent-L1",
        "004-excess-exponent-L2",
        "004-single-run-growth",
        "004-leakage-sgd",
        "004-leakage-adam",
        "004-hb-spectral-curve",
    ):
        assert by_id[cid]["verdict"] == "holds", by_id[cid]


def test_claims_can_fail(tiny_tables):
    """A σ-dependence different from σ^(2(L+1)) and row-space leakage are reported as failures."""
    tampered = {k: v.copy() for k, v in tiny_tables.items()}
    pairs = tampered["init_pairs"]
    pairs["pair_excess"] = pairs.pair_excess * pairs.sigma
    opt = tampered["optimizers"]
    opt.loc[opt.method == "heavy ball", "leakage"] = 1e-3
    by_id = {r["claim_id"]: r for r in wm.study_claims(tampered, wm.TINY_PARAMS)}
    assert by_id["004-excess-exponent-L1"]["verdict"] == "fails"
    assert by_id["004-excess-exponent-L2"]["verdict"] == "fails"
    assert by_id["004-leakage-sgd"]["verdict"] == "fails"


def test_deterministic(tiny_tables):
    again = wm.run_study(wm.TINY_PARAMS)
    for name, table in tiny_tables.items():
        pd.testing.assert_frame_equal(table, again[name], check_exact=True)
