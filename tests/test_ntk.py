"""Empirical NTK of the two-layer ReLU network: closed form vs autograd, and the NTK's meaning."""

import math

import numpy as np
import pytest
import torch

from sgd_spectra.ntk import (
    init_network,
    largest_eigenvalue,
    network_from_arrays,
    normalise_kernel,
    ntk_autograd,
    ntk_closed_form,
)

N, D, WIDTH = 20, 8, 50


@pytest.fixture(scope="module")
def problem():
    gen = torch.Generator().manual_seed(123)
    X = torch.randn(N, D, generator=gen, dtype=torch.float64)
    y = torch.randn(N, generator=gen, dtype=torch.float64)
    net = init_network(D, WIDTH, seed=7, dtype=torch.float64)
    return net, X, y


def test_closed_form_matches_autograd(problem):
    net, X, _ = problem
    k_closed = ntk_closed_form(net, X)
    k_auto = ntk_autograd(net, X)
    assert k_closed.dtype == torch.float64 and k_closed.shape == (N, N)
    rel = torch.linalg.norm(k_closed - k_auto) / torch.linalg.norm(k_auto)
    assert rel <= 1e-10


def test_closed_form_matches_explicit_jacobian(problem):
    """Second oracle: the Jacobian row of each sample built by plain autograd (no torch.func)."""
    net, X, _ = problem
    rows = []
    for i in range(N):
        net.zero_grad()
        net(X[i : i + 1]).sum().backward()
        rows.append(torch.cat([p.grad.reshape(-1).clone() for p in net.parameters()]))
    jac = torch.stack(rows)
    k_ref = jac @ jac.T
    rel = torch.linalg.norm(ntk_closed_form(net, X) - k_ref) / torch.linalg.norm(k_ref)
    assert rel <= 1e-10


def test_kernel_symmetric_psd(problem):
    net, X, _ = problem
    K = ntk_closed_form(net, X).numpy()
    np.testing.assert_allclose(K, K.T, rtol=0, atol=1e-13 * np.abs(K).max())
    eig = np.linalg.eigvalsh((K + K.T) / 2)
    assert eig[0] >= -1e-12 * eig[-1]
    assert eig[-1] > 0


def test_normalise_kernel(problem):
    net, X, _ = problem
    K = ntk_closed_form(net, X).numpy()
    k_over_n, scale = normalise_kernel(K)
    lam_max = np.linalg.eigvalsh(K)[-1]
    assert scale == pytest.approx(N / lam_max, rel=1e-12)
    assert np.linalg.eigvalsh(k_over_n)[-1] == pytest.approx(1.0, rel=1e-12)
    np.testing.assert_allclose(k_over_n, K / lam_max, rtol=1e-12, atol=0)
    # the kernel used by the network regime, K * scale, has lambda_max(K * scale / N) = 1
    np.testing.assert_allclose(K * scale / N, k_over_n, rtol=1e-12)


def test_normalise_kernel_rejects_non_positive():
    with pytest.raises(ValueError):
        normalise_kernel(np.zeros((4, 4)))
    with pytest.raises(ValueError):
        normalise_kernel(-np.eye(3))


def test_init_network_seed_determinism():
    a = init_network(D, WIDTH, seed=3)
    b = init_network(D, WIDTH, seed=3)
    c = init_network(D, WIDTH, seed=4)
    for pa, pb, pc in zip(a.parameters(), b.parameters(), c.parameters()):
        assert torch.equal(pa, pb)
        assert not torch.equal(pa, pc)
    assert a.weight.shape == (WIDTH, D) and a.bias.shape == (WIDTH,) and a.readout.shape == (WIDTH,)
    assert a.weight.dtype == torch.float64


def test_network_from_arrays_reproduces_forward(problem):
    net, X, _ = problem
    clone = network_from_arrays(
        net.weight.detach().numpy(), net.bias.detach().numpy(), net.readout.detach().numpy()
    )
    with torch.no_grad():
        assert torch.equal(clone(X), net(X))
        # independent forward pass written out: a . relu(W x / sqrt(d) + b) / sqrt(m)
        hidden = X @ net.weight.T / math.sqrt(D) + net.bias
        ref = torch.relu(hidden) @ net.readout / math.sqrt(WIDTH)
        torch.testing.assert_close(net(X), ref, rtol=1e-14, atol=1e-14)


def test_ntk_predicts_first_order_gd_step(problem):
    """f(theta - eta grad L) - f(theta) = -eta K e / N + O(eta^2), with L = |f - y|^2 / (2N)."""
    net, X, y = problem
    params = [p.detach().clone() for p in net.parameters()]
    net.zero_grad()
    loss = 0.5 * torch.mean((net(X) - y) ** 2)
    loss.backward()
    grads = [p.grad.detach().clone() for p in net.parameters()]
    with torch.no_grad():
        f0 = net(X)
        e = f0 - y
        predicted_rate = -(ntk_closed_form(net, X) @ e) / N

        def shifted(eta):
            for p, p0, g in zip(net.parameters(), params, grads):
                p.copy_(p0 - eta * g)
            out = net(X)
            for p, p0 in zip(net.parameters(), params):
                p.copy_(p0)
            return out

        errors = []
        for eta in (1e-4, 1e-5):
            rate = (shifted(eta) - f0) / eta
            errors.append(float(torch.linalg.norm(rate - predicted_rate) / torch.linalg.norm(predicted_rate)))
        # first-order agreement, and the residual shrinks like eta (a second-order term)
        assert errors[1] < 1e-6
        assert 8 < errors[0] / errors[1] < 12
        # central difference cancels the eta^2 term (the net is quadratic in its parameters
        # away from ReLU kinks), leaving only round-off
        eta = 1e-4
        central = (shifted(eta) - shifted(-eta)) / (2 * eta)
        rel = torch.linalg.norm(central - predicted_rate) / torch.linalg.norm(predicted_rate)
        assert rel < 1e-9


def test_relu_ntk_parts_match_monte_carlo_over_wide_network():
    """K_W and K_a agree with the empirical parts of a very wide bias-free network (Monte Carlo)."""
    from sgd_spectra.ntk import relu_ntk_parts

    rng = np.random.default_rng(0)
    X = rng.standard_normal((6, 5))
    X[1] = -0.5 * X[0]  # antiparallel pair: t = pi, K_W = K_a = 0 there
    m = 400_000
    W = rng.standard_normal((m, 5))
    a = rng.standard_normal(m)
    pre = X @ W.T
    k_a_mc = np.maximum(pre, 0) @ np.maximum(pre, 0).T / m
    gates = (pre > 0) * a
    k_w_mc = (X @ X.T) * (gates @ gates.T) / m
    k_w, k_a = relu_ntk_parts(X)
    scale = np.abs(X @ X.T).max()
    assert np.abs(k_a - k_a_mc).max() < 5 * scale / np.sqrt(m)
    assert np.abs(k_w - k_w_mc).max() < 5 * scale / np.sqrt(m)
    assert abs(k_w[0, 1]) < 1e-12 and abs(k_a[0, 1]) < 1e-12
    np.testing.assert_allclose(np.diag(k_w), np.sum(X * X, 1) / 2)  # t = 0: half the norm
    np.testing.assert_allclose(np.diag(k_a), np.sum(X * X, 1) / 2)


# ----------------------------------------------------------------------------- generic route
# sgd_spectra.ntk_generic: the empirical NTK of any scalar-output model, chunked under a cap.


def tiny_cnn(seed=0, channels=(2, 3)):
    from sgd_spectra.models import build_model

    return build_model({"kind": "cnn", "channels": list(channels), "input_shape": [1, 6, 6]}, (36,), seed)


def image_batch(n, seed=5):
    return torch.randn(n, 36, generator=torch.Generator().manual_seed(seed), dtype=torch.float64)


def test_generic_route_equals_closed_form_on_shallow_mlp(problem):
    from sgd_spectra.ntk_generic import empirical_ntk

    net, X, _ = problem
    k_generic = empirical_ntk(net, X)
    k_closed = ntk_closed_form(net, X).numpy()
    assert k_generic.dtype == np.float64 and k_generic.shape == (N, N)
    assert np.linalg.norm(k_generic - k_closed) / np.linalg.norm(k_closed) <= 1e-10
    np.testing.assert_array_equal(k_generic, k_generic.T)  # mirrored from one triangle


def finite_difference_jacobian(model, X, h):
    """Central differences of every output with respect to every parameter, one at a time."""
    from torch.nn.utils import parameters_to_vector, vector_to_parameters

    theta = parameters_to_vector(model.parameters()).detach().clone()
    columns = []
    with torch.no_grad():
        for k in range(theta.numel()):
            step = torch.zeros_like(theta)
            step[k] = h
            vector_to_parameters(theta + step, model.parameters())
            plus = model(X).reshape(-1)
            vector_to_parameters(theta - step, model.parameters())
            minus = model(X).reshape(-1)
            columns.append((plus - minus) / (2 * h))
        vector_to_parameters(theta, model.parameters())
    return torch.stack(columns, dim=1)


def test_generic_route_equals_finite_difference_on_tiny_cnn():
    """Tolerance: within a linear region of the ReLU/max-pool net, f is a degree-3 polynomial in
    the parameters (conv, conv, readout), so central differences err by h^2 |f'''| / 6 ~ 1e-10
    at h = 1e-5, and round-off adds ~ eps |f| / h ~ 1e-11; a kink within +-h of a sample is a
    probability ~1e-5 event per unit.  1e-7 relative leaves two orders of margin."""
    from sgd_spectra.ntk_generic import empirical_ntk

    model = tiny_cnn()
    X = image_batch(4)
    jac = finite_difference_jacobian(model, X, h=1e-5)
    k_fd = (jac @ jac.T).numpy()
    k_generic = empirical_ntk(model, X)
    assert np.linalg.norm(k_generic - k_fd) / np.linalg.norm(k_fd) <= 1e-7


def test_chunked_equals_unchunked():
    """Caps small enough for several column groups (some splitting a tensor) of one-sample
    chunks, and for one group of multi-sample chunks, against a cap that holds everything."""
    from sgd_spectra.ntk_generic import empirical_ntk, plan_chunks

    model = tiny_cnn(channels=(4, 6))
    X = image_batch(12)
    tensor_sizes = {name: p.numel() for name, p in model.named_parameters()}
    split, rows = plan_chunks(model, X, memory_gb=2.5e-5), plan_chunks(model, X, memory_gb=8e-5)
    assert len(split.groups) >= 3 and split.n_chunks == 12 * len(split.groups)
    assert any(g.stop - g.start < sum(tensor_sizes[t] for t in g.tensors) for g in split.groups)
    assert len(rows.groups) == 1 and 1 < rows.groups[0].sample_chunk < 12
    assert len(plan_chunks(model, X, memory_gb=4.0).groups) == 1
    whole = empirical_ntk(model, X, memory_gb=4.0)
    for cap in (2.5e-5, 8e-5):
        chunked = empirical_ntk(model, X, memory_gb=cap)
        assert np.abs(chunked - whole).max() <= 1e-12 * np.abs(whole).max()


def test_plan_refuses_a_cap_below_the_kernel():
    from sgd_spectra.ntk_generic import empirical_ntk

    with pytest.raises(ValueError, match="memory_gb"):
        empirical_ntk(tiny_cnn(), image_batch(100), memory_gb=1e-6)


def test_ntk_autograd_needs_no_weight_attribute():
    """The old oracle assumed ``net.weight``; any module works now (and keeps its dtype)."""
    from sgd_spectra.ntk_generic import empirical_ntk

    model = tiny_cnn()
    assert not hasattr(model, "weight")
    X = image_batch(5)
    k = ntk_autograd(model, X)
    assert k.dtype == torch.float64
    np.testing.assert_allclose(k.numpy(), empirical_ntk(model, X), rtol=1e-13, atol=0)


def test_generic_route_casts_a_copy_of_a_float32_model():
    from sgd_spectra.ntk_generic import empirical_ntk

    model32 = init_network(D, WIDTH, seed=7, dtype=torch.float32)
    X = torch.randn(6, D, generator=torch.Generator().manual_seed(1), dtype=torch.float64)
    k = empirical_ntk(model32, X)  # float64 by default
    assert next(model32.parameters()).dtype == torch.float32  # caller's model untouched
    model64 = init_network(D, WIDTH, seed=7)
    with torch.no_grad():
        for p64, p32 in zip(model64.parameters(), model32.parameters()):
            p64.copy_(p32.double())
    k_ref = ntk_closed_form(model64, X).numpy()
    assert np.linalg.norm(k - k_ref) / np.linalg.norm(k_ref) <= 1e-12


def test_generic_route_refuses_vector_output():
    from sgd_spectra.ntk_generic import empirical_ntk

    model = torch.nn.Linear(4, 3).double()
    with pytest.raises(ValueError, match="one scalar output per sample"):
        empirical_ntk(model, torch.randn(5, 4, dtype=torch.float64))


def test_empirical_spectrum_reproduces_the_kernel(problem):
    from sgd_spectra.ntk_generic import empirical_ntk, empirical_spectrum

    model = tiny_cnn()
    X = image_batch(30)
    y = np.linspace(-1, 1, 30)
    spectrum = empirical_spectrum(model, X, y)
    K = empirical_ntk(model, X)
    lam, vectors = np.linalg.eigh(K)
    lam, vectors = lam[::-1], vectors[:, ::-1]
    assert spectrum.n_samples == 30
    assert spectrum.scale == pytest.approx(30 / lam[0], rel=1e-12)
    assert spectrum.eigenvalues[0] == pytest.approx(1.0, rel=1e-12)
    assert np.all(np.diff(spectrum.eigenvalues) <= 0)
    np.testing.assert_allclose(spectrum.eigenvalues, np.clip(lam / lam[0], 0, None), rtol=0, atol=1e-12)
    with torch.no_grad():
        error = model(X).numpy() - y
    np.testing.assert_allclose(
        spectrum.coefficients, (vectors.T @ error) ** 2, rtol=1e-8, atol=1e-12 * error @ error
    )
    assert spectrum.coefficients.sum() == pytest.approx(error @ error, rel=1e-12)  # Parseval


def test_empirical_spectrum_takes_the_closed_form_for_the_shallow_mlp(problem, monkeypatch):
    import sgd_spectra.ntk_generic as generic

    net, X, y = problem

    def refuse(*args, **kwargs):
        raise AssertionError("the closed form should have been used")

    monkeypatch.setattr(generic, "empirical_ntk", refuse)
    spectrum = generic.empirical_spectrum(net, X, y.numpy())
    k_over_n, scale = normalise_kernel(ntk_closed_form(net, X).numpy())
    assert spectrum.scale == pytest.approx(scale, rel=1e-12)
    np.testing.assert_allclose(spectrum.eigenvalues, np.linalg.eigvalsh(k_over_n)[::-1].clip(0), atol=1e-12)


def test_save_and_load_spectrum_round_trip(tmp_path):
    from sgd_spectra.models import build_model
    from sgd_spectra.ntk_generic import empirical_spectrum, load_spectrum, save_spectrum, state_dict_path

    model = tiny_cnn(seed=3)
    X = image_batch(10)
    spectrum = empirical_spectrum(model, X, np.zeros(10))
    npz, pt = save_spectrum(tmp_path / "out" / "spectrum.npz", spectrum, model)
    assert npz == tmp_path / "out" / "spectrum.npz" and pt == tmp_path / "out" / "spectrum.pt"
    assert pt == state_dict_path(npz) and pt.exists()
    with np.load(npz) as data:
        assert sorted(data.files) == ["coefficients", "eigenvalues", "n_samples", "scale"]
    loaded = load_spectrum(npz)
    np.testing.assert_array_equal(loaded.eigenvalues, spectrum.eigenvalues)
    np.testing.assert_array_equal(loaded.coefficients, spectrum.coefficients)
    assert loaded.scale == spectrum.scale and loaded.n_samples == 10
    other = build_model({"kind": "cnn", "channels": [2, 3], "input_shape": [1, 6, 6]}, (36,), 99)
    other.load_state_dict(torch.load(pt))
    with torch.no_grad():
        assert torch.equal(other(X), model(X))
    with pytest.raises(ValueError, match=".npz"):
        save_spectrum(tmp_path / "spectrum.txt", spectrum, model)


def test_generic_route_in_float32():
    from sgd_spectra.ntk_generic import empirical_ntk

    model = tiny_cnn()
    X = image_batch(7)
    k64 = empirical_ntk(model, X)
    k32 = empirical_ntk(model, X, dtype=torch.float32)
    assert k32.dtype == np.float64
    np.testing.assert_array_equal(k32, k32.T)
    assert np.linalg.norm(k32 - k64) / np.linalg.norm(k64) < 1e-5
    with pytest.raises(ValueError, match="dtype"):
        empirical_ntk(model, X, dtype=torch.float16)


@pytest.mark.parametrize("n", [1, 2, 3, 40, 400])
def test_largest_eigenvalue_matches_a_full_eigensolver(n):
    """Lanczos against eigvalsh: a random symmetric matrix (negative eigenvalues too), a PSD
    kernel whose top eigenvalue is double, and one whose top two nearly coincide."""
    rng = np.random.default_rng(n)
    a = rng.standard_normal((n, n))
    q, _ = np.linalg.qr(rng.standard_normal((n, n)))
    double = (q * np.r_[2.0, 2.0, np.linspace(1, 0, max(n - 2, 0))][:n]) @ q.T
    close = (q * np.r_[1.0, 1.0 - 1e-6, np.linspace(0.5, 0, max(n - 2, 0))][:n]) @ q.T
    for matrix in ((a + a.T) / 2, (double + double.T) / 2, (close + close.T) / 2):
        expected = np.linalg.eigvalsh(matrix)[-1]
        assert largest_eigenvalue(matrix) == pytest.approx(expected, rel=1e-12, abs=1e-12)
        assert largest_eigenvalue(matrix) == largest_eigenvalue(matrix)  # the same on every call


def test_normalise_kernel_with_a_known_lambda_max_matches_the_search(problem):
    net, X, _ = problem
    K = ntk_closed_form(net, X).numpy()
    found, found_scale = normalise_kernel(K)
    given, given_scale = normalise_kernel(K, lam_max=np.linalg.eigvalsh(K)[-1])
    assert given_scale == pytest.approx(found_scale, rel=1e-12)
    np.testing.assert_allclose(given, found, rtol=1e-12)
