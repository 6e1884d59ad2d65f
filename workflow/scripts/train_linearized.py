"""Output-space SGD of the linearized model for every setting of one batch size, all seeds in one
compiled pass (dynamics.linearized_sgd): the settings of a seed share its batches."""

import numpy as np
import pandas as pd

from sgd_spectra.dynamics import linearized_sgd
from sgd_spectra.io import curves_frame, redirect_log, use_threads
from sgd_spectra.theory import log_spaced_steps

redirect_log(snakemake.log[0])
use_threads(snakemake.threads)
p = snakemake.params
ntk = np.load(snakemake.input.ntk)
record = log_spaced_steps(p.steps, p.record_points)
seeds = np.arange(p.n_seeds)
lrs = np.array([s["lr"] for s in p.settings])
momenta = np.array([s["momentum"] for s in p.settings])
batch = int(snakemake.wildcards.batch)
# run r = (seed r // S, setting r % S)
loss, diverged_at = linearized_sgd(
    ntk["kernel_over_n"],
    ntk["initial_error"],
    np.tile(lrs, len(seeds)),
    np.tile(momenta, len(seeds)),
    batch,
    np.repeat(seeds, len(lrs)),
    record,
    base_seed=p.base_seed,
    progress=True,
)
frames = []
for i, s in enumerate(p.settings):
    runs = slice(i, None, len(lrs))
    print(f"setting {s}: {np.sum(diverged_at[runs] >= 0)} of {len(seeds)} seeds diverged")
    frames.append(
        curves_frame(
            loss[runs],
            record,
            diverged_at[runs],
            dataset=snakemake.wildcards.dataset,
            regime="linearized",
            seed=seeds,
            **s,
        )
    )
pd.concat(frames, ignore_index=True).to_parquet(snakemake.output[0], index=False)
