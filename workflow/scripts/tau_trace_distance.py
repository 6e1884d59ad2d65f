"""Which tau fits (paper App. F.4, Fig. 8): the trace distance between the true and the SE noise
covariance along the exact second moments of linearized mini-batch SGD."""

import time

import numpy as np

from sgd_spectra.experiments import kernel_eigenbasis
from sgd_spectra.io import redirect_log
from sgd_spectra.noise_fit import TABLE_KEYS, trace_distance_claims, trace_distance_trajectory

redirect_log(snakemake.log[0])
p = snakemake.params
start = time.perf_counter()
ntk = np.load(snakemake.input.ntk)
lam, vectors = kernel_eigenbasis(ntk["kernel_over_n"])
table = trace_distance_trajectory(
    lam, vectors, ntk["initial_error"], p.lr, p.momentum, p.batch, p.steps, p.record_points
)
table.insert(0, "dataset", snakemake.wildcards.dataset)
print(table[["step", "loss", *TABLE_KEYS]].to_string())
for row in trace_distance_claims(snakemake.wildcards.dataset, table, len(lam)):
    print(f"{row['claim_id']}: {row['verdict']} -- {row['measurement']}")
print(f"N = {len(lam)}, {p.steps} steps, {len(table)} recorded: {time.perf_counter() - start:.1f} s")
table.to_parquet(snakemake.output[0], index=False)
