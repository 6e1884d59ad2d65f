"""Build one dataset: a balanced, standardised image subset, a random standardised tabular subset
(all rows if it has fewer than n_samples; the metadata records the N used) or a synthetic power-law problem.
With pretraining, also the pretraining split: samples of the same source, none of them among the N."""

import numpy as np

from sgd_spectra.datasets import (
    load_regression_dataset,
    power_law_spectrum,
    size_metadata,
    synthetic_power_law,
)
from sgd_spectra.io import redirect_log, write_json
from sgd_spectra.pretrain import pretraining_seed, pretraining_split

redirect_log(snakemake.log[0])
p = snakemake.params
spec, n, seed = p.spec, p.n_samples, p.seed
meta = {"dataset": spec["name"], "source": spec["source"], "kind": spec["kind"], "n_samples": n, "seed": seed}
if spec["kind"] == "synthetic":
    kernel, initial_error = synthetic_power_law(n, spec["nu"], spec["kappa"], seed)
    # the spectrum is known by construction: saved, so no eigensolver has to recover it
    eigenvalues, coefficients = power_law_spectrum(n, spec["nu"], spec["kappa"])
    np.savez(
        snakemake.output.arrays,
        kernel_over_n=kernel,
        initial_error=initial_error,
        eigenvalues=eigenvalues,
        coefficients=coefficients,
    )
    meta.update(
        nu=spec["nu"],
        kappa=spec["kappa"],
        n_features=None,
        source=f"synthetic power law: lambda_k = k^-{spec['nu']}, coefficient tail sums "
        f"~ k^-{spec['kappa']}, Haar-random eigenbasis",
    )
else:
    X, y, indices, source = load_regression_dataset(spec, n, seed)
    arrays = {"X": X, "y": y, "indices": indices}
    if p.pretrain_samples:
        X_pre, y_pre, pre_indices = pretraining_split(spec, indices, p.pretrain_samples, seed)
        arrays.update(X_pretrain=X_pre, y_pretrain=y_pre, pretrain_indices=pre_indices)
        meta.update(
            pretrain_n_samples=len(pre_indices),
            pretrain_draw_seed=pretraining_seed(seed),
            pretrain_indices=pre_indices,
            pretrain_overlap=int(np.isin(pre_indices, indices).sum()),
        )
    np.savez(snakemake.output.arrays, **arrays)
    meta.update(size_metadata(spec["source"], n, len(y)))
    meta.update(
        n_features=int(X.shape[1]),
        source=source,
        classes=None if spec["kind"] == "tabular" else int(len(np.unique(y))),
    )
print({k: v for k, v in meta.items() if k != "pretrain_indices"})
write_json(snakemake.output.meta, meta)
