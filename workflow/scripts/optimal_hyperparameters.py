"""L(alpha) and L(beta) at a fixed horizon on the paper's power-law spectra (paper Fig. 6), and SE on
the paper's own Fig. 2 problem and grid, whose optimum cell the authors printed."""

from sgd_spectra.experiments import hyperparameter_scans, paper_fig2_se_optimum
from sgd_spectra.io import redirect_log, use_threads, write_json

redirect_log(snakemake.log[0])
use_threads(snakemake.threads)
p = snakemake.params
curves, optima = hyperparameter_scans(
    p.lr_problems, p.momentum_problems, p.n_samples, p.batch, p.steps, p.lr_points, p.momentum_points
)
printed = {(nu, kappa): ref for nu, kappa, ref in p.lr_problems}
optima["lr_printed"] = [printed.get((r.nu, r.kappa)) if r.scan == "lr" else None for r in optima.itertuples()]
print(optima.to_string())
curves.to_parquet(snakemake.output.curves, index=False)
optima.to_csv(snakemake.output.optima, index=False)
fig2 = paper_fig2_se_optimum()
print("Fig. 2 SE optimum:", fig2)
write_json(snakemake.output.fig2, fig2)
