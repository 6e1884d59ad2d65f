"""Config checks that a JSON schema cannot express, and the names the workflow derives from it.

The schema (``workflow/schemas/config.schema.yaml``) checks types, ranges and unknown keys;
:func:`check_config` then checks relations between keys (a batch larger than the data set, a
fit range past N, a dataset that is not on this machine).  Both run before any job starts and
name the offending key.
"""
from __future__ import annotations

import itertools
from pathlib import Path

from .datasets import FASHION_MNIST_INSTALL_HINT, TABULAR_DATASETS, find_idx_pair, tabular_n_samples

#: Built-in image datasets (their kind is their name) and bundled tabular ones (kind "tabular").
BUILTIN_DATASETS = ("digits", "fashion_mnist")
TABULAR = tuple(TABULAR_DATASETS)


class ConfigError(ValueError):
    """An invalid configuration; the message names the key."""


def _number_or_text(value):
    if not isinstance(value, str):
        return value
    for cast in (int, float):
        try:
            return cast(value)
        except ValueError:
            pass
    return value


def coerce_command_line(config: dict) -> dict:
    """Turn numbers that arrive as text into numbers, in place.

    ``snakemake --config learning_rates=[0.5,1]`` delivers the list items as strings; without
    this the schema would reject a valid command line.  Text that is not a number is left alone.
    """
    for key, value in config.items():
        if isinstance(value, list):
            config[key] = [_number_or_text(v) for v in value]
        elif isinstance(value, str):
            config[key] = _number_or_text(value)
    return config


def dataset_kind(name: str, config: dict) -> str:
    """'digits', 'fashion_mnist', 'tabular' (e.g. 'diabetes'), 'synthetic' or 'user' (a
    user-supplied .npz copy)."""
    if name in BUILTIN_DATASETS:
        return name
    if name in TABULAR:
        return "tabular"
    if name in (config.get("synthetic") or {}):
        return "synthetic"
    if name in (config.get("user_datasets") or {}):
        return "user"
    raise ConfigError(
        f"config key 'datasets': unknown dataset {name!r}; use 'digits', 'fashion_mnist', "
        + ", ".join(repr(t) for t in TABULAR) + ", a name under 'synthetic' or a name under 'user_datasets'")


def has_network(name: str, config: dict) -> bool:
    """Image and tabular datasets are fitted by the real network; synthetic problems only have a kernel."""
    return dataset_kind(name, config) != "synthetic"


def dataset_size(name: str, config: dict) -> int:
    """The N a dataset is built with: ``n_samples``, except a tabular dataset with fewer rows
    (used whole, e.g. diabetes: 442)."""
    if dataset_kind(name, config) == "tabular":
        return tabular_n_samples(name, config["n_samples"])
    return config["n_samples"]


def check_config(config: dict) -> None:
    """Raise :class:`ConfigError` naming the key for anything the schema cannot catch."""
    n = config["n_samples"]
    for name in config["datasets"]:
        kind = dataset_kind(name, config)
        if kind == "fashion_mnist" and find_idx_pair(config.get("fashion_mnist_dir")) is None:
            raise ConfigError("config key 'datasets': 'fashion_mnist' is selected but its files "
                              "were not found.\n" + FASHION_MNIST_INSTALL_HINT)
        if kind == "user" and not Path(config["user_datasets"][name]).exists():
            raise ConfigError(f"config key 'user_datasets.{name}': file "
                              f"{config['user_datasets'][name]!r} does not exist")
    for b in config["batch_sizes"]:
        if b > n:
            raise ConfigError(f"config key 'batch_sizes': batch size {b} exceeds n_samples={n} "
                              "(batches hold distinct points)")
        for name in config["datasets"]:
            if b > dataset_size(name, config):
                raise ConfigError(f"config key 'batch_sizes': batch size {b} exceeds the "
                                  f"{dataset_size(name, config)} samples of dataset {name!r}")
    for key in ("map_datasets", "critical_datasets", "regime_datasets", "budget_datasets", "trace_datasets"):
        for name in config.get(key) or []:
            try:
                dataset_kind(name, config)
            except ConfigError:
                raise ConfigError(f"config key '{key}': unknown dataset {name!r}") from None
    for key in ("critical_batch_sizes", "regime_batch_sizes", "budget_batch_sizes"):
        for b in config.get(key) or []:
            if b > n:
                raise ConfigError(f"config key '{key}': batch size {b} exceeds n_samples={n}")
    # sampled runs need b <= N of each dataset they run on (the critical-lr experiment treats
    # b >= N as full batch, so a smaller tabular dataset may take b > N there)
    for key, datasets_key in (("regime_batch_sizes", "regime_datasets"), ("budget_batch_sizes", "budget_datasets")):
        for name in experiment_datasets(config, datasets_key):
            for b in config.get(key) or []:
                if b > dataset_size(name, config):
                    raise ConfigError(f"config key '{key}': batch size {b} exceeds the "
                                      f"{dataset_size(name, config)} samples of dataset {name!r}")
    for name in experiment_datasets(config, "map_datasets"):
        if config.get("map_batch_size", 1) > dataset_size(name, config):
            raise ConfigError(f"config key 'map_batch_size': {config['map_batch_size']} exceeds the "
                              f"{dataset_size(name, config)} samples of dataset {name!r}")
    for name in experiment_datasets(config, "trace_datasets"):
        if config.get("trace_batch_size", 1) > dataset_size(name, config):
            raise ConfigError(f"config key 'trace_batch_size': {config['trace_batch_size']} exceeds the "
                              f"{dataset_size(name, config)} samples of dataset {name!r}")
    if config.get("map_batch_size", 1) > n:
        raise ConfigError(f"config key 'map_batch_size': {config['map_batch_size']} exceeds n_samples={n}")
    if config.get("hyper_batch_size", 1) > config.get("hyper_n_samples", n):
        raise ConfigError("config key 'hyper_batch_size': larger than hyper_n_samples")
    check_companions(config)
    if config.get("fit_range", "auto") != "auto":
        lo, hi = config["fit_range"]
        if not lo < hi <= n:
            raise ConfigError(f"config key 'fit_range': need k_min < k_max <= n_samples={n}, "
                              f"got [{lo}, {hi}]")
        for name in config["datasets"]:
            if hi > dataset_size(name, config):
                raise ConfigError(f"config key 'fit_range': k_max = {hi} exceeds the "
                                  f"{dataset_size(name, config)} samples of dataset {name!r}")


def companion_params(config: dict, study: str) -> dict:
    """A companion study's parameters; a null ``fashion_mnist_dir`` means the workflow's one."""
    params = dict(config["companions"][study])
    if "fashion_mnist_dir" in params and params["fashion_mnist_dir"] is None:
        params["fashion_mnist_dir"] = config.get("fashion_mnist_dir")
    return params


def check_companions(config: dict) -> None:
    """Validate each companion study's parameters against its schema (read without importing the
    study), then that a dataset it asks for is installed."""
    import jsonschema

    from .companions import check_study_data, params_schema
    for name in config.get("companions") or {}:
        params = companion_params(config, name)
        try:
            jsonschema.validate(params, params_schema(name))
        except jsonschema.ValidationError as err:
            where = ".".join(str(p) for p in err.absolute_path)
            raise ConfigError(f"config key 'companions.{name}{'.' + where if where else ''}': {err.message}") from None
        try:
            check_study_data(params)
        except Exception as err:  # the message says what is missing and how to get it
            raise ConfigError(f"config key 'companions.{name}': {err}") from None


def experiment_datasets(config: dict, key: str) -> list[str]:
    """The datasets an experiment runs on: those of ``config[key]`` that are also selected in
    ``datasets`` (so ``--config datasets=[digits]`` simply narrows the experiments too)."""
    return [d for d in (config.get(key) or []) if d in config["datasets"]]


def fmt(value) -> str:
    """Compact, round-trippable text for a number in a file name (0.5 -> '0.5', 10 -> '10')."""
    return f"{value:g}" if isinstance(value, float) else str(value)


def setting_name(lr, momentum, batch) -> str:
    """File-name stem of one SGD setting, e.g. ``lr0.5_mom0_b10``."""
    return f"lr{fmt(float(lr))}_mom{fmt(float(momentum))}_b{int(batch)}"


def sgd_settings(config: dict) -> list[dict]:
    """Every (learning rate, momentum, batch size) combination of the config."""
    return [{"lr": float(lr), "momentum": float(m), "batch": int(b)}
            for lr, m, b in itertools.product(config["learning_rates"], config["momenta"],
                                              config["batch_sizes"])]
