# Stage 6b: the paper's experiments (regimes, loss maps, critical learning rate, budget,
# optimal hyper-parameters), one figure rule and notebook each (notebooks/<figure>.ipynb), verdicts in
# the claims table.

MAP_DATASETS = experiment_datasets(config, "loss_map")
CRITICAL_DATASETS = experiment_datasets(config, "critical_lr")
REGIME_DATASETS = experiment_datasets(config, "regimes")
BUDGET_DATASETS = experiment_datasets(config, "budget")


rule regime_comparison:
    """Figs. 1, 7: network, sampled and exact linearized SGD and SE(tau) over a short horizon."""
    input:
        data=rules.prepare_dataset.output.arrays,
        spectrum=rules.kernel_spectrum.output.spectrum,
        ntk=rules.empirical_ntk.output.kernel,
        model=rules.empirical_ntk.output.model,
    output:
        table="results/experiments/regimes/{dataset}.parquet",
    log:
        "logs/experiments/regime_comparison_{dataset}.log",
    benchmark:
        "results/benchmarks/regime_comparison/{dataset}.tsv"
    group:
        "experiments"
    # 2: its BLAS-bound exact recursion uses both, and at the paper's N = 3000 a one-thread job
    # ran 20 min while every two-thread job waited for the second core (measured 2026-12-05)
    threads: 2
    resources:
        # the exact averaged recursion holds five N x N float64 matrices, plus work space
        mem_mb=lambda wc, attempt: mem_for(attempt, n_of(wc), matrices=8),
        # the eigendecomposition; per batch size the exact recursion, the network runs (30
        # full-loss evaluations each, log-spaced) and the sampled linearized runs
        runtime=lambda wc, attempt: minutes_for(
            attempt,
            eigh_seconds(n_of(wc))
            + sum(
                REGIMES["steps"] * exact_step_seconds(n_of(wc))
                + network_seconds(REGIMES["network_seeds"], REGIMES["steps"], b, n_of(wc), 30)
                + linearized_seconds(REGIMES["seeds"] * REGIMES["steps"], b, n_of(wc))
                for b in REGIMES["batch_sizes"]
            ),
        ),
        gpu=gpus,
    params:
        code=code_version(
            "experiments", "dynamics", "network_training", "theory", "second_moment", "ntk", "models"
        ),
        device=model_options(config)["device"],
        lr=REGIMES["lr"],
        momentum=REGIMES["momentum"],
        batch_sizes=REGIMES["batch_sizes"],
        taus=REGIMES["taus"],
        steps=REGIMES["steps"],
        seeds=REGIMES["seeds"],
        network_seeds=REGIMES["network_seeds"],
        base_seed=config["seed"],
    script:
        "../scripts/regime_comparison.py"


rule budget_curves:
    """Fig. 5: loss against samples t*b at several batch sizes, linearized SGD and SE(tau = 1)."""
    input:
        spectrum=rules.kernel_spectrum.output.spectrum,
        ntk=rules.empirical_ntk.output.kernel,
    output:
        table="results/experiments/budget/{dataset}.parquet",
    log:
        "logs/experiments/budget_curves_{dataset}.log",
    benchmark:
        "results/benchmarks/budget_curves/{dataset}.tsv"
    group:
        "experiments"
    threads: 1
    resources:
        # the kernel and the runs' state
        mem_mb=lambda wc, attempt: mem_for(attempt, n_of(wc), matrices=2),
        # every batch size b runs samples / b steps: seeds x samples x N units of b x N per batch size
        runtime=lambda wc, attempt: minutes_for(
            attempt,
            linearized_seconds(
                len(BUDGET["batch_sizes"]) * BUDGET["seeds"] * BUDGET["samples"],
                1,
                n_of(wc),
            ),
        ),
    params:
        code=code_version("experiments", "dynamics", "theory"),
        batch_sizes=BUDGET["batch_sizes"],
        momentum=BUDGET["momentum"],
        lr_fraction=BUDGET["lr_fraction"],
        samples=BUDGET["samples"],
        seeds=BUDGET["seeds"],
        base_seed=config["seed"],
    script:
        "../scripts/budget_curves.py"


rule loss_map:
    """Fig. 2: final loss over learning rate x momentum, linearized SGD and SE(tau = 1), alpha_c(beta)."""
    input:
        spectrum=rules.kernel_spectrum.output.spectrum,
        ntk=rules.empirical_ntk.output.kernel,
    output:
        table="results/experiments/loss_map/{dataset}.parquet",
    log:
        "logs/experiments/loss_map_{dataset}.log",
    benchmark:
        "results/benchmarks/loss_map/{dataset}.tsv"
    group:
        "experiments"
    threads: shared_threads(2)
    resources:
        # K, its eigenvectors and the G(1) work space (about six N x N float64 matrices)
        mem_mb=lambda wc, attempt: mem_for(attempt, n_of(wc), matrices=6),
        # 4.8 min at the paper's size (N = 1000, 5000 cells x 8 seeds x 10^4 steps, b = 10) on 2 busy
        # cores (benchmarks/bench_loss_map.py): SE 12 s, linearized SGD 193 s (linearized_seconds),
        # exact alpha_c(beta) 125 s for 50 momenta (2.5 s per momentum, O(N^3))
        runtime=lambda wc, attempt: minutes_for(attempt, loss_map_seconds(n_of(wc))),
    params:
        code=code_version("experiments", "dynamics", "theory", "second_moment", "experiment_claims"),
        lr_max=LOSS_MAP["lr_max"],
        lr_points=LOSS_MAP["lr_points"],
        momentum_points=LOSS_MAP["momentum_points"],
        batch=LOSS_MAP["batch_size"],
        steps=LOSS_MAP["steps"],
        seeds=LOSS_MAP["seeds"],
        taus=sorted({*THEORY["taus"], -1.0, 1.0}),
        seed=config["seed"],
    script:
        "../scripts/loss_map.py"


rule critical_lr_vs_batch:
    """Figs. 12-14: critical learning rate against batch size, U(1) = 1 and exact second moments."""
    input:
        ntk=rules.empirical_ntk.output.kernel,
    output:
        table="results/experiments/critical_lr/{dataset}.parquet",
    log:
        "logs/experiments/critical_lr_{dataset}.log",
    benchmark:
        "results/benchmarks/critical_lr_vs_batch/{dataset}.tsv"
    group:
        "experiments"
    threads: shared_threads(2)
    resources:
        # eigenvectors, the pair weights and GEMM work space: about six N x N float64 matrices
        mem_mb=lambda wc, attempt: mem_for(attempt, n_of(wc), matrices=6),
        # one eigendecomposition, then one exact_critical_lr call per (batch size, momentum)
        runtime=lambda wc, attempt: minutes_for(
            attempt,
            eigh_seconds(n_of(wc))
            + exact_critical_seconds(n_of(wc))
            * len(CRITICAL_LR["batch_sizes"])
            * len(CRITICAL_LR["momenta"]),
        ),
    params:
        code=code_version("experiments", "second_moment", "theory", "experiment_claims"),
        batch_sizes=CRITICAL_LR["batch_sizes"],
        momenta=CRITICAL_LR["momenta"],
        # every tau a verdict may be judged against (claims.a_priori_tau), and the two exact cases
        taus=sorted({*THEORY["taus"], -1.0, 1.0}),
    script:
        "../scripts/critical_lr_vs_batch.py"


rule stability_boundary:
    """Sampled linearized SGD just below and above the predicted alpha_c(b, beta)."""
    input:
        ntk=rules.empirical_ntk.output.kernel,
    output:
        table="results/experiments/stability_boundary/{dataset}.parquet",
    log:
        "logs/experiments/stability_boundary_{dataset}.log",
    benchmark:
        "results/benchmarks/stability_boundary/{dataset}.tsv"
    group:
        "experiments"
    threads: 1
    resources:
        mem_mb=lambda wc, attempt: mem_for(attempt, n_of(wc), matrices=2),
        # eigvalsh, then per (b, beta) at most 2 taus x 2 fractions x seeds runs (sum of b over batch sizes)
        runtime=lambda wc, attempt: minutes_for(
            attempt,
            eigh_seconds(n_of(wc)) / 2
            + linearized_seconds(
                4
                * len(CRITICAL_LR["momenta"])
                * CRITICAL_LR["boundary_seeds"]
                * CRITICAL_LR["boundary_steps"],
                sum(CRITICAL_LR["batch_sizes"]),
                n_of(wc),
            ),
        ),
    params:
        code=code_version("experiments", "dynamics", "theory"),
        batch_sizes=CRITICAL_LR["batch_sizes"],
        momenta=CRITICAL_LR["momenta"],
        seeds=CRITICAL_LR["boundary_seeds"],
        steps=CRITICAL_LR["boundary_steps"],
        base_seed=config["seed"],
    script:
        "../scripts/stability_boundary.py"


rule optimal_hyperparameters:
    """Fig. 6 (and Fig. 2's optimum): SE scans of the learning rate and momentum on power-law spectra."""
    output:
        curves="results/experiments/hyperparameters/curves.parquet",
        optima="results/experiments/hyperparameters/optima.csv",
        fig2="results/experiments/hyperparameters/fig2_optimum.json",
    log:
        "logs/experiments/optimal_hyperparameters.log",
    benchmark:
        "results/benchmarks/optimal_hyperparameters/all.tsv"
    group:
        "experiments"
    threads: 1
    resources:
        # SE on hyper_n_samples modes: an N-vector per scanned point
        mem_mb=lambda wc, attempt: mem_for(attempt),
        runtime=lambda wc, attempt: minutes_for(attempt, hyperparameter_seconds()),
    params:
        code=code_version("experiments", "theory", "asymptotics", "spectra"),
        lr_problems=HYPER["lr_problems"],
        momentum_problems=HYPER["momentum_problems"],
        n_samples=HYPER["n_samples"],
        batch=HYPER["batch_size"],
        steps=HYPER["steps"],
        lr_points=HYPER["lr_points"],
        momentum_points=HYPER["momentum_points"],
    script:
        "../scripts/optimal_hyperparameters.py"


rule regimes_figure:
    """Figs. 1, 7: the regimes over a short horizon, SE(tau) against sampled SGD (notebooks/regimes.ipynb)."""
    input:
        notebook="notebooks/regimes.ipynb",
        regimes=expand(rules.regime_comparison.output.table, dataset=REGIME_DATASETS),
    output:
        figure=report(
            "results/figures/experiments/regimes.png",
            caption="../report/regimes.rst",
            category="Experiments",
        ),
        notebook="results/notebooks/regimes.ipynb",
    log:
        "logs/figures/regimes.log",
    benchmark:
        "results/benchmarks/regimes_figure/all.tsv"
    group:
        "notebooks"
    threads: 1
    resources:
        mem_mb=notebook_mem_mb,
        runtime=notebook_minutes,
    params:
        parameters=lambda wc, input, output: dict(
            regime_datasets=REGIME_DATASETS, regime_paths=list(input.regimes), regimes_figure=output.figure
        ),
        timeout=REPORT["notebook_timeout"],
    script:
        "../scripts/run_notebook.py"


rule loss_maps_figure:
    """Fig. 2: final loss over learning rate x momentum, predicted boundary (notebooks/loss_maps.ipynb)."""
    input:
        notebook="notebooks/loss_maps.ipynb",
        maps=expand(rules.loss_map.output.table, dataset=MAP_DATASETS),
        fits=expand(rules.fit_power_laws.output.fit, dataset=MAP_DATASETS),
    output:
        figure=report(
            "results/figures/experiments/loss_maps.png",
            caption="../report/loss_maps.rst",
            category="Experiments",
        ),
        notebook="results/notebooks/loss_maps.ipynb",
    log:
        "logs/figures/loss_maps.log",
    benchmark:
        "results/benchmarks/loss_maps_figure/all.tsv"
    group:
        "notebooks"
    threads: 1
    resources:
        mem_mb=notebook_mem_mb,
        runtime=notebook_minutes,
    params:
        parameters=lambda wc, input, output: dict(
            map_datasets=MAP_DATASETS,
            map_paths=list(input.maps),
            fit_paths=list(input.fits),
            maps_figure=output.figure,
        ),
        timeout=REPORT["notebook_timeout"],
    script:
        "../scripts/run_notebook.py"


rule budget_figure:
    """Fig. 5: loss against samples t*b for several batch sizes (notebooks/budget.ipynb)."""
    input:
        notebook="notebooks/budget.ipynb",
        budget=expand(rules.budget_curves.output.table, dataset=BUDGET_DATASETS),
    output:
        figure=report(
            "results/figures/experiments/budget.png", caption="../report/budget.rst", category="Experiments"
        ),
        notebook="results/notebooks/budget.ipynb",
    log:
        "logs/figures/budget.log",
    benchmark:
        "results/benchmarks/budget_figure/all.tsv"
    group:
        "notebooks"
    threads: 1
    resources:
        mem_mb=notebook_mem_mb,
        runtime=notebook_minutes,
    params:
        parameters=lambda wc, input, output: dict(
            budget_datasets=BUDGET_DATASETS, budget_paths=list(input.budget), budget_figure=output.figure
        ),
        timeout=REPORT["notebook_timeout"],
    script:
        "../scripts/run_notebook.py"


rule hyperparameters_figure:
    """Fig. 6: SE loss at a fixed horizon against lr and momentum (notebooks/hyperparameters.ipynb)."""
    input:
        notebook="notebooks/hyperparameters.ipynb",
        curves=rules.optimal_hyperparameters.output.curves,
        optima=rules.optimal_hyperparameters.output.optima,
    output:
        figure=report(
            "results/figures/experiments/hyperparameters.png",
            caption="../report/hyperparameters.rst",
            category="Experiments",
        ),
        notebook="results/notebooks/hyperparameters.ipynb",
    log:
        "logs/figures/hyperparameters.log",
    benchmark:
        "results/benchmarks/hyperparameters_figure/all.tsv"
    group:
        "notebooks"
    threads: 1
    resources:
        mem_mb=notebook_mem_mb,
        runtime=notebook_minutes,
    params:
        parameters=lambda wc, input, output: dict(
            curves_path=input.curves, optima_path=input.optima, hyper_figure=output.figure
        ),
        timeout=REPORT["notebook_timeout"],
    script:
        "../scripts/run_notebook.py"


rule critical_lr_figure:
    """Figs. 12-14: critical learning rate against batch size (notebooks/critical_lr.ipynb)."""
    input:
        notebook="notebooks/critical_lr.ipynb",
        critical=expand(rules.critical_lr_vs_batch.output.table, dataset=CRITICAL_DATASETS),
    output:
        figure=report(
            "results/figures/experiments/critical_lr.png",
            caption="../report/critical_lr.rst",
            category="Experiments",
        ),
        notebook="results/notebooks/critical_lr.ipynb",
    log:
        "logs/figures/critical_lr.log",
    benchmark:
        "results/benchmarks/critical_lr_figure/all.tsv"
    group:
        "notebooks"
    threads: 1
    resources:
        mem_mb=notebook_mem_mb,
        runtime=notebook_minutes,
    params:
        parameters=lambda wc, input, output: dict(
            critical_datasets=CRITICAL_DATASETS,
            critical_paths=list(input.critical),
            critical_figure=output.figure,
        ),
        timeout=REPORT["notebook_timeout"],
    script:
        "../scripts/run_notebook.py"


register_report_item(
    "experiments",
    "regimes",
    rules.regimes_figure,
    title="Regimes over a short horizon (paper Figs. 1 and 7)",
    wide=True,
    claims="sgd_spectra.experiment_claims.regime_claims",
)
register_report_item(
    "experiments",
    "loss_maps",
    rules.loss_maps_figure,
    title="Loss over learning rate × momentum (paper Fig. 2)",
    anchor="experiments-figure-maps",
    wide=True,
    claims="sgd_spectra.experiment_claims.loss_map_claims",
)
register_report_item(
    "experiments",
    "budget",
    rules.budget_figure,
    title="Budget independence (paper Fig. 5)",
    claims="sgd_spectra.experiment_claims.budget_claims",
)
register_report_item(
    "experiments",
    "hyperparameters",
    rules.hyperparameters_figure,
    title="Optimal learning rate and momentum at a fixed horizon (paper Fig. 6)",
    anchor="experiments-figure-hyper",
    claims="sgd_spectra.hyperparameter_claims.hyperparameter_claims",
)
register_report_item(
    "experiments",
    "critical_lr",
    rules.critical_lr_figure,
    title="Critical learning rate against batch size (paper Figs. 12–14)",
    anchor="experiments-figure-critical",
    wide=True,
    claims="sgd_spectra.experiment_claims.critical_lr_claims",
)
