"""Networks from spec dicts: the MLP family, CNN, ResNet and user factories, and their checks."""

import itertools
import textwrap

import numpy as np
import pytest
import torch

from sgd_spectra.models import DeepMLP, ModelSpecError, build_model
from sgd_spectra.ntk import NTKTwoLayerMLP, init_network, ntk_closed_form

D = 8


def batch(shape, n=5, seed=1):
    return torch.randn((n, *shape), generator=torch.Generator().manual_seed(seed), dtype=torch.float64)


def same_parameters(a, b):
    sa, sb = a.state_dict(), b.state_dict()
    return sa.keys() == sb.keys() and all(torch.equal(sa[k], sb[k]) for k in sa)


# ----------------------------------------------------------------------------- MLP


def test_default_mlp_is_the_closed_form_network():
    spec = {"kind": "mlp", "depth": 1, "width": 30, "activation": "relu", "parametrisation": "ntk"}
    model = build_model(spec, (D,), seed=11)
    assert type(model) is NTKTwoLayerMLP
    assert same_parameters(model, init_network(D, 30, seed=11))
    assert same_parameters(build_model({"kind": "mlp", "width": 30}, (D,), 11), model)
    assert not same_parameters(build_model(spec, (D,), seed=12), model)


def test_deep_mlp_class_at_depth_one_matches_the_two_layer_network():
    """The general class draws in the same order, so depth 1 / relu / ntk is the same function
    and the generic NTK equals the closed form."""
    from sgd_spectra.ntk_generic import empirical_ntk

    deep = DeepMLP(D, 1, 30, "relu", "ntk", torch.Generator().manual_seed(4), torch.float64)
    shallow = init_network(D, 30, seed=4)
    X = batch((D,), n=9)
    with torch.no_grad():
        torch.testing.assert_close(deep(X), shallow(X), rtol=1e-15, atol=1e-15)
    k_closed = ntk_closed_form(shallow, X).numpy()
    assert np.linalg.norm(empirical_ntk(deep, X) - k_closed) / np.linalg.norm(k_closed) < 1e-12


@pytest.mark.parametrize(
    "depth,activation,parametrisation",
    itertools.product([1, 3], ["relu", "tanh", "gelu"], ["ntk", "standard"]),
)
def test_mlp_variants_build_and_are_deterministic(depth, activation, parametrisation):
    spec = {
        "kind": "mlp",
        "depth": depth,
        "width": 16,
        "activation": activation,
        "parametrisation": parametrisation,
    }
    model = build_model(spec, (D,), seed=2)
    n_params = D * 16 + 16 + (depth - 1) * (16 * 16 + 16) + 16
    assert sum(p.numel() for p in model.parameters()) == n_params
    X = batch((D,))
    with torch.no_grad():
        assert model(X).shape == (5,)
    assert same_parameters(build_model(spec, (D,), seed=2), model)
    assert not same_parameters(build_model(spec, (D,), seed=3), model)


def test_standard_parametrisation_same_function_different_kernel():
    from sgd_spectra.ntk_generic import empirical_ntk

    base = {"kind": "mlp", "depth": 2, "width": 64, "activation": "tanh"}
    ntk = build_model({**base, "parametrisation": "ntk"}, (D,), seed=5)
    standard = build_model({**base, "parametrisation": "standard"}, (D,), seed=5)
    X = batch((D,), n=6)
    with torch.no_grad():
        torch.testing.assert_close(ntk(X), standard(X), rtol=1e-12, atol=1e-12)
    k_ntk, k_std = empirical_ntk(ntk, X), empirical_ntk(standard, X)
    # standard parametrisation: the hidden layer's weight gradients are sqrt(fan_in) larger
    assert np.trace(k_std) > 2 * np.trace(k_ntk)


# ----------------------------------------------------------------------------- images


@pytest.mark.parametrize("kind", ["cnn", "resnet"])
def test_image_models_read_flat_and_shaped_inputs(kind):
    flat = build_model({"kind": kind}, (784,), seed=0)
    shaped = build_model({"kind": kind}, (1, 28, 28), seed=0)
    explicit = build_model({"kind": kind, "input_shape": [1, 28, 28]}, (784,), seed=0)
    X = batch((784,), n=3)
    with torch.no_grad():
        out = flat(X)
        assert out.shape == (3,)
        assert torch.equal(shaped(X.reshape(3, 1, 28, 28)), out)
        assert torch.equal(explicit(X), out)


def test_resnet_on_colour_images_and_blocks():
    model = build_model({"kind": "resnet", "channels": [8, 16, 16], "blocks": 2}, (3, 32, 32), seed=1)
    assert (
        sum(1 for name, _ in model.named_modules() if name.count(".") == 1 and name.startswith("blocks."))
        == 6
    )
    with torch.no_grad():
        assert model(batch((3, 32, 32), n=2)).shape == (2,)


@pytest.mark.parametrize("kind", ["cnn", "resnet"])
def test_image_models_are_deterministic_and_leave_the_global_rng_alone(kind):
    state = torch.random.get_rng_state()
    a = build_model({"kind": kind, "channels": [4, 8]}, (784,), seed=3)
    assert torch.equal(torch.random.get_rng_state(), state)
    assert same_parameters(build_model({"kind": kind, "channels": [4, 8]}, (784,), seed=3), a)
    assert not same_parameters(build_model({"kind": kind, "channels": [4, 8]}, (784,), 4), a)
    assert all(p.dtype == torch.float64 for p in a.parameters())


def test_image_shape_errors_name_the_key():
    with pytest.raises(ModelSpecError, match="'input_shape'"):
        build_model({"kind": "cnn", "input_shape": [1, 27, 28]}, (784,), seed=0)
    with pytest.raises(ModelSpecError, match="'input_shape'"):
        build_model({"kind": "cnn"}, (3072,), seed=0)  # 3x32x32 is not a square
    with pytest.raises(ModelSpecError, match="'channels'"):
        build_model({"kind": "cnn", "channels": []}, (784,), seed=0)


# ----------------------------------------------------------------------------- spec errors


@pytest.mark.parametrize(
    "spec,key",
    [
        ({"kind": "transformer"}, "'kind'"),
        ({"width": 10}, "'kind'"),
        ({"kind": "mlp", "widht": 10}, "'widht'"),
        ({"kind": "cnn", "depth": 2}, "'depth'"),
        ({"kind": "mlp", "depth": 0}, "'depth'"),
        ({"kind": "mlp", "width": 2.5}, "'width'"),
        ({"kind": "mlp", "activation": "sigmoid"}, "'activation'"),
        ({"kind": "mlp", "parametrisation": "mup"}, "'parametrisation'"),
        ({"kind": "custom"}, "'factory'"),
    ],
)
def test_bad_specs_are_refused_naming_the_key(spec, key):
    with pytest.raises(ValueError, match=key):
        build_model(spec, (D,), seed=0)


def test_mlp_refuses_image_shaped_inputs():
    with pytest.raises(ModelSpecError, match="flat inputs"):
        build_model({"kind": "mlp"}, (1, 28, 28), seed=0)


# ----------------------------------------------------------------------------- custom

FACTORIES = textwrap.dedent("""
    import torch
    from torch import nn

    def make(in_features, hidden, bias=True):
        return nn.Sequential(nn.Linear(in_features, hidden, bias=bias), nn.Tanh(),
                             nn.Linear(hidden, 1))

    def vector(in_features):
        return nn.Linear(in_features, 3)

    def broken(**kwargs):
        raise RuntimeError("no GPU here")

    def not_a_module():
        return 42

    class Images(nn.Module):
        def __init__(self):
            super().__init__()
            self.conv = nn.Conv2d(1, 2, 3)
            self.out = nn.Linear(2, 1)

        def forward(self, x):
            return self.out(self.conv(x).mean(dim=(-2, -1)))
""")


@pytest.fixture
def factory_file(tmp_path):
    path = tmp_path / "my_models.py"
    path.write_text(FACTORIES)
    return path


def test_custom_factory_by_file_path_with_kwargs(factory_file):
    from sgd_spectra.ntk_generic import empirical_ntk

    spec = {
        "kind": "custom",
        "factory": f"{factory_file}:make",
        "kwargs": {"in_features": D, "hidden": 7, "bias": False},
    }
    model = build_model(spec, (D,), seed=1)
    assert model[0].weight.shape == (7, D) and model[0].bias is None
    assert model[0].weight.dtype == torch.float64
    assert same_parameters(build_model(spec, (D,), seed=1), model)  # seeded global RNG
    assert not same_parameters(build_model(spec, (D,), seed=2), model)
    X = batch((D,), n=6)
    K = empirical_ntk(model, X)
    np.testing.assert_array_equal(K, K.T)
    assert np.linalg.eigvalsh(K)[0] > -1e-12 * np.abs(K).max()


def test_custom_factory_by_module_path_and_input_shape(factory_file, monkeypatch):
    monkeypatch.syspath_prepend(str(factory_file.parent))
    model = build_model(
        {"kind": "custom", "factory": "my_models:Images", "input_shape": [1, 5, 5]}, (25,), seed=0
    )
    with torch.no_grad():
        assert model(batch((25,), n=4)).reshape(-1).shape == (4,)


@pytest.mark.parametrize(
    "name,message",
    [
        ("vector", "one scalar per sample"),
        ("broken", "raised RuntimeError: no GPU here"),
        ("not_a_module", "not a torch.nn.Module"),
        ("missing", "no callable named 'missing'"),
    ],
)
def test_custom_factory_problems_name_the_factory(factory_file, name, message):
    reference = f"{factory_file}:{name}"
    kwargs = {"in_features": D} if name == "vector" else {}
    with pytest.raises(ModelSpecError, match=message) as info:
        build_model({"kind": "custom", "factory": reference, "kwargs": kwargs}, (D,), seed=0)
    assert reference in str(info.value)


@pytest.mark.parametrize(
    "reference,message",
    [
        ("no_such_module_xyz:make", "cannot import 'no_such_module_xyz'"),
        ("does/not/exist.py:make", "cannot import"),
        ("just_a_name", "must look like"),
    ],
)
def test_custom_factory_that_cannot_be_imported(reference, message):
    with pytest.raises(ModelSpecError, match=message) as info:
        build_model({"kind": "custom", "factory": reference}, (D,), seed=0)
    assert repr(reference) in str(info.value)


def test_custom_factory_that_fails_at_import(tmp_path):
    path = tmp_path / "bad.py"
    path.write_text("raise ImportError('needs a package you do not have')\n")
    with pytest.raises(ModelSpecError, match="needs a package") as info:
        build_model({"kind": "custom", "factory": f"{path}:make"}, (D,), seed=0)
    assert f"{path}:make" in str(info.value)


# ----------------------------------------------------------------------------- their kernels


@pytest.mark.parametrize(
    "spec,shape",
    [
        ({"kind": "mlp", "depth": 3, "width": 12, "activation": "gelu", "parametrisation": "standard"}, (D,)),
        ({"kind": "cnn", "channels": [3, 4]}, (64,)),
        ({"kind": "resnet", "channels": [3, 4], "blocks": 1}, (1, 8, 8)),
    ],
)
def test_generic_kernel_of_every_kind_matches_a_per_sample_backward_loop(spec, shape):
    """Oracle without torch.func: one ``backward`` per sample, Jacobian rows stacked."""
    from sgd_spectra.ntk_generic import empirical_ntk

    model = build_model(spec, shape, seed=0)
    X = batch(shape, n=6)
    rows = []
    for i in range(6):
        model.zero_grad()
        model(X[i : i + 1]).sum().backward()
        rows.append(torch.cat([p.grad.reshape(-1) for p in model.parameters()]))
    jac = torch.stack(rows)
    k_ref = (jac @ jac.T).detach().numpy()
    K = empirical_ntk(model, X)
    assert np.linalg.norm(K - k_ref) / np.linalg.norm(k_ref) <= 1e-12


def test_progress_bar(capsys):
    from sgd_spectra.ntk_generic import empirical_ntk

    model = build_model({"kind": "cnn", "channels": [2]}, (16,), seed=0)
    X = batch((16,), n=4)
    quiet = empirical_ntk(model, X)
    assert "empirical NTK" not in capsys.readouterr().err
    loud = empirical_ntk(model, X, progress=True)
    assert "empirical NTK" in capsys.readouterr().err
    np.testing.assert_array_equal(quiet, loud)
