# Stage 6c: which tau fits the true noise (paper App. F.4, Fig. 8): along the exact second moments,
# the true gradient-noise covariance against SE(tau1, tau2) by the relative quadratic trace
# distance; figure in notebooks/trace_distance.ipynb, verdicts by noise_fit.trace_distance_claims.

TRACE_DATASETS = experiment_datasets(config, "trace")


rule tau_trace_distance:
    """Fig. 8: the true gradient-noise covariance against SE(tau1, tau2) by the trace distance."""
    input:
        ntk=rules.empirical_ntk.output.kernel,
    output:
        table="results/experiments/trace_distance/{dataset}.parquet",
    log:
        "logs/experiments/tau_trace_distance_{dataset}.log",
    benchmark:
        "results/benchmarks/tau_trace_distance/{dataset}.tsv"
    group:
        "experiments"
    threads: 1
    resources:
        # the eigenvectors, C, J, P, the noise matrix and the three noise-basis matrices
        mem_mb=lambda wc, attempt: mem_for(attempt, n_of(wc), matrices=10),
        # the exact recursion plus the noise comparison: 3.7 min for 100 steps at N = 3000 (README),
        # i.e. 1.3 x exact_step_seconds
        runtime=lambda wc, attempt: minutes_for(attempt, 1.3 * TRACE["steps"] * exact_step_seconds(n_of(wc))),
    params:
        code=code_version("noise_fit", "second_moment", "theory", "experiments"),
        lr=TRACE["lr"],
        momentum=TRACE["momentum"],
        batch=TRACE["batch_size"],
        steps=TRACE["steps"],
        record_points=TRACE["record_points"],
    script:
        "../scripts/tau_trace_distance.py"


rule trace_distance_figure:
    """Fig. 8: trace distance, stretching and optimal tau over training (notebooks/trace_distance.ipynb)."""
    input:
        notebook="notebooks/trace_distance.ipynb",
        tables=expand(rules.tau_trace_distance.output.table, dataset=TRACE_DATASETS),
    output:
        figure=report(
            "results/figures/experiments/trace_distance.png",
            caption="../report/trace_distance.rst",
            category="Experiments",
        ),
        notebook="results/notebooks/trace_distance.ipynb",
    log:
        "logs/figures/trace_distance.log",
    benchmark:
        "results/benchmarks/trace_distance_figure/all.tsv"
    group:
        "notebooks"
    threads: 1
    resources:
        mem_mb=notebook_mem_mb,
        runtime=notebook_minutes,
    params:
        parameters=lambda wc, input, output: dict(
            trace_datasets=TRACE_DATASETS, trace_paths=list(input.tables), trace_figure=output.figure
        ),
        timeout=REPORT["notebook_timeout"],
    script:
        "../scripts/run_notebook.py"


register_report_item(
    "experiments",
    "trace_distance",
    rules.trace_distance_figure,
    title="Which τ fits the true noise: trace distance (paper Fig. 8)",
    anchor="experiments-figure-trace",
    wide=True,
    claims="sgd_spectra.noise_fit.trace_distance_claims",
)
