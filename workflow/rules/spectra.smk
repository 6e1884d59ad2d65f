# Stage 3: eigenvalues and coefficients of the normalised kernel, and their power-law fits.


rule kernel_spectrum:
    """Eigenvalues and initial-error coefficients of the normalised kernel."""
    input:
        rules.empirical_ntk.output.kernel,
    output:
        spectrum="results/spectra/{dataset}.npz",
    log:
        "logs/spectra/{dataset}.log",
    benchmark:
        "results/benchmarks/kernel_spectrum/{dataset}.tsv"
    group:
        "dataset"
    threads: shared_threads(2)
    resources:
        # the kernel, its eigenvectors and eigh's work space
        mem_mb=lambda wc, attempt: mem_for(attempt, n_of(wc), matrices=4),
        runtime=lambda wc, attempt: minutes_for(attempt, eigh_seconds(n_of(wc))),
    params:
        code=code_version("spectra"),
    script:
        "../scripts/kernel_spectrum.py"


rule fit_power_laws:
    """Power-law fits of the eigenvalues (nu) and the coefficients' tail sums (kappa)."""
    input:
        rules.kernel_spectrum.output.spectrum,
    output:
        fit="results/fits/{dataset}.json",
    log:
        "logs/fits/{dataset}.log",
    benchmark:
        "results/benchmarks/fit_power_laws/{dataset}.tsv"
    group:
        "dataset"
    threads: 1
    resources:
        # least squares on the N eigenvalues and coefficients: seconds at any N
        mem_mb=lambda wc, attempt: mem_for(attempt),
        runtime=lambda wc, attempt: minutes_for(attempt),
    params:
        code=code_version("powerlaw", "spectra", "theory"),
        fit_range=THEORY["fit_range"],
        steps=SGD["steps"],
        taus=THEORY["taus"],
    script:
        "../scripts/fit_power_laws.py"
