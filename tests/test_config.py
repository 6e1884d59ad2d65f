"""Config validation: the schema and the cross-key checks reject bad input, naming the key."""

import copy
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import yaml
from snakemake.utils import validate

from sgd_spectra.config import ConfigError, check_config, coerce_command_line, setting_name, sgd_settings

ROOT = Path(__file__).resolve().parents[1]
SCHEMA = str(ROOT / "workflow" / "schemas" / "config.schema.yaml")


@pytest.fixture
def default_config():
    return yaml.safe_load((ROOT / "config.yaml").read_text())


def test_default_and_tiny_configs_are_valid(default_config):
    for cfg in (default_config, yaml.safe_load((ROOT / "config" / "tiny.yaml").read_text())):
        validate(cfg, SCHEMA)
        check_config(cfg)


@pytest.mark.parametrize(
    "key, value, named",
    [
        ("batch_sizes", [-1], "batch_sizes"),
        ("momenta", [1.0], "momenta"),
        ("momenta", [-1.0], "momenta"),
        ("learning_rates", [0.0], "learning_rates"),
        ("n_samples", "many", "n_samples"),
        ("steps", 0, "steps"),
        ("lernrate", 0.1, "lernrate"),  # a typo is an unknown key
    ],
)
def test_schema_rejects_bad_values_naming_the_key(default_config, key, value, named):
    cfg = copy.deepcopy(default_config)
    cfg[key] = value
    with pytest.raises(Exception) as err:
        validate(cfg, SCHEMA)
    assert named in str(err.value)


def test_cross_key_checks_name_the_key(default_config):
    cfg = copy.deepcopy(default_config)
    cfg["batch_sizes"] = [10, cfg["n_samples"] + 1]
    with pytest.raises(ConfigError, match="batch_sizes"):
        check_config(cfg)
    cfg = copy.deepcopy(default_config)
    cfg["fit_range"] = [5, cfg["n_samples"] + 1]
    with pytest.raises(ConfigError, match="fit_range"):
        check_config(cfg)
    cfg = copy.deepcopy(default_config)
    cfg["datasets"] = ["digits", "cifar11"]
    with pytest.raises(ConfigError, match="datasets"):
        check_config(cfg)


def test_diabetes_is_a_tabular_dataset_with_its_own_n(default_config):
    from sgd_spectra.config import dataset_kind, dataset_size, has_network

    cfg = copy.deepcopy(default_config)
    for key in ("datasets", "regime_datasets", "critical_datasets"):
        cfg[key] = sorted({*cfg[key], "diabetes"})
    validate(cfg, SCHEMA)
    check_config(cfg)  # critical_batch_sizes' 1000 > 442 is allowed: full batch there
    assert dataset_kind("diabetes", cfg) == "tabular" and has_network("diabetes", cfg)
    assert dataset_size("diabetes", cfg) == 442 and dataset_size("digits", cfg) == cfg["n_samples"]
    cfg["n_samples"] = 300
    assert dataset_size("diabetes", cfg) == 300
    cfg["n_samples"] = 1000
    cfg["regime_batch_sizes"] = [10, 500]  # sampled runs need b <= N = 442
    with pytest.raises(ConfigError, match="regime_batch_sizes.*diabetes"):
        check_config(cfg)
    cfg["regime_batch_sizes"], cfg["batch_sizes"] = [10], [10, 500]
    with pytest.raises(ConfigError, match="batch_sizes.*diabetes"):
        check_config(cfg)


def test_experiment_datasets_follow_the_selection(default_config):
    from sgd_spectra.config import experiment_datasets

    cfg = copy.deepcopy(default_config)
    cfg["datasets"] = ["digits"]
    cfg["map_datasets"] = ["digits", "synthetic_noise"]
    check_config(cfg)  # known but unselected: skipped, not an error
    assert experiment_datasets(cfg, "map_datasets") == ["digits"]
    cfg["map_datasets"] = ["digitz"]
    with pytest.raises(ConfigError, match="map_datasets"):
        check_config(cfg)


def test_missing_fashion_mnist_says_how_to_install(default_config, tmp_path):
    cfg = copy.deepcopy(default_config)
    cfg["datasets"] = ["fashion_mnist"]
    cfg["fashion_mnist_dir"] = str(tmp_path / "nowhere")
    with pytest.raises(ConfigError, match="apt-get install dataset-fashion-mnist"):
        check_config(cfg)


def test_command_line_numbers_are_coerced():
    cfg = coerce_command_line({"learning_rates": ["0.5", "1e-3", "2"], "datasets": ["digits"], "seed": "3"})
    assert cfg == {"learning_rates": [0.5, 1e-3, 2], "datasets": ["digits"], "seed": 3}


def test_setting_names_round_trip(default_config):
    names = [setting_name(**s) for s in sgd_settings(default_config)]
    assert len(set(names)) == len(names)
    assert setting_name(0.5, 0.0, 10) == "lr0.5_mom0_b10"
    assert float(setting_name(1e-3, 0.5, 1).split("_")[0][2:]) == 1e-3


def test_snakemake_stops_before_any_job_naming_the_key(tmp_path):
    """The real entry point: a bad value on the command line stops `snakemake -n`."""
    out = subprocess.run(
        [
            sys.executable,
            "-m",
            "snakemake",
            "-n",
            "--cores",
            "1",
            "--directory",
            str(ROOT),
            "--config",
            "batch_sizes=[5000]",
        ],
        capture_output=True,
        text=True,
        cwd=ROOT,
    )
    assert out.returncode != 0
    assert "batch_sizes" in out.stdout + out.stderr


def test_companion_parameters_are_validated_by_their_study(default_config):
    cfg = copy.deepcopy(default_config)
    check_config(cfg)
    cfg["companions"]["du_gram"]["widths"] = [0, 256]
    with pytest.raises(ConfigError, match=r"companions\.du_gram\.widths"):
        check_config(cfg)
    cfg = copy.deepcopy(default_config)
    cfg["companions"]["gradient_span"]["grf_stepz"] = 3
    with pytest.raises(ConfigError, match=r"companions\.gradient_span"):
        check_config(cfg)


def test_regime_and_budget_batch_sizes_fit_the_dataset(default_config):
    cfg = copy.deepcopy(default_config)
    cfg["budget_batch_sizes"] = [1, 5000]
    with pytest.raises(ConfigError, match="budget_batch_sizes"):
        check_config(cfg)
    cfg = copy.deepcopy(default_config)
    cfg["trace_batch_size"] = 5000
    with pytest.raises(ConfigError, match="trace_batch_size"):
        check_config(cfg)
    cfg = copy.deepcopy(default_config)
    cfg["trace_datasets"] = ["mnist"]
    with pytest.raises(ConfigError, match="trace_datasets"):
        check_config(cfg)


@pytest.mark.parametrize(
    "path, kind",
    [
        ("config.yaml", "DEFAULT_PARAMS"),
        ("config/tiny.yaml", "TINY_PARAMS"),
        ("config/paper.yaml", "PAPER_PARAMS"),
    ],
)
def test_config_files_carry_each_companion_study_s_own_sizes(path, kind):
    """The config files and the modules' parameter sets (used by the unit tests) must not drift."""
    import yaml

    from sgd_spectra.companions import STUDIES, study_module

    root = Path(__file__).resolve().parents[1]
    companions = yaml.safe_load((root / path).read_text())["companions"]
    assert set(companions) == set(STUDIES)
    for name in STUDIES:
        assert companions[name] == getattr(study_module(name), kind), name


def test_companion_study_requiring_missing_fashion_mnist_stops_before_any_job(default_config, tmp_path):
    cfg = copy.deepcopy(default_config)
    cfg["fashion_mnist_dir"] = str(tmp_path)  # an empty folder: no IDX files there
    check_config(cfg)  # dataset "auto" falls back to digits
    cfg["companions"]["which_minimizer"]["dataset"] = "fashion_mnist"
    with pytest.raises(
        ConfigError, match=r"(?s)companions\.which_minimizer.*apt-get install dataset-fashion-mnist"
    ):
        check_config(cfg)


def test_companion_checks_import_neither_the_studies_nor_torch(tmp_path):
    """Every snakemake call (every job, on a cluster) runs the config check: it reads each study's
    schema file instead of importing the study, and so never loads torch."""
    code = (
        "import sys, yaml; from sgd_spectra.config import check_config; "
        "check_config(yaml.safe_load(open('config.yaml'))); "
        "from sgd_spectra.companions import STUDIES; "
        "loaded = [m for m in ['torch', *('sgd_spectra.companions.' + s for s in STUDIES)] if m in sys.modules]; "
        "assert not loaded, loaded"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], cwd=Path(__file__).resolve().parents[1], capture_output=True, text=True
    )
    assert out.returncode == 0, out.stderr


def test_sized_names_give_one_source_at_several_sizes(default_config):
    """fashion_mnist_1k / digits_500: a configured dataset at its own N, so experiments can each
    run at the paper's size in one run."""
    from sgd_spectra.config import all_datasets, dataset_kind, dataset_size, dataset_spec, experiment_datasets

    cfg = copy.deepcopy(default_config)
    cfg["datasets"] = ["digits", "synthetic_noise"]
    cfg["map_datasets"] = ["digits_500", "synthetic_noise_2k", "diabetes_300"]
    check_config(cfg)
    assert dataset_kind("digits_500", cfg) == "digits" and dataset_size("digits_500", cfg) == 500
    assert dataset_size("synthetic_noise_2k", cfg) == 2000
    assert dataset_spec("synthetic_noise_2k", cfg) == {
        "name": "synthetic_noise_2k",
        "source": "synthetic_noise",
        "kind": "synthetic",
        **cfg["synthetic"]["synthetic_noise"],
    }
    # diabetes is not selected, so its sized copy is skipped like any unselected experiment dataset
    assert experiment_datasets(cfg, "map_datasets") == ["digits_500", "synthetic_noise_2k"]
    assert all_datasets(cfg) == ["digits", "synthetic_noise", "digits_500", "synthetic_noise_2k"]
    cfg["datasets"].append("diabetes")
    assert dataset_size("diabetes_300", cfg) == 300 and dataset_size("diabetes_1k", cfg) == 442
    cfg["map_batch_size"] = 400  # b <= N of every dataset the map runs on
    with pytest.raises(ConfigError, match="map_batch_size.*diabetes_300"):
        check_config(cfg)
    cfg["map_batch_size"], cfg["map_datasets"] = 10, ["digits_0k"]
    with pytest.raises(ConfigError, match="map_datasets.*digits_0k"):
        check_config(cfg)
    cfg["map_datasets"] = ["cifar_1k"]
    with pytest.raises(ConfigError, match="map_datasets.*cifar_1k"):
        check_config(cfg)


def test_paper_config_runs_each_experiment_at_the_paper_s_n():
    """theory.md §14: Figs. 2 and 12-14 at N = 1000, Fig. 5 at N = 10^4, Figs. 1 and 7 at 3000."""
    from sgd_spectra.config import dataset_size, experiment_datasets

    with open(ROOT / "config" / "paper.yaml") as fh:
        cfg = yaml.safe_load(fh)
    sizes = {
        key: {dataset_size(d, cfg) for d in experiment_datasets(cfg, key) if d != "diabetes"}
        for key in ("map_datasets", "critical_datasets", "budget_datasets", "regime_datasets")
    }
    assert sizes == {
        "map_datasets": {1000},
        "critical_datasets": {1000},
        "budget_datasets": {10000},
        "regime_datasets": {3000},
    }
    assert {dataset_size(d, cfg) for d in cfg["datasets"] if d != "diabetes"} == {3000}


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


def checked(cfg):
    """Schema (with its defaults filled in) then the cross-key checks, as the Snakefile does."""
    validate(cfg, SCHEMA)
    check_config(cfg)
    return cfg


@pytest.fixture
def tiny_config():
    return yaml.safe_load((ROOT / "config" / "tiny.yaml").read_text())


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
    out = subprocess.run(
        [
            sys.executable,
            "-m",
            "snakemake",
            "-n",
            "--cores",
            "1",
            "--directory",
            str(ROOT),
            "--configfile",
            str(ROOT / "config" / "tiny.yaml"),
            "--config",
            f"model={{kind: custom, factory: '{factory_file}:vector_output'}}",
        ],
        capture_output=True,
        text=True,
        cwd=ROOT,
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
        "width": cfg["width"],
    }
    assert has_closed_form(model_spec(cfg))
    cfg["model"]["width"] = 64  # the model's own key wins
    assert model_spec(cfg)["width"] == 64
    cfg["model"] = {"kind": "cnn"}
    assert "width" not in model_spec(checked(cfg))


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
        # no default for an mlp's width (the top-level `width`) nor for a custom factory (required)
        assert schema_defaults == {
            k: v for k, v in DEFAULTS[kind].items() if k not in ("width", "factory")
        }, kind


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
    cfg = copy.deepcopy(default_config)
    cfg["datasets"] = ["diabetes"]
    cfg["model"] = {"pretrain": {"epochs": 1, "n_samples": 100}}
    for key in ("map_datasets", "critical_datasets", "regime_datasets", "budget_datasets", "trace_datasets"):
        cfg[key] = []
    cfg["n_samples"] = 300
    checked(copy.deepcopy(cfg))  # 300 + 100 <= 442 rows
    cfg["n_samples"] = 400
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
    tiny_config["user_datasets"] = {"mine": str(tmp_path / "mine.npz")}
    tiny_config["datasets"] = ["mine"]
    tiny_config["model"] = {"kind": "cnn", "channels": [2], "input_shape": [3, 4, 4]}
    for key in ("map_datasets", "critical_datasets", "regime_datasets", "budget_datasets", "trace_datasets"):
        tiny_config[key] = []
    checked(tiny_config)
    assert feature_shape("mine", tiny_config) == (48,)
    tiny_config["model"]["input_shape"] = [1, 8, 8]
    with pytest.raises(ConfigError, match="config key 'model'.*'mine'"):
        checked(tiny_config)


def _planned_resources(*config_args) -> dict[str, set[str]]:
    """``snakemake -n`` on the tiny config: the resources line of each planned torch job, by
    rule and dataset."""
    out = subprocess.run(
        [
            sys.executable,
            "-m",
            "snakemake",
            "-n",
            "--cores",
            "1",
            "--directory",
            str(ROOT),
            "--configfile",
            str(ROOT / "config" / "tiny.yaml"),
            *config_args,
        ],
        capture_output=True,
        text=True,
        cwd=ROOT,
        check=True,
    ).stdout
    planned = {}
    for block in re.split(r"\n\s*rule ", out)[1:]:  # grouped jobs are indented
        rule = block.split(":", 1)[0]
        dataset = re.search(r"wildcards: .*?dataset=([\w]+)", block)
        gpu = re.search(r"resources: .*?\bgpu=(\d+)", block)
        if dataset and gpu:
            planned.setdefault(rule, {})[dataset.group(1)] = int(gpu.group(1))
    return planned


def test_torch_jobs_ask_for_a_gpu_only_with_device_cuda():
    """`model.device: cuda` makes the NTK, network-training and regime jobs of datasets with a
    network ask for one GPU (the SLURM plugin's `gpu` resource); synthetic datasets, and every job
    with the default `cpu`, ask for none."""
    cuda = _planned_resources("--config", "model={device: cuda}")
    assert cuda["empirical_ntk"]["digits"] == 1 and cuda["empirical_ntk"]["synthetic_signal"] == 0
    assert set(cuda["train_network"].values()) == {1}
    default = _planned_resources()
    assert set(default["empirical_ntk"].values()) == {0} and set(default["train_network"].values()) == {0}


def test_digits_size_check_agrees_with_the_loader():
    """The config check's balanced-subset rule against the real loader on scikit-learn's digits:
    the same N fit, for every N around the limit."""
    from sklearn.datasets import load_digits

    from sgd_spectra.config import DIGITS_CLASS_COUNTS, balanced_subset_fits
    from sgd_spectra.datasets import balanced_subset

    labels = load_digits().target
    assert tuple(np.bincount(labels)) == DIGITS_CLASS_COUNTS
    for n in range(1730, 1798):
        try:
            balanced_subset(labels, n, np.random.default_rng(0))
            drawn = True
        except ValueError:
            drawn = False
        assert balanced_subset_fits(n, DIGITS_CLASS_COUNTS) == drawn, n


def test_too_many_digits_stop_the_run_naming_the_key(default_config):
    checked({**copy.deepcopy(default_config), "n_samples": 1748})
    with pytest.raises(ConfigError, match=r"config key 'n_samples'.*at most 1748"):
        checked({**copy.deepcopy(default_config), "n_samples": 1749})
    with pytest.raises(ConfigError, match=r"config key 'datasets entry 'digits_2k''"):
        checked({**copy.deepcopy(default_config), "map_datasets": ["digits_2k"]})
    pretrained = {**copy.deepcopy(default_config), "model": {"pretrain": {"epochs": 1, "n_samples": 1000}}}
    with pytest.raises(ConfigError, match=r"config key 'n_samples'.*1000 plus 1000 for pretraining"):
        checked(pretrained)
