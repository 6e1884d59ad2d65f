"""Config validation of the model section: model specs, custom factories, feature shapes and the
pretraining split are checked before any job, naming the key."""

import copy
from pathlib import Path

import pytest
import yaml
from snakemake.utils import validate
from test_config import ROOT, SCHEMA, _dry_run, checked, load_config

from sgd_spectra.config import ConfigError, check_config, coerce_command_line


@pytest.fixture
def default_config():
    return load_config()


# ----------------------------------------------------------------------------- the model section

FACTORIES = """
import torch
from torch import nn

def tiny_mlp(hidden=8):
    return nn.Sequential(nn.Linear(64, hidden), nn.Tanh(), nn.Linear(hidden, 1))

def raises():
    raise RuntimeError("cannot build this one")

def vector_output():
    return nn.Linear(64, 3)
"""


@pytest.fixture
def factory_file(tmp_path):
    path = tmp_path / "my_models.py"
    path.write_text(FACTORIES)
    return path


@pytest.fixture
def tiny_config():
    return load_config("config/tiny.yaml")


@pytest.mark.parametrize(
    "model",
    [
        {},
        {"kind": "mlp", "depth": 2, "width": 16, "activation": "tanh", "parametrisation": "standard"},
        {"kind": "cnn", "channels": [4], "kernel_size": 3},
        {"kind": "resnet", "channels": [4, 8], "blocks": 1, "input_shape": [1, 8, 8]},
        {
            "kind": "cnn",
            "channels": [4],
            "pretrain": {"epochs": 2, "n_samples": 50, "loss": "cross_entropy"},
            "device": "auto",
            "ntk_memory_gb": 0.5,
        },
    ],
)
def test_good_model_specs_pass(tiny_config, model):
    tiny_config["model"] = model
    checked(tiny_config)


def test_custom_factory_from_a_file_passes(tiny_config, factory_file):
    from sgd_spectra.config import model_spec

    tiny_config["model"] = {"kind": "custom", "factory": f"{factory_file}:tiny_mlp", "kwargs": {"hidden": 4}}
    cfg = checked(tiny_config)
    assert model_spec(cfg) == {
        "kind": "custom",
        "factory": f"{factory_file}:tiny_mlp",
        "kwargs": {"hidden": 4},
        "input_shape": None,
    }


@pytest.mark.parametrize(
    "model, named",
    [
        ({"kind": "transformer"}, "transformer"),
        ({"kind": "cnn", "depth": 2}, "depth"),  # an mlp key on a cnn
        ({"kind": "mlp", "channels": [4]}, "channels"),
        ({"kind": "mlp", "activation": "swish"}, "swish"),
        ({"kind": "custom"}, "factory"),
        ({"device": "gpu"}, "gpu"),
        ({"pretrain": {"epochs": 1, "loss": "hinge"}}, "hinge"),
        ({"pretrain": {"epoch": 1}}, "epoch"),
    ],
)
def test_schema_rejects_bad_model_specs_naming_the_key(tiny_config, model, named):
    tiny_config["model"] = model
    with pytest.raises(Exception) as err:
        validate(tiny_config, SCHEMA)
    assert named in str(err.value) and "model" in str(err.value)


@pytest.mark.parametrize(
    "factory, message",
    [
        ("raises", "raised RuntimeError: cannot build this one"),
        ("vector_output", "one scalar per sample"),
        ("missing_function", "no callable named 'missing_function'"),
    ],
)
def test_a_factory_that_fails_is_refused_naming_the_key(tiny_config, factory_file, factory, message):
    tiny_config["model"] = {"kind": "custom", "factory": f"{factory_file}:{factory}"}
    validate(tiny_config, SCHEMA)
    with pytest.raises(ConfigError, match=r"model\.factory") as err:
        check_config(tiny_config)
    assert message in str(err.value) and "digits" in str(err.value)


def test_a_model_that_does_not_fit_the_data_is_refused(tiny_config):
    tiny_config["model"] = {"kind": "cnn", "input_shape": [3, 8, 8]}  # digits have 64 features, not 192
    validate(tiny_config, SCHEMA)
    with pytest.raises(ConfigError, match="config key 'model'.*input_shape"):
        check_config(tiny_config)


def test_bad_factory_stops_snakemake_before_any_job(factory_file):
    out = _dry_run(
        "--configfile",
        str(ROOT / "config" / "tiny.yaml"),
        "--config",
        f"model={{kind: custom, factory: '{factory_file}:vector_output'}}",
    )
    assert out.returncode != 0
    assert "model.factory" in out.stdout + out.stderr and "one scalar per sample" in out.stdout + out.stderr


def test_width_stays_the_default_mlp_s_width(default_config):
    from sgd_spectra.config import has_closed_form, model_spec

    cfg = checked(copy.deepcopy(default_config))
    assert model_spec(cfg) == {
        "kind": "mlp",
        "depth": 1,
        "activation": "relu",
        "parametrisation": "ntk",
        "width": 1000,
    }
    assert has_closed_form(model_spec(cfg))
    cfg["model"]["width"] = 64
    assert model_spec(cfg)["width"] == 64
    cnn = copy.deepcopy(default_config)
    cnn["model"]["kind"] = "cnn"  # as --config "model={kind: cnn}" does: the mlp's width is ignored
    assert "width" in cnn["model"] and "width" not in model_spec(checked(cnn))
    assert model_spec(checked({**copy.deepcopy(default_config), "model": {}}))["width"] == 1000


def test_schema_defaults_are_the_package_defaults():
    """The schema states each default the code also falls back to: they must not drift."""
    from sgd_spectra.config import MODEL_RUN_DEFAULTS
    from sgd_spectra.models import DEFAULTS
    from sgd_spectra.pretrain import PRETRAIN_DEFAULTS

    model = yaml.safe_load(Path(SCHEMA).read_text())["properties"]["model"]
    props = model["properties"]
    assert {k: props[k]["default"] for k in MODEL_RUN_DEFAULTS} == {**MODEL_RUN_DEFAULTS, "pretrain": {}}
    assert {k: v["default"] for k, v in props["pretrain"]["properties"].items()} == PRETRAIN_DEFAULTS
    for branch in model["allOf"]:
        kind = branch["if"]["properties"]["kind"]["const"]
        schema_defaults = {k: v["default"] for k, v in branch["then"]["properties"].items() if "default" in v}
        assert set(branch["then"]["properties"]) == set(DEFAULTS[kind]), kind
        # no default for a custom factory (required)
        assert schema_defaults == {k: v for k, v in DEFAULTS[kind].items() if k != "factory"}, kind


def test_feature_shapes_are_the_data_s():
    from sgd_spectra.config import FEATURE_SHAPES
    from sgd_spectra.datasets import (
        find_idx_pair,
        load_diabetes_regression,
        load_digits_regression,
        load_idx_regression,
    )

    assert load_digits_regression(20, 0)[0].shape[1:] == FEATURE_SHAPES["digits"]
    assert load_diabetes_regression(20, 0)[0].shape[1:] == FEATURE_SHAPES["diabetes"]
    if find_idx_pair(None) is not None:
        assert load_idx_regression(20, 0)[0].shape[1:] == FEATURE_SHAPES["fashion_mnist"]


def test_pretraining_split_must_fit_beside_the_training_samples(default_config):
    from sgd_spectra.config import DATASET_EXPERIMENTS

    cfg = copy.deepcopy(default_config)
    cfg["data"]["datasets"] = ["diabetes"]
    cfg["model"] = {"pretrain": {"epochs": 1, "n_samples": 100}}
    for name in DATASET_EXPERIMENTS:
        cfg["experiments"][name]["datasets"] = []
    cfg["data"]["n_samples"] = 300
    checked(copy.deepcopy(cfg))  # 300 + 100 <= 442 rows
    cfg["data"]["n_samples"] = 400
    with pytest.raises(ConfigError, match=r"model\.pretrain\.n_samples"):
        checked(cfg)


def test_nested_command_line_values_are_coerced():
    cfg = coerce_command_line(
        {
            "model": {
                "kind": "cnn",
                "channels": ["8", "16"],
                "input_shape": "null",
                "pretrain": {"epochs": "2", "lr": "1e-3"},
            }
        }
    )
    assert cfg == {
        "model": {
            "kind": "cnn",
            "channels": [8, 16],
            "input_shape": None,
            "pretrain": {"epochs": 2, "lr": 1e-3},
        }
    }


def test_user_dataset_shape_is_read_from_the_file_header(tiny_config, tmp_path):
    from sgd_spectra.config import feature_shape

    np = pytest.importorskip("numpy")
    np.savez_compressed(tmp_path / "mine.npz", images=np.zeros((30, 3, 4, 4)), labels=np.arange(30) % 3)
    from sgd_spectra.config import DATASET_EXPERIMENTS

    tiny_config["data"]["user_datasets"] = {"mine": str(tmp_path / "mine.npz")}
    tiny_config["data"]["datasets"] = ["mine"]
    tiny_config["model"] = {"kind": "cnn", "channels": [2], "input_shape": [3, 4, 4]}
    for name in DATASET_EXPERIMENTS:
        tiny_config["experiments"][name]["datasets"] = []
    checked(tiny_config)
    assert feature_shape("mine", tiny_config) == (48,)
    tiny_config["model"]["input_shape"] = [1, 8, 8]
    with pytest.raises(ConfigError, match="config key 'model'.*'mine'"):
        checked(tiny_config)
