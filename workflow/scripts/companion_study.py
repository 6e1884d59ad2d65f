"""Run one companion study: its tidy tables (one parquet each) and its claims-table rows."""

import os

# Snakemake sets OMP_NUM_THREADS for a job but not NUMBA_NUM_THREADS, which numba reads when it is
# first imported: its pool took every core, and in a one-thread study an idle OpenMP worker of that
# pool spun at 99% of the second core (which_minimizer: benchmarks/bench_which_minimizer.py).
os.environ["NUMBA_NUM_THREADS"] = str(snakemake.threads)

from pathlib import Path

import pandas as pd
import torch

from sgd_spectra.claims import CLAIM_COLUMNS
from sgd_spectra.companions import study_module
from sgd_spectra.io import redirect_log

redirect_log(snakemake.log[0])
torch.set_num_threads(snakemake.threads)
study = study_module(snakemake.wildcards.study)
params = dict(snakemake.params.study)
print(f"{study.STUDY['title']}: {params}")
tables = study.run_study(params)
out = Path(snakemake.output.tables)
out.mkdir(parents=True, exist_ok=True)
for name, table in tables.items():
    table.to_parquet(out / f"{name}.parquet", index=False)
    print(f"table {name}: {len(table)} rows")
claims = pd.DataFrame(study.study_claims(tables, params), columns=CLAIM_COLUMNS)
print(claims[["claim_id", "verdict", "measurement"]].to_string())
claims.to_csv(snakemake.output.claims, index=False)
