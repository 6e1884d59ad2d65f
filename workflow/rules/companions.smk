# Stage 6c: the companion studies (docs/companions.md), one per related paper. Each study
# is a module of sgd_spectra.companions with the same interface; its tables, claims, figure and
# executed notebook land in results/companions/{study}/ and join the report.

from sgd_spectra.companions import STUDIES

COMPANIONS = companion_studies(config)
# Threads per study, from its paper preset on 2 cores (2026-12-06, wall time on 1 and 2 threads):
# gradient_span (420 -> 210 s) and du_gram (159 -> 67 s) gain from the second core;
# edge_of_stability's small batched products do not (258 -> 235 s), and which_minimizer's optimisers
# on a cache-sized Jacobian run faster on one (one seed 24.9 s against 29.8 s) and its trained
# networks use half the CPU (198 s on one thread against 139 s wall, 269 s CPU on two;
# benchmarks/bench_which_minimizer.py --part-a), so these two leave the second core to another job.
COMPANION_THREADS = {"edge_of_stability": 1, "which_minimizer": 1}


wildcard_constraints:
    study="|".join(STUDIES),


rule companion_study:
    """One companion study (docs/companions.md): its tables and claims."""
    output:
        tables=directory("results/companions/{study}/tables"),
        claims="results/companions/{study}/claims.csv",
    log:
        "logs/companions/{study}.log",
    benchmark:
        "results/benchmarks/companion_study/{study}.tsv"
    # the studies need no input and take minutes each: started first, they run beside the data and
    # kernel jobs instead of ending the run with one core idle (which_minimizer ran last before)
    priority: 1
    group:
        "experiments"
    threads: lambda wc: COMPANION_THREADS.get(wc.study, 2)
    resources:
        # small networks and kernels (N <= a few hundred), about 2 GB above a job's base
        mem_mb=lambda wc, attempt: mem_for(attempt, extra_mb=2000),
        # not modelled per study: 3-25 min each at the paper's sizes (README), so the largest
        runtime=lambda wc, attempt: minutes_for(attempt, 25 * 60, margin=1),
    params:
        # the study's driver and its <study>_*.py parts, and the companions package helpers
        code=lambda wc: code_version(
            "claims", "ntk", "theory", "spectra", "datasets", "companions/__init__", *study_modules(wc.study)
        ),
        study=lambda wc: companion_params(config, wc.study),
    script:
        "../scripts/companion_study.py"


rule companion_figure:
    """A companion study's figure (notebooks/companion_{study}.ipynb)."""
    input:
        notebook="notebooks/companion_{study}.ipynb",
        tables=rules.companion_study.output.tables,
    output:
        figure=report(
            "results/figures/companions/{study}.png",
            caption="../report/companions.rst",
            category="Companion studies",
        ),
        notebook="results/notebooks/companion_{study}.ipynb",
    log:
        "logs/figures/companion_{study}.log",
    benchmark:
        "results/benchmarks/companion_figure/{study}.tsv"
    group:
        "notebooks"
    threads: 1
    resources:
        mem_mb=notebook_mem_mb,
        runtime=notebook_minutes,
    params:
        parameters=lambda wc, input, output: dict(tables_dir=input.tables, figure_path=output.figure),
        timeout=REPORT["notebook_timeout"],
    script:
        "../scripts/run_notebook.py"


for study in COMPANIONS:
    register_report_item(
        "companions",
        "companion",
        rules.companion_figure,
        anchor=f"companion-{study}-figure",
        wide=True,
        claims=f"sgd_spectra.companions.{study}",
        study=study,
    )
