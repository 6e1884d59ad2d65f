"""sgd-spectra: predict mini-batch SGD with momentum from a tangent-kernel spectrum.

Modules by concept: ``datasets`` (real and synthetic problems), ``ntk`` (empirical NTK of the
ReLU network), ``models`` and ``ntk_generic`` (any scalar-output network, its NTK and spectrum;
``sgd_spectra.empirical_spectrum`` is imported lazily), ``pretrain`` (a disjoint split and a few
epochs before the kernel is taken), ``spectra`` (eigenvalues and coefficients), ``powerlaw``
(exponent fits), ``prediction`` (one setting from a spectrum: ``sgd_spectra.predict``, lazily),
``theory`` (SE dynamics, stability, asymptotics), ``generating_functions`` (|z| < 1 and the
divergence rate), ``dynamics`` (sampled SGD of the linearized model and of the real network),
``claims`` (verdicts) and ``report``.
"""

__version__ = "0.1.0"


def __getattr__(name: str):
    # lazy, so that ``import sgd_spectra`` imports neither torch nor the theory's numba kernels
    if name == "empirical_spectrum":
        from sgd_spectra.ntk_generic import empirical_spectrum

        return empirical_spectrum
    if name in ("predict", "Prediction"):
        from sgd_spectra import prediction

        return getattr(prediction, name)
    raise AttributeError(f"module 'sgd_spectra' has no attribute {name!r}")
