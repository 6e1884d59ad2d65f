# Stage 4: SE predictions for every configured setting (one vectorised job per dataset):
# loss trajectories for each tau, U(1), critical learning rate, V(1) and the late-time asymptote.


rule se_predictions:
    input:
        spectrum="results/spectra/{dataset}.npz",
        fit="results/fits/{dataset}.json",
    output:
        curves="results/theory/{dataset}.parquet",
        summary="results/theory/{dataset}.json",
    params:
        code=code_version("theory", "io", "powerlaw", "spectra", "asymptotics"),
        settings=list(SETTINGS.values()),
        asymptote_steps=config["asymptote_steps"],
        taus=config["taus"],
        steps=config["steps"],
        record_points=config["record_points"],
    log:
        "logs/theory/{dataset}.log",
    benchmark:
        "results/benchmarks/se_predictions/{dataset}.tsv"
    threads: 1
    resources:
        mem_mb=2000,
        runtime=30,
    script:
        "../scripts/se_predictions.py"


rule stability_map:
    input:
        "results/spectra/{dataset}.npz",
    output:
        "results/theory/{dataset}_stability_map.parquet",
    params:
        code=code_version("theory"),
        batch_sizes=config["batch_sizes"],
        taus=[t for t in config["taus"]],
        check_momenta=[0.0, 0.6],
        check_steps=config["stability_check_steps"],
    log:
        "logs/theory/{dataset}_stability_map.log",
    benchmark:
        "results/benchmarks/stability_map/{dataset}.tsv"
    threads: 1
    resources:
        mem_mb=2000,
        runtime=30,
    script:
        "../scripts/stability_map.py"
