"""Tests of the seed-001 companion study (Chen & Bruna, beyond the edge of stability)."""

import copy
import math
import warnings

import jsonschema
import numpy as np
import pandas as pd
import pytest
import torch

from sgd_spectra.companions import edge_of_stability as eos
from sgd_spectra.companions import edge_of_stability_factorisation as eof
from sgd_spectra.companions import edge_of_stability_orbits as eoo

VERDICTS = {"holds", "fails", "inconclusive"}


@pytest.fixture(scope="module")
def tiny_tables():
    return eos.run_study(eos.TINY_PARAMS)


# --- parameters ------------------------------------------------------------------------------------------
@pytest.mark.parametrize("name", ["DEFAULT_PARAMS", "TINY_PARAMS", "PAPER_PARAMS"])
def test_param_dicts_validate(name):
    jsonschema.validate(getattr(eos, name), eos.PARAMS_SCHEMA)


@pytest.mark.parametrize(
    "change",
    [
        dict(onedim_etas=[1.9]),  # the 1-D study lives above the threshold η = 2
        dict(sharp_cs=[1.1]),  # sharpness selection is a c < 1 experiment
        dict(mf_steps=10),
        dict(unknown_key=1),
    ],
)
def test_schema_rejects_bad_params(change):
    params = {**eos.DEFAULT_PARAMS, **change}
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(params, eos.PARAMS_SCHEMA)


def test_schema_rejects_missing_key():
    params = dict(eos.DEFAULT_PARAMS)
    del params["seed"]
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(params, eos.PARAMS_SCHEMA)


def test_spectrum_must_have_a_strict_top_direction():
    params = {**eos.TINY_PARAMS, "mf_spectrum": [1.0, 1.0, 0.5]}
    with pytest.raises(ValueError):
        eof.mf_tables(params)


# --- normal form -----------------------------------------------------------------------------------------
@pytest.mark.parametrize("name", list(eoo.ONE_D_LOSSES))
def test_derivative_closed_forms_match_finite_differences(name):
    loss, h = eoo.ONE_D_LOSSES[name], 1e-4
    for x in (0.0, 0.3, -0.7):
        for lower, upper in (("grad", "d2"), ("d2", "d3"), ("d3", "d4")):
            numeric = (loss[lower](x + h) - loss[lower](x - h)) / (2 * h)
            assert numeric == pytest.approx(float(loss[upper](x)), abs=1e-7)


def test_condition_values_of_the_two_1d_losses():
    values = {
        name: eoo.third_derivative_condition(*(float(loss[k](0.0)) for k in ("d2", "d3", "d4")))
        for name, loss in eoo.ONE_D_LOSSES.items()
    }
    assert values == {"log cosh": 2.0, "convex quartic": -1.0}


def test_condition_sign_is_the_sign_of_the_cubic_coefficient_at_threshold():
    rng = np.random.default_rng(0)
    for f2, f3, f4 in zip(rng.uniform(0.2, 3, 50), rng.normal(size=50), rng.normal(size=50)):
        _, alpha, beta = eoo.flip_bifurcation_coefficients(f2, f3, f4, 2 / f2)
        assert np.sign(alpha**2 + beta) == np.sign(eoo.third_derivative_condition(f2, f3, f4))


def test_leading_order_amplitude_of_an_asymmetric_cubic_gradient():
    """f' = x + a x²/2 + b x³/6 with a ≠ 0 (so α ≠ 0): GD's 2-cycle half-amplitude → √(μ/(α²+β)) as μ → 0."""
    a, b = 1.0, 1.0  # 3a² − b = 2 > 0
    etas = np.array([2.0005, 2.001, 2.002])
    last, diverged_at = eoo.gd_1d(lambda x: x + a * x**2 / 2 + b * x**3 / 6, etas, 0.01, 40_000, 1e6)
    assert (diverged_at < 0).all()
    period, _, swing = eoo.period_and_residuals(last)
    assert (period == 2).all()
    predicted = eoo.leading_order_half_amplitude(*eoo.flip_bifurcation_coefficients(1.0, a, b, etas))
    ratio = swing / 2 / predicted
    assert np.all(np.abs(ratio - 1) < 0.01)
    assert abs(ratio[0] - 1) < abs(ratio[-1] - 1)  # the error shrinks with μ


def test_period_detection_on_synthetic_orbits():
    steps = np.arange(eoo.MAX_PERIOD + 1)
    orbits = np.stack(
        [
            np.full(steps.size, 0.3),  # fixed point
            0.2 * (-1.0) ** steps,  # period 2
            np.array([0.1, 0.5, -0.2, 0.4])[steps % 4],  # period 4
            np.sin(1.3 * steps),
        ],
        axis=1,
    )  # not periodic
    period, period2_residual, swing = eoo.period_and_residuals(orbits)
    assert list(period) == [1, 2, 4, 0]
    assert period2_residual[1] == 0 and swing[1] == pytest.approx(0.4)


# --- (a) 1-D contrast ------------------------------------------------------------------------------------
def test_log_cosh_two_cycle_matches_leading_order_and_exact_root():
    etas = np.array([2.01, 2.02])
    last, diverged_at = eoo.gd_1d(np.tanh, etas, 0.05, 5_000, 1e6)
    assert (diverged_at < 0).all()
    assert np.all(np.abs(last[-1] - last[-3]) < 1e-10) and np.all(np.abs(last[-1] - last[-2]) > 1e-3)
    half = np.abs(last[-1] - last[-2]) / 2
    log_cosh = eoo.ONE_D_LOSSES["log cosh"]
    leading = eoo.leading_order_half_amplitude(
        *eoo.flip_bifurcation_coefficients(*(float(log_cosh[k](0.0)) for k in ("d2", "d3", "d4")), etas)
    )
    assert np.all(np.abs(half / leading - 1) < 0.02)
    for eta, h in zip(etas, half):
        root = eoo.log_cosh_two_cycle_half_amplitude(eta)
        assert root - eta * math.tanh(root) == pytest.approx(-root, abs=1e-14)  # g(x*) = −x*
        assert abs(h - root) < 1e-8


def test_quartic_diverges_above_and_converges_below_threshold_without_warnings():
    quartic = eoo.ONE_D_LOSSES["convex quartic"]["grad"]
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        last, diverged_at = eoo.gd_1d(quartic, np.array([1.9, 2.01, 2.1]), 0.05, 2_000, 1e6)
    assert diverged_at[0] == -1 and abs(last[-1, 0]) < 1e-12
    assert (diverged_at[1:] > 0).all()


# --- (b) matrix factorisation ----------------------------------------------------------------------------
def test_gradients_and_hvp_match_torch_autograd():
    rng = np.random.default_rng(1)
    d, r = 4, 2
    m = eof.mf_target(eof.haar_columns(rng, d, r), [1.0, 0.5])
    u, v, du, dv = (rng.standard_normal((d, r)) for _ in range(4))

    def loss(flat):
        uu, vv = flat[: d * r].reshape(d, r), flat[d * r :].reshape(d, r)
        return 0.5 * ((uu @ vv.T - torch.as_tensor(m)) ** 2).sum()

    flat = torch.as_tensor(np.concatenate([u.ravel(), v.ravel()]))
    grad = torch.autograd.functional.jacobian(loss, flat).numpy()
    hessian = torch.autograd.functional.hessian(loss, flat).numpy()
    np.testing.assert_allclose(
        np.concatenate([g.ravel() for g in eof.mf_gradients(u, v, m)]), grad, atol=1e-12
    )
    hvp = np.concatenate([h.ravel() for h in eof.mf_hvp(u, v, m, du, dv)])
    np.testing.assert_allclose(hvp, hessian @ np.concatenate([du.ravel(), dv.ravel()]), atol=1e-12)


def test_power_iteration_matches_dense_hessian_and_closed_form():
    rng = np.random.default_rng(2)
    d, spectrum = 4, [1.0, 0.5]
    q = eof.haar_columns(rng, d, 2)
    m = eof.mf_target(q, spectrum)
    u, v = eof.unbalanced_minimum(q, spectrum, 1.7)
    u, v = u + 1e-3 * rng.standard_normal(u.shape), v + 1e-3 * rng.standard_normal(v.shape)
    # dense Hessian from the HVP applied to the basis, cross-checked against torch above
    basis = np.eye(2 * d * 2).reshape(-1, 2, d, 2)
    dense = np.stack([np.concatenate([h.ravel() for h in eof.mf_hvp(u, v, m, e[0], e[1])]) for e in basis])
    assert np.allclose(dense, dense.T, atol=1e-12)
    lam, residual = eof.power_iteration_sharpness(
        u[None], v[None], m[None], np.random.default_rng(0), 5000, 1e-14
    )
    assert lam[0] == pytest.approx(np.linalg.eigvalsh(dense).max(), rel=1e-10)
    assert residual[0] < 1e-5
    u0, v0 = eof.unbalanced_minimum(q, spectrum, 1.7)
    lam0, _ = eof.power_iteration_sharpness(
        u0[None], v0[None], m[None], np.random.default_rng(0), 5000, 1e-14
    )
    assert lam0[0] == pytest.approx(1.0 * (1.7**2 + 1.7**-2), rel=1e-10)


def test_balanced_top_direction_follows_the_reduced_map_exactly():
    rng = np.random.default_rng(3)
    spectrum, sigma1, eta, s0 = np.array([1.3, 0.8, 0.5]), 1.3, 1.02 / 1.3, 1.2
    q = eof.haar_columns(rng, 7, 3)
    m = eof.mf_target(q, spectrum)
    root = np.sqrt(spectrum)
    root[0] = s0
    u = v = q * root
    s = s0
    for _ in range(30):
        gu, gv = eof.mf_gradients(u, v, m)
        u, v = u - eta * gu, v - eta * gv
        s = eof.reduced_map(s, eta, sigma1)
        assert eof.top_direction_scale(u, v, q[:, 0]) == pytest.approx(s, abs=1e-13)
        np.testing.assert_allclose(u, v, atol=1e-14)


def test_reduced_map_derivatives_and_two_cycle():
    """f = ¼(s² − σ1)² has f'' = 2σ1, f''' = 6√σ1, f'''' = 6 at √σ1; the exact 2-cycle is the iterated one."""
    sigma1 = 0.7
    poly = np.polynomial.Polynomial([sigma1**2, 0, -2 * sigma1, 0, 1]) / 4
    assert [poly.deriv(k)(math.sqrt(sigma1)) for k in (2, 3, 4)] == pytest.approx(
        [2 * sigma1, 6 * math.sqrt(sigma1), 6]
    )
    for c in (1.01, 1.04):
        assert eof.mf_leading_half_amplitude(c, sigma1) == pytest.approx(
            math.sqrt(sigma1) * math.sqrt(2 * (c - 1) / (c * (9 * c - 1))), rel=1e-12
        )
        s = math.sqrt(sigma1) * 1.01
        for _ in range(5_000):
            s = eof.reduced_map(s, c / sigma1, sigma1)
        iterated = abs(s - eof.reduced_map(s, c / sigma1, sigma1)) / 2
        assert eof.reduced_two_cycle_half_amplitude(c, sigma1) == pytest.approx(iterated, abs=1e-12)
    assert math.isnan(eof.reduced_two_cycle_half_amplitude(0.9, sigma1))


# --- the study end to end --------------------------------------------------------------------------------
def test_tiny_study_honest_tests(tiny_tables):
    one = tiny_tables["onedim_summary"]
    log_cosh, quartic = one[one.function == "log cosh"], one[one.function == "convex quartic"]
    assert log_cosh.is_period2.all() and quartic.diverged.all()
    assert ((log_cosh.measured_half_amplitude - log_cosh.exact_half_amplitude).abs() < 1e-8).all()
    mf = tiny_tables["mf_summary"]
    near = mf[(mf.c > 1) & (mf.c <= 1.05)]
    assert near.is_period2.all()
    assert (near.measured_half_amplitude / near.predicted_half_amplitude).between(0.97, 1.05).all()
    # the half-swing of the top singular value of UVᵀ (= s²) is twice that of s to leading order
    assert (near.top_singular_value_half_swing / near.measured_half_amplitude).between(1.8, 2.2).all()
    assert mf[mf.c < 1].converged.all() and not mf[mf.c >= 1.15].is_period2.any()
    sharp = tiny_tables["sharpness"]
    assert (sharp.initial_sharpness > sharp.threshold).all()
    done = sharp[sharp.converged]
    assert not done.empty and (done.final_sharpness <= done.threshold * (1 + 1e-3)).all()


def test_tiny_study_tables_and_claims(tiny_tables, tmp_path):
    for name, table in tiny_tables.items():
        assert not table.empty, name
        for column in table.columns[table.dtypes == object]:  # noqa: E721 (a pandas dtype mask)
            assert table[column].map(type).eq(str).all(), (name, column)
        table.to_parquet(tmp_path / f"{name}.parquet")
    rows = eos.study_claims(tiny_tables, eos.TINY_PARAMS)
    assert len(rows) >= 8
    assert {row["verdict"] for row in rows} <= VERDICTS
    assert all(
        row["claim_id"].startswith("001-") and row["section"] == "companion-edge_of_stability" for row in rows
    )


def test_claims_fail_when_the_measurement_is_off(tiny_tables):
    tables = copy.deepcopy(tiny_tables)
    tables["mf_summary"]["measured_half_amplitude"] *= 2  # e.g. measuring s² instead of s
    rows = {row["claim_id"]: row["verdict"] for row in eos.study_claims(tables, eos.TINY_PARAMS)}
    assert rows["001-mf-period2-amplitude"] == "fails" and rows["001-mf-reduction"] == "fails"


def test_run_study_is_deterministic(tiny_tables):
    again = eos.run_study(eos.TINY_PARAMS)
    assert again.keys() == tiny_tables.keys()
    for name in again:
        pd.testing.assert_frame_equal(again[name], tiny_tables[name], check_exact=True)
