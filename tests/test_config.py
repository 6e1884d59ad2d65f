"""Config validation: the schema and the cross-key checks reject bad input, naming the key."""

import copy
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import yaml
from snakemake.exceptions import WorkflowError
from snakemake.utils import update_config, validate

from sgd_spectra.config import (
    ConfigError,
    check_config,
    check_schema,
    coerce_command_line,
    setting_name,
    sgd_settings,
)

ROOT = Path(__file__).resolve().parents[1]
SCHEMA = str(ROOT / "workflow" / "schemas" / "config.schema.yaml")


def load_config(*files):
    """config.yaml with each --configfile merged in key by key, as Snakemake does."""
    cfg = yaml.safe_load((ROOT / "config.yaml").read_text())
    for name in files:
        update_config(cfg, yaml.safe_load((ROOT / name).read_text()))
    return cfg


@pytest.fixture
def default_config():
    return load_config()


def checked(cfg):
    """Schema (with its defaults filled in) then the cross-key checks, as the Snakefile does."""
    validate(cfg, SCHEMA)
    check_config(cfg)
    return cfg


def test_default_tiny_and_paper_configs_are_valid():
    for files in ((), ("config/tiny.yaml",), ("config/paper.yaml",)):
        cfg = load_config(*files)
        check_schema(cfg, yaml.safe_load(Path(SCHEMA).read_text()))
        validate(cfg, SCHEMA)
        if "config/paper.yaml" not in files:  # paper needs Fashion-MNIST installed
            check_config(cfg)


def test_tiny_and_paper_hold_only_what_they_change():
    """They are merged into config.yaml key by key: a key they leave out keeps its default (also
    inside a section), a list they give replaces the default's whole."""
    tiny = load_config("config/tiny.yaml")
    assert tiny["data"]["synthetic"]["synthetic_noise"] == {"nu": 1.5, "kappa": 3.0}  # kept
    assert tiny["data"]["datasets"] == ["digits", "synthetic_signal"]  # replaced whole
    assert tiny["experiments"]["regimes"]["datasets"] == ["digits"]  # the default's
    assert tiny["sgd"]["steps"] == 60 and tiny["model"]["width"] == 128

    def leaves(node, path=()):
        for key, value in node.items():
            if isinstance(value, dict) and value and key != "companions":
                yield from leaves(value, (*path, key))
            else:
                yield (*path, key), value

    default = dict(leaves(load_config()))
    for name in ("config/tiny.yaml", "config/paper.yaml"):
        for key, value in leaves(yaml.safe_load((ROOT / name).read_text())):
            assert default.get(key) != value, f"{name}: {'.'.join(key)} repeats the default"


@pytest.mark.parametrize(
    "section, key, value, named",
    [
        ("sgd", "batch_sizes", [-1], "sgd.batch_sizes"),
        ("sgd", "momenta", [1.0], "sgd.momenta"),
        ("sgd", "momenta", [-1.0], "sgd.momenta"),
        ("sgd", "learning_rates", [0.0], "sgd.learning_rates"),
        ("data", "n_samples", "many", "data.n_samples"),
        ("sgd", "steps", 0, "sgd.steps"),
        ("sgd", "lernrate", 0.1, "sgd.lernrate"),  # a typo is an unknown key
        (None, "lernrate", 0.1, "'lernrate'"),
        ("experiments.loss_map", "lr_pointz", 3, "experiments.loss_map.lr_pointz"),
        ("experiments.loss_map", "lr_points", 1, "experiments.loss_map.lr_points"),
        ("theory.divergence", "zeta", 1.5, "theory.divergence.zeta"),
        ("theory.stability_map", "momentum_points", 1, "theory.stability_map.momentum_points"),
        ("report", "timeout", 10, "report.timeout"),
    ],
)
def test_schema_rejects_bad_values_naming_the_dotted_key(default_config, section, key, value, named):
    cfg = copy.deepcopy(default_config)
    node = cfg
    for part in section.split(".") if section else []:
        node = node[part]
    node[key] = value
    with pytest.raises(ConfigError) as err:
        check_schema(cfg, yaml.safe_load(Path(SCHEMA).read_text()))
    assert named in str(err.value)
    with pytest.raises(WorkflowError):  # the schema itself refuses it too
        validate(cfg, SCHEMA)


def test_cross_key_checks_name_the_key(default_config):
    cfg = copy.deepcopy(default_config)
    cfg["sgd"]["batch_sizes"] = [10, cfg["data"]["n_samples"] + 1]
    with pytest.raises(ConfigError, match=r"'sgd\.batch_sizes'"):
        check_config(cfg)
    cfg = copy.deepcopy(default_config)
    cfg["theory"]["fit_range"] = [5, cfg["data"]["n_samples"] + 1]
    with pytest.raises(ConfigError, match=r"'theory\.fit_range'"):
        check_config(cfg)
    cfg = copy.deepcopy(default_config)
    cfg["data"]["datasets"] = ["digits", "cifar11"]
    with pytest.raises(ConfigError, match=r"'data\.datasets'"):
        check_config(cfg)
    cfg = checked(copy.deepcopy(default_config))
    cfg["experiments"]["hyperparameters"]["batch_size"] = 20000
    with pytest.raises(ConfigError, match=r"'experiments\.hyperparameters\.batch_size'"):
        check_config(cfg)


def test_diabetes_is_a_tabular_dataset_with_its_own_n(default_config):
    from sgd_spectra.config import dataset_kind, dataset_size, has_network

    cfg = copy.deepcopy(default_config)
    cfg["data"]["datasets"] = sorted({*cfg["data"]["datasets"], "diabetes"})
    for name in ("regimes", "critical_lr"):
        cfg["experiments"][name]["datasets"] = sorted({*cfg["experiments"][name]["datasets"], "diabetes"})
    validate(cfg, SCHEMA)
    check_config(cfg)  # critical_lr.batch_sizes' 1000 > 442 is allowed: full batch there
    assert dataset_kind("diabetes", cfg) == "tabular" and has_network("diabetes", cfg)
    assert dataset_size("diabetes", cfg) == 442 and dataset_size("digits", cfg) == cfg["data"]["n_samples"]
    cfg["data"]["n_samples"] = 300
    assert dataset_size("diabetes", cfg) == 300
    cfg["data"]["n_samples"] = 1000
    cfg["experiments"]["regimes"]["batch_sizes"] = [10, 500]  # sampled runs need b <= N = 442
    with pytest.raises(ConfigError, match=r"experiments\.regimes\.batch_sizes.*diabetes"):
        check_config(cfg)
    cfg["experiments"]["regimes"]["batch_sizes"], cfg["sgd"]["batch_sizes"] = [10], [10, 500]
    with pytest.raises(ConfigError, match=r"sgd\.batch_sizes.*diabetes"):
        check_config(cfg)


def test_experiment_datasets_follow_the_selection(default_config):
    from sgd_spectra.config import EXPERIMENT_DATASET_KEYS, experiment_datasets

    assert "experiments.loss_map.datasets" in EXPERIMENT_DATASET_KEYS
    cfg = copy.deepcopy(default_config)
    cfg["data"]["datasets"] = ["digits"]
    cfg["experiments"]["loss_map"]["datasets"] = ["digits", "synthetic_noise"]
    check_config(cfg)  # known but unselected: skipped, not an error
    assert experiment_datasets(cfg, "loss_map") == ["digits"]
    cfg["experiments"]["loss_map"]["datasets"] = ["digitz"]
    with pytest.raises(ConfigError, match=r"experiments\.loss_map\.datasets"):
        check_config(cfg)


def test_missing_fashion_mnist_says_how_to_install(default_config, tmp_path):
    cfg = copy.deepcopy(default_config)
    cfg["data"]["datasets"] = ["fashion_mnist"]
    cfg["data"]["fashion_mnist_dir"] = str(tmp_path / "nowhere")
    with pytest.raises(ConfigError, match="apt-get install dataset-fashion-mnist"):
        check_config(cfg)


def test_command_line_numbers_are_coerced():
    cfg = coerce_command_line(
        {"sgd": {"learning_rates": ["0.5", "1e-3", "2"]}, "data": {"datasets": ["digits"]}, "seed": "3"}
    )
    assert cfg == {"sgd": {"learning_rates": [0.5, 1e-3, 2]}, "data": {"datasets": ["digits"]}, "seed": 3}


def test_setting_names_round_trip(default_config):
    names = [setting_name(**s) for s in sgd_settings(default_config)]
    assert len(set(names)) == len(names)
    assert setting_name(0.5, 0.0, 10) == "lr0.5_mom0_b10"
    assert float(setting_name(1e-3, 0.5, 1).split("_")[0][2:]) == 1e-3


def _dry_run(*args):
    return subprocess.run(
        [sys.executable, "-m", "snakemake", "-n", "--cores", "1", "--directory", str(ROOT), *args],
        capture_output=True,
        text=True,
        cwd=ROOT,
    )


@pytest.mark.parametrize(
    "override, named",
    [
        ("sgd={batch_sizes: [5000]}", "sgd.batch_sizes"),  # a relation between keys (common.smk)
        ("sgd={steps: 0}", "sgd.steps"),  # the schema
        ("experiments={loss_map: {lr_pointz: 3}}", "experiments.loss_map.lr_pointz"),  # unknown key
    ],
)
def test_snakemake_stops_before_any_job_naming_the_key(override, named):
    """The real entry point: a bad value on the command line (nested syntax) stops `snakemake -n`."""
    out = _dry_run("--config", override)
    assert out.returncode != 0
    assert named in out.stdout + out.stderr


def test_nested_command_line_overrides_merge_into_the_section():
    """`--config 'sgd={steps: 7}'` changes that one key; the section's other keys stay (Snakemake
    merges --config into the config files recursively)."""
    out = _dry_run("--configfile", "config/tiny.yaml", "--config", "sgd={steps: 7}", "--printshellcmds")
    assert out.returncode == 0, out.stderr[-3000:]
    assert "train_linearized" in out.stdout


def test_companion_parameters_are_validated_by_their_study(default_config):
    cfg = copy.deepcopy(default_config)
    check_config(cfg)
    cfg["companions"]["du_gram"]["widths"] = [0, 256]
    with pytest.raises(ConfigError, match=r"companions\.du_gram\.widths"):
        check_config(cfg)
    cfg = copy.deepcopy(default_config)
    cfg["companions"]["gradient_span"]["grf_stepz"] = 3
    with pytest.raises(ConfigError, match=r"'companions\.gradient_span\.grf_stepz'"):
        check_config(cfg)
    cfg = copy.deepcopy(default_config)
    cfg["companions"]["gradient_span"]["preset"] = "huge"
    with pytest.raises(ConfigError, match=r"'companions\.gradient_span\.preset'.*huge.*default, tiny, paper"):
        check_config(cfg)


def test_companion_presets_and_overrides_resolve_as_documented(default_config):
    """`companions.<study>: {preset: <name>, <param>: <value>}`: the module's named parameter set
    with the overrides on top; no preset means "default"; a study left out or null is skipped."""
    from sgd_spectra.companions import STUDIES, resolve_params, study_module, study_presets
    from sgd_spectra.config import companion_params, companion_studies

    for name in STUDIES:
        module = study_module(name)
        # read from the source (no import at config-check time) = the module's own PRESETS
        assert study_presets(name) == module.PRESETS
        assert module.PRESETS == {
            "default": module.DEFAULT_PARAMS,
            "tiny": module.TINY_PARAMS,
            "paper": module.PAPER_PARAMS,
        }
        assert resolve_params(name, {}) == module.DEFAULT_PARAMS
        assert resolve_params(name, {"preset": "tiny"}) == module.TINY_PARAMS
    gs = study_module("gradient_span")
    cfg = copy.deepcopy(default_config)
    cfg["companions"]["gradient_span"] = {"preset": "paper", "grf_seeds": 10}
    assert companion_params(cfg, "gradient_span") == {**gs.PAPER_PARAMS, "grf_seeds": 10}
    check_config(cfg)
    assert companion_studies(cfg) == list(STUDIES)
    cfg["companions"]["du_gram"] = None  # e.g. --config "companions={du_gram: null}"
    del cfg["companions"]["edge_of_stability"]
    check_config(cfg)
    assert companion_studies(cfg) == ["gradient_span", "which_minimizer"]
    # the config files pick the presets by name
    for files, preset in (
        ((), "default"),
        (("config/tiny.yaml",), "tiny"),
        (("config/paper.yaml",), "paper"),
    ):
        cfg = load_config(*files)
        for name in STUDIES:
            assert companion_params(cfg, name) == {
                **study_presets(name)[preset],
                **(
                    {"fashion_mnist_dir": cfg["data"]["fashion_mnist_dir"]}
                    if name == "which_minimizer"
                    else {}
                ),
            }


def test_regime_and_budget_batch_sizes_fit_the_dataset(default_config):
    cfg = copy.deepcopy(default_config)
    cfg["experiments"]["budget"]["batch_sizes"] = [1, 5000]
    with pytest.raises(ConfigError, match=r"experiments\.budget\.batch_sizes"):
        check_config(cfg)
    cfg = copy.deepcopy(default_config)
    cfg["experiments"]["trace"]["batch_size"] = 5000
    with pytest.raises(ConfigError, match=r"experiments\.trace\.batch_size"):
        check_config(cfg)
    cfg = copy.deepcopy(default_config)
    cfg["experiments"]["trace"]["datasets"] = ["mnist"]
    with pytest.raises(ConfigError, match=r"experiments\.trace\.datasets"):
        check_config(cfg)


def test_companion_study_requiring_missing_fashion_mnist_stops_before_any_job(default_config, tmp_path):
    cfg = copy.deepcopy(default_config)
    cfg["data"]["fashion_mnist_dir"] = str(tmp_path)  # an empty folder: no IDX files there
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
    cfg["data"]["datasets"] = ["digits", "synthetic_noise"]
    cfg["experiments"]["loss_map"]["datasets"] = ["digits_500", "synthetic_noise_2k", "diabetes_300"]
    check_config(cfg)
    assert dataset_kind("digits_500", cfg) == "digits" and dataset_size("digits_500", cfg) == 500
    assert dataset_size("synthetic_noise_2k", cfg) == 2000
    assert dataset_spec("synthetic_noise_2k", cfg) == {
        "name": "synthetic_noise_2k",
        "source": "synthetic_noise",
        "kind": "synthetic",
        **cfg["data"]["synthetic"]["synthetic_noise"],
    }
    # diabetes is not selected, so its sized copy is skipped like any unselected experiment dataset
    assert experiment_datasets(cfg, "loss_map") == ["digits_500", "synthetic_noise_2k"]
    assert all_datasets(cfg) == ["digits", "synthetic_noise", "digits_500", "synthetic_noise_2k"]
    cfg["data"]["datasets"].append("diabetes")
    assert dataset_size("diabetes_300", cfg) == 300 and dataset_size("diabetes_1k", cfg) == 442
    loss_map = cfg["experiments"]["loss_map"]
    loss_map["batch_size"] = 400  # b <= N of every dataset the map runs on
    with pytest.raises(ConfigError, match=r"experiments\.loss_map\.batch_size.*diabetes_300"):
        check_config(cfg)
    loss_map["batch_size"], loss_map["datasets"] = 10, ["digits_0k"]
    with pytest.raises(ConfigError, match=r"experiments\.loss_map\.datasets.*digits_0k"):
        check_config(cfg)
    loss_map["datasets"] = ["cifar_1k"]
    with pytest.raises(ConfigError, match=r"experiments\.loss_map\.datasets.*cifar_1k"):
        check_config(cfg)


def test_paper_config_runs_each_experiment_at_the_paper_s_n():
    """theory.md §14: Figs. 2 and 12-14 at N = 1000, Fig. 5 at N = 10^4, Figs. 1 and 7 at 3000
    (Fig. 7's real data; its synthetic control, which the paper does not have, at N = 1000)."""
    from sgd_spectra.config import dataset_size, experiment_datasets

    cfg = load_config("config/paper.yaml")
    sizes = {
        key: {dataset_size(d, cfg) for d in experiment_datasets(cfg, key) if d != "diabetes"}
        for key in ("loss_map", "critical_lr", "budget")
    }
    assert sizes == {"loss_map": {1000}, "critical_lr": {1000}, "budget": {10000}}
    regimes = {d: dataset_size(d, cfg) for d in experiment_datasets(cfg, "regimes") if d != "diabetes"}
    assert regimes == {"fashion_mnist": 3000, "synthetic_signal_1k": 1000}
    assert {dataset_size(d, cfg) for d in cfg["data"]["datasets"] if d != "diabetes"} == {3000}


def _planned_blocks(*args) -> list[tuple[str, str]]:
    """``snakemake -n`` on the tiny config: (rule, its lines) for each planned job."""
    run = _dry_run("--configfile", str(ROOT / "config" / "tiny.yaml"), *args)
    assert run.returncode == 0, run.stderr[-3000:]
    blocks = re.split(r"\n\s*(?:local)?rule ", run.stdout)[1:]  # grouped jobs are indented
    return [(block.split(":", 1)[0], block) for block in blocks]


def _planned_resources(*config_args) -> dict[str, set[str]]:
    """The resources line of each planned torch job, by rule and dataset."""
    planned = {}
    for rule, block in _planned_blocks(*config_args):
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
    def with_(section, key, value):
        cfg = copy.deepcopy(default_config)
        node = cfg
        for part in section.split("."):
            node = node[part]
        node[key] = value
        return cfg

    checked(with_("data", "n_samples", 1748))
    with pytest.raises(ConfigError, match=r"config key 'data\.n_samples'.*at most 1748"):
        checked(with_("data", "n_samples", 1749))
    with pytest.raises(ConfigError, match=r"config key 'experiments\.loss_map\.datasets entry 'digits_2k''"):
        checked(with_("experiments.loss_map", "datasets", ["digits_2k"]))
    pretrained = {**copy.deepcopy(default_config), "model": {"pretrain": {"epochs": 1, "n_samples": 1000}}}
    with pytest.raises(ConfigError, match=r"config key 'data\.n_samples'.*1000 plus 1000 for pretraining"):
        checked(pretrained)


def _planned_threads(cores: int) -> dict[str, set[int]]:
    """The threads of each rule's jobs in a ``--forceall`` plan on `cores` cores."""
    planned = {}
    for rule, block in _planned_blocks("--forceall", "--cores", str(cores)):
        threads = re.search(r"^\s*threads: (\d+)$", block, flags=re.M)  # Snakemake omits 1
        planned.setdefault(rule, set()).add(int(threads.group(1)) if threads else 1)
    return planned


def test_jobs_share_two_cores_one_thread_each_and_take_two_threads_on_four():
    """common.smk's shared_threads: on 2 cores the jobs whose second thread is worth less than a
    second job run on one thread; from 4 cores they take two.  Jobs that use two cores fully ask
    for two on any machine (Snakemake scales them to --cores)."""
    shared = {"empirical_ntk", "kernel_spectrum", "loss_map", "critical_lr_vs_batch"}
    on_two, on_four = _planned_threads(2), _planned_threads(4)
    assert shared <= on_two.keys() and "regime_comparison" in on_two
    for rule in shared:
        assert on_two[rule] == {1} and on_four[rule] == {2}, (rule, on_two[rule], on_four[rule])
    assert on_two["regime_comparison"] == on_four["regime_comparison"] == {2}
    assert on_two["train_network"] == on_four["train_network"] == {1}


def test_workflow_profile_sets_a_job_rate_limit_that_never_limits_the_paper_run():
    """profiles/default/profile.yaml, which Snakemake applies to every run: its job-rate limit only
    spaces out the scheduler's re-runs (benchmarks/bench_scheduler.py), and a run waits up to one
    timespan for them at its end, so the timespan stays short and the count above any run's jobs."""
    from snakemake.settings.types import MaxJobsPerTimespan

    profile = yaml.safe_load((ROOT / "profiles" / "default" / "profile.yaml").read_text())
    limit = MaxJobsPerTimespan.parse_choice(profile["max-jobs-per-timespan"])
    paper_jobs = sum(
        yaml.safe_load((ROOT / "docs" / "paper" / "run.json").read_text())["planned_jobs"].values()
    )
    assert limit.max_jobs >= 5 * paper_jobs and 1 < limit.timespan <= 5
    run = _dry_run("--configfile", str(ROOT / "config" / "tiny.yaml"))
    assert run.returncode == 0, run.stderr[-3000:]
    assert "Using workflow specific profile profiles/default" in run.stdout + run.stderr
