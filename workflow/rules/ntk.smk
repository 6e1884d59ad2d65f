# Stage 2: empirical NTK of the network (at initialisation, or after pretraining), normalised so
# lambda_max(K/N) = 1, and the network itself (results/ntk/{dataset}.pt), so that training
# starts from exactly the network whose kernel was taken.


rule empirical_ntk:
    """The normalised empirical NTK of the network (or the synthetic kernel) and the network itself."""
    input:
        rules.prepare_dataset.output.arrays,
    output:
        kernel="results/ntk/{dataset}.npz",
        model="results/ntk/{dataset}.pt",
    log:
        "logs/ntk/{dataset}.log",
    benchmark:
        "results/benchmarks/empirical_ntk/{dataset}.tsv"
    group:
        "dataset"
    threads: shared_threads(2)
    resources:
        mem_mb=ntk_memory_mb,
        runtime=lambda wc, attempt: minutes_for(attempt, ntk_seconds(wc)),
        gpu=gpus,
    params:
        # a synthetic kernel is only normalised: editing the model code must not redo its DAG
        code=lambda wc: (
            code_version("ntk", "ntk_generic", "models", "pretrain")
            if has_network(wc.dataset, config)
            else code_version("ntk")
        ),
        model=lambda wc: model_spec(config) if has_network(wc.dataset, config) else None,
        pretrain=lambda wc: model_options(config)["pretrain"] if has_network(wc.dataset, config) else None,
        memory_gb=model_options(config)["ntk_memory_gb"],
        device=model_options(config)["device"],
        seed=config["seed"],
    script:
        "../scripts/empirical_ntk.py"
