# Stage 1: datasets -> results/data/{dataset}.npz (arrays) + .json (what was built); with
# pretraining also the pretraining split, disjoint from the N samples (X_pretrain, y_pretrain).


rule prepare_dataset:
    output:
        arrays="results/data/{dataset}.npz",
        meta="results/data/{dataset}.json",
    params:
        code=lambda wc: code_version("datasets", "pretrain") if pretrain_samples(wc) else code_version("datasets"),
        spec=lambda wc: dataset_spec(wc.dataset, config),
        n_samples=lambda wc: requested_size(wc.dataset, config),
        seed=config["seed"],
        pretrain_samples=pretrain_samples,
    log:
        "logs/data/{dataset}.log",
    benchmark:
        "results/benchmarks/prepare_dataset/{dataset}.tsv"
    threads: 1
    resources:
        mem_mb=2000,
        runtime=10,
    script:
        "../scripts/prepare_dataset.py"
