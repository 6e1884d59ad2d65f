"""Config checks that a JSON schema cannot express, and the names the workflow derives from it.

The schema (``workflow/schemas/config.schema.yaml``) checks types, ranges and unknown keys;
:func:`check_config` then checks relations between keys (a batch larger than the data set, a
fit range past N, a dataset that is not on this machine).  Both run before any job starts and
name the offending key.
"""
from __future__ import annotations

import itertools
import re
from pathlib import Path

from .datasets import FASHION_MNIST_INSTALL_HINT, TABULAR_DATASETS, find_idx_pair, tabular_n_samples

#: Built-in image datasets (their kind is their name) and bundled tabular ones (kind "tabular").
BUILTIN_DATASETS = ("digits", "fashion_mnist")
TABULAR = tuple(TABULAR_DATASETS)
#: The config keys that list an experiment's datasets.
EXPERIMENT_DATASET_KEYS = ("map_datasets", "critical_datasets", "regime_datasets", "budget_datasets",
                           "trace_datasets")
#: A sized name: ``<source>_<N>`` or ``<source>_<N>k``, e.g. ``fashion_mnist_1k`` (N = 1000).
_SIZED_NAME = re.compile(r"(?P<source>.+)_(?P<count>[1-9][0-9]*)(?P<thousands>k?)")


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


def _source_kind(name: str, config: dict) -> str | None:
    if name in BUILTIN_DATASETS:
        return name
    if name in TABULAR:
        return "tabular"
    if name in (config.get("synthetic") or {}):
        return "synthetic"
    if name in (config.get("user_datasets") or {}):
        return "user"
    return None


def sized_dataset(name: str, config: dict, key: str = "datasets") -> tuple[str, int | None]:
    """``(source, N)`` of a dataset name: a configured dataset is its own source at ``n_samples``
    (N = None); a sized name ``<source>_<N>`` / ``<source>_<N>k`` is that source at N samples, so
    one run can hold, say, ``fashion_mnist_1k`` and ``fashion_mnist_3k`` (each experiment at the
    paper's own N)."""
    if _source_kind(name, config) is not None:
        return name, None
    match = _SIZED_NAME.fullmatch(name)
    if match and _source_kind(match["source"], config) is not None:
        return match["source"], int(match["count"]) * (1000 if match["thousands"] else 1)
    raise ConfigError(
        f"config key '{key}': unknown dataset {name!r}; use 'digits', 'fashion_mnist', "
        + ", ".join(repr(t) for t in TABULAR) + ", a name under 'synthetic' or a name under 'user_datasets'"
        + f", or one of them with its size, e.g. 'fashion_mnist_1k' or 'digits_500'")


def dataset_source(name: str, config: dict) -> str:
    """The configured dataset a (possibly sized) name draws its samples from."""
    return sized_dataset(name, config)[0]


def dataset_kind(name: str, config: dict) -> str:
    """'digits', 'fashion_mnist', 'tabular' (e.g. 'diabetes'), 'synthetic' or 'user' (a
    user-supplied .npz copy)."""
    return _source_kind(dataset_source(name, config), config)


def requested_size(name: str, config: dict) -> int:
    """The N a dataset name asks for: its size suffix, else ``n_samples``."""
    return sized_dataset(name, config)[1] or config["n_samples"]


def dataset_spec(name: str, config: dict) -> dict:
    """Everything the data rule needs to build one dataset (only this dataset's keys)."""
    source = dataset_source(name, config)
    kind = dataset_kind(name, config)
    spec = {"name": name, "source": source, "kind": kind}
    if kind == "synthetic":
        spec.update(config["synthetic"][source])
    elif kind == "fashion_mnist":
        spec["directory"] = config.get("fashion_mnist_dir")
    elif kind == "user":
        spec["path"] = config["user_datasets"][source]
    return spec


def has_network(name: str, config: dict) -> bool:
    """Image and tabular datasets are fitted by the real network; synthetic problems only have a kernel."""
    return dataset_kind(name, config) != "synthetic"


def dataset_size(name: str, config: dict) -> int:
    """The N a dataset is built with: :func:`requested_size`, except a tabular dataset with fewer
    rows (used whole, e.g. diabetes: 442)."""
    if dataset_kind(name, config) == "tabular":
        return tabular_n_samples(dataset_source(name, config), requested_size(name, config))
    return requested_size(name, config)


def check_config(config: dict) -> None:
    """Raise :class:`ConfigError` naming the key for anything the schema cannot catch."""
    for key in ("datasets", *EXPERIMENT_DATASET_KEYS):
        for name in config.get(key) or []:
            sized_dataset(name, config, key)
    for name in all_datasets(config):
        kind = dataset_kind(name, config)
        if kind == "fashion_mnist" and find_idx_pair(config.get("fashion_mnist_dir")) is None:
            raise ConfigError(f"config key 'datasets': {name!r} is selected but the Fashion-MNIST files "
                              "were not found.\n" + FASHION_MNIST_INSTALL_HINT)
        if kind == "user" and not Path(config["user_datasets"][dataset_source(name, config)]).exists():
            source = dataset_source(name, config)
            raise ConfigError(f"config key 'user_datasets.{source}': file "
                              f"{config['user_datasets'][source]!r} does not exist")
    _check_batch_sizes(config)
    if config.get("hyper_batch_size", 1) > config.get("hyper_n_samples", config["n_samples"]):
        raise ConfigError("config key 'hyper_batch_size': larger than hyper_n_samples")
    check_companions(config)
    if config.get("fit_range", "auto") != "auto":
        lo, hi = config["fit_range"]
        if not lo < hi:
            raise ConfigError(f"config key 'fit_range': need k_min < k_max, got [{lo}, {hi}]")
        for name in all_datasets(config):
            if hi > dataset_size(name, config):
                raise ConfigError(f"config key 'fit_range': k_max = {hi} exceeds the "
                                  f"{dataset_size(name, config)} samples of dataset {name!r}")


def _check_batch_sizes(config: dict) -> None:
    """Sampled runs draw b distinct points, so b <= N of every dataset they run on.  The
    critical-lr experiment treats b >= N as full batch, so there b may exceed a smaller dataset's N
    (not the largest one's)."""
    runs = [("batch_sizes", config["datasets"])] + [
        (batch_key, experiment_datasets(config, datasets_key))
        for batch_key, datasets_key in (("regime_batch_sizes", "regime_datasets"),
                                        ("budget_batch_sizes", "budget_datasets"),
                                        ("map_batch_size", "map_datasets"),
                                        ("trace_batch_size", "trace_datasets"))]
    for key, names in runs:
        value = config.get(key)
        for b in value if isinstance(value, list) else [] if value is None else [value]:
            for name in names:
                if b > dataset_size(name, config):
                    raise ConfigError(f"config key '{key}': batch size {b} exceeds the "
                                      f"{dataset_size(name, config)} samples of dataset {name!r} "
                                      "(batches hold distinct points)")
    sizes = [dataset_size(d, config) for d in experiment_datasets(config, "critical_datasets")]
    for b in config.get("critical_batch_sizes") or []:
        if sizes and b > max(sizes):
            raise ConfigError(f"config key 'critical_batch_sizes': batch size {b} exceeds the "
                              f"{max(sizes)} samples of the largest critical dataset")


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
    """The datasets an experiment runs on: those of ``config[key]`` whose source is selected in
    ``datasets`` (so ``--config datasets=[digits]`` simply narrows the experiments too, and
    ``fashion_mnist_1k`` runs wherever a Fashion-MNIST dataset is selected)."""
    selected = {dataset_source(d, config) for d in config["datasets"]}
    return [d for d in (config.get(key) or []) if dataset_source(d, config) in selected]


def all_datasets(config: dict) -> list[str]:
    """Every dataset a run builds a kernel for: ``datasets`` first, then those only an experiment
    uses (e.g. a sized copy at the paper's N for that experiment)."""
    names = list(config["datasets"])
    for key in EXPERIMENT_DATASET_KEYS:
        names += [d for d in experiment_datasets(config, key) if d not in names]
    return names


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
