"""The workflow's network stages on any model: the NTK stage's arrays (unchanged for the default
network), the checkpoint the training rules rebuild the network from, the pretraining split
(disjoint from the training samples) and the pretraining itself."""

import numpy as np
import pytest
import torch

from sgd_spectra.datasets import load_digits_regression, load_regression_dataset
from sgd_spectra.dynamics import train_network
from sgd_spectra.models import (
    ModelSpecError,
    build_model,
    flat_output,
    load_model,
    read_checkpoint,
    resolve_device,
    save_checkpoint,
)
from sgd_spectra.ntk import init_network, network_from_arrays, normalise_kernel, ntk_closed_form
from sgd_spectra.ntk_generic import empirical_ntk, kernel_arrays
from sgd_spectra.pretrain import pretrain, pretraining_split

CNN = {"kind": "cnn", "channels": [3, 4], "kernel_size": 3, "input_shape": None}


@pytest.fixture(scope="module")
def digits():
    X, y, indices = load_digits_regression(40, seed=0)
    return X, y, indices


def test_default_network_writes_the_same_arrays_as_before(digits):
    """results/ntk/{dataset}.npz of the default config: same keys, same order, same numbers as the
    closed-form computation the NTK script made before models existed."""
    X, y, _ = digits
    Xt = torch.as_tensor(X, dtype=torch.float64)
    model = build_model({"kind": "mlp", "width": 50}, X.shape[1:], seed=3)
    arrays = kernel_arrays(model, Xt, y)
    net = init_network(X.shape[1], 50, seed=3)
    kernel_over_n, scale = normalise_kernel(ntk_closed_form(net, Xt).numpy())
    with torch.no_grad():
        before = {
            "kernel_over_n": kernel_over_n,
            "initial_error": net(Xt).numpy() - y,
            "scale": scale,
            "weight": net.weight.detach().numpy(),
            "bias": net.bias.detach().numpy(),
            "readout": net.readout.detach().numpy(),
        }
    assert list(arrays) == list(before)
    for key in before:
        np.testing.assert_array_equal(arrays[key], before[key], err_msg=key)


def test_other_models_write_the_autograd_kernel_without_mlp_arrays(digits):
    X, y, _ = digits
    model = build_model(CNN, X.shape[1:], seed=0)
    arrays = kernel_arrays(model, X, y)
    assert list(arrays) == ["kernel_over_n", "initial_error", "scale"]
    kernel = empirical_ntk(model, X)
    np.testing.assert_allclose(arrays["kernel_over_n"], kernel / np.linalg.eigvalsh(kernel)[-1], rtol=1e-12)
    assert np.linalg.eigvalsh(arrays["kernel_over_n"])[-1] == pytest.approx(1.0)


@pytest.mark.parametrize("spec", [{"kind": "mlp", "width": 20}, CNN])
def test_checkpoint_rebuilds_the_same_network(tmp_path, digits, spec):
    X, _, _ = digits
    model = build_model(spec, X.shape[1:], seed=5)
    with torch.no_grad():  # as if pretrained: not the seed's initialisation
        for p in model.parameters():
            p.add_(0.01)
    save_checkpoint(tmp_path / "net.pt", model, spec, X.shape[1:], 5, pretrain={"epochs": 1})
    record = read_checkpoint(tmp_path / "net.pt")
    assert record["spec"] == spec and record["input_shape"] == [64] and record["pretrain"] == {"epochs": 1}
    again = load_model(tmp_path / "net.pt")
    Xt = torch.as_tensor(X)
    with torch.no_grad():
        torch.testing.assert_close(again(Xt), model(Xt), rtol=0, atol=0)
    assert next(load_model(tmp_path / "net.pt", torch.float32).parameters()).dtype == torch.float32


def test_a_problem_without_network_has_an_empty_checkpoint(tmp_path):
    save_checkpoint(tmp_path / "none.pt", None, None, None, 0)
    assert read_checkpoint(tmp_path / "none.pt")["spec"] is None
    with pytest.raises(ValueError, match="no network"):
        load_model(tmp_path / "none.pt")


def test_training_from_the_checkpoint_equals_training_from_the_arrays(tmp_path, digits):
    """The training rule used to rebuild the default network from the npz arrays: the checkpoint
    route gives bit-identical losses."""
    X, y, _ = digits
    model = build_model({"kind": "mlp", "width": 30}, X.shape[1:], seed=0)
    save_checkpoint(tmp_path / "net.pt", model, {"kind": "mlp", "width": 30}, X.shape[1:], 0)
    arrays = {k: getattr(model, k).detach().numpy() for k in ("weight", "bias", "readout")}
    steps = [0, 1, 5, 20]
    old = train_network(network_from_arrays(**arrays, dtype=torch.float32), X, y, 2.0, 0.5, 5, 0, steps)
    new = train_network(
        flat_output(load_model(tmp_path / "net.pt", torch.float32)),
        torch.as_tensor(X, dtype=torch.float32),
        torch.as_tensor(y, dtype=torch.float32),
        2.0,
        0.5,
        5,
        0,
        steps,
    )
    np.testing.assert_array_equal(old[0], new[0])
    assert old[1] == new[1]


def test_flat_output_takes_b_by_one_outputs_to_b():
    column = torch.nn.Linear(4, 1)
    assert flat_output(column)(torch.zeros(3, 4)).shape == (3,)


def test_devices():
    assert resolve_device("cpu") == torch.device("cpu")
    assert resolve_device("auto").type == ("cuda" if torch.cuda.is_available() else "cpu")
    if not torch.cuda.is_available():
        with pytest.raises(ModelSpecError, match="device.*auto"):
            resolve_device("cuda")


@pytest.mark.parametrize("source", ["digits", "diabetes"])
def test_pretraining_split_is_disjoint_and_standardised_like_the_training_set(source):
    spec = {"name": source, "source": source, "kind": "tabular" if source == "diabetes" else source}
    X, y, indices, _ = load_regression_dataset(spec, 100, seed=0)
    X_pre, y_pre, pre_indices = pretraining_split(spec, indices, 150, seed=0)
    assert len(pre_indices) == 150 == len(np.unique(pre_indices))
    assert not np.isin(pre_indices, indices).any()
    # the same standardisation: a sample's row is the same wherever it is drawn
    X_all, y_all, all_indices, _ = load_regression_dataset(
        spec, 442 if source == "diabetes" else 1000, seed=7
    )
    common = np.intersect1d(pre_indices, all_indices)
    assert len(common) > 10

    def rows(idx, where):
        return np.searchsorted(where, idx)

    np.testing.assert_array_equal(X_pre[rows(common, pre_indices)], X_all[rows(common, all_indices)])
    np.testing.assert_array_equal(y_pre[rows(common, pre_indices)], y_all[rows(common, all_indices)])
    again = pretraining_split(spec, indices, 150, seed=0)[2]
    np.testing.assert_array_equal(again, pre_indices)  # recorded seed: the same split


def test_pretraining_split_too_large_names_the_key():
    spec = {"name": "diabetes", "source": "diabetes", "kind": "tabular"}
    _, _, indices, _ = load_regression_dataset(spec, 400, seed=0)
    with pytest.raises(ValueError, match=r"pretrain\.n_samples"):
        pretraining_split(spec, indices, 100, seed=0)


@pytest.mark.parametrize("loss", ["mse", "cross_entropy"])
def test_pretraining_lowers_its_loss(digits, loss):
    X, y, _ = digits
    model = build_model(CNN, X.shape[1:], seed=0)
    before = {k: v.clone() for k, v in model.state_dict().items()}
    history = pretrain(model, X, y, epochs=15, lr=1e-2, loss=loss, batch_size=8, seed=0, log=lambda _: None)
    assert len(history) == 15 and history[-1] < history[0]
    assert any(not torch.equal(before[k], v) for k, v in model.state_dict().items())


def test_pretraining_that_diverges_names_the_learning_rate(digits):
    X, y, _ = digits
    model = build_model({"kind": "mlp", "width": 20}, X.shape[1:], seed=0)
    with pytest.raises(ValueError, match=r"pretrain\.lr"):
        pretrain(model, X, y * 1e200, epochs=2, lr=1.0, loss="mse", batch_size=8, seed=0, log=lambda _: None)
