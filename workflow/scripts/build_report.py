"""Build report/index.html: copy the executed notebooks next to it and write the page."""
import shutil
from pathlib import Path

from sgd_spectra.io import redirect_log
from sgd_spectra.report import build_report

redirect_log(snakemake.log[0])
inp, params = snakemake.input, snakemake.params
datasets = list(params.datasets)
out = Path(snakemake.output.html)
NOTEBOOKS = ("spectrum", "loss_curves")


def by_dataset(paths, suffix):
    """Map dataset -> the input path named results/<stage>/<dataset><suffix>."""
    named = {Path(p).name: p for p in paths}
    return {d: named[f"{d}{suffix}"] for d in datasets if f"{d}{suffix}" in named}


def derived(stage, suffix):
    """A per-dataset results file next to the fits (results/<stage>/<dataset><suffix>)."""
    results = Path(inp.fits[0]).parents[1]
    return {d: str(results / stage / f"{d}{suffix}") for d in datasets}


figures = {d: {} for d in datasets}
for p in inp.figures:                     # results/figures/{dataset}/{notebook}.png
    figures.setdefault(Path(p).parent.name, {})[Path(p).stem] = p

notebooks = {d: {} for d in datasets}
(out.parent / "notebooks").mkdir(parents=True, exist_ok=True)
for p in inp.notebooks:                   # results/notebooks/{dataset}_{notebook}.html
    name = Path(p).name
    shutil.copyfile(p, out.parent / "notebooks" / name)
    for d in datasets:
        for nb in NOTEBOOKS:
            if name == f"{d}_{nb}.html":
                notebooks[d][nb] = f"notebooks/{name}"

theory_figures = {Path(p).stem: p for p in getattr(inp, "theory_figures", [])}
theory_notebook = None
if hasattr(inp, "theory_notebook"):
    shutil.copyfile(inp.theory_notebook, out.parent / "notebooks" / Path(inp.theory_notebook).name)
    theory_notebook = f"notebooks/{Path(inp.theory_notebook).name}"

experiment_figures = {Path(p).stem: p for p in getattr(inp, "experiment_figures", [])}
experiment_notebook = None
if hasattr(inp, "experiment_notebook"):
    shutil.copyfile(inp.experiment_notebook, out.parent / "notebooks" / Path(inp.experiment_notebook).name)
    experiment_notebook = f"notebooks/{Path(inp.experiment_notebook).name}"

curves = by_dataset(inp.curves, ".parquet") if hasattr(inp, "curves") else derived("curves", ".parquet")
spectra = by_dataset(inp.spectra, ".npz") if hasattr(inp, "spectra") else derived("spectra", ".npz")

build_report(
    out,
    config=dict(params.config),
    datasets=datasets,
    data=by_dataset(inp.data, ".json"),
    fits=by_dataset(inp.fits, ".json"),
    theory=by_dataset(inp.theory, ".json"),
    claims=inp.claims,
    figures=figures,
    notebooks=notebooks,
    curves=curves,
    spectra=spectra,
    benchmarks_dir=Path(inp.fits[0]).parents[1] / "benchmarks",
    started=params.started,
    theory_figures=theory_figures,
    theory_notebook=theory_notebook,
    default_config=params.default_config,
    experiment_figures=experiment_figures,
    experiment_notebook=experiment_notebook,
)
print(f"wrote {out}")
