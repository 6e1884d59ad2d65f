# Stage 6c: the paper's Fig. 3 centre and right -- the signal -> noise transition time (eq. 29) on
# sampled linearized SGD and eventual divergence for 1/2 < nu < 1 -- with its figure
# (notebooks/asymptotics.ipynb); the claims are sgd_spectra.phase_asymptotics.phase_asymptotics_claims.


rule phase_asymptotics:
    """Fig. 3 centre and right: the signal -> noise transition and eventual divergence, measured."""
    output:
        divergence="results/experiments/asymptotics/eventual_divergence.parquet",
        transition="results/experiments/asymptotics/transition.parquet",
        summary="results/experiments/asymptotics/summary.json",
    log:
        "logs/experiments/phase_asymptotics.log",
    benchmark:
        "results/benchmarks/phase_asymptotics/all.tsv"
    group:
        "experiments"
    threads: 1
    resources:
        # the synthetic kernel, its Haar basis and the QR work space: about four N x N float64 matrices
        mem_mb=lambda wc, attempt: mem_for(attempt, TRANSITION["n_samples"], matrices=4),
        # the linearized runs dominate: ~0.1 ms per seed and step at N = 2000 (2.0 min at the paper's
        # 100 seeds x 10^4 steps, N = 4000; README)
        runtime=lambda wc, attempt: minutes_for(
            attempt,
            1e-4 * TRANSITION["seeds"] * TRANSITION["steps"] * TRANSITION["n_samples"] / 2000,
        ),
    params:
        code=code_version(
            "phase_asymptotics",
            "eventual_divergence_study",
            "transition_study",
            "divergence_checks",
            "transition_checks",
            "generating_functions",
            "theory",
            "spectra",
            "datasets",
            "dynamics",
            "io",
        ),
        nus=DIVERGENCE["nus"],
        zeta=DIVERGENCE["zeta"],
        gamma=DIVERGENCE["gamma"],
        t_div_range=DIVERGENCE["t_div_range"],
        lr_points=DIVERGENCE["lr_points"],
        run_tdivs=DIVERGENCE["run_tdivs"],
        n_samples=TRANSITION["n_samples"],
        seeds=TRANSITION["seeds"],
        steps=TRANSITION["steps"],
        seed=config["seed"],
    script:
        "../scripts/phase_asymptotics.py"


rule asymptotics_figure:
    """Fig. 3 centre and right: transition time and divergence rate (notebooks/asymptotics.ipynb)."""
    input:
        notebook="notebooks/asymptotics.ipynb",
        divergence=rules.phase_asymptotics.output.divergence,
        transition=rules.phase_asymptotics.output.transition,
        summary=rules.phase_asymptotics.output.summary,
    output:
        figure=report(
            "results/figures/experiments/asymptotics.png",
            caption="../report/asymptotics.rst",
            category="Experiments",
        ),
        notebook="results/notebooks/asymptotics.ipynb",
    log:
        "logs/figures/asymptotics.log",
    benchmark:
        "results/benchmarks/asymptotics_figure/all.tsv"
    group:
        "notebooks"
    threads: 1
    resources:
        mem_mb=notebook_mem_mb,
        runtime=notebook_minutes,
    params:
        parameters=lambda wc, input, output: dict(
            divergence_path=input.divergence,
            transition_path=input.transition,
            summary_path=input.summary,
            figure=output.figure,
        ),
        timeout=REPORT["notebook_timeout"],
    script:
        "../scripts/run_notebook.py"


register_report_item(
    "experiments",
    "asymptotics",
    rules.asymptotics_figure,
    title="Transition and eventual divergence (paper Fig. 3, centre and right)",
    wide=True,
    claims="sgd_spectra.phase_asymptotics.phase_asymptotics_claims",
)
