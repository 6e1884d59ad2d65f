# Stage 6: figures from notebooks executed by papermill, each rendered to HTML by nbconvert.
# The notebook's parameters are the rule's input and output paths (see params.parameters).


rule spectrum_figure:
    input:
        notebook="notebooks/spectrum.ipynb",
        spectrum="results/spectra/{dataset}.npz",
        fit="results/fits/{dataset}.json",
    output:
        figure=report(
            "results/figures/{dataset}/spectrum.png",
            caption="../report/spectrum.rst",
            category="Spectra",
            subcategory="{dataset}",
        ),
        notebook="results/notebooks/{dataset}_spectrum.ipynb",
    log:
        "logs/figures/{dataset}_spectrum.log",
    benchmark:
        "results/benchmarks/spectrum_figure/{dataset}.tsv"
    group:
        "notebooks"
    threads: 1
    resources:
        mem_mb=notebook_mem_mb,
        runtime=notebook_minutes,
    params:
        parameters=lambda wc, input, output: dict(
            dataset=wc.dataset, spectrum_path=input.spectrum, fit_path=input.fit, figure_path=output.figure
        ),
        timeout=REPORT["notebook_timeout"],
    script:
        "../scripts/run_notebook.py"


rule loss_curves_figure:
    input:
        notebook="notebooks/loss_curves.ipynb",
        curves="results/curves/{dataset}.parquet",
        theory="results/theory/{dataset}.json",
        fit="results/fits/{dataset}.json",
    output:
        figure=report(
            "results/figures/{dataset}/loss_curves.png",
            caption="../report/loss_curves.rst",
            category="Loss curves",
            subcategory="{dataset}",
        ),
        notebook="results/notebooks/{dataset}_loss_curves.ipynb",
    log:
        "logs/figures/{dataset}_loss_curves.log",
    benchmark:
        "results/benchmarks/loss_curves_figure/{dataset}.tsv"
    group:
        "notebooks"
    threads: 1
    resources:
        mem_mb=notebook_mem_mb,
        runtime=notebook_minutes,
    params:
        parameters=lambda wc, input, output: dict(
            dataset=wc.dataset,
            curves_path=input.curves,
            theory_path=input.theory,
            fit_path=input.fit,
            figure_path=output.figure,
        ),
        timeout=REPORT["notebook_timeout"],
    script:
        "../scripts/run_notebook.py"


rule theory_figures:
    input:
        notebook="notebooks/theory.ipynb",
        fits=expand("results/fits/{dataset}.json", dataset=DATASETS),
        maps=expand("results/theory/{dataset}_stability_map.parquet", dataset=DATASETS),
        curves=expand("results/curves/{dataset}.parquet", dataset=DATASETS),
        theory=expand("results/theory/{dataset}.json", dataset=DATASETS),
    output:
        stability=report(
            "results/figures/theory/stability_map.png", caption="../report/theory.rst", category="Theory"
        ),
        phase=report(
            "results/figures/theory/phase_diagram.png", caption="../report/theory.rst", category="Theory"
        ),
        exponents=report(
            "results/figures/theory/exponents.png", caption="../report/theory.rst", category="Theory"
        ),
        notebook="results/notebooks/theory.ipynb",
    log:
        "logs/figures/theory.log",
    benchmark:
        "results/benchmarks/theory_figures/all.tsv"
    group:
        "notebooks"
    threads: 1
    resources:
        mem_mb=notebook_mem_mb,
        runtime=notebook_minutes,
    params:
        parameters=lambda wc, input, output: dict(
            datasets=DATASETS,
            fit_paths=list(input.fits),
            map_paths=list(input.maps),
            curves_paths=list(input.curves),
            theory_paths=list(input.theory),
            stability_figure=output.stability,
            phase_figure=output.phase,
            exponent_figure=output.exponents,
        ),
        timeout=REPORT["notebook_timeout"],
    script:
        "../scripts/run_notebook.py"


rule notebook_html:
    input:
        "results/notebooks/{name}.ipynb",
    output:
        "results/notebooks/{name}.html",
    log:
        "logs/figures/{name}_html.log",
    # on a cluster: next to the driver, not a SLURM job (nbconvert takes seconds)
    localrule: True
    resources:
        # nbconvert of one executed notebook
        mem_mb=lambda wc, input, attempt: mem_for(attempt, extra_mb=table_mb(input)),
        runtime=lambda wc, attempt: minutes_for(attempt),
    params:
        code=code_version("notebook_html"),
    script:
        "../scripts/notebook_html.py"
