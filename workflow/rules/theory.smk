# Stage 4: SE predictions for every configured setting (one vectorised job per dataset):
# loss trajectories for each tau, U(1), critical learning rate, V(1) and the late-time asymptote.


rule se_predictions:
    """SE loss curves, U(1), critical learning rate and late-time asymptote of every setting."""
    input:
        spectrum=rules.kernel_spectrum.output.spectrum,
        fit=rules.fit_power_laws.output.fit,
    output:
        curves="results/theory/{dataset}.parquet",
        summary="results/theory/{dataset}.json",
    log:
        "logs/theory/{dataset}.log",
    benchmark:
        "results/benchmarks/se_predictions/{dataset}.tsv"
    group:
        "dataset"
    threads: 1
    resources:
        mem_mb=lambda wc, attempt: mem_for(attempt),
        # every setting and tau over the N modes, for `steps` and the asymptote's steps
        runtime=lambda wc, attempt: minutes_for(
            attempt,
            se_seconds(
                len(SETTINGS) * len(THEORY["taus"]) * n_of(wc) * (SGD["steps"] + THEORY["asymptote_steps"])
            ),
        ),
    params:
        code=code_version(
            "theory",
            "io",
            "powerlaw",
            "spectra",
            "asymptotics",
            "generating_functions",
            "divergence_checks",
            "transition_checks",
        ),
        settings=list(SETTINGS.values()),
        asymptote_steps=THEORY["asymptote_steps"],
        taus=THEORY["taus"],
        steps=SGD["steps"],
        record_points=SGD["record_points"],
    script:
        "../scripts/se_predictions.py"


rule stability_map:
    """The critical learning rate alpha_c(beta) per batch size, with an SE-bisection check."""
    input:
        rules.kernel_spectrum.output.spectrum,
    output:
        stability_map="results/theory/{dataset}_stability_map.parquet",
    log:
        "logs/theory/{dataset}_stability_map.log",
    benchmark:
        "results/benchmarks/stability_map/{dataset}.tsv"
    group:
        "dataset"
    threads: 1
    resources:
        mem_mb=lambda wc, attempt: mem_for(attempt),
        # the bisection check: 4 rounds x 16 SE runs per (batch size, checked momentum)
        runtime=lambda wc, attempt: minutes_for(
            attempt,
            se_seconds(len(SGD["batch_sizes"]) * 2 * 64 * THEORY["stability_check_steps"] * n_of(wc)),
        ),
    params:
        code=code_version("theory"),
        batch_sizes=SGD["batch_sizes"],
        taus=[t for t in THEORY["taus"]],
        # the closed-form alpha_c(beta) on this grid of momenta (theory.stability_map)
        momentum_grid=[
            THEORY["stability_map"]["momentum_min"],
            THEORY["stability_map"]["momentum_max"],
            THEORY["stability_map"]["momentum_points"],
        ],
        check_momenta=[0.0, 0.6],
        check_steps=THEORY["stability_check_steps"],
    script:
        "../scripts/stability_map.py"
