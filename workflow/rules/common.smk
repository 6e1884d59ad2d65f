# Shared helpers: config checks, target lists, wildcard constraints.
import hashlib
import re
from pathlib import Path

import sgd_spectra
import yaml

from sgd_spectra.config import (ConfigError, all_datasets, check_config, companion_params, dataset_size,
                                dataset_spec, experiment_datasets, has_closed_form, has_network, model_options,
                                model_spec, requested_size, setting_name, sgd_settings)

try:
    check_config(config)
except ConfigError as err:
    raise WorkflowError(f"Invalid configuration: {err}") from None

DATASETS = list(config["datasets"])
# plus the datasets only an experiment uses (e.g. fashion_mnist_1k for the loss maps)
ALL_DATASETS = all_datasets(config)
# the embedded default, so the report can highlight what a run changed; with the schema's defaults
# filled in like the run's own config (else e.g. the `model` section would always look changed)
with open(Path(workflow.basedir) / "config.yaml") as fh:
    DEFAULT_CONFIG = yaml.safe_load(fh)
validate(DEFAULT_CONFIG, "../schemas/config.schema.yaml")
SETTINGS = {setting_name(**s): s for s in sgd_settings(config)}


wildcard_constraints:
    dataset="|".join(re.escape(d) for d in ALL_DATASETS),
    regime="network|linearized",
    setting=r"lr[0-9.e+-]+_mom[0-9.e+-]+_b[0-9]+",
    batch=r"[0-9]+",


def code_version(*modules):
    """Hash of the package modules a rule's script uses: passed as a param, so that editing the
    math reruns the jobs that depend on it (Snakemake's code trigger only sees the script)."""
    digest = hashlib.sha1()
    for module in modules:
        digest.update((Path(sgd_spectra.__file__).parent / f"{module}.py").read_bytes())
    return digest.hexdigest()[:12]


def n_of(wildcards):
    """The N of a job's dataset (for its memory and runtime)."""
    return dataset_size(wildcards.dataset, config)


def regimes(dataset):
    """Sampled-SGD regimes of a dataset: the network (image data only) and its linearisation."""
    out = ["linearized"]
    if has_network(dataset, config) and config["network_seeds"] > 0:
        out.insert(0, "network")
    return out


def training_runs(wildcards):
    runs = [f"results/training/{wildcards.dataset}/linearized/b{batch}.parquet" for batch in config["batch_sizes"]]
    if "network" in regimes(wildcards.dataset):
        runs += [f"results/training/{wildcards.dataset}/network/{name}.parquet" for name in SETTINGS]
    return runs


def pretrain_samples(wildcards):
    """Pretraining samples the data rule sets aside for a network dataset (None: no pretraining)."""
    pretrain = model_options(config)["pretrain"]
    return pretrain["n_samples"] if pretrain and has_network(wildcards.dataset, config) else None


def setting_of(wildcards):
    return SETTINGS[wildcards.setting]


def settings_of_batch(wildcards):
    """The (lr, momentum, batch) settings one training job runs: all of its batch size."""
    return [s for s in SETTINGS.values() if s["batch"] == int(wildcards.batch)]
