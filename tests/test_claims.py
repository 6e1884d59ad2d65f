"""Every claim type can fail, and fails for the right reason: each test builds an input on which the
verdict must be "fails" (and its honest twin on which it must hold), so no verdict is a constant."""

import numpy as np
import pandas as pd
import pytest

from sgd_spectra import claims as cl
from sgd_spectra import curve_claims as cc
from sgd_spectra import deep_kernel_claims as dk
from sgd_spectra import experiment_claims as ec
from sgd_spectra import hyperparameter_claims as hc
from sgd_spectra.io import curves_frame

STEPS = np.unique(np.round(np.geomspace(1, 1000, 60)).astype(int))
SETTING = dict(lr=1.0, momentum=0.0, batch=10)


def power_curve(slope, **labels):
    loss = (1.0 + STEPS) ** slope
    return curves_frame(loss[None], STEPS, [-1], **{**SETTING, **labels})


def curves(lin_slope, se_slope, taus=(-1.0, 1.0)):
    frames = [power_curve(lin_slope, regime="linearized", seed=s) for s in range(3)]
    frames += [power_curve(se_slope if t == 1.0 else se_slope - 0.5, regime="se", tau=t) for t in taus]
    return pd.concat(frames, ignore_index=True)


def theory(predicted, err=0.01, stable=True):
    return {
        "settings": [
            dict(
                SETTING,
                tau=t,
                stable=stable,
                late_slope_predicted=predicted,
                late_slope_err=err,
                late_fit_range=[10, 100],
            )
            for t in (-1.0, 1.0)
        ]
    }


def verdicts(rows):
    return {r["claim_id"]: r["verdict"] for r in rows}


def test_late_slope_claims_fail_each_for_its_own_reason():
    c = curves(-0.5, -0.5)
    assert verdicts(cc.slope_claims("d", c, cl.mean_curves(c), theory(-0.5), 1.0, "rule")) == {
        "late_slope_se": "holds",
        "late_time_exponent": "holds",
    }
    # SE has the wrong slope: the approximation fails, the spectrum's prediction still holds
    c = curves(-0.5, -0.8)
    assert verdicts(cc.slope_claims("d", c, cl.mean_curves(c), theory(-0.5), 1.0, "rule")) == {
        "late_slope_se": "fails",
        "late_time_exponent": "holds",
    }
    # the spectrum predicts the wrong slope: Theorem 2 fails, SE still tracks
    c = curves(-0.5, -0.5)
    assert verdicts(cc.slope_claims("d", c, cl.mean_curves(c), theory(-0.2), 1.0, "rule")) == {
        "late_slope_se": "holds",
        "late_time_exponent": "fails",
    }
    # a large fit uncertainty widens the tolerance, as propagated: sqrt(0.1^2 + (2 * 0.2)^2) > 0.3
    assert (
        verdicts(cc.slope_claims("d", c, cl.mean_curves(c), theory(-0.2, err=0.2), 1.0, "rule"))[
            "late_time_exponent"
        ]
        == "holds"
    )


def test_late_slope_is_judged_with_the_a_priori_tau():
    c = curves(-1.0, -0.5)  # SE(tau=-1) has slope -1.0 = linearized, SE(tau=+1) does not
    assert (
        verdicts(cc.slope_claims("d", c, cl.mean_curves(c), theory(-1.0), -1.0, "rule"))["late_slope_se"]
        == "holds"
    )
    assert (
        verdicts(cc.slope_claims("d", c, cl.mean_curves(c), theory(-1.0), 1.0, "rule"))["late_slope_se"]
        == "fails"
    )


def test_tracking_is_judged_with_the_a_priori_tau_not_the_best():
    c = curves(-1.0, -0.5)
    rows = cc.tracking_claims("d", c, cl.mean_curves(c), 1.0, "rule")
    assert verdicts(rows)["se_tracks_linearized"] == "fails"  # tau = -1 would fit, but was not chosen
    rows = cc.tracking_claims("d", c, cl.mean_curves(c), -1.0, "rule")
    assert verdicts(rows)["se_tracks_linearized"] == "holds"


def test_theorem2_claim_fails_on_a_wrong_slope():
    t2 = dict(
        predicted=-0.5,
        predicted_err=0.01,
        measured=-0.52,
        nu=1.5,
        kappa=0.75,
        steps=100000,
        n_modes=1e6,
        lr=1.0,
        gamma=0.1,
    )
    assert verdicts(cl.theorem2_claims("d", {"theorem2": t2}))["theorem2_asymptote"] == "holds"
    assert (
        verdicts(cl.theorem2_claims("d", {"theorem2": dict(t2, measured=-0.8)}))["theorem2_asymptote"]
        == "fails"
    )
    nan = dict(t2, predicted=float("nan"), measured=float("nan"))
    assert verdicts(cl.theorem2_claims("d", {"theorem2": nan}))["theorem2_asymptote"] == "inconclusive"


def test_a_priori_tau_rules():
    assert cl.a_priori_tau({"kind": "synthetic"})[0] == -1.0
    assert cl.a_priori_tau({"kind": "digits"})[0] == 1.0
    distances = pd.DataFrame(
        {
            "batch": [10, 10, 10, 100],
            "regime": "se",
            "tau": [-1.0, 1.0, 2.0, -1.0],
            "distance": [0.05, 0.02, 0.01, 0.001],
        }
    )
    assert cl.a_priori_tau({"kind": "digits"}, distances)[0] == 2.0  # best at the smallest b
    assert cl.a_priori_tau({"kind": "digits"}, distances, allowed=[-1.0, 0.0, 1.0])[0] == 1.0


def test_tabular_data_is_judged_like_real_data_but_not_as_images():
    tabular = {"kind": "tabular"}
    assert cl.data_modality(tabular) == "tabular"
    assert [cl.data_modality({"kind": k}) for k in ("digits", "fashion_mnist", "user", "synthetic")] == [
        "image",
        "image",
        "image",
        "synthetic",
    ]
    tau, rule = cl.a_priori_tau(tabular)
    assert tau == 1.0 and "tabular" in rule and "image" not in rule  # the real-data rule, labelled as tabular
    distances = pd.DataFrame(
        {"batch": [10, 10], "regime": "se", "tau": [-1.0, 1.0], "distance": [0.01, 0.02]}
    )
    assert cl.a_priori_tau(tabular, distances)[0] == -1.0  # the regime comparison first, as for images
    rows = distances.assign(max_z=np.nan, seeds=10)
    out = {r["claim_id"]: r for r in ec.regime_claims("diabetes", rows, cl.data_modality(tabular) == "image")}
    assert out["regime_best_tau"]["verdict"] == "inconclusive"  # the paper's τ = +1 claim is about MNIST


def critical_table(measured, tau_plus, tau_minus):
    return pd.DataFrame(
        {
            "batch": [1, 10, 1000],
            "momentum": 0.0,
            "gamma": [1.0, 0.1, 0.0],
            "lr_noiseless_bound": 2.0,
            "lr_critical_measured": [measured, 2 * measured, 2.0],
            "lr_critical_tau1": [tau_plus, 2 * tau_plus, 2.0],
            "lr_critical_tau-1": [tau_minus, 2 * tau_minus, 2.0],
            "measured_by": "test",
        }
    )


def test_critical_lr_claims_fail_when_the_prediction_misses():
    table = critical_table(0.5, 0.51, 0.8)
    assert verdicts(ec.critical_lr_claims("d", table, 1.0))["critical_lr_vs_batch"] == "holds"
    assert verdicts(ec.critical_lr_claims("d", table, -1.0))["critical_lr_vs_batch"] == "fails"
    assert verdicts(ec.critical_lr_claims("d", table, 0.0))["critical_lr_vs_batch"] == "inconclusive"


def test_tau_plus1_misses_haar_claim():
    synthetic = {"kind": "synthetic"}
    assert (
        verdicts(ec.tau_claims("d", critical_table(0.5, 0.75, 0.5), synthetic))["tau_plus1_misses_haar"]
        == "holds"
    )
    # tau = +1 fits the Haar problem: the claim fails
    assert (
        verdicts(ec.tau_claims("d", critical_table(0.5, 0.5, 0.5), synthetic))["tau_plus1_misses_haar"]
        == "fails"
    )
    assert ec.tau_claims("d", critical_table(0.5, 0.75, 0.5), {"kind": "digits"}) == []


def fit_summary(r2=0.999, err=0.01):
    f = dict(
        exponent=1.5,
        exponent_err=err,
        prefactor=1.0,
        k_min=5,
        k_max=50,
        r2=r2,
        rms_log_residual=0.01,
        sub_exponents=[1.5, 1.5, 1.5],
    )
    return {"nu": f, "kappa": dict(f, exponent=0.75), "kappa_truncated_model": 0.75}


def test_power_law_and_fit_recovery_claims_fail():
    meta = {"kind": "synthetic", "nu": 1.5, "kappa": 0.75}
    good = verdicts(cl.power_law_claims("d", fit_summary(), meta))
    assert good == {"power_law_nu": "holds", "power_law_kappa": "holds", "fit_recovers_exponents": "holds"}
    bad = verdicts(cl.power_law_claims("d", fit_summary(r2=0.5, err=0.5), dict(meta, kappa=1.5)))
    assert bad == {"power_law_nu": "fails", "power_law_kappa": "fails", "fit_recovers_exponents": "fails"}


def test_stability_claim_fails_on_a_wrong_prediction():
    c = curves(-0.5, -0.5)
    assert (
        verdicts(cc.stability_claims("d", c, theory(-0.5, stable=True), 1.0))["stability_linearized"]
        == "holds"
    )
    assert (
        verdicts(cc.stability_claims("d", c, theory(-0.5, stable=False), 1.0))["stability_linearized"]
        == "fails"
    )


def test_bisection_claim_fails_when_off():
    smap = pd.DataFrame(
        {"batch": [10], "momentum": [0.0], "lr_critical": [1.0], "lr_critical_se_bisection": [1.001]}
    )
    assert verdicts(cl.bisection_claims("d", smap))["critical_lr_closed_form"] == "holds"
    assert (
        verdicts(cl.bisection_claims("d", smap.assign(lr_critical_se_bisection=1.02)))[
            "critical_lr_closed_form"
        ]
        == "fails"
    )


def test_kinds_keep_checks_out_of_the_paper_claims():
    assert cl.claim_row("critical_lr_closed_form", *"abcdefg")["kind"] == "check"
    assert cl.claim_row("late_time_exponent", *"abcdefg")["kind"] == "paper"
    assert set(cl.CLAIM_COLUMNS) == set(cl.claim_row("x", *"abcdefg"))


@pytest.mark.parametrize(
    "phase,ratios,expected",
    [("signal-dominated", [1.0, 1.1, 3.0], "holds"), ("signal-dominated", [1.0, 2.0, 3.0], "fails")],
)
def test_budget_claim_fails_when_losses_differ(phase, ratios, expected):
    rows = []
    for b, r, lr_eff in zip([1, 4, 256], ratios, [1.0, 4.0, 4.0]):
        rows.append(
            pd.DataFrame(
                {
                    "regime": "linearized",
                    "batch": b,
                    "seed": 0,
                    "samples": [500, 1000],
                    "loss": [r, r],
                    "lr_eff_critical": lr_eff,
                }
            )
        )
    table = pd.concat(rows, ignore_index=True)
    assert verdicts(ec.budget_claims("d", table, phase))["budget_independence"] == expected


def momentum_optima(slopes, supported):
    return pd.DataFrame(
        {
            "nu": 1.5,
            "kappa": [2.5, 3.5],
            "scan": "momentum",
            "lr_opt": 0.2,
            "momentum_opt": -0.1,
            "gain": 0.98,
            "dlogL_dbeta": slopes,
            "criterion_lr": 0.1,
            "criterion_derived": 0.05,
            "criterion_derived_sign": 1,
            "criterion_small_lr_sign": 1,
            "criterion_notebook_sign": -1,
            "supported_sign": supported,
            "lr_printed": np.nan,
        }
    )


def test_momentum_claims_fail_for_a_wrong_sign_or_no_effect():
    ok = verdicts(hc.hyperparameter_claims(momentum_optima([0.05, 0.08], ["negative", "negative"]), 10, 10))
    assert ok == {"momentum_sign_criterion": "holds", "negative_momentum": "holds"}
    # a gain below the minimum effect: the sign still holds, "negative momentum helps" does not
    none = verdicts(hc.hyperparameter_claims(momentum_optima([0.05, 0.08], ["negative", "none"]), 10, 10))
    assert none == {"momentum_sign_criterion": "holds", "negative_momentum": "fails"}
    wrong = verdicts(
        hc.hyperparameter_claims(momentum_optima([0.05, -0.08], ["negative", "negative"]), 10, 10)
    )
    assert wrong["momentum_sign_criterion"] == "fails"


def test_printed_optimal_lr_claim_fails_when_off():
    optima = pd.DataFrame(
        {"nu": [1.5], "kappa": [4.0], "scan": "lr", "lr_opt": [0.113], "lr_printed": [0.113]}
    )
    assert verdicts(hc.hyperparameter_claims(optima, 10, 10))["optimal_lr"] == "holds"
    assert verdicts(hc.hyperparameter_claims(optima.assign(lr_opt=0.2), 10, 10))["optimal_lr"] == "fails"


def loss_map_table(exact_shift):
    lrs, moms = np.linspace(0.2, 4.0, 20), [-0.5, 0.0, 0.5]
    rows = [
        dict(
            lr=a,
            momentum=m,
            steps=100,
            batch=10,
            loss_linearized=a * (1 - m),
            loss_se=a * (1 - m),
            converged_linearized=True,
            converged_se=True,
            lr_critical=2 * (1 + m),
            **{"lr_critical_tau1": 2 * (1 + m), "lr_critical_tau-1": 1 + m},
            lr_critical_exact=2 * (1 + m) + exact_shift,
        )
        for a in lrs
        for m in moms
    ]
    return pd.DataFrame(rows)


def test_loss_map_boundary_claim_fails_when_the_exact_boundary_is_elsewhere():
    fit = {"phase": "signal-dominated"}
    assert verdicts(ec.loss_map_claims("d", loss_map_table(0.1), fit, 1.0))["loss_map_boundary"] == "holds"
    assert verdicts(ec.loss_map_claims("d", loss_map_table(0.5), fit, 1.0))["loss_map_boundary"] == "fails"
    assert verdicts(ec.loss_map_claims("d", loss_map_table(0.1), fit, -1.0))["loss_map_boundary"] == "fails"
    # the optimum (smallest loss) sits at beta = 0.5 > 0: right in the signal phase, wrong in the noise phase
    assert verdicts(ec.loss_map_claims("d", loss_map_table(0.1), fit))["loss_map_optimal_momentum"] == "holds"
    assert (
        verdicts(ec.loss_map_claims("d", loss_map_table(0.1), {"phase": "noise-dominated"}))[
            "loss_map_optimal_momentum"
        ]
        == "fails"
    )


def test_near_boundary_claim_fails_when_stability_is_on_the_wrong_side():
    table = pd.DataFrame(
        {
            "batch": 10,
            "momentum": 0.0,
            "tau": 1.0,
            "fraction": [0.9, 1.1],
            "lr": [0.9, 1.1],
            "seeds": 64,
            "steps": 100,
            "mean_loss_half": [1.0, 1.0],
            "mean_loss_end": [0.5, 2.0],
            "log_ratio": [-0.69, 0.69],
            "log_ratio_se": 0.1,
            "diverged_seeds": 0,
            "stability_measured": ["stable", "unstable"],
        }
    )
    assert verdicts(ec.near_boundary_claims("d", table))["stability_near_boundary"] == "holds"
    flipped = table.assign(stability_measured=["stable", "stable"])  # still converging above alpha_c
    assert verdicts(ec.near_boundary_claims("d", flipped))["stability_near_boundary"] == "fails"
    noisy = table.assign(stability_measured=["undetermined", "unstable"])  # a rise within the noise
    assert verdicts(ec.near_boundary_claims("d", noisy))["stability_near_boundary"] == "inconclusive"
    assert verdicts(ec.near_boundary_claims("d", table, -1.0))["stability_near_boundary"] == "inconclusive"


def asymptotics_summary(inside=True, tight=True, rate_ok=True, transition_ok=True, noise=True):
    return {
        "asymptotics": {
            "prop4": {
                "lambda_crit": 1.0,
                "all_inside": inside,
                "tight": tight,
                "table": [dict(momentum=0.0, lr_lower=0.5, lr_critical=0.6, lr_upper=0.7, ratio=0.9)],
            },
            "divergence": {
                "growth_predicted": 0.1,
                "growth_measured": 0.1 if rate_ok else 0.2,
                "rate_ratio": 1.0,
                "agrees": rate_ok,
                "lr": 1.0,
                "steps": 100,
            },
            "transition": {
                "predicted": 800.0,
                "measured": 790.0,
                "ratio": 0.99,
                "agrees": transition_ok,
                "nu": 1.5,
                "kappa": 3.0,
                "lr": 0.5,
                "gamma": 0.03,
            }
            if noise
            else None,
        }
    }


def test_asymptotics_claims_fail_each_alone():
    ok = verdicts(cl.asymptotics_claims("d", asymptotics_summary()))
    assert ok == {"prop4_bounds": "holds", "divergence_rate": "holds", "transition_time": "holds"}
    assert verdicts(cl.asymptotics_claims("d", asymptotics_summary(tight=False)))["prop4_bounds"] == "fails"
    assert (
        verdicts(cl.asymptotics_claims("d", asymptotics_summary(rate_ok=False)))["divergence_rate"] == "fails"
    )
    bad = verdicts(cl.asymptotics_claims("d", asymptotics_summary(transition_ok=False)))
    assert bad["transition_time"] == "fails" and bad["divergence_rate"] == "holds"
    assert (
        verdicts(cl.asymptotics_claims("d", asymptotics_summary(noise=False)))["transition_time"]
        == "inconclusive"
    )


def _fig2_map(lin_cell, se_cell, lr_points=100, momentum_points=50, steps=10_000):
    """A loss map on the paper's grid whose linearized and SE optima sit at the given cells."""
    from sgd_spectra.experiments import paper_fig2_grid

    lrs, momenta = paper_fig2_grid()
    lrs, momenta = np.linspace(lrs[1], 4.0, lr_points), np.linspace(-1, 1, momentum_points)
    a, b = np.meshgrid(lrs, momenta, indexing="ij")
    full_lrs, full_momenta = paper_fig2_grid()

    def bowl(cell):
        return 1 + (a - full_lrs[cell[0]]) ** 2 + (b - full_momenta[cell[1]]) ** 2

    return pd.DataFrame(
        {
            "lr": a.ravel(),
            "momentum": b.ravel(),
            "batch": 10,
            "steps": steps,
            "loss_linearized": bowl(lin_cell).ravel(),
            "converged_linearized": True,
            "loss_se": bowl(se_cell).ravel(),
            "converged_se": True,
        }
    )


def test_fig2_optimum_claims_fail_off_the_printed_cells():
    meta = {"kind": "synthetic", "nu": 1.5, "kappa": 3.0, "n_samples": 1000}
    se = {"lr_index": 18, "momentum_index": 21, "lr": 0.727, "momentum": -0.143}

    def verdicts(rows):
        return [r["verdict"] for r in rows]

    assert verdicts(hc.fig2_optimum_claims(se, {})) == ["holds"]
    assert verdicts(hc.fig2_optimum_claims(dict(se, lr_index=20), {})) == ["fails"]
    rows = hc.fig2_optimum_claims(se, {"s": (_fig2_map((23, 21), (18, 22)), meta)})
    assert verdicts(rows) == ["holds", "holds"]
    rows = hc.fig2_optimum_claims(se, {"s": (_fig2_map((26, 23), (18, 21)), meta)})  # linearized 4 cells off
    assert rows[1]["verdict"] == "fails"
    rows = hc.fig2_optimum_claims(se, {"s": (_fig2_map((22, 23), (15, 21)), meta)})  # SE 3 cells off
    assert rows[1]["verdict"] == "fails"
    coarse = hc.fig2_optimum_claims(se, {"s": (_fig2_map((22, 23), (18, 21), 20, 11, 2000), meta)})
    assert coarse[1]["verdict"] == "inconclusive" and "T = 2000" in coarse[1]["measurement"]
    other = dict(meta, kappa=0.75)  # a map of another problem is not compared
    assert len(hc.fig2_optimum_claims(se, {"s": (_fig2_map((22, 23), (18, 21)), other)})) == 1


def deep_summary(error=0.05, converged=True):
    return {
        "model": "cnn",
        "dataset": "digits",
        "tau": 1.0,
        "steps": 100,
        "lr": 1.0,
        "momentum": 0.0,
        "batch": 10,
        "seeds": 5,
        "lr_critical_setting": 1.9,
        "tracking_error": error,
        "linearized_converged": converged,
        "loss_final_se": 0.2,
        "loss_final_linearized": 0.21,
        "loss0": 0.5,
    }


def test_deep_kernel_tracking_claim_fails_when_se_misses():
    assert (
        verdicts(dk.deep_kernel_claims(deep_summary(0.05), critical_table(0.5, 0.51, 0.8)))[
            "deep_se_tracks_linearized"
        ]
        == "holds"
    )
    assert (
        verdicts(dk.deep_kernel_claims(deep_summary(0.3), critical_table(0.5, 0.51, 0.8)))[
            "deep_se_tracks_linearized"
        ]
        == "fails"
    )
    assert (
        verdicts(dk.deep_kernel_claims(deep_summary(0.05, converged=False), critical_table(0.5, 0.51, 0.8)))[
            "deep_se_tracks_linearized"
        ]
        == "inconclusive"
    )


def test_deep_kernel_critical_lr_claim_fails_when_the_prediction_misses():
    rows = dk.deep_kernel_claims(deep_summary(), critical_table(0.5, 0.51, 0.8))
    assert verdicts(rows)["deep_critical_lr_vs_batch"] == "holds"
    row = next(r for r in rows if r["claim_id"] == "deep_critical_lr_vs_batch")
    assert np.isfinite([row["predicted_value"], row["measured_value"], row["tolerance_value"]]).all()
    assert row["section"] == dk.DEEP_KERNEL_SECTION and row["dataset"] == "cnn on digits"
    # U(1) = 1 with tau = +1 predicts 0.8 where the exact second moments give 0.5
    assert (
        verdicts(dk.deep_kernel_claims(deep_summary(), critical_table(0.5, 0.8, 0.5)))[
            "deep_critical_lr_vs_batch"
        ]
        == "fails"
    )
