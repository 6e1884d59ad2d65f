"""Critical learning rate against batch size: linearised bisection vs U(1) = 1 (paper Figs. 12-14)."""
import numpy as np

from sgd_spectra.experiments import critical_lr_vs_batch
from sgd_spectra.io import redirect_log

redirect_log(snakemake.log[0])
p = snakemake.params
spec, ntk = np.load(snakemake.input.spectrum), np.load(snakemake.input.ntk)
table = critical_lr_vs_batch(spec["eigenvalues"], ntk["kernel_over_n"], ntk["initial_error"], p.batch_sizes,
                             p.momenta, p.seeds, p.steps, base_seed=p.base_seed)
table.insert(0, "dataset", snakemake.wildcards.dataset)
print(table.to_string())
table.to_parquet(snakemake.output[0], index=False)
