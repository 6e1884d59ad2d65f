# Stage 5: sampled SGD runs.  The network trains one job per setting (seeds run one after the
# other, so settings spread over cores and cluster nodes); the linearized model runs one job per
# batch size, every (lr, momentum) setting and seed of it in one vectorised state.
# The network and its linearization of the same seed see the same batches.


rule train_network:
    """Sampled SGD on the real network: every seed of one (lr, momentum, batch) setting."""
    input:
        data=rules.prepare_dataset.output.arrays,
        ntk=rules.empirical_ntk.output.kernel,
        model=rules.empirical_ntk.output.model,
    output:
        "results/training/{dataset}/network/{setting}.parquet",
    log:
        "logs/training/{dataset}/network/{setting}.log",
    benchmark:
        "results/benchmarks/train_network/{dataset}/{setting}.tsv"
    group:
        "training"
    threads: 1
    resources:
        # the data and the full-loss pass's activations (N x (784 + 3 width) float64)
        mem_mb=lambda wc, attempt: mem_for(
            attempt, extra_mb=(784 + 3 * model_width(config)) * MATRIX_MB * n_of(wc)
        ),
        runtime=lambda wc, attempt: minutes_for(
            attempt,
            network_seconds(
                SGD["network_seeds"],
                SGD["steps"],
                setting_of(wc)["batch"],
                n_of(wc),
                SGD["record_points"],
            ),
        ),
        gpu=gpus,
    params:
        code=code_version("dynamics", "network_training", "models", "ntk", "theory", "io"),
        device=model_options(config)["device"],
        setting=setting_of,
        steps=SGD["steps"],
        record_points=SGD["record_points"],
        n_seeds=SGD["network_seeds"],
        base_seed=config["seed"],
    script:
        "../scripts/train_network.py"


rule train_linearized:
    """Sampled SGD on the linearized model: every setting and seed of one batch size."""
    input:
        ntk=rules.empirical_ntk.output.kernel,
    output:
        "results/training/{dataset}/linearized/b{batch}.parquet",
    log:
        "logs/training/{dataset}/linearized/b{batch}.log",
    benchmark:
        "results/benchmarks/train_linearized/{dataset}/b{batch}.tsv"
    group:
        "training"
    threads: 1
    resources:
        # the N x N kernel
        mem_mb=lambda wc, attempt: mem_for(attempt, n_of(wc), matrices=1),
        runtime=lambda wc, attempt: minutes_for(
            attempt,
            linearized_seconds(
                len(settings_of_batch(wc)) * SGD["linearized_seeds"] * SGD["steps"],
                int(wc.batch),
                n_of(wc),
            ),
        ),
    params:
        code=code_version("dynamics", "theory", "io"),
        settings=settings_of_batch,
        steps=SGD["steps"],
        record_points=SGD["record_points"],
        n_seeds=SGD["linearized_seeds"],
        base_seed=config["seed"],
    script:
        "../scripts/train_linearized.py"


rule collect_curves:
    """One table of a dataset's loss curves: the training runs and the SE predictions."""
    input:
        runs=training_runs,
        theory=rules.se_predictions.output.curves,
    output:
        curves="results/curves/{dataset}.parquet",
    log:
        "logs/curves/{dataset}.log",
    benchmark:
        "results/benchmarks/collect_curves/{dataset}.tsv"
    # on a cluster: next to the driver, not a SLURM job (concatenating tables takes seconds)
    localrule: True
    threads: 1
    resources:
        # concatenates the runs' tables
        mem_mb=lambda wc, input, attempt: mem_for(attempt, extra_mb=table_mb(input)),
        runtime=lambda wc, attempt: minutes_for(attempt),
    script:
        "../scripts/collect_curves.py"
