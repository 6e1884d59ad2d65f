"""sgd-spectra: predict mini-batch SGD with momentum from a tangent-kernel spectrum.

Modules by concept: ``datasets`` (real and synthetic problems), ``ntk`` (empirical NTK of the
ReLU network), ``models`` and ``ntk_generic`` (any scalar-output network, its NTK and spectrum;
``sgd_spectra.empirical_spectrum`` is imported lazily), ``spectra`` (eigenvalues and
coefficients), ``powerlaw`` (exponent fits),
``theory`` (SE dynamics, generating functions, stability, asymptotics), ``dynamics`` (sampled
SGD of the linearised model and of the real network), ``claims`` (verdicts) and ``report``.
"""
__version__ = "0.1.0"


def __getattr__(name: str):
    # lazy, so that ``import sgd_spectra`` does not import torch
    if name == "empirical_spectrum":
        from sgd_spectra.ntk_generic import empirical_spectrum

        return empirical_spectrum
    raise AttributeError(f"module 'sgd_spectra' has no attribute {name!r}")
