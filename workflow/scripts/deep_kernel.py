"""One model kind of the deep-network experiment in kind (paper Figs. 9, 11): pretrain, empirical
NTK, spectrum and exponents, linearized SGD against SE(tau = 1), alpha_c(b); one parquet per table."""

import torch

from sgd_spectra.deep_kernels import run_deep_kernel
from sgd_spectra.io import redirect_log, use_threads

redirect_log(snakemake.log[0])
torch.set_num_threads(snakemake.threads)
use_threads(snakemake.threads)
params = dict(snakemake.params.study)
print(f"model {snakemake.wildcards.model}: {params}")
tables = run_deep_kernel(snakemake.wildcards.model, params)
for name, table in tables.items():
    table.to_parquet(snakemake.output[name], index=False)
print(tables["summary"].T.to_string())
print(tables["critical"].to_string())
