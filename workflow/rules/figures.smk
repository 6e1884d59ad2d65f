# Stage 6: figures from notebooks executed by papermill, each rendered to HTML by nbconvert.
# The notebook's parameters are the rule's input and output paths (see params.parameters); each
# figure's caption is the .rst of its report() flag, and the registry at the end of a rule file
# (common.smk, register_report_item) puts figure, caption and notebook on the report's page.


rule notebook_html:
    """An executed notebook rendered to offline HTML (maths as MathML), linked from the report."""
    input:
        "results/notebooks/{name}.ipynb",
    output:
        html="results/notebooks/{name}.html",
    log:
        "logs/figures/{name}_html.log",
    benchmark:
        "results/benchmarks/notebook_html/{name}.tsv"
    # on a cluster: next to the driver, not a SLURM job (nbconvert takes seconds)
    localrule: True
    resources:
        # nbconvert of one executed notebook
        mem_mb=lambda wc, input, attempt: mem_for(attempt, extra_mb=table_mb(input)),
        runtime=lambda wc, attempt: minutes_for(attempt),
    params:
        code=code_version("notebook_html"),
    script:
        "../scripts/notebook_html.py"


rule spectrum_figure:
    """A dataset's kernel spectrum, coefficient tail sums and sliding fits (notebooks/spectrum.ipynb)."""
    input:
        notebook="notebooks/spectrum.ipynb",
        spectrum=rules.kernel_spectrum.output.spectrum,
        fit=rules.fit_power_laws.output.fit,
    output:
        figure=report(
            "results/figures/{dataset}/spectrum.png",
            caption="../report/spectrum.rst",
            category="Spectra",
            subcategory="{dataset}",
        ),
        notebook="results/notebooks/{dataset}_spectrum.ipynb",
    log:
        "logs/figures/{dataset}_spectrum.log",
    benchmark:
        "results/benchmarks/spectrum_figure/{dataset}.tsv"
    group:
        "notebooks"
    threads: 1
    resources:
        mem_mb=notebook_mem_mb,
        runtime=notebook_minutes,
    params:
        parameters=lambda wc, input, output: dict(
            dataset=wc.dataset, spectrum_path=input.spectrum, fit_path=input.fit, figure_path=output.figure
        ),
        timeout=REPORT["notebook_timeout"],
    script:
        "../scripts/run_notebook.py"


rule loss_curves_figure:
    """A dataset's loss curves, network and linearized SGD against SE(tau) (notebooks/loss_curves.ipynb)."""
    input:
        notebook="notebooks/loss_curves.ipynb",
        curves=rules.collect_curves.output.curves,
        theory=rules.se_predictions.output.summary,
        fit=rules.fit_power_laws.output.fit,
    output:
        figure=report(
            "results/figures/{dataset}/loss_curves.png",
            caption="../report/loss_curves.rst",
            category="Loss curves",
            subcategory="{dataset}",
        ),
        notebook="results/notebooks/{dataset}_loss_curves.ipynb",
    log:
        "logs/figures/{dataset}_loss_curves.log",
    benchmark:
        "results/benchmarks/loss_curves_figure/{dataset}.tsv"
    group:
        "notebooks"
    threads: 1
    resources:
        mem_mb=notebook_mem_mb,
        runtime=notebook_minutes,
    params:
        parameters=lambda wc, input, output: dict(
            dataset=wc.dataset,
            curves_path=input.curves,
            theory_path=input.theory,
            fit_path=input.fit,
            figure_path=output.figure,
        ),
        timeout=REPORT["notebook_timeout"],
    script:
        "../scripts/run_notebook.py"


# One notebook for the three cross-dataset theory figures: one family, drawn from the same
# per-dataset results of the main pipeline, seconds to execute (README "Layout").
rule theory_figures:
    """Theory across datasets: stability map, phase diagram, late-time exponents (notebooks/theory.ipynb)."""
    input:
        notebook="notebooks/theory.ipynb",
        fits=expand(rules.fit_power_laws.output.fit, dataset=DATASETS),
        maps=expand(rules.stability_map.output.stability_map, dataset=DATASETS),
        curves=expand(rules.collect_curves.output.curves, dataset=DATASETS),
        theory=expand(rules.se_predictions.output.summary, dataset=DATASETS),
    output:
        stability=report(
            "results/figures/theory/stability_map.png",
            caption="../report/stability_map.rst",
            category="Theory",
        ),
        phase=report(
            "results/figures/theory/phase_diagram.png",
            caption="../report/phase_diagram.rst",
            category="Theory",
        ),
        exponents=report(
            "results/figures/theory/exponents.png", caption="../report/exponents.rst", category="Theory"
        ),
        notebook="results/notebooks/theory.ipynb",
    log:
        "logs/figures/theory.log",
    benchmark:
        "results/benchmarks/theory_figures/all.tsv"
    group:
        "notebooks"
    threads: 1
    resources:
        mem_mb=notebook_mem_mb,
        runtime=notebook_minutes,
    params:
        parameters=lambda wc, input, output: dict(
            datasets=DATASETS,
            fit_paths=list(input.fits),
            map_paths=list(input.maps),
            curves_paths=list(input.curves),
            theory_paths=list(input.theory),
            stability_figure=output.stability,
            phase_figure=output.phase,
            exponent_figure=output.exponents,
        ),
        timeout=REPORT["notebook_timeout"],
    script:
        "../scripts/run_notebook.py"


for dataset in DATASETS:
    register_report_item(
        "spectra",
        "spectrum",
        rules.spectrum_figure,
        anchor=f"{dataset}-figure-spectrum",
        claims="sgd_spectra.claims.power_law_claims",
        dataset=dataset,
    )
    register_report_item(
        "training",
        "loss_curves",
        rules.loss_curves_figure,
        anchor=f"{dataset}-figure-loss",
        wide=True,
        claims="sgd_spectra.curve_claims.tracking_claims",
        dataset=dataset,
    )
register_report_item(
    "theory",
    "stability_map",
    rules.theory_figures,
    output="stability",
    anchor="across-figure-stability_map",
    wide=True,
    claims="sgd_spectra.claims.bisection_claims",
)
register_report_item(
    "theory",
    "phase_diagram",
    rules.theory_figures,
    output="phase",
    anchor="across-figure-phase_diagram",
    claims="sgd_spectra.claims.asymptotics_claims",
)
register_report_item(
    "across",
    "exponents",
    rules.theory_figures,
    output="exponents",
    anchor="across-figure-exponents",
    claims="sgd_spectra.curve_claims.slope_claims",
)
