# Stage 1: datasets -> results/data/{dataset}.npz (arrays) + .json (what was built); with
# pretraining also the pretraining split, disjoint from the N samples (X_pretrain, y_pretrain).


rule prepare_dataset:
    """A dataset's N samples (and any pretraining split) as arrays, with what was built."""
    output:
        arrays="results/data/{dataset}.npz",
        meta="results/data/{dataset}.json",
    log:
        "logs/data/{dataset}.log",
    benchmark:
        "results/benchmarks/prepare_dataset/{dataset}.tsv"
    group:
        "dataset"
    threads: 1
    resources:
        # four float64 copies of the N (+ pretraining) images of up to 28 x 28 pixels; a synthetic
        # problem builds an N x N kernel from a Haar basis: about five N x N matrices with the QR's
        # work space (3.9 GB measured at N = 10^4); seconds at any N but a synthetic N = 10^4 (2 min)
        mem_mb=lambda wc, attempt: mem_for(
            attempt,
            n_of(wc),
            matrices=5 if dataset_spec(wc.dataset, config)["kind"] == "synthetic" else 0,
            extra_mb=4 * 784 * MATRIX_MB * (n_of(wc) + (pretrain_samples(wc) or 0)),
        ),
        runtime=lambda wc, attempt: minutes_for(attempt),
    params:
        code=lambda wc: (
            code_version("datasets", "pretrain") if pretrain_samples(wc) else code_version("datasets")
        ),
        spec=lambda wc: dataset_spec(wc.dataset, config),
        n_samples=lambda wc: requested_size(wc.dataset, config),
        seed=config["seed"],
        pretrain_samples=pretrain_samples,
    script:
        "../scripts/prepare_dataset.py"
