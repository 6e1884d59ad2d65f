"""Tables and equation blocks built from one dataset's results: fits, stability per setting."""

from __future__ import annotations

import math as _math

import numpy as np
import pandas as pd

from ..outcomes import setting_outcomes
from .format import esc, fmt, math, pm, table, to_float


def stability_frame(theory: dict, curves: pd.DataFrame | None = None, tau: float = 1.0) -> pd.DataFrame:
    """One row per SGD setting: theory (U(1), critical lr per tau, stable?) and measured outcomes.

    ``theory`` is results/theory/{dataset}.json; ``curves`` the tidy curves table (optional).
    The prediction uses the SE(``tau``) entry; ``lr_critical_tau<t>`` is given for every tau.
    Measured columns per regime (``linearized``, ``network`` and ``se`` = SE(tau)):
    ``<regime>_seeds``, ``<regime>_diverged``, ``<regime>_grew``, ``<regime>_first``.
    """
    from ..io import as_float

    st = pd.DataFrame(theory["settings"])
    for col in ("u1", "lr_critical", "lr_noiseless_bound", "v1", "asymptote_constant"):
        if col in st:
            st[col] = st[col].map(as_float)
    keys = ["lr", "momentum", "batch"]
    taus = sorted(st["tau"].unique())
    main = st[np.isclose(st["tau"], tau)] if np.isclose(st["tau"], tau).any() else st[st["tau"] == taus[-1]]
    out = main[keys + ["gamma", "u1", "lr_critical", "lr_noiseless_bound", "stable", "se_diverged_at"]].copy()
    crit = st.pivot_table(index=keys, columns="tau", values="lr_critical", aggfunc="first")
    crit.columns = [f"lr_critical_tau{t:g}" for t in crit.columns]
    out = out.merge(crit.reset_index(), on=keys, how="left")
    if curves is not None:
        for regime in ("linearized", "network", "se"):
            d = setting_outcomes(curves, regime, float(main["tau"].iloc[0]) if regime == "se" else None)
            d = d.rename(
                columns={
                    c: f"{regime}_{c.removeprefix('n_')}"
                    for c in ("n_seeds", "n_diverged", "n_grew", "first")
                }
            )
            out = out.merge(d, on=keys, how="left")
    return out.sort_values(keys).reset_index(drop=True)


def _has(row, regime: str) -> bool:
    n = row.get(f"{regime}_seeds")
    return n is not None and not pd.isna(n) and n > 0


def _measured_cell(row, regime: str) -> str:
    """'0/20', '20/20 (t=10)', '0/20, 16 grew' for one regime of one setting."""
    if not _has(row, regime):
        return "—"
    n, k, grew = int(row[f"{regime}_seeds"]), int(row[f"{regime}_diverged"]), int(row[f"{regime}_grew"])
    cell = (
        f"0/{n}"
        if k == 0
        else f'<span class="bad">{k}/{n}</span>&nbsp;<small>(t={int(row[f"{regime}_first"])})</small>'
    )
    if grew:
        cell += f'<br><small class="warn">{grew} grew</small>'
    return cell


def _agreement_word(row, regime: str) -> str | None:
    """yes / no / partly: do the seeds of ``regime`` behave as U(1) predicts?

    A seed counts as unstable if it diverged or ended above its initial loss.
    """
    if not _has(row, regime):
        return None
    n = row[f"{regime}_seeds"]
    unstable = (row[f"{regime}_diverged"] + row[f"{regime}_grew"]) / n
    if bool(row["stable"]):
        return "yes" if unstable == 0 else ("no" if unstable == 1 else "partly")
    return "yes" if unstable == 1 else ("no" if unstable == 0 else "partly")


def _agreement_cell(row) -> str:
    cls = {"yes": "ok", "no": "bad", "partly": "warn"}
    parts = []
    for regime, short in (("linearized", "lin."), ("network", "net.")):
        word = _agreement_word(row, regime)
        if word is not None:
            parts.append(f'{short}&nbsp;<span class="{cls[word]}">{word}</span>')
    return "<br>".join(parts) or "—"


def dataset_equations(fit: dict) -> str:
    nu, kappa = fit["nu"], fit["kappa"]
    n_, k_ = to_float(nu["exponent"]), to_float(kappa["exponent"])
    zeta = to_float(fit.get("zeta"))
    p = to_float(fit.get("late_time_exponent"))

    def num(x, d=3):
        return f"{to_float(x):.{d}g}"

    boundary = 2 * n_ - 1
    rel = "<" if k_ < boundary else ">"
    eqs = [
        rf"\lambda_k\approx {num(nu['prefactor'])}\,k^{{-{num(n_)}}}",
        rf"\frac{{1}}{{N}}\sum_{{l\ge k}}c_l\approx {num(kappa['prefactor'])}\,k^{{-{num(k_)}}}",
        rf"\zeta=\kappa/\nu={num(zeta)},\qquad \kappa={num(k_)}\;{rel}\;2\nu-1={num(boundary)}",
    ]
    if not _math.isnan(p):
        eqs.append(rf"L_t\propto t^{{{num(p)}}}\quad(\text{{{esc(fit.get('phase', ''))}}})")
    lam_crit = fit.get("lambda_crit") or {}
    if lam_crit:
        parts = [rf"\lambda_{{\mathrm{{crit}}}}(\tau={to_float(t):g})={num(v)}" for t, v in lam_crit.items()]
        eqs.append(r",\qquad ".join(parts))
    return '<div class="eqs">' + "".join(math(e, display=True) for e in eqs) + "</div>"


def fits_table(fit: dict) -> str:
    nu, kappa = fit["nu"], fit["kappa"]
    rows = []
    for name, sym, f in (("eigenvalues", r"\nu", nu), ("coefficient tail sums", r"\kappa", kappa)):
        rows.append(
            [
                esc(name),
                math(sym),
                pm(f["exponent"], f["exponent_err"]),
                fmt(f["prefactor"]),
                f"[{int(f['k_min'])}, {int(f['k_max'])}]",
                fmt(f["r2"], 4),
                fmt(f.get("rms_log_residual"), 2),
                ", ".join(fmt(s, 3) for s in f.get("sub_exponents", [])),
            ]
        )
    out = table(
        [
            "fitted on",
            "exponent",
            "value",
            "prefactor " + math(r"\Lambda") + " / " + math("K"),
            "fit range " + math("k"),
            "R²",
            "rms log residual",
            "sub-range exponents",
        ],
        rows,
        caption="Power-law fits (error = standard deviation of the sub-range exponents).",
        cls="fits",
    )
    lam_crit = fit.get("lambda_crit") or {}
    derived = [
        [math(r"\zeta=\kappa/\nu"), fmt(fit.get("zeta"))],
        ["phase", esc(fit.get("phase", "—"))],
        [
            "late-time exponent " + math(r"p") + " in " + math(r"L_t\propto t^{p}"),
            pm(fit.get("late_time_exponent"), fit.get("late_time_exponent_err")),
        ],
        ["fit range rule", esc(fit.get("fit_range_rule", "—"))],
    ]
    for t, v in lam_crit.items():
        derived.append([math(rf"\lambda_{{\mathrm{{crit}}}}(\tau={to_float(t):g})"), fmt(v)])
    derived.append(["initial loss " + math("L_0"), fmt(fit.get("loss0"))])
    out += table(["derived quantity", "value"], derived)
    return out


def stability_table(stab: pd.DataFrame, tau: float = 1.0) -> str:
    """HTML table of :func:`stability_frame`: prediction per setting against the measured runs."""
    taus = sorted(
        float(c.removeprefix("lr_critical_tau")) for c in stab.columns if c.startswith("lr_critical_tau")
    )
    has_net = "network_seeds" in stab and stab["network_seeds"].notna().any()
    has_se = "se_seeds" in stab and stab["se_seeds"].notna().any()
    header = [math(r"\alpha"), math(r"\beta"), math("b"), math(r"\gamma"), math("U(1)")]
    header += [math(rf"\alpha_c(\tau={t:g})") for t in taus]
    header += [
        math(r"2(1+\beta)"),
        "predicted",
        "SE " + math(rf"\tau={tau:g}") + " diverged",
        "linearized diverged",
    ]
    if has_net:
        header.append("network diverged")
    header.append("agrees")
    rows = []
    for _, r in stab.iterrows():
        pred = '<span class="ok">stable</span>' if r["stable"] else '<span class="bad">unstable</span>'
        if has_se:
            se = _measured_cell(r, "se").replace("1/1", "yes").replace("0/1", "no")
        else:
            se_div = int(r["se_diverged_at"])
            se = f'<span class="bad">yes</span>&nbsp;<small>(t={se_div})</small>' if se_div >= 0 else "no"
        row = [fmt(r["lr"]), fmt(r["momentum"]), fmt(r["batch"]), fmt(r["gamma"]), fmt(r["u1"])]
        # three decimals: alpha_c often sits just below the noiseless bound (1.9999 is not 2)
        row += [
            f"{r[f'lr_critical_tau{t:g}']:.3f}" if np.isfinite(r[f"lr_critical_tau{t:g}"]) else "—"
            for t in taus
        ]
        row += [fmt(r["lr_noiseless_bound"]), pred, se, _measured_cell(r, "linearized")]
        if has_net:
            row.append(_measured_cell(r, "network"))
        row.append(_agreement_cell(r))
        rows.append(row)
    return table(header, rows, cls="wide stability")


#: The key equations of the paper (theory.md §2, §4, §6, §8, §9): (tag, LaTeX).
THEORY_EQUATIONS = [
    (
        "SGD with momentum (eq. 1)",
        r"v_{t+1}=-\alpha\nabla_w L_{B_t}(w_t)+\beta v_t,\qquad w_{t+1}=w_t+v_{t+1}",
    ),
    ("batch noise factor", r"\gamma=\frac{N-b}{b(N-1)}"),
    (
        "SE noise term (eq. 7)",
        r"\Sigma_{kk}=\tau_1\lambda_k\,2L_t-\tau_2\lambda_k^2C_{k,t},\qquad "
        r"n_{k,t}=\alpha^2\gamma\left(2\tau_1\lambda_k L_t-\tau_2\lambda_k^2 C_{k,t}\right)",
    ),
    (
        "loss as a renewal equation",
        r"L_t=V_t+\sum_{s=1}^{t}U_s L_{t-s},\qquad \tilde L(z)=\frac{V(z)}{1-U(z)}",
    ),
    (
        "stability (eq. 21, Prop. 3)",
        r"U(1)=\gamma\tau_1\sum_k\frac{\alpha\lambda_k(1+\beta)}{2(1-\beta^2)-\alpha\lambda_k"
        r"\left((1-\beta)-\gamma\tau_2(1+\beta)\right)}<1",
    ),
    ("noiseless condition", r"0<\alpha\lambda_{\max}<2(1+\beta),\qquad |\beta|<1"),
    (
        "power laws (eq. 25)",
        r"\lambda_k\simeq\Lambda k^{-\nu},\qquad \sum_{l\ge k}\lambda_lC_l=\frac{1}{N}\sum_{l\ge k}c_l"
        r"\simeq K k^{-\kappa},\qquad \zeta=\frac{\kappa}{\nu}",
    ),
    (
        "phase boundary",
        r"\kappa<2\nu-1\;\text{signal-dominated},\qquad \kappa>2\nu-1\;\text{noise-dominated},"
        r"\qquad L_t\propto t^{-\min(\zeta,\,2-1/\nu)}",
    ),
    (
        "signal phase (eq. 28a)",
        r"L_t\simeq\frac{K\,\Gamma(\zeta+1)}{2\,(1-U(1))}\left(2\alpha_{\mathrm{eff}}\Lambda t\right)^{-\zeta},"
        r"\qquad \alpha_{\mathrm{eff}}=\frac{\alpha}{1-\beta}",
    ),
    (
        "noise phase (eq. 28b)",
        r"L_t\simeq\frac{\gamma\tau_1V(1)\,\Gamma(2-\frac{1}{\nu})}{\nu\,(1-U(1))^2}\,"
        r"\Lambda^{1/\nu}2^{\frac{1}{\nu}-2}\alpha_{\mathrm{eff}}^{1/\nu}\,t^{-(2-1/\nu)}",
    ),
]


def datasets_table(datasets, data: dict[str, dict], scales: dict[str, float]) -> str:
    """One row per dataset: kind (with the generating exponents of a synthetic one), source, N,
    features and the kernel scale factor."""
    nu, kappa = math(r"\nu"), math(r"\kappa")
    rows = []
    for d in datasets:
        info = data[d]
        extra = ""
        if info.get("kind") == "synthetic":
            extra = f" ({nu} = {fmt(info.get('nu'))}, {kappa} = {fmt(info.get('kappa'))})"
        rows.append(
            [
                f'<a href="#{esc(d)}">{esc(d)}</a>',
                esc(info.get("kind", "—")) + extra,
                esc(info.get("source", "—")),
                fmt(info.get("n_samples")),
                fmt(info.get("n_features")) if info.get("n_features") is not None else "—",
                fmt(scales.get(d)) if d in scales else "—",
            ]
        )
    return table(
        [
            "dataset",
            "kind",
            "source",
            math("N"),
            "features",
            "scale " + math(r"N/\lambda_{\max}(K_{\mathrm{emp}})"),
        ],
        rows,
        cls="wide",
        caption="Datasets. The scale factor multiplies the raw kernel (and the network's torch "
        "learning rate) so that learning rates are in units of 1/λ<sub>max</sub>.",
    )


def sgd_settings_table(config: dict) -> str:
    """The SGD grid and run lengths of the config (its ``sgd`` and ``theory`` sections), one row per knob."""
    sgd, theory = config.get("sgd") or {}, config.get("theory") or {}
    settings = [
        ["learning rates " + math(r"\alpha"), ", ".join(fmt(x) for x in sgd.get("learning_rates", []))],
        ["momenta " + math(r"\beta"), ", ".join(fmt(x) for x in sgd.get("momenta", []))],
        ["batch sizes " + math("b"), ", ".join(fmt(x) for x in sgd.get("batch_sizes", []))],
        ["SE parameters " + math(r"\tau"), ", ".join(fmt(x) for x in theory.get("taus", []))],
        [
            "steps " + math("T"),
            f"{fmt(sgd.get('steps'))} (loss recorded at "
            f"{fmt(sgd.get('record_points'))} log-spaced steps, duplicates merged)",
        ],
        [
            "seeds",
            f"{fmt(sgd.get('linearized_seeds'))} for the linearized model, "
            f"{fmt(sgd.get('network_seeds'))} for the network (same batches for the same seed)",
        ],
        ["fit range " + math("k") + " (both exponents)", esc(theory.get("fit_range", "auto"))],
        ["base seed", fmt(config.get("seed"))],
    ]
    return table(None, settings, cls="settings")
