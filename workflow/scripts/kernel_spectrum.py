"""Eigenvalues of K/N and the coefficients c_k = <u_k, f0(X) - y>^2 of the initial error (for a
synthetic kernel, the spectrum it was built from)."""

import numpy as np

from sgd_spectra.io import redirect_log
from sgd_spectra.spectra import kernel_spectrum

redirect_log(snakemake.log[0])
ntk = np.load(snakemake.input[0])
if "eigenvalues" in ntk:  # a synthetic kernel: its spectrum is known by construction
    eigenvalues, coefficients = ntk["eigenvalues"], ntk["coefficients"]
else:
    eigenvalues, coefficients = kernel_spectrum(ntk["kernel_over_n"], ntk["initial_error"])
print(f"lambda_max={eigenvalues[0]:.6g} lambda_min={eigenvalues[-1]:.3g} sum c={coefficients.sum():.6g}")
np.savez(
    snakemake.output[0],
    eigenvalues=eigenvalues,
    coefficients=coefficients,
    n_samples=len(eigenvalues),
    scale=ntk["scale"],
)
