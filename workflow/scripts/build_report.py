"""Build report/index.html: copy the executed notebooks next to it and write the page."""

import shutil
from pathlib import Path

from sgd_spectra.io import redirect_log
from sgd_spectra.report import ReportInputs, build_report

redirect_log(snakemake.log[0])
inp, params = snakemake.input, snakemake.params
datasets = list(params.datasets)
out = Path(snakemake.output.html)
NOTEBOOKS = ("spectrum", "loss_curves")


def by_dataset(paths, suffix):
    """Map dataset -> the input path named results/<stage>/<dataset><suffix>."""
    named = {Path(p).name: p for p in paths}
    return {d: named[f"{d}{suffix}"] for d in datasets if f"{d}{suffix}" in named}


def copy_notebook(path):
    """Copy an executed notebook's HTML next to the report; return its relative link."""
    shutil.copyfile(path, out.parent / "notebooks" / Path(path).name)
    return f"notebooks/{Path(path).name}"


figures = {d: {} for d in datasets}
for p in inp.figures:  # results/figures/{dataset}/{notebook}.png
    figures.setdefault(Path(p).parent.name, {})[Path(p).stem] = p

notebooks = {d: {} for d in datasets}
(out.parent / "notebooks").mkdir(parents=True, exist_ok=True)
for p in inp.notebooks:  # results/notebooks/{dataset}_{notebook}.html
    link = copy_notebook(p)
    for d in datasets:
        for nb in NOTEBOOKS:
            if Path(p).name == f"{d}_{nb}.html":
                notebooks[d][nb] = link

build_report(
    out,
    ReportInputs(
        config=dict(params.config),
        datasets=datasets,
        data=by_dataset(inp.data, ".json"),
        fits=by_dataset(inp.fits, ".json"),
        theory=by_dataset(inp.theory, ".json"),
        claims=inp.claims,
        figures=figures,
        notebooks=notebooks,
        curves=by_dataset(inp.curves, ".parquet"),
        spectra=by_dataset(inp.spectra, ".npz"),
        benchmarks_dir=Path(inp.fits[0]).parents[1] / "benchmarks",
        theory_figures={Path(p).stem: p for p in inp.theory_figures},
        theory_notebook=copy_notebook(inp.theory_notebook),
        default_config=params.default_config,
        experiment_figures={Path(p).stem: p for p in inp.experiment_figures},
        experiment_notebooks={Path(p).stem: copy_notebook(p) for p in inp.experiment_notebooks},
        companion_figures=dict(zip(params.companions, inp.companion_figures)),
        companion_notebooks={s: copy_notebook(p) for s, p in zip(params.companions, inp.companion_notebooks)},
        deep_kernel_summaries=list(inp.deep_kernel_summaries),
        deep_kernel_figure=next(iter(inp.deep_kernel_figure), None),
        deep_kernel_notebook=next((copy_notebook(p) for p in inp.deep_kernel_notebook), None),
    ),
)
print(f"wrote {out}")
