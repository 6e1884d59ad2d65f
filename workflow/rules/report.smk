# Stage 7: claims with verdicts, then the self-contained HTML report.

NOTEBOOKS = ["spectrum", "loss_curves"]
REPORT_PACKAGE = Path(sgd_spectra.__file__).parent / "report"


# Hash of the report package and its template, CSS and script: editing any of them rebuilds the
# page (code_version only hashes modules). One expression, not a function: Snakemake's linter
# wants functions in common.smk.
REPORT_VERSION = hashlib.sha1(
    code_version(*(f"report/{p.stem}" for p in sorted(REPORT_PACKAGE.glob("*.py")))).encode()
    + b"".join(
        path.read_bytes() for path in sorted((REPORT_PACKAGE.parent / "templates" / "report").iterdir())
    )
).hexdigest()[:12]


rule claims:
    input:
        meta=expand("results/data/{dataset}.json", dataset=ALL_DATASETS),
        fits=expand("results/fits/{dataset}.json", dataset=ALL_DATASETS),
        theory=expand("results/theory/{dataset}.json", dataset=DATASETS),
        curves=expand("results/curves/{dataset}.parquet", dataset=DATASETS),
        maps=expand("results/theory/{dataset}_stability_map.parquet", dataset=DATASETS),
        loss_maps=expand("results/experiments/loss_map/{dataset}.parquet", dataset=MAP_DATASETS),
        optima="results/experiments/hyperparameters/optima.csv",
        fig2="results/experiments/hyperparameters/fig2_optimum.json",
        critical=expand("results/experiments/critical_lr/{dataset}.parquet", dataset=CRITICAL_DATASETS),
        boundary=expand("results/experiments/stability_boundary/{dataset}.parquet", dataset=CRITICAL_DATASETS),
        regimes=expand("results/experiments/regimes/{dataset}.parquet", dataset=REGIME_DATASETS),
        budget=expand("results/experiments/budget/{dataset}.parquet", dataset=BUDGET_DATASETS),
        trace=expand("results/experiments/trace_distance/{dataset}.parquet", dataset=TRACE_DATASETS),
        asymptotics="results/experiments/asymptotics/summary.json",
        companions=expand("results/companions/{study}/claims.csv", study=COMPANIONS),
        deep_kernel_summaries=expand(
            "results/experiments/deep_kernels/{model}/summary.parquet", model=DEEP_KERNEL_MODELS
        ),
        deep_kernel_critical=expand(
            "results/experiments/deep_kernels/{model}/critical.parquet", model=DEEP_KERNEL_MODELS
        ),
    output:
        "results/claims.csv",
    log:
        "logs/report/claims.log",
    # on a cluster: next to the driver, not a SLURM job (seconds, on finished tables)
    localrule: True
    resources:
        # reads the result tables and judges the claims
        mem_mb=lambda wc, input, attempt: mem_for(attempt, extra_mb=table_mb(input)),
        runtime=lambda wc, attempt: minutes_for(attempt),
    params:
        critical_datasets=CRITICAL_DATASETS,
        regime_datasets=REGIME_DATASETS,
        budget_datasets=BUDGET_DATASETS,
        map_datasets=MAP_DATASETS,
        trace_datasets=TRACE_DATASETS,
        hyper_steps=HYPER["steps"],
        hyper_n_samples=HYPER["n_samples"],
        code=code_version(
            "claims",
            "curve_claims",
            "experiment_claims",
            "hyperparameter_claims",
            "deep_kernel_claims",
            "outcomes",
            "experiments",
            "powerlaw",
            "noise_fit",
            "phase_asymptotics",
            "transition_study",
            "asymptotics",
            "divergence_checks",
            "transition_checks",
        ),
        datasets=DATASETS,
        all_datasets=ALL_DATASETS,
        taus=THEORY["taus"],
    script:
        "../scripts/claims.py"


rule report:
    input:
        data=expand("results/data/{dataset}.json", dataset=DATASETS),
        fits=expand("results/fits/{dataset}.json", dataset=DATASETS),
        theory=expand("results/theory/{dataset}.json", dataset=DATASETS),
        curves=expand("results/curves/{dataset}.parquet", dataset=DATASETS),
        spectra=expand("results/spectra/{dataset}.npz", dataset=DATASETS),
        claims="results/claims.csv",
        figures=expand("results/figures/{dataset}/{notebook}.png", dataset=DATASETS, notebook=NOTEBOOKS),
        notebooks=expand("results/notebooks/{dataset}_{notebook}.html", dataset=DATASETS, notebook=NOTEBOOKS),
        theory_figures=expand(
            "results/figures/theory/{name}.png", name=["stability_map", "phase_diagram", "exponents"]
        ),
        theory_notebook="results/notebooks/theory.html",
        experiment_figures=[
            "results/figures/experiments/regimes.png",
            "results/figures/experiments/budget.png",
            "results/figures/experiments/critical_lr.png",
            "results/figures/experiments/loss_maps.png",
            "results/figures/experiments/hyperparameters.png",
            "results/figures/experiments/trace_distance.png",
            "results/figures/experiments/asymptotics.png",
        ],
        experiment_notebooks=[
            "results/notebooks/experiments.html",
            "results/notebooks/trace_distance.html",
            "results/notebooks/asymptotics.html",
        ],
        companion_figures=expand("results/figures/companions/{study}.png", study=COMPANIONS),
        companion_notebooks=expand("results/notebooks/companion_{study}.html", study=COMPANIONS),
        deep_kernel_summaries=expand(
            "results/experiments/deep_kernels/{model}/summary.parquet", model=DEEP_KERNEL_MODELS
        ),
        deep_kernel_figure=DEEP_KERNEL_FIGURE,
        deep_kernel_notebook=DEEP_KERNEL_NOTEBOOK,
    output:
        html="report/index.html",
    log:
        "logs/report/report.log",
    # on a cluster: next to the driver, not a SLURM job (seconds, on finished tables)
    localrule: True
    resources:
        # renders the page, figures embedded
        mem_mb=lambda wc, input, attempt: mem_for(attempt, extra_mb=table_mb(input)),
        runtime=lambda wc, attempt: minutes_for(attempt),
    params:
        code=REPORT_VERSION,
        config=config,
        default_config=DEFAULT_CONFIG,
        datasets=DATASETS,
        companions=COMPANIONS,
    script:
        "../scripts/build_report.py"
