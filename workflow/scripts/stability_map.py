"""alpha_c(beta) per batch size and tau (closed form), cross-checked by bisection on SE runs."""

import numpy as np
import pandas as pd

from sgd_spectra.io import redirect_log, use_threads
from sgd_spectra.theory import batch_noise_factor, se_critical_lr_bisection, stability_map

redirect_log(snakemake.log[0])
use_threads(snakemake.threads)
p = snakemake.params
spec = np.load(snakemake.input[0])
lam, c = spec["eigenvalues"], spec["coefficients"]
n = len(lam)
momentum_min, momentum_max, momentum_points = p.momentum_grid  # theory.stability_map
momenta = np.round(np.linspace(momentum_min, momentum_max, int(momentum_points)), 4)
table = pd.DataFrame(stability_map(lam, n, p.batch_sizes, momenta, p.taus))
table["lr_critical_se_bisection"] = np.nan
for b in p.batch_sizes:
    for beta in p.check_momenta:
        measured = se_critical_lr_bisection(lam, c, beta, float(batch_noise_factor(n, b)), 1.0, p.check_steps)
        row = pd.DataFrame(stability_map(lam, n, [b], [beta], [1.0]))
        row["lr_critical_se_bisection"] = measured
        print(f"b={b} beta={beta}: closed form {row.lr_critical[0]:.5f}, SE bisection {measured:.5f}")
        table = pd.concat([table, row], ignore_index=True)
table.to_parquet(snakemake.output[0], index=False)
