# Stage 6b: the paper's deep-network experiments in kind (Figs. 9 and 11): for each model kind of
# `deep_kernel_models`, a small network pretrained on a disjoint split, its empirical NTK's
# spectrum and exponents, linearized SGD against SE(tau = 1) and alpha_c(b) on the exact second
# moments (sgd_spectra.deep_kernels); figure in notebooks/deep_kernels.ipynb, verdicts in the
# claims table (deep_kernel_claims.deep_kernel_claims), section in the report.
from sgd_spectra.config import deep_kernel_params

DEEP_KERNEL_MODELS = list(DEEP_KERNELS["models"])


rule deep_kernel:
    """Figs. 9, 11 in kind: one pretrained model's NTK spectrum, SE tracking and alpha_c(b)."""
    output:
        summary="results/experiments/deep_kernels/{model}/summary.parquet",
        spectrum="results/experiments/deep_kernels/{model}/spectrum.parquet",
        curves="results/experiments/deep_kernels/{model}/curves.parquet",
        critical="results/experiments/deep_kernels/{model}/critical.parquet",
    log:
        "logs/experiments/deep_kernel_{model}.log",
    benchmark:
        "results/benchmarks/deep_kernel/{model}.tsv"
    wildcard_constraints:
        model="mlp|cnn|resnet",
    group:
        "experiments"
    threads: shared_threads(2)
    resources:
        # the kernel, its eigenvectors and the exact second moments' work space (about six N x N
        # float64 matrices), plus 2 GB for the Jacobian's memory cap
        mem_mb=lambda wc, attempt: mem_for(attempt, DEEP_KERNELS["n_samples"], matrices=6, extra_mb=2000),
        # measured on 2 busy cores: the resnet 70 s at N = 200, 179 s at N = 1000 (most of it
        # pretraining); exact alpha_c per batch size on top, growing as N^3
        runtime=lambda wc, attempt: minutes_for(
            attempt,
            180
            + len(DEEP_KERNELS["critical_batch_sizes"]) * exact_critical_seconds(DEEP_KERNELS["n_samples"]),
        ),
    params:
        code=code_version(
            "deep_kernels",
            "models",
            "ntk_generic",
            "pretrain",
            "datasets",
            "experiments",
            "second_moment",
            "theory",
            "dynamics",
            "powerlaw",
            "spectra",
        ),
        study=deep_kernel_params(config),
    script:
        "../scripts/deep_kernel.py"


rule deep_kernel_figure:
    """Figs. 9, 11 in kind: spectra, tracking and alpha_c(b) per model (notebooks/deep_kernels.ipynb)."""
    input:
        notebook="notebooks/deep_kernels.ipynb",
        summaries=expand(rules.deep_kernel.output.summary, model=DEEP_KERNEL_MODELS),
        spectra=expand(rules.deep_kernel.output.spectrum, model=DEEP_KERNEL_MODELS),
        curves=expand(rules.deep_kernel.output.curves, model=DEEP_KERNEL_MODELS),
        critical=expand(rules.deep_kernel.output.critical, model=DEEP_KERNEL_MODELS),
    output:
        figure=report(
            "results/figures/experiments/deep_kernels.png",
            caption="../report/deep_kernels.rst",
            category="Experiments",
        ),
        notebook="results/notebooks/deep_kernels.ipynb",
    log:
        "logs/figures/deep_kernels.log",
    benchmark:
        "results/benchmarks/deep_kernel_figure/all.tsv"
    group:
        "notebooks"
    threads: 1
    resources:
        mem_mb=notebook_mem_mb,
        runtime=notebook_minutes,
    params:
        parameters=lambda wc, input, output: dict(
            models=DEEP_KERNEL_MODELS,
            summary_paths=list(input.summaries),
            spectrum_paths=list(input.spectra),
            curve_paths=list(input.curves),
            critical_paths=list(input.critical),
            figure_path=output.figure,
        ),
        timeout=REPORT["notebook_timeout"],
    script:
        "../scripts/run_notebook.py"


# on the page only when the experiment is configured
if DEEP_KERNEL_MODELS:
    register_report_item(
        "deep-kernels",
        "deep_kernels",
        rules.deep_kernel_figure,
        anchor="deep-kernels-figure",
        wide=True,
        claims="sgd_spectra.deep_kernel_claims.deep_kernel_claims",
    )
