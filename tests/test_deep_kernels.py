"""The deep-network experiment in kind (paper Figs. 9, 11) on a tiny problem, and its config keys."""

import copy
from pathlib import Path

import numpy as np
import pytest
import yaml
from snakemake.utils import update_config

from sgd_spectra import deep_kernels as dk
from sgd_spectra.config import DEEP_KERNEL_DEFAULTS, ConfigError, check_config, deep_kernel_params

ROOT = Path(__file__).resolve().parents[1]
TINY = dict(
    dataset="digits",
    n_samples=40,
    pretrain_samples=60,
    pretrain_epochs=1,
    pretrain_lr=1e-3,
    pretrain_batch_size=32,
    lr=1.0,
    momentum=0.0,
    batch_size=5,
    steps=60,
    seeds=3,
    record_points=20,
    critical_batch_sizes=[1, 5, 100],
    seed=0,
)


@pytest.fixture(scope="module")
def cnn_tables():
    return dk.run_deep_kernel("cnn", TINY, log=lambda *_: None)


def test_one_model_gives_tidy_tables(cnn_tables):
    summary = cnn_tables["summary"].iloc[0]
    assert set(cnn_tables) == {"summary", "spectrum", "curves", "critical"}
    for name in ("spectrum", "curves", "critical"):
        assert list(cnn_tables[name].columns[:2]) == ["model", "dataset"]
        assert set(cnn_tables[name].model) == {"cnn"} and set(cnn_tables[name].dataset) == {"digits"}
    assert summary.n_samples == 40 and summary.n_pretrain == 60 and summary.pretrain_overlap == 0
    assert np.isfinite([summary.nu, summary.kappa, summary.tracking_error]).all()
    assert summary.phase in {
        "signal-dominated",
        "noise-dominated",
        "eventual divergence",
        "immediate divergence",
    }
    assert 2 <= summary.k_min < summary.k_max <= 40


def test_spectrum_is_the_normalised_kernel_s(cnn_tables):
    spectrum = cnn_tables["spectrum"]
    lam = spectrum.eigenvalue.to_numpy()
    assert len(spectrum) == 40 and np.isclose(lam[0], 1.0) and np.all(np.diff(lam) <= 1e-12)
    assert np.isclose(spectrum.tail_sum.iloc[0], 1.0) and np.all(np.diff(spectrum.tail_sum) <= 1e-12)


def test_se_and_linearized_runs_share_the_setting(cnn_tables):
    curves = cnn_tables["curves"]
    assert set(curves.regime) == {"linearized", "se"}
    assert curves[curves.regime == "linearized"].seed.nunique() == 3
    assert set(curves[curves.regime == "se"].tau) == {dk.DEEP_KERNEL_TAU}
    assert set(curves.lr) == {1.0} and set(curves.batch) == {5} and curves.step.max() == 60


def test_critical_lr_is_measured_against_tau_plus_one(cnn_tables):
    critical = cnn_tables["critical"]
    # b = 100 > N = 40 is full batch: capped at N, where both are the noiseless bound 2(1 + beta)
    assert list(critical.batch) == [1, 5, 40]
    full = critical[critical.batch == 40].iloc[0]
    assert full.lr_critical_measured == pytest.approx(2.0) and full["lr_critical_tau1"] == pytest.approx(2.0)
    assert (critical.lr_critical_measured <= critical.lr_noiseless_bound + 1e-12).all()


def test_auto_falls_back_to_digits_and_says_so(tmp_path):
    used, note = dk.resolve_dataset("auto", str(tmp_path))  # a folder without the IDX files
    assert used == "digits" and "Fashion-MNIST not found" in note
    assert dk.resolve_dataset("digits", None) == ("digits", "")


def test_digits_pretraining_is_capped_to_fit_beside_the_kernel_samples():
    data = dk.deep_kernel_data("digits", 1700, 1000, 0)
    assert data["n_pretrain"] == dk.DIGITS_BALANCED_LIMIT - 1700 and "capped" in data["note"]
    assert data["pretrain_overlap"] == 0


@pytest.fixture
def tiny_config():
    cfg = yaml.safe_load((ROOT / "config.yaml").read_text())
    update_config(cfg, yaml.safe_load((ROOT / "config" / "tiny.yaml").read_text()))
    return cfg


def test_config_checks_name_the_deep_kernel_keys(tiny_config, tmp_path):
    cfg = copy.deepcopy(tiny_config)
    cfg["experiments"]["deep_kernels"]["batch_size"] = 41
    with pytest.raises(ConfigError, match=r"experiments\.deep_kernels\.batch_size"):
        check_config(cfg)
    cfg = copy.deepcopy(tiny_config)
    cfg["experiments"]["deep_kernels"]["dataset"] = "fashion_mnist"
    cfg["data"]["fashion_mnist_dir"] = str(tmp_path)
    with pytest.raises(ConfigError, match=r"experiments\.deep_kernels\.dataset"):
        check_config(cfg)
    cfg["experiments"]["deep_kernels"]["models"] = []  # not run: nothing to check
    cfg["data"]["fashion_mnist_dir"] = None
    check_config(cfg)


def test_schema_defaults_are_the_package_defaults():
    props = yaml.safe_load((ROOT / "workflow" / "schemas" / "config.schema.yaml").read_text())["properties"]
    section = props["experiments"]["properties"]["deep_kernels"]["properties"]
    assert {k: section[k]["default"] for k in DEEP_KERNEL_DEFAULTS} == DEEP_KERNEL_DEFAULTS
    assert set(section) == {"models", *DEEP_KERNEL_DEFAULTS}
    assert set(section["models"]["items"]["enum"]) == set(dk.DEEP_KERNEL_SPECS)
    assert deep_kernel_params({})["n_samples"] == DEEP_KERNEL_DEFAULTS["n_samples"]
