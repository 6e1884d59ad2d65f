"""All loss curves of one dataset (network, linearized, SE) in one tidy table."""

import pandas as pd

from sgd_spectra.io import redirect_log

redirect_log(snakemake.log[0])
frames = [pd.read_parquet(p) for p in [*snakemake.input.runs, snakemake.input.theory]]
table = pd.concat(frames, ignore_index=True)
print(table.groupby(["regime", "batch"]).size())
table.to_parquet(snakemake.output[0], index=False)
