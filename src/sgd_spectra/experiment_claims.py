"""Claims of the paper's experiments (regimes, loss maps, critical learning rate, near-boundary
stability, budget, optimal hyper-parameters), with verdicts; rows as in :mod:`sgd_spectra.claims`.

Each function takes one experiment's tidy table (and, where a verdict needs one, the dataset's
a-priori tau from :func:`sgd_spectra.claims.a_priori_tau`) and returns claim rows.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd

from .claims import claim_row

#: Loss maps: the measured divergence boundary may sit this many grid cells from the predicted one.
BOUNDARY_CELLS = 1
#: Optimal learning rates may differ from the paper's printed values by this fraction.
PRINTED_LR_TOLERANCE = 0.05


def loss_map_claims(
    dataset: str, table: pd.DataFrame, fit: dict, tau: float = 1.0, tau_rule: str = "τ = +1"
) -> list[dict]:
    """Fig. 2: the divergence boundary of the expected loss over (alpha, beta) -- from the exact
    second moments, not a sampled path -- lies on alpha_c(beta) of U(1) = 1 with the a-priori tau,
    within one grid cell; and the best momentum is negative in the noise phase (positive in the
    signal phase)."""
    batch = int(table.batch.iloc[0])
    lrs = np.sort(table.lr.unique())
    cell = float(np.median(np.diff(lrs))) if len(lrs) > 1 else math.inf
    per_beta = table.drop_duplicates("momentum").sort_values("momentum")
    column = predicted_column(tau)
    if column not in per_beta:
        return [
            claim_row(
                "loss_map_boundary",
                "The expected loss diverges where the predicted boundary α_c(β) says",
                dataset,
                "paper §5 and Fig. 2",
                f"τ = {tau:+g} ({tau_rule})",
                f"τ = {tau:+g} not in the map",
                "—",
                "inconclusive",
                section="experiments",
            )
        ]
    predicted = per_beta[column]
    off = (predicted - per_beta.lr_critical_exact) / cell
    worst = int(np.argmax(np.abs(off.to_numpy())))
    rows = [
        claim_row(
            "loss_map_boundary",
            "The expected loss diverges where the predicted boundary α_c(β) says",
            dataset,
            "paper §5 and Fig. 2",
            f"α_c(β) from U(1) = 1 with τ = {tau:+g} ({tau_rule}), b = {batch}, on a {len(lrs)} × "
            f"{table.momentum.nunique()} grid",
            f"α_c(β) of the exact second moments at {len(per_beta)} momenta: "
            + "; ".join(
                f"β={m:.2f}: {e:.3f} vs {p_:.3f}"
                for m, e, p_ in zip(per_beta.momentum, per_beta.lr_critical_exact, predicted)
            )
            + f"; worst {off.iloc[worst]:+.2f} cells at β = {per_beta.momentum.iloc[worst]:.2f}",
            f"≤ {BOUNDARY_CELLS} grid cell (Δα = {cell:.3g})",
            "holds" if np.abs(off).max() <= BOUNDARY_CELLS else "fails",
            section="experiments",
            predicted_value=predicted.iloc[worst],
            measured_value=per_beta.lr_critical_exact.iloc[worst],
            tolerance_value=BOUNDARY_CELLS * cell,
        )
    ]
    noise = fit["phase"] == "noise-dominated"
    from .experiments import loss_map_optimum

    best = {regime: loss_map_optimum(table, regime) for regime in ("linearized", "se")}
    signs_ok = all((b.momentum < 0) if noise else (b.momentum > 0) for b in best.values())
    rows.append(
        claim_row(
            "loss_map_optimal_momentum",
            "The best momentum is negative in the noise phase and positive in the signal phase",
            dataset,
            "paper §6 (Prop. 5) and Fig. 2",
            f"{fit['phase']}: optimal β {'< 0' if noise else '> 0'}",
            "grid optimum: "
            + "; ".join(
                f"{'linearised' if r == 'linearized' else 'SE'} α = {b.lr:.2f}, β = {b.momentum:.2f}"
                for r, b in best.items()
            ),
            "sign of β",
            "holds" if signs_ok else "fails",
            section="experiments",
        )
    )
    return rows


def hyperparameter_claims(optima: pd.DataFrame, steps: int, n_samples: int) -> list[dict]:
    """Fig. 6: the optimal learning rates printed by the authors, and the benefit of negative
    momentum in the noise phase, both by direct SE simulation at the paper's horizon."""
    rows = []
    for r in optima[optima.scan == "lr"].itertuples():
        if pd.isna(r.lr_printed):
            continue
        rel = r.lr_opt / r.lr_printed - 1
        rows.append(
            claim_row(
                "optimal_lr",
                f"The optimal learning rate for ν = {r.nu:g}, κ = {r.kappa:g} is the printed one",
                "power law",
                "paper Fig. 6 (LossDerivative notebook)",
                f"α_opt = {r.lr_printed:g} (N = 10⁴, b = 1, T = 10⁴, β = 0)",
                f"α_opt = {r.lr_opt:.4f} ({100 * rel:+.1f}%) by SE simulation, N = {n_samples}, T = {steps}",
                f"± {100 * PRINTED_LR_TOLERANCE:.0f}%",
                "holds" if abs(rel) <= PRINTED_LR_TOLERANCE else "fails",
                section="experiments",
                predicted_value=r.lr_printed,
                measured_value=r.lr_opt,
                tolerance_value=PRINTED_LR_TOLERANCE,
            )
        )
    mom = optima[optima.scan == "momentum"]
    if len(mom):
        rows += momentum_claims(mom)
    return rows


_SIGN_WORD = {1: "negative", -1: "positive", 0: "undecided"}


def momentum_claims(mom: pd.DataFrame) -> list[dict]:
    """Fig. 6, right: on each power-law problem the derived criterion (§11, at the (28b)-optimal
    alpha) predicts the sign of d log L / d beta at beta = 0 -- positive means negative momentum
    helps.  Two claims, each able to fail alone: the SE derivative has the predicted sign, and the
    predicted momentum lowers the loss by at least the minimum gain (a gain of 0.04% is "no
    effect", not "negative momentum helps").  The authors' notebook form is shown, not judged."""
    from .asymptotics import MIN_MOMENTUM_GAIN

    predicted = {r.Index: _SIGN_WORD[int(r.criterion_derived_sign)] for r in mom.itertuples()}
    label = {r.Index: f"(ν, κ) = ({r.nu:g}, {r.kappa:g})" for r in mom.itertuples()}
    slope_sign = {r.Index: _SIGN_WORD[int(np.sign(r.dlogL_dbeta))] for r in mom.itertuples()}
    prediction = "; ".join(
        f"{label[r.Index]}: derived {r.criterion_derived:+.3g} at α = {r.criterion_lr:.3g} → {predicted[r.Index]} "
        f"(small-α form {_SIGN_WORD[int(r.criterion_small_lr_sign)]}, notebook form "
        f"{_SIGN_WORD[int(r.criterion_notebook_sign)]})"
        for r in mom.itertuples()
    )
    source = "paper §6 (Prop. 5 / eq. 30) and Fig. 6, theory.md §11"
    return [
        claim_row(
            "momentum_sign_criterion",
            "The closed-form criterion gives the sign of d log L/dβ at β = 0",
            "power law",
            source,
            prediction,
            "SE at the horizon, α = α_opt(β = 0): "
            + "; ".join(f"{label[r.Index]}: d log L/dβ = {r.dlogL_dbeta:+.3f}" for r in mom.itertuples()),
            "sign, every problem",
            "holds" if all(slope_sign[i] == predicted[i] for i in predicted) else "fails",
            section="experiments",
        ),
        claim_row(
            "negative_momentum",
            "The momentum sign the criterion picks lowers the loss",
            "power law",
            source,
            prediction,
            "SE scan over β at the horizon: "
            + "; ".join(
                f"{label[r.Index]}: β* = {r.momentum_opt:+.3f}, L(β*)/L(0) = {r.gain:.4f} "
                f"(supported: {r.supported_sign})"
                for r in mom.itertuples()
            ),
            f"same sign with a gain ≥ {100 * MIN_MOMENTUM_GAIN:g}%, every problem",
            "holds" if all(r.supported_sign == predicted[r.Index] for r in mom.itertuples()) else "fails",
            section="experiments",
        ),
    ]


#: Measured critical learning rate against the U(1) = 1 prediction, relative.
CRITICAL_LR_TOLERANCE = 0.15


def predicted_column(tau: float) -> str:
    """Column of the critical-lr table with alpha_c from U(1) = 1 at this tau."""
    return f"lr_critical_tau{tau:g}"


def _critical_rel(table: pd.DataFrame, tau: float) -> pd.DataFrame:
    """Per (batch, momentum) with batch noise (gamma > 0): measured and predicted alpha_c and their
    relative difference.  At gamma = 0 both are the noiseless bound by definition."""
    g = (
        table[table.gamma > 0]
        .groupby(["batch", "momentum"])
        .agg(measured=("lr_critical_measured", "mean"), predicted=(predicted_column(tau), "first"))
    )
    g["rel"] = g.measured / g.predicted - 1
    return g


def critical_lr_claims(
    dataset: str, table: pd.DataFrame, tau: float = 1.0, tau_rule: str = "τ = +1"
) -> list[dict]:
    """Figs. 12-14: alpha_c(b) from U(1) = 1 with the a-priori tau (linear in b for b << N, then the
    noiseless limit) against the critical rate of the expected loss, measured without SE."""
    if predicted_column(tau) not in table or not (table.gamma > 0).any():
        return [
            claim_row(
                "critical_lr_vs_batch",
                "The critical learning rate grows with b as U(1) = 1 predicts",
                dataset,
                "paper §5 and Figs. 12–14",
                f"τ = {tau:+g} ({tau_rule})",
                "no prediction for this τ, or no batch with noise",
                "—",
                "inconclusive",
                section="experiments",
            )
        ]
    g = _critical_rel(table, tau)
    how = table.measured_by.iloc[0] if "measured_by" in table else "measured"
    detail = "; ".join(
        f"b={b}, β={m:g}: {r.measured:.4f} vs {r.predicted:.4f} ({100 * r.rel:+.1f}%)"
        for (b, m), r in g.iterrows()
    )
    worst = g.loc[g.rel.abs().idxmax()]
    return [
        claim_row(
            "critical_lr_vs_batch",
            "The critical learning rate grows with b as U(1) = 1 predicts, up to 2(1+β)",
            dataset,
            "paper §5 (batch scaling) and Figs. 12–14",
            f"α_c(b) from U(1) = 1 with τ = {tau:+g} ({tau_rule}), capped by 2(1+β)",
            f"{how}: {detail}",
            f"± {100 * CRITICAL_LR_TOLERANCE:.0f}% at every b < N",
            "holds" if g.rel.abs().max() <= CRITICAL_LR_TOLERANCE else "fails",
            section="experiments",
            predicted_value=worst.predicted,
            measured_value=worst.measured,
            tolerance_value=CRITICAL_LR_TOLERANCE,
        )
    ]


def near_boundary_claims(
    dataset: str, table: pd.DataFrame, tau: float = 1.0, tau_rule: str = "τ = +1"
) -> list[dict]:
    """Prop. 3 where it can fail: at 0.9 alpha_c the expected loss of linearised SGD (a seed mean)
    converges and at 1.1 alpha_c it diverges, alpha_c from U(1) = 1 with the a-priori tau, for
    every batch size with noise and every momentum."""
    rows = table[table.tau == tau] if len(table) else table
    if rows.empty:
        return [
            claim_row(
                "stability_near_boundary",
                "Just below α_c the expected loss converges, just above it diverges",
                dataset,
                "paper Prop. 3 (eq. 21)",
                f"τ = {tau:+g} ({tau_rule})",
                f"no setting where the batch noise sets α_c(τ = {tau:+g}) (all within 10% of 2(1+β))",
                "—",
                "inconclusive",
                section="experiments",
            )
        ]
    expected = np.where(rows.fraction < 1, "stable", "unstable")
    wrong = (rows.stability_measured != expected) & (rows.stability_measured != "undetermined")
    open_ = rows.stability_measured == "undetermined"
    mark = {True: " ✗", False: ""}
    detail = "; ".join(
        f"b={r.batch}, β={r.momentum:g}, α = {r.fraction:g}·α_c = {r.lr:.3f}: mean loss "
        f"{r.mean_loss_half:.3g} → {r.mean_loss_end:.3g}"
        + (
            f" ({r.diverged_seeds} seeds blew up)"
            if r.diverged_seeds
            else f" (log ratio {r.log_ratio:+.3f} ± {r.log_ratio_se:.3f})"
        )
        + (" undetermined" if u else mark[bool(w)])
        for r, w, u in zip(rows.itertuples(), wrong, open_)
    )
    verdict = "fails" if wrong.any() else "inconclusive" if open_.any() else "holds"
    from .experiments import BOUNDARY_SIGMAS

    return [
        claim_row(
            "stability_near_boundary",
            "Just below α_c the expected loss converges, just above it diverges",
            dataset,
            "paper Prop. 3 (eq. 21)",
            f"stable at 0.9 α_c, unstable at 1.1 α_c, α_c from U(1) = 1 with τ = {tau:+g} ({tau_rule})",
            f"linearised SGD, mean over {int(rows.seeds.iloc[0])} seeds, steps {int(rows.steps.iloc[0]) // 2} → "
            f"{int(rows.steps.iloc[0])}: {detail}",
            f"every setting on its predicted side: the seed mean falls (rises) by more than {BOUNDARY_SIGMAS:g} "
            "jackknife errors of its log ratio; within them a setting is undetermined",
            verdict,
            section="experiments",
        )
    ]


def tau_claims(dataset: str, table: pd.DataFrame, meta: dict) -> list[dict]:
    """On a Haar-random eigenbasis (the synthetic problems) tau = -1 is exact for Gaussian features
    and tau = +1 should miss the critical rate: reported as its own claim, with its numbers."""
    if meta.get("kind") != "synthetic" or not {predicted_column(1.0), predicted_column(-1.0)} <= set(table):
        return []
    plus, minus = _critical_rel(table, 1.0), _critical_rel(table, -1.0)
    if plus.empty:
        return []
    misses = plus.rel.abs().max() > CRITICAL_LR_TOLERANCE
    fits = minus.rel.abs().max() <= CRITICAL_LR_TOLERANCE
    return [
        claim_row(
            "tau_plus1_misses_haar",
            "On Haar-random features τ = +1 misses the critical learning rate; τ = −1 fits",
            dataset,
            "paper §3 (Gaussian features: τ = −1), theory.md §4",
            f"|α_c(τ = +1)/α_c − 1| > {100 * CRITICAL_LR_TOLERANCE:.0f}% somewhere, |α_c(τ = −1)/α_c − 1| ≤ "
            f"{100 * CRITICAL_LR_TOLERANCE:.0f}% everywhere",
            "; ".join(
                f"b={b}, β={m:g}: τ=+1 {100 * plus.loc[(b, m)].rel:+.1f}%, τ=−1 {100 * minus.loc[(b, m)].rel:+.1f}%"
                for b, m in plus.index
            ),
            f"± {100 * CRITICAL_LR_TOLERANCE:.0f}%",
            "holds" if misses and fits else "fails",
            section="experiments",
        )
    ]


#: The seed-mean of sampled linearised SGD must match the exact averaged recursion within this
#: many standard errors at every step.
EXACT_Z_TOLERANCE = 4.0
#: SE(tau) "tracks" the sampled runs when its mean |log L - log L_lin| is at most this.
LOG_DISTANCE_TOLERANCE = 0.10


def regime_claims(dataset: str, distances: pd.DataFrame, image_data: bool) -> list[dict]:
    """Figs. 1 and 7: the exact averaged recursion is the mean of sampled SGD; which SE(tau) tracks
    the sampled runs best at each batch size, and whether tau = +1 wins at small batch on images."""
    rows = []
    exact = distances[distances.regime == "exact"]
    z = exact.max_z.max()
    rows.append(
        claim_row(
            "regime_exact_mean",
            "The exact second-moment recursion is the mean of sampled SGD",
            dataset,
            "paper Prop. 1 / eq. (6) and Fig. 7 (“all sm”)",
            "seed-mean of linearised SGD = exact averaged loss at every step",
            "; ".join(
                f"b={r.batch}: max |mean − exact| = {r.max_z:.2f} standard errors ({int(r.seeds)} seeds), "
                f"log-distance {r.distance:.4f}"
                for r in exact.itertuples()
            ),
            f"≤ {EXACT_Z_TOLERANCE:g} standard errors",
            "holds" if z <= EXACT_Z_TOLERANCE else "fails",
            section="experiments",
            measured_value=z,
            tolerance_value=EXACT_Z_TOLERANCE,
        )
    )
    se = distances[distances.regime == "se"]
    detail = []
    for b, part in se.groupby("batch"):
        order = part.sort_values("distance")
        detail.append(f"b={b}: " + ", ".join(f"τ={r.tau:+g} {r.distance:.4f}" for r in order.itertuples()))
    small = se[se.batch == se.batch.min()]
    best = small.loc[small.distance.idxmin()]
    if not image_data:
        verdict, prediction = (
            "inconclusive",
            "τ = +1 closest at small b (the paper's claim is about MNIST images)",
        )
    elif not (small.tau == 1.0).any():
        verdict, prediction = "inconclusive", "τ = +1 closest at small b (τ = +1 was not run)"
    else:
        verdict = "holds" if best.tau == 1.0 else "fails"
        prediction = "τ = +1 closest at the smallest b"
    rows.append(
        claim_row(
            "regime_best_tau",
            "SE with τ = +1 tracks sampled SGD best at small batch size",
            dataset,
            "paper §4 and Figs. 1, 7 (MNIST: τ = +1)",
            prediction,
            "mean |log L_SE − log L_lin| (best first): " + "; ".join(detail),
            "ranking",
            verdict,
            section="experiments",
            predicted_value=1.0,
            measured_value=best.tau,
        )
    )
    large = se[se.batch == se.batch.max()]
    if se.batch.nunique() > 1 and (large.tau.abs() == 1.0).any():
        pm1 = large[large.tau.abs() == 1.0]
        worst = pm1.distance.max()
        rows.append(
            claim_row(
                "regime_large_batch",
                "At large batch both τ = ±1 track sampled SGD",
                dataset,
                "paper Fig. 1",
                f"mean |log L_SE − log L_lin| ≤ {LOG_DISTANCE_TOLERANCE:g} for τ = ±1 at b = {int(large.batch.iloc[0])}",
                ", ".join(f"τ={r.tau:+g}: {r.distance:.4f}" for r in pm1.itertuples()),
                f"≤ {LOG_DISTANCE_TOLERANCE:g}",
                "holds" if worst <= LOG_DISTANCE_TOLERANCE else "fails",
                section="experiments",
                measured_value=worst,
                tolerance_value=LOG_DISTANCE_TOLERANCE,
            )
        )
    return rows


#: Budget independence: losses at equal budget within this factor of the smallest batch's.
BUDGET_RATIO_TOLERANCE = 1.25
#: A batch size is in the linear-scaling regime while its critical effective learning rate is at
#: least this fraction of b / b_min times the smallest batch's.
LINEAR_SCALING_FRACTION = 0.8


def budget_claims(dataset: str, table: pd.DataFrame, phase: str) -> list[dict]:
    """Fig. 5 / E.5: with the learning rate at a fixed fraction of alpha_c(b), the loss at a fixed
    budget t*b does not depend on b while alpha_eff,c grows linearly with b, and grows beyond."""
    lin = table[table.regime == "linearized"]
    budget = lin.samples.max()
    per_b = lin.groupby("batch").agg(lr_eff=("lr_eff_critical", "first"))
    # the loss "at the budget": geometric mean over the last half of it, all seeds (single sampled
    # points fluctuate by tens of percent)
    late = lin[lin.samples >= budget / 2]
    per_b["loss"] = late.groupby("batch").loss.apply(lambda s: float(np.exp(np.mean(np.log(s)))))
    b0 = per_b.index.min()
    per_b["ratio"] = per_b.loss / per_b.loss.loc[b0]
    per_b["linear"] = per_b.lr_eff >= LINEAR_SCALING_FRACTION * (per_b.index / b0) * per_b.lr_eff.loc[b0]
    linear = per_b[per_b.linear & (per_b.index > b0)]
    beyond = per_b[~per_b.linear]
    detail = "; ".join(
        f"b={b}: L/L_(b={b0}) = {r.ratio:.3f}, α_eff,c = {r.lr_eff:.2f}"
        + ("" if r.linear else " (saturated)")
        for b, r in per_b.iterrows()
    )
    if "signal" not in phase or linear.empty:
        verdict = "inconclusive"
    else:
        verdict = (
            "holds"
            if (linear.ratio.between(1 / BUDGET_RATIO_TOLERANCE, BUDGET_RATIO_TOLERANCE)).all()
            else "fails"
        )
    furthest = (
        linear.ratio.iloc[int(np.argmax(np.abs(np.log(linear.ratio.to_numpy()))))]
        if len(linear)
        else math.nan
    )
    rows = [
        claim_row(
            "budget_independence",
            "At a fixed budget t·b the loss does not depend on b while α_eff,c ∝ b",
            dataset,
            "paper §6, E.5 and Fig. 5",
            f"{phase}: equal loss over t·b ∈ [{int(budget) // 2}, {int(budget)}] for b with α_eff,c(b) ≥ {LINEAR_SCALING_FRACTION:g}·(b/b₀)·α_eff,c(b₀)"
            + ("" if "signal" in phase else " (the claim is for the signal phase)"),
            f"linearised SGD, geometric-mean loss over the last half of the budget and {lin.seed.nunique()} "
            f"seeds: {detail}",
            f"ratio within ×{BUDGET_RATIO_TOLERANCE:g}",
            verdict,
            section="experiments",
            predicted_value=1.0,
            measured_value=furthest,
            tolerance_value=BUDGET_RATIO_TOLERANCE,
        )
    ]
    if not beyond.empty:
        rows.append(
            claim_row(
                "budget_diminishing_returns",
                "Beyond the linear-scaling range larger batches need more samples",
                dataset,
                "paper E.5 and Fig. 5",
                "L(t·b) at the largest b above the linear-range losses (α_eff,c saturates at the noiseless bound)",
                f"largest b = {beyond.index.max()}: ratio {beyond.ratio.iloc[-1]:.3f}; "
                f"largest in linear range: {per_b[per_b.linear].ratio.max():.3f}",
                "ratio larger",
                "holds" if beyond.ratio.iloc[-1] > per_b[per_b.linear].ratio.max() else "fails",
                section="experiments",
                measured_value=beyond.ratio.iloc[-1],
                tolerance_value=per_b[per_b.linear].ratio.max(),
            )
        )
    return rows


#: Fig. 2 optima, in cells of the reconstructed grid: SE is deterministic, so one cell; sampled
#: linearised SGD two, because the paper's optimum comes from one sampled run and ours from a seed
#: mean over a flat valley.
FIG2_SE_CELLS = 1
FIG2_LINEARIZED_CELLS = 2


def _cells_off(cell, paper) -> int:
    return int(max(abs(cell[0] - paper[0]), abs(cell[1] - paper[1])))


def fig2_optimum_claims(se_optimum: dict, maps: dict) -> list[dict]:
    """Fig. 2's optimum locations (theory.md §14): SE(τ = 1) on the paper's own problem and
    reconstructed grid lands on the printed cell; and, on each loss map of the same synthetic
    problem (``maps``: dataset -> (table, meta)), the linearised and SE optima do too -- judged only
    where the map has the paper's N, b, horizon and at least its resolution, else inconclusive."""
    from .experiments import PAPER_FIG2, paper_fig2_grid

    p, paper = PAPER_FIG2, PAPER_FIG2["optima"]
    lrs, momenta = paper_fig2_grid()
    cells = (float(lrs[1] - lrs[0]), float(momenta[1] - momenta[0]))
    setting = f"ν = {p['nu']:g}, κ = {p['kappa']:g}, N = {p['n_samples']}, b = {p['batch']}, T = {p['steps']}"
    grid = "α = linspace(0, 4, 100) × β = linspace(−1, 1, 50)"
    off = _cells_off((se_optimum["lr_index"], se_optimum["momentum_index"]), paper["se"])
    rows = [
        claim_row(
            "fig2_optimum_se",
            "SE(τ = 1) on the paper's Fig. 2 problem has its optimum at the printed cell",
            "power law",
            "paper Fig. 2 (NegativeMomentum notebook), theory.md §14",
            f"cell {tuple(paper['se'])} of {grid} (α ≈ {lrs[paper['se'][0]]:.2f}, β ≈ {momenta[paper['se'][1]]:+.2f}); {setting}",
            f"SE optimum: cell ({se_optimum['lr_index']}, {se_optimum['momentum_index']}), α = {se_optimum['lr']:.3f}, "
            f"β = {se_optimum['momentum']:+.3f}",
            f"≤ {FIG2_SE_CELLS} cell per axis",
            "holds" if off <= FIG2_SE_CELLS else "fails",
            section="experiments",
            measured_value=off,
            tolerance_value=FIG2_SE_CELLS,
        )
    ]
    for ds, (table, meta) in maps.items():
        if meta.get("kind") == "synthetic" and (meta.get("nu"), meta.get("kappa")) == (p["nu"], p["kappa"]):
            rows.append(_fig2_map_claim(ds, table, meta, cells, setting))
    return rows


def _fig2_map_claim(dataset: str, table: pd.DataFrame, meta: dict, cells, setting: str) -> dict:
    from .experiments import PAPER_FIG2, fig2_cell, loss_map_optimum

    p, paper = PAPER_FIG2, PAPER_FIG2["optima"]
    lrs, momenta = np.sort(table.lr.unique()), np.sort(table.momentum.unique())
    ours = {"N": meta["n_samples"], "b": int(table.batch.iloc[0]), "T": int(table.steps.iloc[0])}
    differs = [
        f"{k} = {v} (paper {ref})"
        for (k, v), ref in zip(ours.items(), (p["n_samples"], p["batch"], p["steps"]))
        if v != ref
    ]
    if (
        len(lrs) < 2
        or np.median(np.diff(lrs)) > 1.01 * cells[0]
        or np.median(np.diff(momenta)) > 1.01 * cells[1]
    ):
        differs.append(f"grid {len(lrs)} × {len(momenta)} coarser than the paper's 100 × 50")
    claim = "The loss map's optima (linearised and SE) sit at the paper's Fig. 2 cells"
    source = "paper Fig. 2 (NegativeMomentum notebook), theory.md §14"
    prediction = f"linearised cell {tuple(paper['linearized'])}, SE cell {tuple(paper['se'])}; {setting}"
    if differs:
        return claim_row(
            "fig2_optimum_map",
            claim,
            dataset,
            source,
            prediction,
            "not comparable: " + "; ".join(differs) + " (config/paper.yaml has the paper's map)",
            "—",
            "inconclusive",
            section="experiments",
        )
    best = {r: loss_map_optimum(table, r) for r in ("linearized", "se")}
    cell = {r: fig2_cell(b.lr, b.momentum) for r, b in best.items()}
    ok = (
        _cells_off(cell["linearized"], paper["linearized"]) <= FIG2_LINEARIZED_CELLS
        and _cells_off(cell["se"], paper["se"]) <= FIG2_SE_CELLS
    )
    return claim_row(
        "fig2_optimum_map",
        claim,
        dataset,
        source,
        prediction,
        "; ".join(
            f"{'linearised' if r == 'linearized' else 'SE'}: cell {cell[r]}, α = {b.lr:.3f}, "
            f"β = {b.momentum:+.3f}"
            for r, b in best.items()
        ),
        f"≤ {FIG2_LINEARIZED_CELLS} cells (linearised), ≤ {FIG2_SE_CELLS} (SE) per axis",
        "holds" if ok else "fails",
        section="experiments",
    )


#: Report anchor of the deep-network section (paper Figs. 9 and 11, in kind).
DEEP_KERNEL_SECTION = "deep-kernels"


def deep_kernel_label(model: str, dataset: str) -> str:
    """The claims table's dataset cell of one deep-kernel model, e.g. ``cnn on fashion_mnist``."""
    return f"{model} on {dataset}"


def deep_kernel_claims(summary: dict, critical: pd.DataFrame) -> list[dict]:
    """Figs. 9 and 11 in kind, for one pretrained model's empirical NTK (:mod:`sgd_spectra.deep_kernels`):
    SE(tau = +1) tracks the seed-mean linearised loss within the tracking claim's tolerance, and
    alpha_c(b) of the exact second moments is U(1) = 1 with tau = +1 within the critical-lr
    claims' tolerance.  tau is fixed a priori (real image data, the paper's choice in both figures)."""
    from .claims import TRACKING_TOLERANCE

    label = deep_kernel_label(summary["model"], summary["dataset"])
    tau, steps = float(summary["tau"]), int(summary["steps"])
    setting = f"α = {summary['lr']:g}, β = {summary['momentum']:g}, b = {int(summary['batch'])}"
    prediction = (
        f"SE(τ = {tau:+g}) = mean of {int(summary['seeds'])} linearised runs, {setting}, "
        f"{steps} steps (predicted α_c = {summary['lr_critical_setting']:.3f})"
    )
    error = float(summary["tracking_error"])
    if (
        not summary["linearized_converged"]
        or not np.isfinite(summary["loss_final_se"])
        or not np.isfinite(error)
    ):
        tracking = claim_row(
            "deep_se_tracks_linearized",
            "SE(τ = +1) tracks linearised SGD on a pretrained network's NTK",
            label,
            "paper §4, Fig. 9 (in kind)",
            prediction,
            "a linearised seed or SE did not converge at this setting: choose deep_kernel_lr inside "
            "the stable region",
            "—",
            "inconclusive",
            section=DEEP_KERNEL_SECTION,
        )
    else:
        tracking = claim_row(
            "deep_se_tracks_linearized",
            "SE(τ = +1) tracks linearised SGD on a pretrained network's NTK",
            label,
            "paper §4, Fig. 9 (in kind)",
            prediction,
            f"mean relative error over {steps} steps: {100 * error:.1f}% (final loss SE {summary['loss_final_se']:.4g}, "
            f"linearised {summary['loss_final_linearized']:.4g}, initial {summary['loss0']:.4g})",
            f"≤ {100 * TRACKING_TOLERANCE:.0f}%",
            "holds" if error <= TRACKING_TOLERANCE else "fails",
            section=DEEP_KERNEL_SECTION,
            measured_value=error,
            tolerance_value=TRACKING_TOLERANCE,
        )
    return [tracking, _deep_critical_claim(label, critical, tau)]


def _deep_critical_claim(label: str, critical: pd.DataFrame, tau: float) -> dict:
    claim = "α_c(b) of a pretrained network's NTK is the U(1) = 1 root with τ = +1, up to 2(1+β)"
    source = "paper §5, Fig. 11 (in kind)"
    prediction = f"α_c(b) from U(1) = 1 with τ = {tau:+g}, capped by 2(1+β)"
    if predicted_column(tau) not in critical or not (critical.gamma > 0).any():
        return claim_row(
            "deep_critical_lr_vs_batch",
            claim,
            label,
            source,
            prediction,
            "no batch size with noise (every b ≥ N)",
            "—",
            "inconclusive",
            section=DEEP_KERNEL_SECTION,
        )
    g = _critical_rel(critical, tau)
    worst = g.loc[g.rel.abs().idxmax()]
    return claim_row(
        "deep_critical_lr_vs_batch",
        claim,
        label,
        source,
        prediction,
        "exact second moments (N×N): "
        + "; ".join(
            f"b={b}, β={m:g}: {r.measured:.4f} vs {r.predicted:.4f} ({100 * r.rel:+.1f}%)"
            for (b, m), r in g.iterrows()
        ),
        f"± {100 * CRITICAL_LR_TOLERANCE:.0f}% at every b < N",
        "holds" if g.rel.abs().max() <= CRITICAL_LR_TOLERANCE else "fails",
        section=DEEP_KERNEL_SECTION,
        predicted_value=worst.predicted,
        measured_value=worst.measured,
        tolerance_value=CRITICAL_LR_TOLERANCE,
    )
