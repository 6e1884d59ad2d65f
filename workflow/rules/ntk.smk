# Stage 2: empirical NTK of the network at initialisation, normalised so lambda_max(K/N) = 1.


rule empirical_ntk:
    input:
        "results/data/{dataset}.npz",
    output:
        "results/ntk/{dataset}.npz",
    params:
        code=code_version("ntk"),
        width=lambda wc: config["width"] if has_network(wc.dataset, config) else None,
        seed=config["seed"],
    log:
        "logs/ntk/{dataset}.log",
    benchmark:
        "results/benchmarks/empirical_ntk/{dataset}.tsv"
    threads: 2
    resources:
        mem_mb=lambda wc: 2000 + 3 * 8 * n_of(wc) ** 2 // 2**20,
        runtime=30,
    script:
        "../scripts/empirical_ntk.py"
