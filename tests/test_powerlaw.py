"""Power-law fits of eigenvalues (nu) and coefficient tail sums (kappa)."""
import numpy as np
import pytest

from sgd_spectra.datasets import synthetic_power_law
from sgd_spectra.powerlaw import fit_eigenvalue_decay, fit_tail_decay, truncated_tail_model
from sgd_spectra.spectra import kernel_spectrum, tail_sums

N = 600


@pytest.fixture(scope="module", params=[0.75, 3.0])
def synthetic(request):
    kappa = request.param
    kernel, e0 = synthetic_power_law(N, 1.5, kappa, seed=0)
    lam, c = kernel_spectrum(kernel, e0)
    return kappa, lam, c


def test_eigenvalue_fit_on_synthetic(synthetic):
    _, lam, _ = synthetic
    fit = fit_eigenvalue_decay(lam, 5, 300)
    assert fit.exponent == pytest.approx(1.5, abs=0.05)
    assert fit.prefactor == pytest.approx(1.0, rel=0.05)       # lambda_k = 1 * k^-1.5
    assert fit.r2 > 0.999
    assert (fit.k_min, fit.k_max) == (5, 300)
    assert len(fit.sub_exponents) == 3
    assert set(fit.to_dict()) >= {"exponent", "exponent_err", "prefactor", "r2"}


def test_tail_fit_on_synthetic(synthetic):
    kappa, _, c = synthetic
    fit = fit_tail_decay(c, 10, 310)
    assert fit.exponent == pytest.approx(kappa, abs=0.05)
    assert fit.r2 > 0.999
    # prefactor K of sum_{l>=k} c_l / N ~ K k^-kappa: c_k = k^-(kappa+1) / Z, so K = 1/(kappa Z N)
    k = np.arange(1, N + 1.0)
    z = np.sum(k ** -(kappa + 1))
    assert fit.prefactor == pytest.approx(1 / (kappa * z * N), rel=0.05)


def test_tail_fit_unbiased_at_small_kappa():
    """The truncated-tail model removes the finite-N bias (plain log-log slope is biased up)."""
    k = np.arange(1, 1001.0)
    c = k ** -1.34
    fit = fit_tail_decay(c, 10, 310)
    assert fit.exponent == pytest.approx(0.34, abs=0.01)
    naive = -np.polyfit(np.log(k[9:310]), np.log(tail_sums(c)[9:310]), 1)[0]
    assert naive > 0.34 + 0.1


def test_truncated_tail_model_matches_direct_sum():
    k = np.array([1, 5, 50, 99])
    direct = [np.sum(np.arange(j, 101.0) ** -1.7) for j in k]
    np.testing.assert_allclose(truncated_tail_model(k, 0.7, 100), direct, rtol=1e-10)


def test_fits_with_lognormal_noise():
    rng = np.random.default_rng(4)
    k = np.arange(1, 1001.0)
    lam = k ** -1.5 * np.exp(0.1 * rng.standard_normal(len(k)))
    c = k ** -2.0 * np.exp(0.1 * rng.standard_normal(len(k)))
    nu_fit = fit_eigenvalue_decay(lam, 5, 500)
    kappa_fit = fit_tail_decay(c, 10, 500)
    assert nu_fit.exponent == pytest.approx(1.5, abs=0.05)
    assert kappa_fit.exponent == pytest.approx(1.0, abs=0.05)
    for fit in (nu_fit, kappa_fit):
        assert fit.exponent_err > 0
        assert fit.exponent_err == pytest.approx(np.std(fit.sub_exponents))
        assert fit.rms_log_residual > 0
    # the per-point log noise is ~0.1: the fit's rms residual sees it
    assert nu_fit.rms_log_residual == pytest.approx(0.1, rel=0.3)


def test_non_power_law_is_flagged():
    k = np.arange(1, 1001.0)
    good = fit_eigenvalue_decay(k ** -1.5, 5, 300)
    bad = fit_eigenvalue_decay(np.exp(-k / 50), 5, 300)
    assert bad.r2 < 0.9
    assert bad.exponent_err > 0.5
    assert bad.exponent_err > 1e6 * max(good.exponent_err, 1e-15)
    bad_tail = fit_tail_decay(np.exp(-k / 50), 5, 300)
    assert bad_tail.r2 < 0.9 and bad_tail.exponent_err > 0.5


def test_invalid_ranges_raise():
    lam = np.arange(1, 101.0) ** -1.5
    for k_min, k_max in [(0, 50), (50, 50), (60, 50), (1, 101)]:
        with pytest.raises(ValueError):
            fit_eigenvalue_decay(lam, k_min, k_max)
        with pytest.raises(ValueError):
            fit_tail_decay(lam, k_min, k_max)
    bad = lam.copy()
    bad[20:] = 0.0
    with pytest.raises(ValueError):
        fit_eigenvalue_decay(bad, 5, 60)            # non-positive eigenvalues in range
    with pytest.raises(ValueError):
        fit_tail_decay(bad, 5, 60)                  # zero tail sums in range
