"""Critical learning rate against batch size: the exact second moments vs U(1) = 1 (paper Figs. 12-14)."""

import numpy as np

from sgd_spectra.experiments import critical_lr_vs_batch
from sgd_spectra.io import redirect_log, use_threads

redirect_log(snakemake.log[0])
use_threads(snakemake.threads)
p = snakemake.params
ntk = np.load(snakemake.input.ntk)
table = critical_lr_vs_batch(ntk["kernel_over_n"], p.batch_sizes, p.momenta, p.taus)
table.insert(0, "dataset", snakemake.wildcards.dataset)
print(table.to_string())
table.to_parquet(snakemake.output[0], index=False)
