"""Fit nu (eigenvalues) and kappa (coefficient tail sums); derive phase and critical lambda."""
import numpy as np

from sgd_spectra.io import redirect_log, write_json
from sgd_spectra.powerlaw import fit_eigenvalue_decay, fit_tail_decay
from sgd_spectra.theory import critical_regularisation, late_time_exponent, phase

redirect_log(snakemake.log[0])
spec = np.load(snakemake.input[0])
lam, c = spec["eigenvalues"], spec["coefficients"]
nu = fit_eigenvalue_decay(lam, *snakemake.params.eigen_range)
kappa = fit_tail_decay(c, *snakemake.params.tail_range, n_samples=len(lam))
summary = {
    "nu": nu.to_dict(),
    "kappa": kappa.to_dict(),
    "zeta": kappa.exponent / nu.exponent,
    "phase": phase(nu.exponent, kappa.exponent),
    "late_time_exponent": late_time_exponent(nu.exponent, kappa.exponent),
    "lambda_crit": {str(t): critical_regularisation(lam, t) for t in snakemake.params.taus if t >= 0},
    "n_samples": int(len(lam)),
    "loss0": float(c.sum() / (2 * len(lam))),
}
print(summary)
write_json(snakemake.output[0], summary)
