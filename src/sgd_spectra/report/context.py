"""What the page shows: :class:`ReportInputs` (the workflow's result files) in,
:class:`ReportContext` (everything the template renders) out.

The context holds data and small pieces of pre-rendered HTML (tables, equations); the page's
structure and prose live in ``templates/report/index.html.j2``.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
from markupsafe import Markup

from ..deep_kernel_claims import DEEP_KERNEL_SECTION
from ..io import read_json
from .captions import caption_html
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

#: The page's order of the registered figures (``key`` of a registry entry), whatever the order
#: the rule files register them in; a key not listed here follows, in registration order.
FIGURE_ORDER = (
    "spectrum",
    "stability_map",
    "phase_diagram",
    "loss_curves",
    "exponents",
    "regimes",
    "loss_maps",
    "budget",
    "hyperparameters",
    "critical_lr",
    "trace_distance",
    "asymptotics",
    "deep_kernels",
    "companion",
)


@dataclass
class ReportInputs:
    """The result files one report is built from (``workflow/scripts/build_report.py`` maps the
    rule's inputs onto this).

    Per-dataset fields map a dataset name to a path: ``data`` (results/data/{d}.json), ``fits``,
    ``theory``, ``curves`` (results/curves/{d}.parquet, optional: measured divergence) and
    ``spectra`` (results/spectra/{d}.npz, optional: the kernel scale factor).
    ``items`` are the entries of the workflow's report registry (``REPORT_ITEMS`` in
    ``workflow/rules/common.smk``), one per figure: ``section`` (where on the page), ``key`` (which
    figure, :data:`FIGURE_ORDER`), ``wildcards`` (e.g. ``{"dataset": "digits"}``), ``figure`` (image
    path, embedded), ``caption`` (its .rst file, :mod:`.captions`), ``notebook`` (the executed
    notebook's link relative to the page, e.g. ``notebooks/digits_spectrum.html``), ``title``
    (subsection heading or None), ``anchor`` (the figure's id) and ``wide``.
    ``default_config``: the embedded default, to highlight what the run changed.
    """

    config: dict
    datasets: list[str]
    data: Mapping[str, PathLike]
    fits: Mapping[str, PathLike]
    theory: Mapping[str, PathLike]
    claims: PathLike
    curves: Mapping[str, PathLike] = field(default_factory=dict)
    spectra: Mapping[str, PathLike] = field(default_factory=dict)
    benchmarks_dir: PathLike = "results/benchmarks"
    repo_dir: PathLike = "."
    default_config: dict | None = None
    items: Sequence[Mapping] = ()
    deep_kernel_summaries: list[PathLike] = field(default_factory=list)


@dataclass
class FigureView:
    """One registered figure as the page shows it: image, caption (HTML) and executed notebook."""

    section: str
    key: str
    wildcards: dict
    figure: PathLike | None
    caption_file: PathLike | None
    notebook: str | None
    title: str | None
    anchor: str
    wide: bool
    caption_html: Markup = Markup("")

    @classmethod
    def of(cls, item: Mapping) -> FigureView:
        return cls(
            section=item["section"],
            key=item["key"],
            wildcards=dict(item.get("wildcards") or {}),
            figure=item.get("figure"),
            caption_file=item.get("caption"),
            notebook=item.get("notebook"),
            title=item.get("title"),
            anchor=item.get("anchor") or f"{item['section']}-figure-{item['key']}",
            wide=bool(item.get("wide")),
        )

    def with_caption(self, config: dict, **page) -> FigureView:
        """Render the caption file (with the page-only values ``page``)."""
        if self.caption_file is not None and Path(self.caption_file).exists():
            self.caption_html = caption_html(self.caption_file, self.wildcards, config, **page)
        return self


def ordered_figures(items: Sequence[Mapping]) -> list[FigureView]:
    """The registry's entries in the page's fixed order (:data:`FIGURE_ORDER`)."""
    rank = {key: i for i, key in enumerate(FIGURE_ORDER)}
    order = sorted(range(len(items)), key=lambda i: (rank.get(items[i]["key"], len(rank)), i))
    return [FigureView.of(items[i]) for i in order]


def notebook_list(figures: Sequence[FigureView]) -> list[tuple[str, str]]:
    """(label, link) of the figures' executed notebooks, each once."""
    links = dict.fromkeys(f.notebook for f in figures if f.notebook)
    return [(Path(link).stem.replace("_", " "), link) for link in links]


@dataclass
class DeepKernelView:
    """The deep-network section (paper Figs. 9, 11 in kind): figure, exponents table, claims."""

    figure: FigureView | None
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
    spectrum_figure: FigureView | None
    loss_figure: FigureView | None
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
    theory_figures: list[FigureView]  # section "theory": stability map, phase diagram
    across_figures: list[FigureView]  # "across" (in the training section): late-time exponents
    theory_notebook: str | None
    experiment_figures: list[FigureView]
    experiment_notebooks: list[tuple[str, str]]  # (label, link)
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


NOTEBOOK_LABELS = {"spectrum": "spectrum and fits", "loss_curves": "loss curves"}


def dataset_view(
    name: str, inputs: ReportInputs, info: dict, curves: pd.DataFrame | None, figures: list[FigureView]
) -> DatasetView:
    fit, theory = read_json(inputs.fits[name]), read_json(inputs.theory[name])
    nu = pm(fit["nu"]["exponent"], fit["nu"]["exponent_err"])
    kappa = pm(fit["kappa"]["exponent"], fit["kappa"]["exponent_err"])
    mine = {f.key: f for f in figures if f.wildcards.get("dataset") == name}
    spectrum, loss = mine.get("spectrum"), mine.get("loss_curves")
    if spectrum is not None:
        spectrum.with_caption(
            inputs.config,
            k_min=int(fit["nu"]["k_min"]),
            k_max=int(fit["nu"]["k_max"]),
            nu=Markup(nu),
            kappa=Markup(kappa),
            fit_range_rule=fit.get("fit_range_rule", ""),
        )
    if loss is not None:
        loss.with_caption(inputs.config, has_network=has_network(curves))
    return DatasetView(
        name=name,
        info=info,
        fit=fit,
        nu=nu,
        kappa=kappa,
        spectrum_figure=spectrum,
        loss_figure=loss,
        fits_html=fits_table(fit),
        equations_html=dataset_equations(fit),
        stability_html=stability_table(stability_frame(theory, curves)),
        has_network=has_network(curves),
        notebooks=[
            (NOTEBOOK_LABELS[k], mine[k].notebook) for k in NOTEBOOK_LABELS if k in mine and mine[k].notebook
        ],
    )


def companion_views(
    figures: list[FigureView], claims: pd.DataFrame, anchors: set[str]
) -> list[CompanionView]:
    """One view per registered companion figure; its caption is the study's own (``STUDY``)."""
    from ..companions import study_module

    return [
        CompanionView(
            f.wildcards["study"],
            study_module(f.wildcards["study"]).STUDY,
            f.figure,
            claim_views(claims[claims.section == f"companion-{f.wildcards['study']}"], anchors),
            f.notebook,
        )
        for f in figures
    ]


def deep_kernel_view(
    inputs: ReportInputs, figures: list[FigureView], claims: pd.DataFrame, anchors: set[str]
) -> DeepKernelView | None:
    from .deep_kernels import dataset_notes, exponents_table, read_summaries

    summaries = read_summaries(inputs.deep_kernel_summaries)
    if summaries.empty:
        return None
    figure = next(iter(figures), None)
    return DeepKernelView(
        figure.with_caption(inputs.config) if figure is not None else None,
        exponents_table(summaries),
        dataset_notes(summaries),
        "; ".join(dict.fromkeys(summaries.source)),
        claim_views(claims[claims.section == DEEP_KERNEL_SECTION], anchors),
        figure.notebook if figure is not None else None,
    )


def n_settings(config: dict) -> int:
    sgd = config.get("sgd") or {}
    return len(sgd.get("learning_rates", [])) * len(sgd.get("momenta", [])) * len(sgd.get("batch_sizes", []))


def build_context(inputs: ReportInputs) -> ReportContext:
    """Read every result file the page needs and assemble what it shows."""
    datasets = list(inputs.datasets)
    infos = {d: read_json(inputs.data[d]) for d in datasets}
    curves = {d: read_curves(inputs.curves.get(d)) for d in datasets}
    scales = {d: s for d in datasets if (s := kernel_scale(inputs.spectra.get(d))) is not None}
    figures = ordered_figures(inputs.items)
    by_section = {
        section: [f for f in figures if f.section == section]
        for section in ("theory", "across", "experiments", "deep-kernels", "companions")
    }
    for section in ("theory", "across", "experiments"):
        for f in by_section[section]:
            f.with_caption(inputs.config)
    companion_figures = by_section["companions"]
    anchors = page_anchors(datasets, [f.wildcards["study"] for f in companion_figures])
    claims = read_claims(inputs.claims)
    paper, checks = split_claims(claims)
    paper_views = claim_views(paper, anchors)
    deep_kernels = deep_kernel_view(inputs, by_section["deep-kernels"], claims, anchors)
    cross_dataset = by_section["theory"] + by_section["across"]
    return ReportContext(
        config=inputs.config,
        sections=section_list(
            bool(by_section["experiments"]), bool(companion_figures), deep_kernels is not None
        ),
        counts=verdict_counts(paper),
        check_counts=verdict_counts(checks),
        attention=needing_attention(paper_views),
        claims=paper_views,
        checks=claim_views(checks, anchors),
        datasets=[dataset_view(d, inputs, infos[d], curves[d], figures) for d in datasets],
        networks=[d for d in datasets if has_network(curves[d])],
        datasets_html=datasets_table(datasets, infos, scales),
        settings_html=sgd_settings_table(inputs.config),
        n_settings=n_settings(inputs.config),
        theory_equations=THEORY_EQUATIONS,
        theory_figures=by_section["theory"],
        across_figures=by_section["across"],
        theory_notebook=next((link for _, link in notebook_list(cross_dataset)), None),
        experiment_figures=by_section["experiments"],
        experiment_notebooks=notebook_list(by_section["experiments"]),
        companions=companion_views(companion_figures, claims, anchors),
        deep_kernels=deep_kernels,
        provenance=provenance(inputs.config, inputs.default_config, inputs.repo_dir, inputs.benchmarks_dir),
    )
