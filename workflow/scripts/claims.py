"""Check every claim on every dataset and write the claims table."""
import pandas as pd

from sgd_spectra.claims import (budget_claims, critical_lr_claims, dataset_claims, hyperparameter_claims,
                                loss_map_claims, regime_claims)
from sgd_spectra.experiments import regime_distances
from sgd_spectra.io import read_json, redirect_log

redirect_log(snakemake.log[0])
inp = snakemake.input
tables = [dataset_claims(ds, read_json(m), read_json(f), read_json(t), pd.read_parquet(c), pd.read_parquet(s))
          for ds, m, f, t, c, s in zip(snakemake.params.datasets, inp.meta, inp.fits, inp.theory, inp.curves,
                                       inp.maps)]
fits = dict(zip(snakemake.params.datasets, inp.fits))
extra = [row for ds, path in zip(snakemake.params.map_datasets, inp.loss_maps)
         for row in loss_map_claims(ds, pd.read_parquet(path), read_json(fits[ds]))]
extra += [row for ds, path in zip(snakemake.params.critical_datasets, inp.critical)
          for row in critical_lr_claims(ds, pd.read_parquet(path))]
metas = dict(zip(snakemake.params.datasets, inp.meta))
extra += [row for ds, path in zip(snakemake.params.regime_datasets, inp.regimes)
          for row in regime_claims(ds, regime_distances(pd.read_parquet(path)),
                                   read_json(metas[ds]).get("kind") != "synthetic")]
extra += [row for ds, path in zip(snakemake.params.budget_datasets, inp.budget)
          for row in budget_claims(ds, pd.read_parquet(path), read_json(fits[ds])["phase"])]
extra += hyperparameter_claims(pd.read_csv(inp.optima), snakemake.params.hyper_steps,
                               snakemake.params.hyper_n_samples)
companions = [pd.read_csv(path, keep_default_na=False) for path in inp.companions]
claims = pd.concat(tables + [pd.DataFrame(extra, columns=tables[0].columns)] + companions, ignore_index=True)
print(claims[["dataset", "claim_id", "verdict"]].to_string())
claims.to_csv(snakemake.output[0], index=False)
