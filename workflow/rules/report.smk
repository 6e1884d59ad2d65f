# Stage 7: claims with verdicts, then the self-contained HTML report. The page's figures, captions
# and notebooks come from the registry the rule files fill in (common.smk, register_report_item).

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
    """Every claim of the paper (and implementation check) with prediction, measurement and verdict."""
    input:
        meta=expand(rules.prepare_dataset.output.meta, dataset=ALL_DATASETS),
        fits=expand(rules.fit_power_laws.output.fit, dataset=ALL_DATASETS),
        theory=expand(rules.se_predictions.output.summary, dataset=DATASETS),
        curves=expand(rules.collect_curves.output.curves, dataset=DATASETS),
        maps=expand(rules.stability_map.output.stability_map, dataset=DATASETS),
        loss_maps=expand(rules.loss_map.output.table, dataset=MAP_DATASETS),
        optima=rules.optimal_hyperparameters.output.optima,
        fig2=rules.optimal_hyperparameters.output.fig2,
        critical=expand(rules.critical_lr_vs_batch.output.table, dataset=CRITICAL_DATASETS),
        boundary=expand(rules.stability_boundary.output.table, dataset=CRITICAL_DATASETS),
        regimes=expand(rules.regime_comparison.output.table, dataset=REGIME_DATASETS),
        budget=expand(rules.budget_curves.output.table, dataset=BUDGET_DATASETS),
        trace=expand(rules.tau_trace_distance.output.table, dataset=TRACE_DATASETS),
        asymptotics=rules.phase_asymptotics.output.summary,
        companions=expand(rules.companion_study.output.claims, study=COMPANIONS),
        deep_kernel_summaries=expand(rules.deep_kernel.output.summary, model=DEEP_KERNEL_MODELS),
        deep_kernel_critical=expand(rules.deep_kernel.output.critical, model=DEEP_KERNEL_MODELS),
    output:
        claims="results/claims.csv",
    log:
        "logs/report/claims.log",
    benchmark:
        "results/benchmarks/claims/all.tsv"
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
    """The self-contained HTML page, report/index.html: every registered figure, caption and notebook."""
    input:
        data=expand(rules.prepare_dataset.output.meta, dataset=DATASETS),
        fits=expand(rules.fit_power_laws.output.fit, dataset=DATASETS),
        theory=expand(rules.se_predictions.output.summary, dataset=DATASETS),
        curves=expand(rules.collect_curves.output.curves, dataset=DATASETS),
        spectra=expand(rules.kernel_spectrum.output.spectrum, dataset=DATASETS),
        claims=rules.claims.output.claims,
        figures=report_files("figure"),
        captions=report_files("caption"),
        notebooks=report_files("notebook"),
        deep_kernel_summaries=expand(rules.deep_kernel.output.summary, model=DEEP_KERNEL_MODELS),
    output:
        html="report/index.html",
        # the executed notebooks' HTML, copied next to the page it links them from
        notebooks=report_notebook_copies(),
    log:
        "logs/report/report.log",
    benchmark:
        "results/benchmarks/report/all.tsv"
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
        # the registry's entries, figure, caption and notebook paths as in the inputs above
        registry=REPORT_ITEMS,
    script:
        "../scripts/build_report.py"
