"""sgd-spectra: predict mini-batch SGD with momentum from a tangent-kernel spectrum.

Modules by concept: ``datasets`` (real and synthetic problems), ``ntk`` (empirical NTK of the
ReLU network), ``spectra`` (eigenvalues and coefficients), ``powerlaw`` (exponent fits),
``theory`` (SE dynamics, generating functions, stability, asymptotics), ``dynamics`` (sampled
SGD of the linearised model and of the real network), ``claims`` (verdicts) and ``report``.
"""
__version__ = "0.1.0"
