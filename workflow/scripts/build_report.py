"""Build report/index.html: copy the executed notebooks next to it (the rule's `notebooks` outputs)
and write the page from the report registry's entries (params.registry)."""

import shutil
from pathlib import Path

from sgd_spectra.io import redirect_log
from sgd_spectra.report import ReportInputs, build_report

redirect_log(snakemake.log[0])
inp, params = snakemake.input, snakemake.params
datasets = list(params.datasets)
out = Path(snakemake.output.html)


def by_dataset(paths, suffix):
    """Map dataset -> the input path named results/<stage>/<dataset><suffix>."""
    named = {Path(p).name: p for p in paths}
    return {d: named[f"{d}{suffix}"] for d in datasets if f"{d}{suffix}" in named}


# results/notebooks/X.html -> report/notebooks/X.html, linked from the page as notebooks/X.html
copies = {Path(p).name: p for p in snakemake.output.notebooks}
for notebook in inp.notebooks:
    Path(copies[Path(notebook).name]).parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(notebook, copies[Path(notebook).name])
items = [
    dict(item, notebook=str(Path(copies[Path(item["notebook"]).name]).relative_to(out.parent)))
    for item in params.registry
]

build_report(
    out,
    ReportInputs(
        config=dict(params.config),
        datasets=datasets,
        data=by_dataset(inp.data, ".json"),
        fits=by_dataset(inp.fits, ".json"),
        theory=by_dataset(inp.theory, ".json"),
        claims=inp.claims,
        curves=by_dataset(inp.curves, ".parquet"),
        spectra=by_dataset(inp.spectra, ".npz"),
        benchmarks_dir=Path(inp.fits[0]).parents[1] / "benchmarks",
        default_config=params.default_config,
        items=items,
        deep_kernel_summaries=list(inp.deep_kernel_summaries),
    ),
)
print(f"wrote {out}")
