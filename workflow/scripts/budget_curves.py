"""Budget independence (paper Fig. 5): loss against samples t*b, each batch size at a fixed
fraction of its predicted critical learning rate."""

import numpy as np

from sgd_spectra.experiments import budget_curves
from sgd_spectra.io import redirect_log, use_threads

redirect_log(snakemake.log[0])
use_threads(snakemake.threads)
p = snakemake.params
spec, ntk = np.load(snakemake.input.spectrum), np.load(snakemake.input.ntk)
table = budget_curves(
    spec["eigenvalues"],
    spec["coefficients"],
    ntk["kernel_over_n"],
    ntk["initial_error"],
    p.batch_sizes,
    p.momentum,
    p.lr_fraction,
    p.samples,
    p.seeds,
    base_seed=p.base_seed,
)
table["dataset"] = snakemake.wildcards.dataset
print(
    table.groupby(["regime", "batch"])
    .apply(lambda d: d[d.samples == d.samples.max()].loss.mean())
    .to_string()
)
table.to_parquet(snakemake.output[0], index=False)
