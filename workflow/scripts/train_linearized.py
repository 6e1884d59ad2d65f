"""Output-space SGD of the linearised model for one setting, all seeds in one vectorised state."""
import numpy as np

from sgd_spectra.dynamics import linearized_sgd
from sgd_spectra.io import curves_frame, redirect_log
from sgd_spectra.theory import log_spaced_steps

redirect_log(snakemake.log[0])
p, s = snakemake.params, snakemake.params.setting
ntk = np.load(snakemake.input.ntk)
record = log_spaced_steps(p.steps, p.record_points)
seeds = np.arange(p.n_seeds)
loss, diverged_at = linearized_sgd(ntk["kernel_over_n"], ntk["initial_error"], s["lr"], s["momentum"],
                                   s["batch"], seeds, record, base_seed=p.base_seed, progress=True)
print(f"setting {s}: {np.sum(diverged_at >= 0)} of {len(seeds)} seeds diverged")
curves_frame(loss, record, diverged_at, dataset=snakemake.wildcards.dataset, regime="linearized",
             seed=seeds, **s).to_parquet(snakemake.output[0], index=False)
