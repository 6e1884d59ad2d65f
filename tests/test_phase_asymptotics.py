"""Fig. 3 centre and right (sgd_spectra.phase_asymptotics, eventual_divergence_study and
transition_study; theory.md §7, §10).

References are independent of the code under test: U(z) and the GD loss written out here,
generating_functions.divergence_rate (the unbinned eq. 24 root and prefactor), analytic curves with known
crossings, and gamma(b, N) from its formula.  Every claim gets an input built to make it fail.
"""

import copy
import math

import numpy as np
import pandas as pd
import pytest
from scipy.optimize import brentq
from scipy.special import gamma as gamma_fn

from sgd_spectra.claims import CLAIM_COLUMNS
from sgd_spectra.eventual_divergence_study import (
    eventual_divergence_run,
    eventual_divergence_study,
    exponential_fit,
    first_crossing,
    lrs_for_divergence_times,
    transition_x_star,
)
from sgd_spectra.generating_functions import divergence_rate
from sgd_spectra.io import read_json, write_json
from sgd_spectra.phase_asymptotics import (
    DIVERGENCE_EXPONENT_TOLERANCE,
    EVENTUAL_TRANSITION_TOLERANCE,
    phase_asymptotics_claims,
)
from sgd_spectra.spectra import binned_power_law
from sgd_spectra.theory import transition_time, u_at_one, v_at_one
from sgd_spectra.transition_study import (
    jackknife_transition,
    linearized_transition,
    nearest_batch,
    smoothed_transition_time,
)


def brute_u(z, lam, mult, lr, gamma):
    """U(z) at beta = tau = 0: gamma sum m a^2 z / (1 - z (1 - a)^2), a = lr lambda."""
    a = lr * lam
    return gamma * np.sum(mult * a**2 * z / (1 - z * (1 - a) ** 2))


# ------------------------------------------------------------------------------------------
# measurement helpers against analytic inputs
# ------------------------------------------------------------------------------------------


@pytest.mark.parametrize("nu, zeta", [(0.6, 0.5), (0.75, 0.5), (0.9, 0.8)])
def test_x_star_solves_its_equation(nu, zeta):
    x = transition_x_star(nu, zeta)
    assert x**zeta * math.exp(x) == pytest.approx((1 - nu) / (nu * gamma_fn(1 - zeta)), rel=1e-10)
    assert math.isnan(transition_x_star(nu, 1.2))  # x* needs zeta < 1


def test_exponential_fit_and_first_crossing_on_analytic_curves():
    t = np.arange(0, 2001.0)
    rate, log_p = exponential_fit(t, 3e-4 * np.exp(t / 250))
    assert rate == pytest.approx(1 / 250, rel=1e-10) and math.exp(log_p) == pytest.approx(3e-4, rel=1e-8)
    # C t^-zeta meets P e^(t/T) where zeta ln t + t/T = ln(C/P): solved here by brentq
    c, p, T, zeta = 1.0, 1e-3, 1000.0, 0.5
    exact = brentq(lambda x: zeta * math.log(x) + x / T - math.log(c / p), 1.0, 1e7)
    t = np.unique(np.round(np.geomspace(1, 1e5, 3000)))
    got = first_crossing(t, math.log(p) + t / T - np.log(c * t**-zeta))
    assert got == pytest.approx(exact, rel=1e-4)
    assert math.isnan(first_crossing(t, -np.ones_like(t)))  # never crosses


def test_lrs_for_divergence_times_hit_the_root_of_a_brute_force_u():
    spectrum = binned_power_law(0.75, 0.375, 10**15, bins=500)
    lrs = lrs_for_divergence_times(0.75, 1.0, [3000.0, 300.0], spectrum)
    assert lrs[0] < lrs[1]
    for lr, t_div in zip(lrs, [3000.0, 300.0]):
        r = math.exp(-1 / t_div)
        assert brute_u(r, spectrum[0], spectrum[2], lr, 1.0) == pytest.approx(1.0, abs=1e-6)
    # a divergence time no learning rate below 1.9 reaches is reported, not raised
    assert math.isnan(lrs_for_divergence_times(0.75, 1.0, [1e-3], spectrum)[0])


def test_eventual_divergence_run_against_unbinned_eq24_and_exact_gd():
    """An exact (unbinned) 20000-mode k^-0.6 law: generating_functions.divergence_rate gives r and the eq. (24)
    prefactor by its own root finder; the GD loss is written out here; their crossing is t_tr."""
    nu, kappa, lr = 0.6, 0.3, 0.05
    k = np.arange(1, 20001, dtype=np.float64)
    lam, c = k**-nu, k ** -(kappa + 1)
    ref = divergence_rate(lam, c, lr, 0.0, 1.0, 0.0, 1)
    got, t, loss = eventual_divergence_run(
        (lam, c, np.ones_like(lam)), nu, kappa, lr, 1.0, int(10 * ref["t_div"])
    )
    assert got["one_minus_r_measured"] == pytest.approx(1 - ref["r"], rel=1e-3)
    assert got["one_minus_r_root"] == pytest.approx(1 - ref["r"], rel=1e-8)
    assert got["t_div_measured"] == pytest.approx(ref["t_div"], rel=1e-3)
    assert got["prefactor_ratio"] == pytest.approx(1, abs=2e-3)
    gd = lambda x: 0.5 * np.sum(c * (1 - lr * lam) ** (2 * x))
    crossing = brentq(
        lambda x: math.log(gd(x)) - math.log(ref["prefactor"]) + x * math.log(ref["r"]), 1, ref["t_div"]
    )
    assert got["t_tr_measured"] == pytest.approx(crossing, rel=5e-3)
    assert loss[1][-1] == pytest.approx(gd(t[-1]), rel=1e-9)  # the gamma = 0 twin is exact GD
    assert got["x_star"] == transition_x_star(nu, kappa / nu)


def test_eventual_divergence_run_reports_a_convergent_spectrum():
    k = np.arange(1, 2001, dtype=np.float64)
    got, _, _ = eventual_divergence_run((k**-1.5, k**-1.75, np.ones(2000)), 1.5, 0.75, 0.1, 1.0, 2000)
    assert (
        math.isnan(got["one_minus_r_root"])
        and got["growth_measured"] < 0
        and math.isnan(got["t_tr_measured"])
    )


def test_eventual_divergence_study_exponents_are_fits_of_its_own_table():
    runs, theory, per_nu = eventual_divergence_study([0.75], 0.5, 1.0, [100, 1000], 3, 6)
    assert len(runs) == 3 and set(theory.nu) == {0.75}
    r = per_nu[0]
    slope = np.polyfit(np.log(runs.lr), np.log(runs.one_minus_r_measured), 1)[0]
    assert r["exponent_measured"] == pytest.approx(slope, rel=1e-12) and r["exponent_predicted"] == 4
    assert r["worst_rate_error"] < 1e-3
    np.testing.assert_allclose(runs.t_div_root, [1000, 316.2278, 100], rtol=1e-6)


def test_smoothed_transition_time_on_two_term_curves():
    nu, kappa, c_s, c_n = 1.5, 3.0, 1.0, 0.01
    zeta, p = kappa / nu, 2 - 1 / nu
    exact = (c_s / c_n) ** (1 / (zeta - p))  # 1000: the terms are equal
    t = np.unique(np.round(np.geomspace(1, 1e5, 300)))
    loss = c_s * t**-zeta + c_n * t**-p
    assert smoothed_transition_time(t, loss, nu, kappa, 10, 1e5) == pytest.approx(exact, rel=5e-3)
    # seed noise: 16 runs with 10% multiplicative noise correlated over a factor ~2 in t
    rng = np.random.default_rng(0)
    wiggle = np.array(
        [np.interp(np.log(t), np.linspace(0, np.log(1e5), 18), rng.normal(0, 0.1, 18)) for _ in range(16)]
    )
    got = jackknife_transition(t, loss * (1 + wiggle), nu, kappa, 10, 1e5)
    assert abs(got["t_trans"] / exact - 1) < 3 * got["t_trans_se"] / exact + 0.02 and got["t_trans_se"] > 0
    assert jackknife_transition(t, np.tile(loss, (3, 1)), nu, kappa, 10, 1e5)["t_trans_se"] == pytest.approx(
        0
    )
    # constructed failures: the window ends before the transition, or there is none (signal only)
    assert math.isnan(smoothed_transition_time(t, loss, nu, kappa, 10, exact / 3))
    assert math.isnan(smoothed_transition_time(t, c_s * t**-zeta, nu, kappa, 10, 1e5))


def test_nearest_batch_uses_the_project_gamma():
    b, g = nearest_batch(2000, 0.03)
    assert b == 33 and g == pytest.approx((2000 - 33) / (33 * 1999), rel=1e-14)
    assert nearest_batch(100, 1.0) == (1, 1.0) and nearest_batch(100, 0.0) == (100, 0.0)


def test_linearized_transition_small_problem():
    """N = 300: k* = N/10 at t = 164, before t_trans ~ 800, so nothing is read there (and the claim
    says so); the predictions are eq. (29) with the problem's own U(1), V(1)."""
    curves, s = linearized_transition(1.5, 3.0, 0.5, 0.03, 300, 3, 400)
    assert set(curves.regime) == {"linearized", "se_finite", "se_infinite"}
    assert s["batch"] == 30 and s["gamma"] == pytest.approx(270 / (30 * 299))  # 33 would give 0.0271
    k = np.arange(1, 301, dtype=np.float64)
    lam, c = k**-1.5, k**-4.0 / np.sum(k**-4.0)
    u1, v1 = u_at_one(lam, 0.5, 0, s["gamma"], -1.0), v_at_one(lam, c, 0.5, 0, s["gamma"], -1.0, 300)
    K = 1 / (3 * 300 * np.sum(k**-4.0))
    pred = transition_time(1.5, 3.0, 1.0, K, 0.5, 0.0, s["gamma"], u1, v1)
    assert s["linearized"]["t_trans_predicted"] == pytest.approx(pred, rel=1e-12)
    assert s["fit_t_max"] == pytest.approx(30**1.5) and math.isnan(s["linearized"]["t_trans_measured"])
    lin = curves[curves.regime == "linearized"]
    assert lin.loss.iloc[0] == pytest.approx(1 / 600) and lin.loss_sem.iloc[1:].gt(0).all()
    row = phase_asymptotics_claims(
        dict(eventual_divergence=dict(EVENTUAL, per_nu=[], runs=[]), transition=s)
    )[0]
    assert row["claim_id"] == "transition_time_linearized" and row["verdict"] == "inconclusive"


# ------------------------------------------------------------------------------------------
# claims: each can fail
# ------------------------------------------------------------------------------------------

EVENTUAL = dict(gamma=1.0, zeta=0.5, t_div_range=[200, 50000], lr_points=2, run_tdivs=10, n_modes=1e18)


def fake_summary():
    runs = [
        dict(
            nu=0.75,
            lr=lr,
            one_minus_r_measured=e,
            one_minus_r_root=e,
            one_minus_r_closed_form=e,
            rate_ratio=1.0,
            t_tr_measured=t,
            t_tr_predicted=t,
            t_tr_asymptotes=t,
            t_twice_noiseless=2 * t,
            x_star=0.033,
            t_div_root=t / 0.033,
        )
        for lr, e, t in [(0.03, 2e-5, 1650.0), (0.1, 2e-3, 16.5)]
    ]
    per_nu = [
        dict(
            nu=0.75,
            kappa=0.375,
            lr_min=0.03,
            lr_max=0.1,
            exponent_predicted=4.0,
            exponent_measured=4.0,
            exponent_root=4.0,
            closed_over_root_at_smallest_lr=1.0,
        )
    ]
    transition = dict(
        nu=1.5,
        kappa=3.0,
        lr=0.5,
        batch=33,
        gamma=0.0298,
        tau=-1.0,
        n_samples=2000,
        seeds=32,
        seeds_diverged=0,
        fit_t_min=11.2,
        fit_t_max=2828.0,
        t_k_star_equals_n=89443.0,
        linearized=dict(t_trans_predicted=795.0, t_trans_measured=800.0, t_trans_measured_se=20.0),
        se_finite=dict(t_trans_measured=801.0),
        se_infinite=dict(t_trans_measured=792.0),
    )
    return dict(eventual_divergence=dict(EVENTUAL, per_nu=per_nu, runs=runs), transition=transition)


def verdicts(summary):
    return {r["claim_id"]: r["verdict"] for r in phase_asymptotics_claims(summary)}


def test_claims_hold_on_agreeing_numbers_and_survive_json(tmp_path):
    rows = phase_asymptotics_claims(fake_summary())
    assert [r["claim_id"] for r in rows] == [
        "eventual_divergence_exponent",
        "eventual_divergence_rate",
        "eventual_transition_time",
        "transition_time_linearized",
    ]
    assert all(
        set(r) == set(CLAIM_COLUMNS) and r["section"] == "theory" and r["verdict"] == "holds" for r in rows
    )
    s = fake_summary()
    s["transition"]["linearized"]["t_trans_measured_se"] = math.nan  # written as "nan"
    write_json(tmp_path / "s.json", s)
    assert verdicts(read_json(tmp_path / "s.json"))["transition_time_linearized"] == "holds"


def test_each_claim_can_fail():
    s = fake_summary()
    s["eventual_divergence"]["per_nu"][0]["exponent_measured"] = 4.0 * (1 - 2 * DIVERGENCE_EXPONENT_TOLERANCE)
    assert verdicts(s)["eventual_divergence_exponent"] == "fails"
    s = fake_summary()
    s["eventual_divergence"]["runs"][1]["rate_ratio"] = 1.05  # one run off by 5%
    assert verdicts(s)["eventual_divergence_rate"] == "fails"
    s = fake_summary()  # judged at the smallest alpha
    s["eventual_divergence"]["runs"][0]["t_tr_measured"] = 1650.0 * (1 + 2 * EVENTUAL_TRANSITION_TOLERANCE)
    assert verdicts(s)["eventual_transition_time"] == "fails"
    s["eventual_divergence"]["runs"][0]["t_tr_measured"] = 1650.0
    s["eventual_divergence"]["runs"][1]["t_tr_measured"] = 1e4  # a larger alpha does not decide
    assert verdicts(s)["eventual_transition_time"] == "holds"
    s = fake_summary()
    s["transition"]["linearized"]["t_trans_measured"] = 1200.0  # 51% off, tolerance 10% + 2 x 2.5%
    assert verdicts(s)["transition_time_linearized"] == "fails"
    s["transition"]["linearized"]["t_trans_measured"] = math.nan  # predicted inside, nothing measured
    assert verdicts(s)["transition_time_linearized"] == "fails"


def test_claims_without_data_are_inconclusive():
    s = fake_summary()
    s["eventual_divergence"]["per_nu"][0]["exponent_measured"] = math.nan
    s["eventual_divergence"]["runs"] = []
    got = verdicts(s)
    assert got["eventual_divergence_exponent"] == got["eventual_divergence_rate"] == "inconclusive"
    assert got["eventual_transition_time"] == "inconclusive"
    s = copy.deepcopy(fake_summary())
    s["transition"]["linearized"]["t_trans_predicted"] = 5000.0  # past k* = N/10: not read
    assert verdicts(s)["transition_time_linearized"] == "inconclusive"
    assert isinstance(pd.DataFrame(phase_asymptotics_claims(s)), pd.DataFrame)
