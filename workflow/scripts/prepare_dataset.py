"""Build one dataset: a balanced, standardised image subset, a random standardised tabular subset
(all rows if it has fewer than n_samples; the metadata records the N used) or a synthetic power-law problem."""
import numpy as np

from sgd_spectra.datasets import load_regression_dataset, size_metadata, synthetic_power_law
from sgd_spectra.io import redirect_log, write_json

redirect_log(snakemake.log[0])
spec, n, seed = snakemake.params.spec, snakemake.params.n_samples, snakemake.params.seed
meta = {"dataset": spec["name"], "source": spec["source"], "kind": spec["kind"], "n_samples": n, "seed": seed}
if spec["kind"] == "synthetic":
    kernel, initial_error = synthetic_power_law(n, spec["nu"], spec["kappa"], seed)
    np.savez(snakemake.output.arrays, kernel_over_n=kernel, initial_error=initial_error)
    meta.update(nu=spec["nu"], kappa=spec["kappa"], n_features=None,
                source=f"synthetic power law: lambda_k = k^-{spec['nu']}, coefficient tail sums "
                       f"~ k^-{spec['kappa']}, Haar-random eigenbasis")
else:
    X, y, indices, source = load_regression_dataset(spec, n, seed)
    np.savez(snakemake.output.arrays, X=X, y=y, indices=indices)
    meta.update(size_metadata(spec["source"], n, len(y)))
    meta.update(n_features=int(X.shape[1]), source=source,
                classes=None if spec["kind"] == "tabular" else int(len(np.unique(y))))
print(meta)
write_json(snakemake.output.meta, meta)
