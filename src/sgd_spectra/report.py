"""The final HTML report and the plotting conventions shared by the figure notebooks.

Everything here is plain Python (no Snakemake): ``workflow/scripts/build_report.py`` only maps the
rule's inputs onto :func:`build_report`.  The page is one self-contained file: figures are embedded
as base64 PNG data URIs, the CSS is inline, and the mathematics is written in LaTeX here and turned
into MathML at build time (:func:`math`), so the page needs no network and no JavaScript.
"""
from __future__ import annotations

import base64
import datetime as _dt
import glob
import html
import importlib.metadata
import math as _math
import os
import platform
import subprocess
import zlib
from functools import lru_cache
from pathlib import Path
from typing import Mapping, Sequence

import numpy as np
import pandas as pd

from .io import to_plain

# --------------------------------------------------------------------------------------------
# Plotting conventions shared by notebooks/spectrum.ipynb and notebooks/loss_curves.ipynb
# --------------------------------------------------------------------------------------------

#: One colour per regime (Okabe-Ito, colour-blind safe); SE(tau) curves have one key per tau.
REGIME_COLOURS: dict[str, str] = {
    "network": "#000000",       # the real ReLU network (black)
    "linearized": "#0072B2",    # sampled SGD of its linearisation (blue)
    "se tau=1": "#D55E00",      # spectrally expressible approximation, tau = +1 (vermilion)
    "se tau=0": "#009E73",      # tau = 0 (green)
    "se tau=-1": "#CC79A7",     # tau = -1 (purple)
}
#: Colours of the spectrum figure: data and fitted theory lines.
DATA_COLOUR = "#0072B2"
FIT_COLOUR = "#D55E00"
ASYMPTOTE_COLOUR = "#7f7f7f"
DIVERGED_COLOUR = "#B2182B"
#: Line styles of SE(tau): tau = 1 solid, the others dashed / dotted.
SE_LINESTYLES: dict[float, str] = {1.0: "-", 0.0: "--", -1.0: ":"}
_EXTRA_COLOURS = ["#E69F00", "#56B4E9", "#F0E442", "#999999", "#882255"]
_EXTRA_STYLES = ["-.", (0, (5, 1, 1, 1)), (0, (1, 3))]


def tex_number(x, digits: int = 3) -> str:
    """A number for matplotlib mathtext: ``1.2\\times10^{-15}`` for tiny or huge values."""
    x = float(x)
    if not _math.isfinite(x):
        return r"\infty" if x > 0 else (r"-\infty" if x < 0 else r"\mathrm{nan}")
    if x != 0 and (abs(x) < 1e-3 or abs(x) >= 1e5):
        mant, exp = f"{x:.{digits - 1}e}".split("e")
        return rf"{mant}\times10^{{{int(exp)}}}"
    return f"{x:.{digits}g}"


def regime_key(regime: str, tau: float | None = None) -> str:
    """Key of :data:`REGIME_COLOURS` for a regime (and tau for SE), e.g. ``'se tau=-1'``."""
    if regime == "se":
        return f"se tau={float(tau):g}"
    return regime


def regime_colour(regime: str, tau: float | None = None) -> str:
    """The regime's colour; SE taus outside the palette get a stable extra colour."""
    key = regime_key(regime, tau)
    if key in REGIME_COLOURS:
        return REGIME_COLOURS[key]
    return _EXTRA_COLOURS[zlib.crc32(key.encode()) % len(_EXTRA_COLOURS)] if regime == "se" else "#444444"


def se_linestyle(tau: float):
    """Line style of SE(tau): tau = 1 solid, 0 dashed, -1 dotted, others dash-dot variants."""
    tau = float(tau)
    if tau in SE_LINESTYLES:
        return SE_LINESTYLES[tau]
    return _EXTRA_STYLES[int(round(abs(tau) * 7)) % len(_EXTRA_STYLES)]


def regime_label(regime: str, tau: float | None = None) -> str:
    """Legend text: 'network', 'linearised', 'SE τ=+1'."""
    if regime == "se":
        return f"SE τ={float(tau):+g}" if float(tau) != 0 else "SE τ=0"
    return {"linearized": "linearised"}.get(regime, regime)


# --------------------------------------------------------------------------------------------
# Small HTML helpers
# --------------------------------------------------------------------------------------------

def math(latex: str, display: bool = False) -> str:
    """LaTeX -> MathML (inline, or a centred block with ``display=True``), converted now."""
    from latex2mathml.converter import convert
    return convert(latex, display="block" if display else "inline")


@lru_cache(maxsize=None)
def _symbols() -> dict[str, str]:
    """MathML of symbols used inside f-strings (Python 3.11 forbids backslashes there)."""
    tex = {"nu": r"\nu", "kappa": r"\kappa", "lambda_k": r"\lambda_k", "K/N": "K/N",
           "lambda_1": r"\lambda_1=1", "Lk^-nu": r"\Lambda k^{-\nu}", "k": "k", "S_k/S_1": "S_k/S_1",
           "S_k": r"S_k=\sum_{l\ge k}c_l"}
    return {key: math(value) for key, value in tex.items()}


def esc(value) -> str:
    return html.escape(str(value), quote=True)


def _to_float(value) -> float:
    if value is None:
        return _math.nan
    if isinstance(value, str):
        try:
            return float(value.strip())
        except ValueError:
            return _math.nan
    try:
        return float(value)
    except (TypeError, ValueError):
        return _math.nan


def fmt(value, digits: int = 3) -> str:
    """A number as HTML with ``digits`` significant digits; 1.2e-09 -> 1.2 × 10<sup>−9</sup>."""
    if isinstance(value, (bool, np.bool_)):
        return "yes" if value else "no"
    if isinstance(value, str) and _math.isnan(_to_float(value)) and value.strip().lower() != "nan":
        return esc(value)
    x = _to_float(value)
    if _math.isnan(x):
        return "—"
    if _math.isinf(x):
        return "∞" if x > 0 else "−∞"
    if x == int(x) and abs(x) < 1e6:
        return f"{int(x)}".replace("-", "−")
    if x != 0 and (abs(x) < 1e-3 or abs(x) >= 1e5):
        mant, exp = f"{x:.{digits - 1}e}".split("e")
        return f"{mant.replace('-', '−')}&#8239;×&#8239;10<sup>{int(exp)}</sup>".replace("<sup>-", "<sup>−")
    return f"{x:.{digits}g}".replace("-", "−")


#: An uncertainty below this (relative to max(1, |value|)) is floating-point round-off, not a spread.
ROUND_OFF = 1e-12


def is_round_off(value, err) -> bool:
    """True when ``err`` is only round-off: the quantity is exact (e.g. a fit to an exact power law)."""
    v, e = _to_float(value), _to_float(err)
    return _math.isfinite(e) and 0 <= e < ROUND_OFF * max(1.0, abs(v) if _math.isfinite(v) else 1.0)


def tex_pm(value, err, digits: int = 3) -> str:
    """``value \\pm err`` for matplotlib mathtext, or ``value`` (exact) when err is round-off."""
    if is_round_off(value, err):
        return rf"{tex_number(value, digits)}\ \mathrm{{(exact)}}"
    if not _math.isfinite(_to_float(err)):
        return tex_number(value, digits)
    return rf"{tex_number(value, digits)} \pm {tex_number(err, 2)}"


def pm(value, err, digits: int = 3) -> str:
    """``value ± err`` with the value rounded to the error's second significant digit;
    ``value (exact)`` when the error is only round-off (:func:`is_round_off`)."""
    v, e = _to_float(value), _to_float(err)
    if is_round_off(v, e) and not _math.isnan(v):
        return f"{fmt(v, digits)} (exact)"
    if _math.isnan(e) or e <= 0 or _math.isnan(v):
        return fmt(v, digits)
    decimals = max(0, min(4, 1 - int(_math.floor(_math.log10(e)))))
    if abs(v) < 1e-3 or abs(v) >= 1e5:
        return f"{fmt(v, digits)} ± {fmt(e, 2)}"
    return f"{v:.{decimals}f} ± {fmt(e, 2)}".replace("-", "−")


def table(header: Sequence[str] | None, rows: Sequence[Sequence[str]], cls: str = "",
          caption: str | None = None) -> str:
    """An HTML table; cells are already HTML (escape text yourself)."""
    out = [f'<table class="{cls}">' if cls else "<table>"]
    if caption:
        out.append(f"<caption>{caption}</caption>")
    if header:
        out.append("<thead><tr>" + "".join(f"<th>{h}</th>" for h in header) + "</tr></thead>")
    out.append("<tbody>")
    for row in rows:
        out.append("<tr>" + "".join(f"<td>{c}</td>" for c in row) + "</tr>")
    out.append("</tbody></table>")
    return "\n".join(out)


def data_uri(png_path: str | os.PathLike) -> str:
    """A PNG file as a ``data:image/png;base64,...`` URI."""
    return "data:image/png;base64," + base64.b64encode(Path(png_path).read_bytes()).decode("ascii")


class _Figures:
    """Numbers figures in order of appearance."""

    def __init__(self):
        self.n = 0

    def __call__(self, png_path, caption: str, anchor: str, wide: bool = False) -> str:
        self.n += 1
        if png_path is None or not Path(png_path).exists():
            img = f'<p class="missing">Figure file {esc(png_path)} is missing.</p>'
        else:
            img = f'<img src="{data_uri(png_path)}" alt="Figure {self.n}">'
        cls = ' class="wide"' if wide else ""
        return (f'<figure id="{esc(anchor)}"{cls}>{img}<figcaption><b>Figure {self.n}.</b> {caption}'
                "</figcaption></figure>")


# --------------------------------------------------------------------------------------------
# Tables built from the workflow's results
# --------------------------------------------------------------------------------------------

VERDICTS = ("holds", "fails", "inconclusive")


def read_claims(path: str | os.PathLike) -> pd.DataFrame:
    """The claims table (any number of rows); missing columns are added empty (``kind``: paper)."""
    from .claims import CLAIM_COLUMNS as cols

    try:
        claims = pd.read_csv(path, dtype=str, keep_default_na=False)
    except pd.errors.EmptyDataError:
        claims = pd.DataFrame(columns=cols)
    for c in cols:
        if c not in claims.columns:
            claims[c] = ""
    claims["verdict"] = claims["verdict"].str.strip().str.lower()
    claims["kind"] = claims["kind"].replace("", "paper")
    return claims


def verdict_counts(claims: pd.DataFrame) -> dict[str, int]:
    counts = {v: int((claims["verdict"] == v).sum()) for v in VERDICTS}
    other = int((~claims["verdict"].isin(VERDICTS)).sum())
    if other:
        counts["other"] = other
    return counts


def seed_outcomes(curves: pd.DataFrame, regime: str, tau: float | None = None) -> pd.DataFrame:
    """Per (lr, momentum, batch): seeds run, seeds that diverged, seeds that did not diverge but
    ended above their initial loss ("grew"), and the first divergence step (-1 if none).

    ``curves`` needs the columns regime, tau, lr, momentum, batch, seed, step, loss, diverged_at.
    """
    cols = ["lr", "momentum", "batch", "n_seeds", "n_diverged", "n_grew", "first"]
    sub = curves[curves["regime"] == regime]
    if tau is not None:
        sub = sub[np.isclose(sub["tau"], tau)]
    if sub.empty:
        return pd.DataFrame(columns=cols)
    keys = ["lr", "momentum", "batch", "seed"]
    sub = sub.sort_values(keys + ["step"])
    g = sub.groupby(keys)
    per_seed = pd.DataFrame({"diverged_at": g["diverged_at"].max(), "first_loss": g["loss"].first(),
                             "last_loss": g["loss"].last()}).reset_index()
    per_seed["div"] = per_seed["diverged_at"] >= 0
    per_seed["grew"] = ~per_seed["div"] & np.isfinite(per_seed["last_loss"]) & (
        per_seed["last_loss"] > per_seed["first_loss"])
    agg = per_seed.groupby(["lr", "momentum", "batch"]).agg(
        n_seeds=("seed", "size"), n_diverged=("div", "sum"), n_grew=("grew", "sum"),
        first=("diverged_at", lambda s: int(s[s >= 0].min()) if (s >= 0).any() else -1))
    return agg.reset_index()[cols]


def stability_frame(theory: dict, curves: pd.DataFrame | None = None, tau: float = 1.0) -> pd.DataFrame:
    """One row per SGD setting: theory (U(1), critical lr per tau, stable?) and measured outcomes.

    ``theory`` is results/theory/{dataset}.json; ``curves`` the tidy curves table (optional).
    The prediction uses the SE(``tau``) entry; ``lr_critical_tau<t>`` is given for every tau.
    Measured columns per regime (``linearized``, ``network`` and ``se`` = SE(tau)):
    ``<regime>_seeds``, ``<regime>_diverged``, ``<regime>_grew``, ``<regime>_first``.
    """
    from .io import as_float
    st = pd.DataFrame(theory["settings"])
    for col in ("u1", "lr_critical", "lr_noiseless_bound", "v1", "asymptote_constant"):
        if col in st:
            st[col] = st[col].map(as_float)
    keys = ["lr", "momentum", "batch"]
    taus = sorted(st["tau"].unique())
    main = st[np.isclose(st["tau"], tau)] if np.isclose(st["tau"], tau).any() else st[st["tau"] == taus[-1]]
    out = main[keys + ["gamma", "u1", "lr_critical", "lr_noiseless_bound", "stable",
                       "se_diverged_at"]].copy()
    crit = st.pivot_table(index=keys, columns="tau", values="lr_critical", aggfunc="first")
    crit.columns = [f"lr_critical_tau{t:g}" for t in crit.columns]
    out = out.merge(crit.reset_index(), on=keys, how="left")
    if curves is not None:
        for regime in ("linearized", "network", "se"):
            d = seed_outcomes(curves, regime, float(main["tau"].iloc[0]) if regime == "se" else None)
            d = d.rename(columns={c: f"{regime}_{c.removeprefix('n_')}" for c in
                                  ("n_seeds", "n_diverged", "n_grew", "first")})
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
    cell = (f"0/{n}" if k == 0 else
            f'<span class="bad">{k}/{n}</span>&nbsp;<small>(t={int(row[f"{regime}_first"])})</small>')
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


def runtime_frame(benchmarks_dir: str | os.PathLike) -> pd.DataFrame:
    """Per rule (first folder under ``benchmarks_dir``): jobs, total and max seconds."""
    rows = []
    root = Path(benchmarks_dir)
    for path in sorted(glob.glob(str(root / "**" / "*.tsv"), recursive=True)):
        rel = Path(path).relative_to(root)
        rule = rel.parts[0] if len(rel.parts) > 1 else rel.stem
        try:
            s = pd.read_csv(path, sep="\t")["s"].astype(float)
        except Exception:  # noqa: BLE001 - a malformed benchmark file should not stop the report
            continue
        rows.append({"rule": rule, "seconds": float(s.mean())})
    if not rows:
        return pd.DataFrame(columns=["rule", "jobs", "total_s", "max_s"])
    df = pd.DataFrame(rows)
    out = df.groupby("rule")["seconds"].agg(jobs="size", total_s="sum", max_s="max").reset_index()
    return out.sort_values("total_s", ascending=False).reset_index(drop=True)


def git_state(repo_dir: str | os.PathLike = ".") -> str:
    """'<commit> (clean|dirty tree)' or why there is no commit to name."""
    def git(*args):
        return subprocess.run(["git", "-C", str(repo_dir), *args], capture_output=True, text=True,
                              timeout=20)
    try:
        inside = git("rev-parse", "--is-inside-work-tree")
    except (OSError, subprocess.SubprocessError):
        return "not a git checkout (git not available)"
    if inside.returncode != 0 or inside.stdout.strip() != "true":
        return "not a git checkout"
    head = git("rev-parse", "HEAD")
    status = git("status", "--porcelain", "--untracked-files=normal")
    dirty = "dirty tree: uncommitted changes" if status.stdout.strip() else "clean tree"
    if head.returncode != 0:
        return f"git checkout without any commit ({dirty})"
    return f"{head.stdout.strip()} ({dirty})"


PROVENANCE_PACKAGES = ("sgd-spectra", "numpy", "scipy", "torch", "pandas", "snakemake", "papermill",
                       "nbconvert", "seaborn", "matplotlib", "latex2mathml")


def package_versions(packages: Sequence[str] = PROVENANCE_PACKAGES) -> dict[str, str]:
    """Installed versions (without importing the packages), Python first."""
    out = {"python": platform.python_version()}
    for name in packages:
        try:
            out[name] = importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            out[name] = "not installed"
    return out


def machine_description() -> str:
    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return f"{platform.platform()}; {cpu}; {os.cpu_count()} logical CPUs"


# --------------------------------------------------------------------------------------------
# Page sections
# --------------------------------------------------------------------------------------------

CSS = """
:root { --ink:#1b1b1b; --muted:#5a5a5a; --rule:#bdbdbd; --accent:#0b4f8a; }
html { background:#fdfdfb; }
body { color:var(--ink); font-family:"Palatino Linotype",Palatino,"Book Antiqua",Georgia,
  "DejaVu Serif","Times New Roman",serif; font-size:17px; line-height:1.55; max-width:60em;
  margin:2.5em auto 4em; padding:0 1.5em; }
h1 { font-size:1.9em; line-height:1.2; margin:0 0 .3em; font-weight:normal; }
h2 { font-size:1.4em; margin:2.2em 0 .6em; border-bottom:1px solid var(--rule); padding-bottom:.2em;
  font-weight:normal; }
h3 { font-size:1.12em; margin:1.6em 0 .5em; }
a { color:var(--accent); text-decoration:none; } a:hover { text-decoration:underline; }
p.subtitle { color:var(--muted); margin-top:0; }
.abstract { margin:1.5em 2.5em; font-size:.95em; }
.abstract b.label { font-variant:small-caps; letter-spacing:.04em; }
nav.toc { font-size:.9em; color:var(--muted); margin:1em 0 0; }
nav.toc a { white-space:nowrap; }
table { border-collapse:collapse; margin:1em auto; font-size:.86em; border-top:2px solid var(--ink);
  border-bottom:2px solid var(--ink); font-variant-numeric:tabular-nums; }
table caption { caption-side:top; text-align:left; font-size:.95em; padding-bottom:.4em;
  color:var(--muted); }
thead th { border-bottom:1px solid var(--ink); font-weight:600; }
th, td { padding:.28em .65em; text-align:left; vertical-align:top; }
tbody tr:nth-child(even) { background:#f3f3ef; }
td.num, th.num { text-align:right; }
table.claims { width:min(80rem, 96vw); position:relative; left:50%; transform:translateX(-50%);
  table-layout:fixed; }
table.claims th:nth-child(1) { width:19%; } table.claims th:nth-child(2) { width:9%; }
table.claims th:nth-child(3) { width:20%; } table.claims th:nth-child(4) { width:29%; }
table.claims th:nth-child(5) { width:9%; } table.claims th:nth-child(6) { width:8%; }
table.claims th:nth-child(7) { width:6%; }
table.claims td, table.study-claims td { overflow-wrap:anywhere; }
table.study-claims { width:min(80rem, 96vw); position:relative; left:50%; transform:translateX(-50%); }
table.claims td:nth-child(6) { white-space:nowrap; }
table.fits td, table.stability td { white-space:nowrap; }
table.stability { font-size:.8em; }
table.stability th { font-weight:normal; }
table.settings td:first-child { color:var(--muted); white-space:nowrap; }
figure.wide { width:min(82rem, 96vw); position:relative; left:50%; transform:translateX(-50%); }
figure.wide figcaption { max-width:57em; margin:.5em auto 0; }
table.wide { width:100%; }
.verdict { display:inline-block; padding:0 .5em; border-radius:.7em; font-size:.92em;
  font-family:system-ui,"DejaVu Sans",sans-serif; white-space:nowrap; }
.verdict.holds { background:#d8efdc; color:#14532d; }
.verdict.fails { background:#f7d4d4; color:#7f1d1d; }
.verdict.inconclusive { background:#fbecc5; color:#6b4a00; }
.verdict.other { background:#e5e5e5; color:#333; }
.ok { color:#1a6b32; } .bad { color:#a11a1a; } .warn { color:#8a5a00; }
figure { margin:1.6em 0; text-align:center; }
figure img { max-width:100%; height:auto; border:1px solid #e4e4e0; }
figcaption { text-align:left; font-size:.92em; color:#333; margin:.5em 1em 0; }
math[display="block"] { margin:.6em 0; }
.eqs { margin:.5em 0 1em; }
.eqs .eq { display:flex; align-items:center; gap:1em; }
.eqs .eq > span.tag { color:var(--muted); font-size:.85em; min-width:11em; }
.eqs .eq > math { flex:1; }
pre { background:#f4f4f0; border:1px solid #e0e0da; padding:.8em 1em; font-size:.8em;
  overflow-x:auto; line-height:1.35; }
code { font-size:.9em; }
.note { color:var(--muted); font-size:.9em; }
.missing { color:#a11a1a; }
dl.kv { display:grid; grid-template-columns:max-content 1fr; gap:.2em 1.2em; font-size:.95em; }
dl.kv dt { color:var(--muted); } dl.kv dd { margin:0; }
mark.changed { background:#fff1a8; }
"""


def _verdict_badge(verdict: str) -> str:
    cls = verdict if verdict in VERDICTS else "other"
    return f'<span class="verdict {cls}">{esc(verdict or "—")}</span>'


def _cell_value(value: str) -> str:
    """A claims-table cell: numbers formatted, text escaped."""
    value = (value or "").strip()
    if not value:
        return "—"
    x = _to_float(value)
    if not _math.isnan(x) or value.lower() == "nan":
        return fmt(x, 3)
    return esc(value)


def _section_link(row, anchors: set[str]) -> str:
    section = (row.get("section") or "").strip().lstrip("#")
    dataset = (row.get("dataset") or "").strip()
    if not section:
        return f'<a href="#{esc(dataset)}">{esc(dataset)}</a>' if dataset in anchors else "—"
    for target in (section, f"{dataset}-{section}"):
        if target in anchors:
            return f'<a href="#{esc(target)}">{esc(section)}</a>'
    if dataset in anchors:
        return f'<a href="#{esc(dataset)}">{esc(section)}</a>'
    return esc(section)


def claims_section(claims: pd.DataFrame, anchors: set[str]) -> str:
    if claims.empty:
        return '<p class="note">The claims table is empty.</p>'
    rows = []
    for _, r in claims.iterrows():
        claim = esc(r["claim"])
        if r.get("source"):
            claim += f' <small class="note">[{esc(r["source"])}]</small>'
        rows.append([claim, esc(r["dataset"]) or "—",
                     _cell_value(r["prediction"]), _cell_value(r["measurement"]),
                     _cell_value(r["tolerance"]), _verdict_badge(r["verdict"]),
                     _section_link(r, anchors)])
    return table(["claim", "dataset", "prediction", "measurement", "tolerance", "verdict",
                  "section"], rows, cls="claims")


def theory_section() -> str:
    """The key equations of the paper (theory.md §2, §4, §6, §8, §9), as MathML."""
    eqs = [
        ("SGD with momentum (eq. 1)",
         r"v_{t+1}=-\alpha\nabla_w L_{B_t}(w_t)+\beta v_t,\qquad w_{t+1}=w_t+v_{t+1}"),
        ("batch noise factor",
         r"\gamma=\frac{N-b}{b(N-1)}"),
        ("SE noise term (eq. 7)",
         r"\Sigma_{kk}=\tau_1\lambda_k\,2L_t-\tau_2\lambda_k^2C_{k,t},\qquad "
         r"n_{k,t}=\alpha^2\gamma\left(2\tau_1\lambda_k L_t-\tau_2\lambda_k^2 C_{k,t}\right)"),
        ("loss as a renewal equation",
         r"L_t=V_t+\sum_{s=1}^{t}U_s L_{t-s},\qquad \tilde L(z)=\frac{V(z)}{1-U(z)}"),
        ("stability (eq. 21, Prop. 3)",
         r"U(1)=\gamma\tau_1\sum_k\frac{\alpha\lambda_k(1+\beta)}{2(1-\beta^2)-\alpha\lambda_k"
         r"\left((1-\beta)-\gamma\tau_2(1+\beta)\right)}<1"),
        ("noiseless condition",
         r"0<\alpha\lambda_{\max}<2(1+\beta),\qquad |\beta|<1"),
        ("power laws (eq. 25)",
         r"\lambda_k\simeq\Lambda k^{-\nu},\qquad \sum_{l\ge k}\lambda_lC_l=\frac{1}{N}\sum_{l\ge k}c_l"
         r"\simeq K k^{-\kappa},\qquad \zeta=\frac{\kappa}{\nu}"),
        ("phase boundary",
         r"\kappa<2\nu-1\;\text{signal-dominated},\qquad \kappa>2\nu-1\;\text{noise-dominated},"
         r"\qquad L_t\propto t^{-\min(\zeta,\,2-1/\nu)}"),
        ("signal phase (eq. 28a)",
         r"L_t\simeq\frac{K\,\Gamma(\zeta+1)}{2\,(1-U(1))}\left(2\alpha_{\mathrm{eff}}\Lambda t\right)^{-\zeta},"
         r"\qquad \alpha_{\mathrm{eff}}=\frac{\alpha}{1-\beta}"),
        ("noise phase (eq. 28b)",
         r"L_t\simeq\frac{\gamma\tau_1V(1)\,\Gamma(2-\frac{1}{\nu})}{\nu\,(1-U(1))^2}\,"
         r"\Lambda^{1/\nu}2^{\frac{1}{\nu}-2}\alpha_{\mathrm{eff}}^{1/\nu}\,t^{-(2-1/\nu)}"),
    ]
    rows = "\n".join(f'<div class="eq"><span class="tag">{esc(tag)}</span>{math(tex, display=True)}</div>'
                     for tag, tex in eqs)
    return (
        "<p>The loss is " + math(r"L=\frac{1}{2N}\sum_i\left(f(x_i)-y_i\right)^2") + ". In the "
        "eigenbasis of the normalised kernel " + math(r"K/N") + " (eigenvalues "
        + math(r"\lambda_k") + ", output-space coefficients " + math(r"c_k=\langle u_k,e_0\rangle^2")
        + ") the spectrally expressible (SE) approximation closes the second-moment dynamics of "
        "mini-batch SGD on the diagonal moments " + math(r"C_{k,t}") + ", with a noise term "
        "controlled by one parameter " + math(r"\tau") + " (we set " + math(r"\tau_1=1,\ \tau_2=\tau")
        + "). The resulting loss solves a renewal equation whose generating function at "
        + math("z=1") + " decides convergence.</p>\n"
        f'<div class="eqs">{rows}</div>')


def _dataset_equations(fit: dict) -> str:
    nu, kappa = fit["nu"], fit["kappa"]
    n_, k_ = _to_float(nu["exponent"]), _to_float(kappa["exponent"])
    zeta = _to_float(fit.get("zeta"))
    p = _to_float(fit.get("late_time_exponent"))

    def num(x, d=3):
        return f"{_to_float(x):.{d}g}"

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
        parts = [rf"\lambda_{{\mathrm{{crit}}}}(\tau={_to_float(t):g})={num(v)}" for t, v in lam_crit.items()]
        eqs.append(r",\qquad ".join(parts))
    return '<div class="eqs">' + "".join(math(e, display=True) for e in eqs) + "</div>"


def fits_table(fit: dict) -> str:
    nu, kappa = fit["nu"], fit["kappa"]
    rows = []
    for name, sym, f in (("eigenvalues", r"\nu", nu), ("coefficient tail sums", r"\kappa", kappa)):
        rows.append([esc(name), math(sym), pm(f["exponent"], f["exponent_err"]),
                     fmt(f["prefactor"]), f'[{int(f["k_min"])}, {int(f["k_max"])}]',
                     fmt(f["r2"], 4), fmt(f.get("rms_log_residual"), 2),
                     ", ".join(fmt(s, 3) for s in f.get("sub_exponents", []))])
    out = table(["fitted on", "exponent", "value", "prefactor " + math(r"\Lambda") + " / " + math("K"),
                 "fit range " + math("k"), "R²", "rms log residual", "sub-range exponents"], rows,
                caption="Power-law fits (error = standard deviation of the sub-range exponents).", cls="fits")
    lam_crit = fit.get("lambda_crit") or {}
    derived = [[math(r"\zeta=\kappa/\nu"), fmt(fit.get("zeta"))],
               ["phase", esc(fit.get("phase", "—"))],
               ["late-time exponent " + math(r"p") + " in " + math(r"L_t\propto t^{p}"),
                pm(fit.get("late_time_exponent"), fit.get("late_time_exponent_err"))],
               ["fit range rule", esc(fit.get("fit_range_rule", "—"))]]
    for t, v in lam_crit.items():
        derived.append([math(rf"\lambda_{{\mathrm{{crit}}}}(\tau={_to_float(t):g})"), fmt(v)])
    derived.append(["initial loss " + math("L_0"), fmt(fit.get("loss0"))])
    out += table(["derived quantity", "value"], derived)
    return out


def stability_table(stab: pd.DataFrame, tau: float = 1.0) -> str:
    """HTML table of :func:`stability_frame`: prediction per setting against the measured runs."""
    taus = sorted(float(c.removeprefix("lr_critical_tau")) for c in stab.columns
                  if c.startswith("lr_critical_tau"))
    has_net = "network_seeds" in stab and stab["network_seeds"].notna().any()
    has_se = "se_seeds" in stab and stab["se_seeds"].notna().any()
    header = [math(r"\alpha"), math(r"\beta"), math("b"), math(r"\gamma"), math("U(1)")]
    header += [math(rf"\alpha_c(\tau={t:g})") for t in taus]
    header += [math(r"2(1+\beta)"), "predicted", "SE " + math(rf"\tau={tau:g}") + " diverged",
               "linearised diverged"]
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
        row += [f"{r[f'lr_critical_tau{t:g}']:.3f}" if np.isfinite(r[f"lr_critical_tau{t:g}"]) else "—"
                for t in taus]
        row += [fmt(r["lr_noiseless_bound"]), pred, se, _measured_cell(r, "linearized")]
        if has_net:
            row.append(_measured_cell(r, "network"))
        row.append(_agreement_cell(r))
        rows.append(row)
    return table(header, rows, cls="wide stability")


def _abstract(counts: dict, fits: Mapping[str, dict], datasets: Sequence[str],
              networks: Sequence[str] = (), companions: Sequence[str] = ()) -> str:
    total = sum(counts.values())
    parts = [f'<span class="verdict {v}">{counts.get(v, 0)} {v}</span>' for v in VERDICTS]
    if counts.get("other"):
        parts.append(f'<span class="verdict other">{counts["other"]} other</span>')
    S = _symbols()
    spectra = []
    for d in datasets:
        f = fits[d]
        spectra.append(f"{esc(d)}: {S['nu']} = {pm(f['nu']['exponent'], f['nu']['exponent_err'])}, "
                       f"{S['kappa']} = {pm(f['kappa']['exponent'], f['kappa']['exponent_err'])} "
                       f"({esc(f.get('phase', ''))})")
    return (
        '<div class="abstract"><p><b class="label">Abstract.</b> We reproduce the central claims of '
        "Velikanov, Kuznedelev and Yarotsky, <i>A view of mini-batch SGD via generating functions</i> "
        "(ICLR 2023): the loss of mini-batch SGD with momentum on a linearised network is predicted "
        "from the spectrum of its tangent kernel alone, through the spectrally expressible (SE) "
        "approximation; its stability is decided by " + math("U(1)<1") + "; and power-law spectra give "
        "power-law loss curves whose exponent depends on the phase (signal- or noise-dominated). "
        "For each dataset we compute the kernel spectrum, fit its exponents, predict loss curves and "
        "stability, and compare with sampled SGD on the linearised model"
        + (f" and on the real network ({', '.join(esc(d) for d in networks)})" if networks else "")
        + ". "
        + (f'It also checks {len(companions)} related papers in <a href="#companions">companion studies</a>. '
           if companions else "")
        + f"Of {total} checked claims: {' '.join(parts)}.</p>"
        f"<p>Fitted spectra — {'; '.join(spectra)}.</p></div>")


def _what_was_run(config: dict, datasets: Sequence[str], data: Mapping[str, dict],
                  scales: Mapping[str, float]) -> str:
    S = _symbols()
    rows = []
    for d in datasets:
        info = data[d]
        extra = ""
        if info.get("kind") == "synthetic":
            extra = f" ({S['nu']} = {fmt(info.get('nu'))}, {S['kappa']} = {fmt(info.get('kappa'))})"
        rows.append([f'<a href="#{esc(d)}">{esc(d)}</a>', esc(info.get("kind", "—")) + extra,
                     esc(info.get("source", "—")), fmt(info.get("n_samples")),
                     fmt(info.get("n_features")) if info.get("n_features") is not None else "—",
                     fmt(scales.get(d)) if d in scales else "—"])
    out = table(["dataset", "kind", "source", math("N"), "features",
                 "scale " + math(r"N/\lambda_{\max}(K_{\mathrm{emp}})")], rows, cls="wide",
                caption="Datasets. The scale factor multiplies the raw kernel (and the network's torch "
                        "learning rate) so that learning rates are in units of 1/λ<sub>max</sub>.")
    width = config.get("width", "—")
    network = (
        "<p>On image and tabular datasets the model is a one-hidden-layer ReLU network "
        + math(r"f(x)=\frac{1}{\sqrt{m}}\sum_{j=1}^{m}a_j\,\mathrm{relu}\!\left(\frac{w_j^\top x}{\sqrt{d}}+b_j\right)")
        + f" of width {math('m')} = {esc(width)} in NTK parametrisation (all weights and the hidden "
        "bias drawn from N(0,1), no output bias), trained on ½ MSE regressing the standardised target "
        "(the digit label for images; for tabular data each feature is standardised too). "
        "Its empirical neural tangent kernel at initialisation "
        + math(r"K_{ij}=\langle\nabla_\theta f(x_i),\nabla_\theta f(x_j)\rangle")
        + " defines the linearised model. As in the authors' code the kernel is rescaled so that "
        + math(r"\lambda_{\max}(K/N)=1") + "; learning rates are therefore in units of "
        + math(r"1/\lambda_{\max}") + ", and the network's torch learning rate is "
        + math(r"\alpha\cdot N/\lambda_{\max}(K_{\mathrm{emp}})") + " (the scale column above). "
        "Synthetic problems have no network: their kernel " + math(r"K/N=U^\top\mathrm{diag}(k^{-\nu})U")
        + " (Haar-random " + math("U") + ") and initial error " + math(r"c_k\propto k^{-(\kappa+1)}")
        + " are built directly, with exact exponents.</p>")
    lrs = config.get("learning_rates", [])
    settings = [
        ["learning rates " + math(r"\alpha"), ", ".join(fmt(x) for x in lrs)],
        ["momenta " + math(r"\beta"), ", ".join(fmt(x) for x in config.get("momenta", []))],
        ["batch sizes " + math("b"), ", ".join(fmt(x) for x in config.get("batch_sizes", []))],
        ["SE parameters " + math(r"\tau"), ", ".join(fmt(x) for x in config.get("taus", []))],
        ["steps " + math("T"), f"{fmt(config.get('steps'))} (loss recorded at "
                               f"{fmt(config.get('record_points'))} log-spaced steps, duplicates merged)"],
        ["seeds", f"{fmt(config.get('linearized_seeds'))} for the linearised model, "
                  f"{fmt(config.get('network_seeds'))} for the network (same batches for the same seed)"],
        ["fit range " + math("k") + " (both exponents)", esc(config.get("fit_range", "auto"))],
        ["base seed", fmt(config.get("seed"))],
    ]
    n_settings = len(lrs) * len(config.get("momenta", [])) * len(config.get("batch_sizes", []))
    sgd = (f"<p>Every combination is run: {n_settings} settings per dataset. "
           "Batches are drawn without replacement within a step and independently across steps; "
           "the SE predictions use the same " + math(r"\gamma") + ".</p>")
    sgd += table(None, settings, cls="settings")
    return out, network, sgd


def config_listing(config: dict, default: dict | None) -> tuple[str, list[str]]:
    """The config as YAML, top-level keys that differ from ``default`` wrapped in <mark>."""
    import yaml
    config, default = to_plain(config), to_plain(default) if default is not None else None
    blocks, changed = [], []
    for key, value in config.items():
        text = esc(yaml.safe_dump({key: value}, sort_keys=False, default_flow_style=None, width=100))
        if default is not None and (key not in default or default[key] != value):
            changed.append(key)
            text = f'<mark class="changed">{text}</mark>'
        blocks.append(text)
    return "".join(blocks), changed


def _methods(config: dict, repo_dir, benchmarks_dir, default_config: dict | None = None) -> str:
    listing, changed = config_listing(config, default_config)
    if default_config is None:
        note = ""
    elif changed:
        note = ("<p>Highlighted: keys that differ from the embedded default <code>config.yaml</code> ("
                + ", ".join(f"<code>{esc(k)}</code>" for k in changed) + ").</p>")
    else:
        note = "<p>This is the embedded default <code>config.yaml</code>, unchanged.</p>"
    out = "<h3>Configuration (exactly as run)</h3>" + note + "<pre>" + listing + "</pre>"
    versions = package_versions()
    facts = [("git commit", esc(git_state(repo_dir))),
             ("machine", esc(machine_description())),
             ("report built", esc(_dt.datetime.now().astimezone().strftime("%Y-%m-%d %H:%M %Z")))]
    facts.append(("versions", ", ".join(f"{esc(k)} {esc(v)}" for k, v in versions.items())))
    out += "<h3>Provenance</h3><dl class=\"kv\">" + "".join(
        f"<dt>{k}</dt><dd>{v}</dd>" for k, v in facts) + "</dl>"
    rt = runtime_frame(benchmarks_dir)
    if rt.empty:
        out += '<p class="note">No benchmark files were found.</p>'
    else:
        rows = [[f"<code>{esc(r.rule)}</code>", fmt(r.jobs), f"{r.total_s:.1f}", f"{r.max_s:.1f}"]
                for r in rt.itertuples()]
        rows.append(["<b>all benchmarked rules</b>", fmt(int(rt.jobs.sum())), f"<b>{rt.total_s.sum():.1f}</b>",
                     f"{rt.max_s.max():.1f}"])
        out += table(["rule", "jobs", "total s", "max s"], rows,
                     caption="Per-rule runtimes from Snakemake's benchmark files: wall-clock seconds per "
                             "job, summed over the rule's jobs (jobs run in parallel, so the sum exceeds "
                             "the workflow's wall time).")
    out += ("<h3>How to rerun</h3><pre>pip install -e .\nsnakemake --cores 2</pre>"
            '<p class="note">Override any key with <code>snakemake --cores 2 --config key=value</code>; '
            "see <code>workflow/schemas/config.schema.yaml</code> for every key.</p>")
    return out


def _across_datasets(figs: Mapping[str, str | os.PathLike], figure, keys: Sequence[str]) -> str:
    """Cross-dataset figures (stability map, phase diagram, late-time exponents) named by ``keys``."""
    out = []
    captions = {
        "stability_map": (
            "Critical learning rate " + math(r"\alpha_c(\beta)") + " per dataset and batch size: the "
            "smaller of the root of " + math("U(1)=1") + " and the noiseless bound "
            + math(r"2(1+\beta)/\lambda_{\max}") + " (dash-dot). Solid: τ = 1; dashed: τ = 0; dotted: "
            "τ < 0; shaded: the two-sided bounds of Prop. 4 on " + math(r"\alpha_{\mathrm{eff},c}")
            + " for β ≥ 0.5. Crosses: the critical learning rate measured by bisection on long SE runs "
            "(loss still growing at the end), independent of the closed form."),
        "phase_diagram": (
            "Each dataset placed on the (ν, κ) phase diagram from its fitted exponents (error bars: "
            "sub-range spread). Below the line " + math(r"\kappa=2\nu-1") + " the late-time loss is "
            "dominated by the signal, " + math(r"L_t\propto t^{-\kappa/\nu}") + "; above it by the "
            "sampling noise, " + math(r"L_t\propto t^{-(2-1/\nu)}") + "."),
        "exponents": (
            "Late-time exponent: the log-log slope of the loss over the last decade of steps, for every "
            "setting the theory calls stable (linearised SGD, mean over seeds, and SE τ = 1), against "
            "the prediction " + math(r"-\min(\zeta,\,2-1/\nu)") + " from the fitted exponents (bars)."),
    }
    for key in keys:
        if figs.get(key):
            out.append(figure(figs[key], captions[key], f"across-figure-{key}", wide=(key == "stability_map")))
    return "\n".join(out)


def _experiments(figs: Mapping[str, str | os.PathLike], figure, notebooks: Mapping[str, str]) -> str:
    """The paper's experiments: regimes (Figs. 1, 7), loss maps (Fig. 2), budget (Fig. 5),
    optimal hyper-parameters (Fig. 6), the critical learning rate (Figs. 12-14), which tau fits
    the true noise (Fig. 8) and the phase asymptotics (Fig. 3, centre and right)."""
    from .noise_fit import TRACE_DISTANCE_CAPTION
    from .phase_asymptotics import PHASE_ASYMPTOTICS_CAPTION
    out = ["<p>The paper's experiments, reproduced from the workflow's own spectra and simulators; "
           "their verdicts are in the claims table. The paper's sizes are in <code>config/paper.yaml</code>.</p>"]
    if figs.get("regimes"):
        out.append("<h3>Regimes over a short horizon (paper Figs. 1 and 7)</h3>")
        out.append(figure(figs["regimes"],
            "Top: loss of one setting over the first steps, for the real network and sampled SGD on the "
            "linearised model (mean and 10–90% band over batch sequences; the network and the linearised "
            "model of one seed see the same batches), the exact averaged second-moment recursion (“all sm”, "
            "an " + math(r"N\times N") + " matrix recursion) and the SE(τ) approximation for each τ. Bottom: "
            "mean over steps of " + math(r"|\log L_{\mathrm{SE}}-\log L_{\mathrm{lin}}|") + " against the "
            "seed-mean of sampled SGD; the dashed line is the exact recursion's distance, i.e. the Monte-Carlo "
            "floor. The paper finds τ = +1 best at small batch on MNIST.", "experiments-figure-regimes", wide=True))
    if figs.get("loss_maps"):
        out.append("<h3>Loss over learning rate × momentum (paper Fig. 2)</h3>")
        out.append(figure(figs["loss_maps"],
            "Loss after " + math("T") + " steps over a grid of learning rate " + math(r"\alpha") + " and momentum "
            + math(r"\beta") + ", for sampled SGD on the linearised model (left, one batch sequence shared by all "
            "cells) and SE(τ = 1) (right). Grey cells diverged or ended above the initial loss. Red: the predicted "
            "stability boundary " + math(r"\alpha_c(\beta)") + " (the smaller of the " + math("U(1)=1")
            + " root and " + math(r"2(1+\beta)") + "). Star: the grid optimum. In the noise phase the optimum "
            "moves to negative momentum.", "experiments-figure-maps", wide=True))
    if figs.get("budget"):
        out.append("<h3>Budget independence (paper Fig. 5)</h3>")
        out.append(figure(figs["budget"],
            "Loss against the number of samples processed " + math(r"t\,b") + " for several batch sizes, "
            "each run at a fixed fraction of its predicted critical learning rate with momentum close to 1 "
            "(markers: sampled linearised SGD, mean over batch sequences; lines: SE(τ = 1)). While the "
            "critical effective rate " + math(r"\alpha_{\mathrm{eff},c}\approx 2/(\gamma\lambda_{\mathrm{crit}})")
            + " grows linearly with " + math("b") + ", the curves collapse: the loss depends on the budget "
            + math("tb") + " only. Once " + math(r"\alpha_{\mathrm{eff},c}") + " saturates at the noiseless "
            "bound, larger batches need more samples (diminishing returns).", "experiments-figure-budget"))
    if figs.get("hyperparameters"):
        out.append("<h3>Optimal learning rate and momentum at a fixed horizon (paper Fig. 6)</h3>")
        out.append(figure(figs["hyperparameters"],
            "Left: SE loss after " + math("T=10^4") + " steps against the learning rate (" + math(r"\beta=0")
            + ", " + math("b=1") + ", " + math("N=10^4") + ") on power-law spectra; dashed: the measured optimum, "
            "dotted: the optimum printed by the authors. Right: loss against momentum at the optimal learning "
            "rate, relative to " + math(r"\beta=0") + ", for four noise-phase spectra; dashed: the optimal "
            + math(r"\beta") + ".", "experiments-figure-hyper"))
    if figs.get("critical_lr"):
        out.append("<h3>Critical learning rate against batch size (paper Figs. 12–14)</h3>")
        out.append(figure(figs["critical_lr"],
            "Largest stable learning rate against the batch size " + math("b") + ". Lines: the prediction "
            + math("U(1)=1") + " with τ = +1 (solid) and τ = −1 (dashed); dotted: the noiseless bound "
            + math(r"2(1+\beta)") + ", reached at " + math("b=N") + ". Markers: the critical learning rate "
            "of the expected loss, computed from the exact " + math(r"N\times N") + " second-moment dynamics of "
            "linearised SGD without the SE approximation (the largest eigenvalue of its noise-renewal matrix "
            "reaches 1). "
            "For " + math(r"b\ll N") + ", " + math(r"\gamma\approx 1/b") + " and the stable "
            + math(r"\alpha_{\mathrm{eff}}") + " grows linearly with " + math("b") + ".",
            "experiments-figure-critical", wide=True))
    if figs.get("trace_distance"):
        out.append("<h3>Which τ fits the true noise: trace distance (paper Fig. 8)</h3>")
        out.append(figure(figs["trace_distance"], esc(TRACE_DISTANCE_CAPTION), "experiments-figure-trace", wide=True))
    if figs.get("asymptotics"):
        out.append("<h3>Transition and eventual divergence (paper Fig. 3, centre and right)</h3>")
        out.append(figure(figs["asymptotics"], esc(PHASE_ASYMPTOTICS_CAPTION), "experiments-figure-asymptotics",
                          wide=True))
    if notebooks:
        links = ", ".join(f'<a href="{esc(link)}">{esc(name.replace("_", " "))}</a>' for name, link in notebooks.items())
        out.append(f"<p>Executed notebooks: {links}.</p>")
    return "\n".join(out)


def _companions(studies: Sequence[str], figs: Mapping[str, str | os.PathLike],
                notebooks: Mapping[str, str], claims: pd.DataFrame, figure) -> str:
    """One subsection per companion study: the paper's claim, the figure, the study's verdicts
    and what of the paper's setting could not be recovered."""
    from .companions import study_module
    out = ["<p>Four related papers, one compact study each, built on the same package (kernels, spectra, "
           "spectral loss curves, trainers). Each study states the paper's claim, checks it on its own "
           "outputs and says where the paper's exact setting could not be recovered. The rows below are "
           "also in the claims table of §1.</p>"]
    for name in studies:
        meta = study_module(name).STUDY
        anchor = f"companion-{name}"
        out.append(f'<h3 id="{esc(anchor)}">Seed {esc(meta["seed"])}: {esc(meta["title"])}</h3>')
        out.append(f'<p class="subtitle">{esc(meta["paper"])}</p>')
        out.append(f"<p><b>The paper's claim.</b> {esc(meta['claim'])}</p>")
        out.append(figure(figs.get(name), esc(meta["caption"]), f"{anchor}-figure", wide=True))
        rows = claims[claims.section == anchor]
        if len(rows):
            out.append(table(["claim", "data", "prediction", "measurement", "tolerance", "verdict"],
                             [[esc(r.claim), esc(r.dataset), _cell_value(r.prediction), _cell_value(r.measurement),
                               esc(r.tolerance), _verdict_badge(r.verdict)] for r in rows.itertuples()],
                             cls="study-claims"))
        out.append(f"<p><b>What could not be recovered, and what was done instead.</b> {esc(meta['deviations'])}</p>")
        if notebooks.get(name):
            out.append(f'<p>Executed notebook: <a href="{esc(notebooks[name])}">{esc(name)}</a>.</p>')
    return "\n".join(out)


# --------------------------------------------------------------------------------------------
# The page
# --------------------------------------------------------------------------------------------

def _read_json(path):
    from .io import read_json
    return read_json(path)


def build_report(
    output: str | os.PathLike,
    *,
    config: dict,
    datasets: Sequence[str],
    data: Mapping[str, str | os.PathLike],
    fits: Mapping[str, str | os.PathLike],
    theory: Mapping[str, str | os.PathLike],
    claims: str | os.PathLike,
    figures: Mapping[str, Mapping[str, str | os.PathLike]],
    notebooks: Mapping[str, Mapping[str, str]],
    curves: Mapping[str, str | os.PathLike] | None = None,
    spectra: Mapping[str, str | os.PathLike] | None = None,
    benchmarks_dir: str | os.PathLike = "results/benchmarks",
    repo_dir: str | os.PathLike = ".",
    theory_figures: Mapping[str, str | os.PathLike] | None = None,
    theory_notebook: str | None = None,
    default_config: dict | None = None,
    experiment_figures: Mapping[str, str | os.PathLike] | None = None,
    experiment_notebooks: Mapping[str, str] | None = None,
    companion_figures: Mapping[str, str | os.PathLike] | None = None,
    companion_notebooks: Mapping[str, str] | None = None,
) -> str:
    """Write the self-contained report page to ``output`` and return its HTML.

    Per-dataset arguments map a dataset name to a path: ``data`` (results/data/{d}.json),
    ``fits``, ``theory``, ``curves`` (results/curves/{d}.parquet, optional: measured divergence)
    and ``spectra`` (results/spectra/{d}.npz, optional: the kernel scale factor).
    ``figures[d]['spectrum'|'loss_curves']`` are PNG paths (embedded); ``notebooks[d][...]`` are
    links relative to ``output`` (e.g. ``notebooks/digits_spectrum.html``).
    ``theory_figures`` (keys ``stability_map``, ``phase_diagram``, ``exponents``) are the
    cross-dataset figures, ``theory_notebook`` the link to their executed notebook.
    ``default_config``: the embedded default, to highlight what the run changed.
    ``companion_figures`` / ``companion_notebooks``: per companion study (keys of
    :data:`sgd_spectra.companions.STUDIES`), its figure and the link to its executed notebook.
    """
    datasets = list(datasets)
    data_info = {d: _read_json(data[d]) for d in datasets}
    fit_info = {d: _read_json(fits[d]) for d in datasets}
    theory_info = {d: _read_json(theory[d]) for d in datasets}
    curve_frames = {}
    for d in datasets:
        path = (curves or {}).get(d)
        if path is not None and Path(path).exists():
            curve_frames[d] = pd.read_parquet(path, columns=["regime", "tau", "lr", "momentum", "batch",
                                                            "seed", "step", "loss", "diverged_at"])
    scales = {}
    for d in datasets:
        path = (spectra or {}).get(d)
        if path is not None and Path(path).exists():
            with np.load(path) as z:
                if "scale" in z:
                    scales[d] = float(z["scale"])
    claims_df = read_claims(claims)
    paper_claims, checks = claims_df[claims_df.kind != "check"], claims_df[claims_df.kind == "check"]
    counts = verdict_counts(paper_claims)
    steps = config.get("steps")

    companion_studies = list(companion_figures or {})
    anchors = {"claims", "checks", "run", "spectra", "theory", "training", "methods", "across", "experiments", "companions"}
    anchors |= {f"companion-{name}" for name in companion_studies}
    for d in datasets:
        anchors |= {d, f"{d}-spectrum", f"{d}-fits", f"{d}-loss", f"{d}-stability", f"{d}-notebooks"}
    figure = _Figures()
    S = _symbols()

    body = []
    body.append('<header><h1>sgd-spectra: predicting mini-batch SGD from the tangent-kernel spectrum</h1>'
                '<p class="subtitle">A reproduction of Velikanov, Kuznedelev &amp; Yarotsky, '
                '“A view of mini-batch SGD via generating functions” (arXiv 2206.11124, ICLR 2023)</p>')
    toc = ['<a href="#claims">1. Claims</a>', '<a href="#run">2. Data</a>',
           '<a href="#spectra">3. Spectra and exponents</a>', '<a href="#theory">4. Theory</a>',
           '<a href="#training">5. Training</a>']
    number = 6
    if experiment_figures:
        toc.append(f'<a href="#experiments">{number}. Experiments</a>')
        number += 1
    if companion_studies:
        toc.append(f'<a href="#companions">{number}. Companion studies</a>')
        number += 1
    toc.append(f'<a href="#methods">{number}. Methods and provenance</a>')
    body.append('<nav class="toc">' + " &nbsp;·&nbsp; ".join(toc) + "</nav></header>")
    networks = [d for d in datasets
                if d in curve_frames and (curve_frames[d]["regime"] == "network").any()]
    body.append(_abstract(counts, fit_info, datasets, networks, companion_studies))

    body.append('<h2 id="claims">1. Claims and verdicts</h2>')
    body.append("<p>Each quantitative claim of the paper that this workflow can check, with our prediction "
                "(from theory applied to the measured spectrum), our measurement (from simulated SGD) "
                "and the tolerance used for the verdict.</p>")
    body.append(claims_section(paper_claims, anchors))
    body.append('<h3 id="checks">Implementation checks</h3>')
    body.append("<p>Checks of the code against itself or against an identity (SE against SE, a fit against "
                "its own generator, Monte Carlo against a closed form). They guard the implementation; they "
                "are not claims of the paper and are not counted above. "
                f"{verdict_counts(checks).get('holds', 0)} of {len(checks)} hold.</p>")
    body.append(claims_section(checks, anchors))

    datasets_html, network_html, sgd_html = _what_was_run(config, datasets, data_info, scales)
    body.append('<h2 id="run">2. Data</h2>')
    body.append(datasets_html)

    body.append('<h2 id="spectra">3. NTK spectra and fitted exponents</h2>')
    body.append(network_html)
    for d in datasets:
        info, fit = data_info[d], fit_info[d]
        nu, kappa = fit["nu"], fit["kappa"]
        kind = info.get("kind", "")
        body.append(f'<h3 id="{esc(d)}">Dataset <code>{esc(d)}</code></h3>')
        body.append(f"<p>{esc(info.get('source', ''))}; {math('N')} = {fmt(info.get('n_samples'))}"
                    + (", kernel: empirical NTK of the network at initialisation" if kind != "synthetic"
                       else ", kernel and coefficients with exact power laws") + ".</p>")
        body.append(f'<div id="{esc(d)}-spectrum"></div>')
        body.append(figure(
            (figures.get(d) or {}).get("spectrum"),
            f"Kernel spectrum of <code>{esc(d)}</code>. (a) Eigenvalues {S['lambda_k']} of "
            f"{S['K/N']} (normalised so that {S['lambda_1']}) with the power law "
            f"{S['Lk^-nu']} fitted on {S['k']} ∈ [{int(nu['k_min'])}, {int(nu['k_max'])}], "
            f"{S['nu']} = {pm(nu['exponent'], nu['exponent_err'])}. (b) Normalised tail sums "
            f"{S['S_k/S_1']}, {S['S_k']}, of the initial error's coefficients, with "
            f"the power law fitted on the same range, "
            f"{S['kappa']} = {pm(kappa['exponent'], kappa['exponent_err'])}. (c) The exponents fitted on "
            f"sliding ranges [k, 5k] (plotted at their geometric centre) and the late-time slope "
            f"−min(ζ, 2−1/ν) they predict: how much the numbers depend on where they are measured. "
            f"Markers: data; lines: fits; shaded: the fit range ({esc(fit.get('fit_range_rule', ''))}).",
            f"{d}-figure-spectrum"))
        body.append(f'<h4 id="{esc(d)}-fits">Fitted exponents and derived quantities</h4>')
        body.append(fits_table(fit))
        body.append("<p>With these numbers the key equations of §4 read:</p>")
        body.append(_dataset_equations(fit))

    body.append('<h2 id="theory">4. Theory</h2>')
    body.append(theory_section())
    if theory_figures:
        body.append(_across_datasets(theory_figures, figure, keys=("stability_map", "phase_diagram")))

    body.append('<h2 id="training">5. Training: theory against SGD</h2>')
    body.append(sgd_html)
    for d in datasets:
        th = theory_info[d]
        body.append(f'<h3 id="{esc(d)}-loss">Loss curves: <code>{esc(d)}</code></h3>')
        has_net = d in curve_frames and (curve_frames[d]["regime"] == "network").any()
        body.append(figure(
            (figures.get(d) or {}).get("loss_curves"),
            f"Training loss of <code>{esc(d)}</code> against step (log-log, plotted at step + 1), one "
            "panel per SGD setting (learning rate α, momentum β, batch size b). "
            + ("Black circles: the real network (mean over seeds). " if has_net else "")
            + "Blue markers and band: sampled SGD on the linearised model (mean over seeds, min–max band). "
            "Lines: SE(τ) predictions from the spectrum alone (τ = +1 solid, 0 dashed, −1 dotted). "
            "Grey dashed: the predicted late-time asymptote " + math(r"C\,t^{p}")
            + " (Theorem 2, τ = 1) for settings the theory calls stable. "
            "Crosses mark divergence; each panel title gives the SE prediction " + math("U(1)") + ".",
            f"{d}-figure-loss", wide=True))
        body.append(f'<h4 id="{esc(d)}-stability">Stability per setting</h4>')
        stab = stability_frame(th, curve_frames.get(d))
        body.append(
            "<p>Theory: the loss converges iff the noiseless condition holds and "
            + math("U(1)<1") + " (here with τ = 1); " + math(r"\alpha_c") + " is the largest stable "
            "learning rate. Measured: seeds whose loss diverged within " + f"{fmt(steps)} steps "
            "(first divergence step in brackets); “grew”: seeds that did not diverge but ended above "
            "their initial loss. “Agrees” compares the prediction with the linearised (lin.) and network "
            "(net.) runs, counting diverged and grown seeds as unstable.</p>")
        body.append(stability_table(stab))
        links = []
        for nb, label in (("spectrum", "spectrum and fits"), ("loss_curves", "loss curves")):
            href = (notebooks.get(d) or {}).get(nb)
            if href:
                links.append(f'<a href="{esc(href)}">{esc(label)} notebook</a>')
        body.append(f'<p id="{esc(d)}-notebooks">Executed notebooks: ' + (" · ".join(links) or "none")
                    + ".</p>")
    if theory_figures:
        body.append('<h3 id="across">Late-time exponents across datasets</h3>')
        body.append(_across_datasets(theory_figures, figure, keys=("exponents",)))
        if theory_notebook:
            body.append(f'<p>Executed notebook: <a href="{esc(theory_notebook)}">theory across datasets</a>.</p>')

    section = 6
    if experiment_figures:
        body.append(f'<h2 id="experiments">{section}. Experiments</h2>')
        body.append(_experiments(experiment_figures, figure, experiment_notebooks or {}))
        section += 1
    if companion_studies:
        body.append(f'<h2 id="companions">{section}. Companion studies</h2>')
        body.append(_companions(companion_studies, companion_figures, companion_notebooks or {}, claims_df, figure))
        section += 1
    body.append(f'<h2 id="methods">{section}. Methods and provenance</h2>')
    body.append(_methods(config, repo_dir, benchmarks_dir, default_config))

    page = ("<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
            "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">"
            "<title>sgd-spectra report</title><style>" + CSS + "</style></head><body>\n"
            + "\n".join(body) + "\n</body></html>\n")
    output = Path(output)
    output.parent.mkdir(parents=True, exist_ok=True)
    tmp = output.with_name(output.name + ".tmp")
    tmp.write_text(page, encoding="utf-8")
    tmp.replace(output)
    return page
