"""What the page shows: :class:`ReportInputs` (the workflow's result files) in,
:class:`ReportContext` (everything the template renders) out.

The context holds data and small pieces of pre-rendered HTML (tables, equations); the page's
structure and prose live in ``templates/report/index.html.j2``.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from ..deep_kernel_claims import DEEP_KERNEL_SECTION
from ..io import read_json
from .claims_view import ClaimView, claim_views, needing_attention, read_claims, split_claims, verdict_counts
from .format import pm
from .provenance import Provenance, provenance
from .tables import (
    THEORY_EQUATIONS,
    dataset_equations,
    datasets_table,
    fits_table,
    sgd_settings_table,
    stability_frame,
    stability_table,
)

PathLike = str | os.PathLike
CURVE_COLUMNS = ["regime", "tau", "lr", "momentum", "batch", "seed", "step", "loss", "diverged_at"]


@dataclass
class ReportInputs:
    """The result files one report is built from (``workflow/scripts/build_report.py`` maps the
    rule's inputs onto this).

    Per-dataset fields map a dataset name to a path: ``data`` (results/data/{d}.json), ``fits``,
    ``theory``, ``curves`` (results/curves/{d}.parquet, optional: measured divergence) and
    ``spectra`` (results/spectra/{d}.npz, optional: the kernel scale factor).
    ``figures[d]['spectrum'|'loss_curves']`` are image paths (embedded); ``notebooks[d][...]`` and
    the other ``*_notebook(s)`` are links relative to the page (e.g. ``notebooks/digits_spectrum.html``).
    ``theory_figures`` (keys ``stability_map``, ``phase_diagram``, ``exponents``) are the
    cross-dataset figures; ``experiment_figures`` those of the paper's experiments (keys as in the
    template); ``companion_figures`` / ``companion_notebooks`` are keyed by companion study
    (:data:`sgd_spectra.companions.STUDIES`).  ``default_config``: the embedded default, to
    highlight what the run changed.
    """

    config: dict
    datasets: list[str]
    data: Mapping[str, PathLike]
    fits: Mapping[str, PathLike]
    theory: Mapping[str, PathLike]
    claims: PathLike
    figures: Mapping[str, Mapping[str, PathLike]] = field(default_factory=dict)
    notebooks: Mapping[str, Mapping[str, str]] = field(default_factory=dict)
    curves: Mapping[str, PathLike] = field(default_factory=dict)
    spectra: Mapping[str, PathLike] = field(default_factory=dict)
    benchmarks_dir: PathLike = "results/benchmarks"
    repo_dir: PathLike = "."
    theory_figures: Mapping[str, PathLike] = field(default_factory=dict)
    theory_notebook: str | None = None
    default_config: dict | None = None
    experiment_figures: Mapping[str, PathLike] = field(default_factory=dict)
    experiment_notebooks: Mapping[str, str] = field(default_factory=dict)
    companion_figures: Mapping[str, PathLike] = field(default_factory=dict)
    companion_notebooks: Mapping[str, str] = field(default_factory=dict)
    deep_kernel_summaries: list[PathLike] = field(default_factory=list)
    deep_kernel_figure: PathLike | None = None
    deep_kernel_notebook: str | None = None


@dataclass
class DeepKernelView:
    """The deep-network section (paper Figs. 9, 11 in kind): figure, exponents table, claims."""

    figure: PathLike | None
    table_html: str
    notes: list[str]
    source: str
    claims: list[ClaimView]
    notebook: str | None


@dataclass
class DatasetView:
    """One dataset's part of the page (§3 spectra and §5 training)."""

    name: str
    info: dict
    fit: dict
    nu: str  # fitted exponents as HTML (value ± error, or "(exact)")
    kappa: str
    spectrum_figure: PathLike | None
    loss_figure: PathLike | None
    fits_html: str
    equations_html: str
    stability_html: str
    has_network: bool
    notebooks: list[tuple[str, str]]  # (label, link)


@dataclass
class CompanionView:
    """One companion study's subsection: its metadata (:data:`STUDY`), figure, claims, notebook."""

    name: str
    meta: dict
    figure: PathLike | None
    claims: list[ClaimView]
    notebook: str | None


@dataclass
class ReportContext:
    """Everything the template shows.  ``*_html`` fields are HTML; everything else is data."""

    config: dict
    sections: list[tuple[str, str]]  # (anchor, title) in page order, numbered 1, 2, ...
    counts: dict[str, int]  # verdicts of the paper's claims
    check_counts: dict[str, int]
    attention: list[ClaimView]  # failing, then inconclusive paper claims
    claims: list[ClaimView]
    checks: list[ClaimView]
    datasets: list[DatasetView]
    networks: list[str]  # datasets with a real network run
    datasets_html: str
    settings_html: str
    n_settings: int
    theory_equations: list[tuple[str, str]]  # (tag, LaTeX)
    theory_figures: Mapping[str, PathLike]
    theory_notebook: str | None
    experiment_figures: Mapping[str, PathLike]
    experiment_notebooks: Mapping[str, str]
    experiment_captions: dict[str, str]  # captions written next to their experiment's code
    companions: list[CompanionView]
    deep_kernels: DeepKernelView | None
    provenance: Provenance

    @property
    def number(self) -> dict[str, int]:
        """Section anchor -> its number on the page."""
        return {anchor: i for i, (anchor, _) in enumerate(self.sections, start=1)}


def section_list(
    has_experiments: bool, has_companions: bool, has_deep_kernels: bool = False
) -> list[tuple[str, str]]:
    """The numbered sections of the page, optional ones only where the run has them."""
    sections = [
        ("claims", "Claims"),
        ("run", "Data"),
        ("spectra", "Spectra and exponents"),
        ("theory", "Theory"),
        ("training", "Training"),
    ]
    if has_experiments:
        sections.append(("experiments", "Experiments"))
    if has_deep_kernels:
        sections.append((DEEP_KERNEL_SECTION, "Deep networks (Figs. 9 and 11, in kind)"))
    if has_companions:
        sections.append(("companions", "Companion studies"))
    return sections + [("methods", "Methods and provenance")]


def page_anchors(datasets, companions) -> set[str]:
    """Every anchor a claim's section may link to."""
    anchors = {
        "claims",
        "checks",
        "run",
        "spectra",
        "theory",
        "training",
        "methods",
        "across",
        "experiments",
        "companions",
        DEEP_KERNEL_SECTION,
    }
    anchors |= {f"companion-{name}" for name in companions}
    for d in datasets:
        anchors |= {d, f"{d}-spectrum", f"{d}-fits", f"{d}-loss", f"{d}-stability", f"{d}-notebooks"}
    return anchors


def read_curves(path: PathLike | None) -> pd.DataFrame | None:
    if path is None or not Path(path).exists():
        return None
    return pd.read_parquet(path, columns=CURVE_COLUMNS)


def kernel_scale(path: PathLike | None) -> float | None:
    """The factor that put the kernel in units of 1/lambda_max (results/spectra/{d}.npz ``scale``)."""
    if path is None or not Path(path).exists():
        return None
    with np.load(path) as z:
        return float(z["scale"]) if "scale" in z else None


def has_network(curves: pd.DataFrame | None) -> bool:
    return curves is not None and bool((curves["regime"] == "network").any())


def notebook_links(links: Mapping[str, str]) -> list[tuple[str, str]]:
    labels = (("spectrum", "spectrum and fits"), ("loss_curves", "loss curves"))
    return [(label, links[nb]) for nb, label in labels if links.get(nb)]


def dataset_view(name: str, inputs: ReportInputs, info: dict, curves: pd.DataFrame | None) -> DatasetView:
    fit, theory = read_json(inputs.fits[name]), read_json(inputs.theory[name])
    figures = inputs.figures.get(name) or {}
    return DatasetView(
        name=name,
        info=info,
        fit=fit,
        nu=pm(fit["nu"]["exponent"], fit["nu"]["exponent_err"]),
        kappa=pm(fit["kappa"]["exponent"], fit["kappa"]["exponent_err"]),
        spectrum_figure=figures.get("spectrum"),
        loss_figure=figures.get("loss_curves"),
        fits_html=fits_table(fit),
        equations_html=dataset_equations(fit),
        stability_html=stability_table(stability_frame(theory, curves)),
        has_network=has_network(curves),
        notebooks=notebook_links(inputs.notebooks.get(name) or {}),
    )


def companion_views(inputs: ReportInputs, claims: pd.DataFrame, anchors: set[str]) -> list[CompanionView]:
    from ..companions import study_module

    return [
        CompanionView(
            name,
            study_module(name).STUDY,
            figure,
            claim_views(claims[claims.section == f"companion-{name}"], anchors),
            inputs.companion_notebooks.get(name),
        )
        for name, figure in inputs.companion_figures.items()
    ]


def deep_kernel_view(inputs: ReportInputs, claims: pd.DataFrame, anchors: set[str]) -> DeepKernelView | None:
    from .deep_kernels import dataset_notes, exponents_table, read_summaries

    summaries = read_summaries(inputs.deep_kernel_summaries)
    if summaries.empty:
        return None
    return DeepKernelView(
        inputs.deep_kernel_figure,
        exponents_table(summaries),
        dataset_notes(summaries),
        "; ".join(dict.fromkeys(summaries.source)),
        claim_views(claims[claims.section == DEEP_KERNEL_SECTION], anchors),
        inputs.deep_kernel_notebook,
    )


def n_settings(config: dict) -> int:
    sgd = config.get("sgd") or {}
    return len(sgd.get("learning_rates", [])) * len(sgd.get("momenta", [])) * len(sgd.get("batch_sizes", []))


def experiment_captions() -> dict[str, str]:
    from ..noise_fit import TRACE_DISTANCE_CAPTION
    from ..phase_asymptotics import PHASE_ASYMPTOTICS_CAPTION

    return {"trace_distance": TRACE_DISTANCE_CAPTION, "asymptotics": PHASE_ASYMPTOTICS_CAPTION}


def build_context(inputs: ReportInputs) -> ReportContext:
    """Read every result file the page needs and assemble what it shows."""
    datasets = list(inputs.datasets)
    infos = {d: read_json(inputs.data[d]) for d in datasets}
    curves = {d: read_curves(inputs.curves.get(d)) for d in datasets}
    scales = {d: s for d in datasets if (s := kernel_scale(inputs.spectra.get(d))) is not None}
    anchors = page_anchors(datasets, inputs.companion_figures)
    claims = read_claims(inputs.claims)
    paper, checks = split_claims(claims)
    paper_views = claim_views(paper, anchors)
    deep_kernels = deep_kernel_view(inputs, claims, anchors)
    return ReportContext(
        config=inputs.config,
        sections=section_list(
            bool(inputs.experiment_figures), bool(inputs.companion_figures), deep_kernels is not None
        ),
        counts=verdict_counts(paper),
        check_counts=verdict_counts(checks),
        attention=needing_attention(paper_views),
        claims=paper_views,
        checks=claim_views(checks, anchors),
        datasets=[dataset_view(d, inputs, infos[d], curves[d]) for d in datasets],
        networks=[d for d in datasets if has_network(curves[d])],
        datasets_html=datasets_table(datasets, infos, scales),
        settings_html=sgd_settings_table(inputs.config),
        n_settings=n_settings(inputs.config),
        theory_equations=THEORY_EQUATIONS,
        theory_figures=inputs.theory_figures,
        theory_notebook=inputs.theory_notebook,
        experiment_figures=inputs.experiment_figures,
        experiment_notebooks=inputs.experiment_notebooks,
        experiment_captions=experiment_captions(),
        companions=companion_views(inputs, claims, anchors),
        deep_kernels=deep_kernels,
        provenance=provenance(inputs.config, inputs.default_config, inputs.repo_dir, inputs.benchmarks_dir),
    )
