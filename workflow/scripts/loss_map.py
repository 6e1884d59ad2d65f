"""Final loss over a learning-rate x momentum grid: linearized SGD (seed mean), SE(tau=1), and the
exact second-moment boundary alpha_c(beta) (paper Fig. 2)."""

import numpy as np

from sgd_spectra.experiments import loss_map
from sgd_spectra.io import redirect_log, use_threads

redirect_log(snakemake.log[0])
use_threads(snakemake.threads)
p = snakemake.params
spec, ntk = np.load(snakemake.input.spectrum), np.load(snakemake.input.ntk)
lrs = np.linspace(p.lr_max / p.lr_points, p.lr_max, p.lr_points)
momenta = np.round(np.linspace(-0.95, 0.95, p.momentum_points), 6)
table = loss_map(
    spec["eigenvalues"],
    spec["coefficients"],
    ntk["kernel_over_n"],
    ntk["initial_error"],
    lrs,
    momenta,
    p.batch,
    p.steps,
    seeds=p.seeds,
    base_seed=p.seed,
    taus=p.taus,
)
table.insert(0, "dataset", snakemake.wildcards.dataset)
print(table.groupby("momentum")[["converged_linearized", "predicted_stable"]].sum())
table.to_parquet(snakemake.output[0], index=False)
