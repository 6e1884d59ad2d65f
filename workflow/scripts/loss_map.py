"""Final loss over a learning-rate x momentum grid: linearised SGD and SE(tau=1) (paper Fig. 2)."""
import numpy as np

from sgd_spectra.experiments import loss_map
from sgd_spectra.io import redirect_log

redirect_log(snakemake.log[0])
p = snakemake.params
spec, ntk = np.load(snakemake.input.spectrum), np.load(snakemake.input.ntk)
lrs = np.linspace(p.lr_max / p.lr_points, p.lr_max, p.lr_points)
momenta = np.round(np.linspace(-0.95, 0.95, p.momentum_points), 6)
table = loss_map(spec["eigenvalues"], spec["coefficients"], ntk["kernel_over_n"], ntk["initial_error"],
                 lrs, momenta, p.batch, p.steps, seed=0, base_seed=p.seed)
table.insert(0, "dataset", snakemake.wildcards.dataset)
print(table.groupby("momentum")[["converged_linearized", "predicted_stable"]].sum())
table.to_parquet(snakemake.output[0], index=False)
