# Stage 3: eigenvalues and coefficients of the normalised kernel, and their power-law fits.


rule kernel_spectrum:
    input:
        "results/ntk/{dataset}.npz",
    output:
        "results/spectra/{dataset}.npz",
    params:
        code=code_version("spectra"),
    log:
        "logs/spectra/{dataset}.log",
    benchmark:
        "results/benchmarks/kernel_spectrum/{dataset}.tsv"
    threads: 2
    resources:
        mem_mb=lambda wc: 2000 + 4 * 8 * n_of(wc) ** 2 // 2**20,
        runtime=30,
    script:
        "../scripts/kernel_spectrum.py"


rule fit_power_laws:
    input:
        "results/spectra/{dataset}.npz",
    output:
        "results/fits/{dataset}.json",
    params:
        code=code_version("powerlaw", "spectra", "theory"),
        fit_range=config.get("fit_range", "auto"),
        steps=config["steps"],
        taus=config["taus"],
    log:
        "logs/fits/{dataset}.log",
    threads: 1
    script:
        "../scripts/fit_power_laws.py"
