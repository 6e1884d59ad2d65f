"""Check every claim on every dataset and write the claims table.

Each dataset's SE parameter tau is fixed first (claims.a_priori_tau), then every verdict that
needs one is judged against it."""

import pandas as pd

from sgd_spectra.claims import CLAIM_COLUMNS, NUMERIC_COLUMNS, a_priori_tau, data_modality, dataset_claims
from sgd_spectra.deep_kernel_claims import deep_kernel_claims
from sgd_spectra.experiment_claims import (
    budget_claims,
    critical_lr_claims,
    loss_map_claims,
    near_boundary_claims,
    regime_claims,
    tau_claims,
)
from sgd_spectra.experiments import regime_distances
from sgd_spectra.hyperparameter_claims import fig2_optimum_claims, hyperparameter_claims
from sgd_spectra.io import read_json, redirect_log
from sgd_spectra.noise_fit import trace_distance_claims
from sgd_spectra.phase_asymptotics import phase_asymptotics_claims

redirect_log(snakemake.log[0])
inp, par = snakemake.input, snakemake.params
metas = {ds: read_json(m) for ds, m in zip(par.all_datasets, inp.meta)}
fits = {ds: read_json(f) for ds, f in zip(par.all_datasets, inp.fits)}
distances = {
    ds: regime_distances(pd.read_parquet(path)) for ds, path in zip(par.regime_datasets, inp.regimes)
}
# a dataset without a regime comparison of its own takes that of another size of its source
by_source = {metas[ds].get("source", ds): table for ds, table in distances.items()}
taus = {
    ds: a_priori_tau(metas[ds], distances.get(ds, by_source.get(meta.get("source", ds))), par.taus)
    for ds, meta in metas.items()
}
for ds, (tau, rule) in taus.items():
    print(f"{ds}: judged against SE(tau = {tau:+g}) -- {rule}")

tables = [
    dataset_claims(ds, metas[ds], fits[ds], read_json(t), pd.read_parquet(c), pd.read_parquet(s), *taus[ds])
    for ds, t, c, s in zip(par.datasets, inp.theory, inp.curves, inp.maps)
]
loss_maps = {ds: pd.read_parquet(path) for ds, path in zip(par.map_datasets, inp.loss_maps)}
extra = [row for ds, table in loss_maps.items() for row in loss_map_claims(ds, table, fits[ds], *taus[ds])]
extra += fig2_optimum_claims(read_json(inp.fig2), {ds: (table, metas[ds]) for ds, table in loss_maps.items()})
extra += [
    row
    for ds, path in zip(par.critical_datasets, inp.critical)
    for row in critical_lr_claims(ds, pd.read_parquet(path), *taus[ds])
    + tau_claims(ds, pd.read_parquet(path), metas[ds])
]
extra += [
    row
    for ds, path in zip(par.critical_datasets, inp.boundary)
    for row in near_boundary_claims(ds, pd.read_parquet(path), *taus[ds])
]
extra += [
    row
    for ds in par.regime_datasets
    for row in regime_claims(ds, distances[ds], data_modality(metas[ds]) == "image")
]
extra += [
    row
    for ds, path in zip(par.budget_datasets, inp.budget)
    for row in budget_claims(ds, pd.read_parquet(path), fits[ds]["phase"])
]
extra += [
    row
    for ds, path in zip(par.trace_datasets, inp.trace)
    for row in trace_distance_claims(ds, pd.read_parquet(path), metas[ds]["n_samples"])
]
extra += phase_asymptotics_claims(read_json(inp.asymptotics))
extra += hyperparameter_claims(pd.read_csv(inp.optima), par.hyper_steps, par.hyper_n_samples)
extra += [
    row
    for summary, critical in zip(inp.deep_kernel_summaries, inp.deep_kernel_critical)
    for row in deep_kernel_claims(pd.read_parquet(summary).iloc[0].to_dict(), pd.read_parquet(critical))
]
companions = [pd.read_csv(path, keep_default_na=False) for path in inp.companions]
claims = pd.concat(tables + [pd.DataFrame(extra, columns=CLAIM_COLUMNS)] + companions, ignore_index=True)
# the companions' tables were read as text: their numeric columns become numbers again (nan if none)
claims[list(NUMERIC_COLUMNS)] = claims[list(NUMERIC_COLUMNS)].apply(pd.to_numeric, errors="coerce")
print(claims[["dataset", "claim_id", "kind", "verdict"]].to_string())
claims.to_csv(snakemake.output[0], index=False)
