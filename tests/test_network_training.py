"""The seeds of the real network stacked (network_training.train_networks) against the per-seed
loop with torch.optim.SGD (dynamics.train_network): same batches, same numbers to float32
round-off, same divergence steps."""

import copy

import numpy as np
import pytest
import torch

from sgd_spectra.dynamics import train_network
from sgd_spectra.models import build_model, flat_output
from sgd_spectra.network_training import mlp_layers, train_networks
from sgd_spectra.theory import log_spaced_steps

N, D, WIDTH, B = 200, 16, 64, 10
STEPS = log_spaced_steps(200, 30)
SEEDS = range(4)


@pytest.fixture(autouse=True, scope="module")
def one_thread():
    """Small matmuls: one thread (two oversubscribe a busy machine and are many times slower)."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


@pytest.fixture(scope="module")
def data():
    rng = np.random.default_rng(0)
    X = torch.as_tensor(rng.standard_normal((N, D)), dtype=torch.float32)
    y = torch.as_tensor(rng.standard_normal(N), dtype=torch.float32)
    return X, y


def net_of(spec):
    return flat_output(build_model({"kind": "mlp", "width": WIDTH, **spec}, (D,), 0, torch.float32))


def per_seed_loop(spec, X, y, lr, momentum, seeds=SEEDS, steps=STEPS):
    runs = [train_network(net_of(spec), X, y, lr, momentum, B, s, steps) for s in seeds]
    return np.array([r[0] for r in runs]), np.array([r[1] for r in runs])


def assert_same_runs(stacked, loop):
    np.testing.assert_array_equal(stacked[1], loop[1])  # the divergence steps
    np.testing.assert_array_equal(np.isinf(stacked[0]), np.isinf(loop[0]))
    finite = np.isfinite(loop[0])
    np.testing.assert_allclose(stacked[0][finite], loop[0][finite], rtol=1e-4)


@pytest.mark.parametrize(
    "spec",
    [
        {},  # the default: one hidden layer, ReLU, NTK parametrisation (ntk.NTKTwoLayerMLP)
        {"depth": 1, "activation": "tanh"},
        {"depth": 2, "activation": "relu"},
        {"depth": 2, "activation": "tanh"},
        {"depth": 1, "activation": "gelu"},
        {"depth": 2, "activation": "relu", "parametrisation": "standard"},
    ],
    ids=["default", "1-tanh", "2-relu", "2-tanh", "1-gelu", "2-relu-standard"],
)
@pytest.mark.parametrize("momentum", [0.0, 0.9])
def test_stacked_seeds_equal_the_per_seed_loop(data, spec, momentum):
    X, y = data
    lr = 0.05 if spec.get("parametrisation") == "standard" else 0.5
    net = net_of(spec)
    assert mlp_layers(net) is not None
    stacked = train_networks(net, X, y, lr, momentum, B, SEEDS, STEPS, route="mlp")
    loop = per_seed_loop(spec, X, y, lr, momentum)
    assert np.all(loop[1] == -1) and np.all(np.isfinite(loop[0]))
    assert loop[0][:, -1].mean() < 0.95 * loop[0][0, 0]  # the loss moved
    assert_same_runs(stacked, loop)


@pytest.mark.parametrize(
    "spec, lr, momentum",
    [
        ({"depth": 2, "activation": "tanh"}, 8.0, 0.9),  # every seed diverges, at different steps
        ({"depth": 2, "activation": "tanh"}, 30.0, 0.0),
        ({"depth": 2, "activation": "relu", "parametrisation": "standard"}, 0.5, 0.9),
    ],
)
def test_diverging_seeds_leave_the_stack_at_the_loops_step(data, spec, lr, momentum):
    X, y = data
    seeds = range(8)
    stacked = train_networks(net_of(spec), X, y, lr, momentum, B, seeds, STEPS, route="mlp")
    loop = per_seed_loop(spec, X, y, lr, momentum, seeds)
    assert np.all(loop[1] >= 0) and len(set(loop[1])) > 1
    assert_same_runs(stacked, loop)


def test_one_seed_diverges_the_others_run_on(data):
    """Seed 1 alone diverges (late, at step 196): it leaves the stack, the others are unchanged."""
    X, y = data
    seeds = range(8)
    stacked = train_networks(net_of({}), X, y, 12.0, 0.9, B, seeds, STEPS, route="mlp")
    loop = per_seed_loop({}, X, y, 12.0, 0.9, seeds)
    assert list(loop[1]) == [-1, 196, -1, -1, -1, -1, -1, -1]
    assert_same_runs(stacked, loop)
    # and each seed is the same run with or without the others beside it
    alone = train_networks(net_of({}), X, y, 12.0, 0.9, B, [3], STEPS, route="mlp")
    np.testing.assert_allclose(alone[0][0], stacked[0][3], rtol=1e-5)


def test_stacks_of_seeds_and_record_order(data, monkeypatch):
    """Seeds split over several stacks, and record steps asked for out of order with repeats,
    give the same numbers as one stack in order."""
    import sgd_spectra.network_training as nt

    X, y = data
    steps = [50, 0, 3, 50, 10]
    whole = train_networks(net_of({}), X, y, 0.5, 0.9, B, range(5), sorted(set(steps)))
    monkeypatch.setattr(nt, "MAX_STACK_BYTES", 1)  # one seed per stack
    monkeypatch.setattr(nt, "BLOCK_BYTES", 1)  # one step per block
    split = train_networks(net_of({}), X, y, 0.5, 0.9, B, range(5), steps)
    order = np.searchsorted(sorted(set(steps)), steps)
    np.testing.assert_allclose(split[0], whole[0][:, order], rtol=1e-5)
    np.testing.assert_array_equal(split[1], whole[1])


def test_the_network_is_left_as_it_is(data):
    X, y = data
    net = net_of({"depth": 2})
    before = copy.deepcopy(net.state_dict())
    train_networks(net, X, y, 0.5, 0.9, B, range(2), [0, 20])
    for name, value in net.state_dict().items():
        assert torch.equal(value, before[name])


def test_other_models_run_the_per_seed_loop(data):
    X, y = data
    cnn = flat_output(build_model({"kind": "cnn", "channels": [4]}, (D,), 0, torch.float32))
    assert mlp_layers(cnn) is None
    with pytest.raises(ValueError, match="route 'mlp' cannot train"):
        train_networks(cnn, X, y, 0.05, 0.9, B, range(2), [0, 5], route="mlp")
    loss, div = train_networks(cnn, X, y, 0.05, 0.9, B, range(2), [0, 5, 20])
    for s in range(2):
        ref = train_network(copy.deepcopy(cnn), X, y, 0.05, 0.9, B, s, [0, 5, 20])
        np.testing.assert_array_equal(loss[s], ref[0])
        assert div[s] == ref[1]
