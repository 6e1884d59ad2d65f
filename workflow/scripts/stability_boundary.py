"""Seed-mean stability of linearized SGD at 0.9 and 1.1 times the predicted critical learning rate."""

import numpy as np

from sgd_spectra.experiments import near_boundary_runs
from sgd_spectra.io import redirect_log, use_threads

redirect_log(snakemake.log[0])
use_threads(snakemake.threads)
p = snakemake.params
ntk = np.load(snakemake.input.ntk)
table = near_boundary_runs(
    ntk["kernel_over_n"],
    ntk["initial_error"],
    p.batch_sizes,
    p.momenta,
    seeds=p.seeds,
    steps=p.steps,
    base_seed=p.base_seed,
)
table.insert(0, "dataset", snakemake.wildcards.dataset)
print(table.to_string())
table.to_parquet(snakemake.output[0], index=False)
