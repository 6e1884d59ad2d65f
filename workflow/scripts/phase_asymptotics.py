"""Paper Fig. 3 centre and right: the signal -> noise transition time (eq. 29) on sampled linearized
SGD, and eventual divergence for 1/2 < nu < 1 (theory.md §7, §10); sgd_spectra.phase_asymptotics."""

from sgd_spectra.io import redirect_log, use_threads, write_json
from sgd_spectra.phase_asymptotics import phase_asymptotics_claims, phase_asymptotics_study

redirect_log(snakemake.log[0])
use_threads(snakemake.threads)
p = snakemake.params
table, curves, summary = phase_asymptotics_study(
    p.nus,
    p.zeta,
    p.gamma,
    p.t_div_range,
    p.lr_points,
    p.run_tdivs,
    p.n_samples,
    p.seeds,
    p.steps,
    seed=p.seed,
)
for row in phase_asymptotics_claims(summary):
    print(
        f"{row['claim_id']}: {row['verdict']}\n  predicted: {row['prediction']}\n  measured: {row['measurement']}"
    )
table.to_parquet(snakemake.output.divergence, index=False)
curves.to_parquet(snakemake.output.transition, index=False)
write_json(snakemake.output.summary, summary)
