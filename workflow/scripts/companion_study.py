"""Run one companion study: its tidy tables (one parquet each) and its claims-table rows."""

from pathlib import Path

import pandas as pd
import torch

from sgd_spectra.claims import CLAIM_COLUMNS
from sgd_spectra.companions import study_module
from sgd_spectra.io import redirect_log, use_threads

redirect_log(snakemake.log[0])
torch.set_num_threads(snakemake.threads)
# numba too: left at every core, a one-thread study's idle numba worker spun on the second core
# (which_minimizer: benchmarks/bench_which_minimizer.py)
use_threads(snakemake.threads)
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
