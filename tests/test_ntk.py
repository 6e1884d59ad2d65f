"""Empirical NTK of the two-layer ReLU network: closed form vs autograd, and the NTK's meaning."""
import math

import numpy as np
import pytest
import torch

from sgd_spectra.ntk import (init_network, network_from_arrays, normalise_kernel, ntk_autograd,
                             ntk_closed_form)

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
        net(X[i:i + 1]).sum().backward()
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
    clone = network_from_arrays(net.weight.detach().numpy(), net.bias.detach().numpy(),
                                net.readout.detach().numpy())
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
            errors.append(float(torch.linalg.norm(rate - predicted_rate)
                                / torch.linalg.norm(predicted_rate)))
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
    X[1] = -0.5 * X[0]                      # antiparallel pair: t = pi, K_W = K_a = 0 there
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
    np.testing.assert_allclose(np.diag(k_w), np.sum(X * X, 1) / 2)     # t = 0: half the norm
    np.testing.assert_allclose(np.diag(k_a), np.sum(X * X, 1) / 2)
