"""Config checks that a JSON schema cannot express, and the names the workflow derives from it.

The schema (``workflow/schemas/config.schema.yaml``) checks types, ranges and unknown keys;
:func:`check_config` then checks relations between keys (a batch larger than the data set, a
fit range past N, a dataset that is not on this machine).  Both run before any job starts and
name the offending key.
"""

from __future__ import annotations

import itertools
import math
import re
from pathlib import Path

from .datasets import FASHION_MNIST_INSTALL_HINT, TABULAR_DATASETS, find_idx_pair, tabular_n_samples
from .pretrain import PRETRAIN_DEFAULTS

#: Built-in image datasets (their kind is their name) and bundled tabular ones (kind "tabular").
BUILTIN_DATASETS = ("digits", "fashion_mnist")
TABULAR = tuple(TABULAR_DATASETS)
#: The config keys that list an experiment's datasets.
EXPERIMENT_DATASET_KEYS = (
    "map_datasets",
    "critical_datasets",
    "regime_datasets",
    "budget_datasets",
    "trace_datasets",
)
#: A sized name: ``<source>_<N>`` or ``<source>_<N>k``, e.g. ``fashion_mnist_1k`` (N = 1000).
_SIZED_NAME = re.compile(r"(?P<source>.+)_(?P<count>[1-9][0-9]*)(?P<thousands>k?)")


class ConfigError(ValueError):
    """An invalid configuration; the message names the key."""


#: YAML's words for null and the booleans, as ``--config`` delivers them (text) inside a mapping.
_YAML_WORDS = {"null": None, "~": None, "true": True, "false": False}


def _number_or_text(value):
    if isinstance(value, list):
        return [_number_or_text(v) for v in value]
    if isinstance(value, dict):
        return {k: _number_or_text(v) for k, v in value.items()}
    if not isinstance(value, str):
        return value
    for cast in (int, float):
        try:
            return cast(value)
        except ValueError:
            pass
    return _YAML_WORDS.get(value, value)


def coerce_command_line(config: dict) -> dict:
    """Turn numbers (and null, true, false) that arrive as text into values, in place.

    ``snakemake --config learning_rates=[0.5,1]`` delivers the list items as strings, and
    ``--config "model={kind: cnn, channels: [8]}"`` every value of the mapping; without this the
    schema would reject a valid command line.  Other text is left alone.
    """
    for key, value in config.items():
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
        + ", ".join(repr(t) for t in TABULAR)
        + ", a name under 'synthetic' or a name under 'user_datasets'"
        + ", or one of them with its size, e.g. 'fashion_mnist_1k' or 'digits_500'"
    )


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


#: scikit-learn's bundled digits, images of each class 0-9 (fixed data, 1797 in all).
DIGITS_CLASS_COUNTS = (178, 182, 177, 183, 181, 182, 181, 179, 174, 180)


def balanced_subset_fits(n_samples: int, class_counts) -> bool:
    """Whether :func:`sgd_spectra.datasets.balanced_subset` can draw ``n_samples`` points: each
    class gives ``n // classes`` points, the first ``n % classes`` classes one more."""
    per_class = [
        n_samples // len(class_counts) + (i < n_samples % len(class_counts)) for i in range(len(class_counts))
    ]
    return all(want <= have for want, have in zip(per_class, class_counts))


def _check_digits_size(name: str, config: dict) -> None:
    """A digits dataset's N (plus the pretraining split, drawn with it) fits a class-balanced subset
    of the 1797 images; the key named is the one that set N."""
    pretrain = model_options(config)["pretrain"] if has_network(name, config) else None
    n = dataset_size(name, config) + (pretrain["n_samples"] if pretrain else 0)
    if balanced_subset_fits(n, DIGITS_CLASS_COUNTS):
        return
    key = f"datasets entry {name!r}" if sized_dataset(name, config)[1] else "n_samples"
    largest = max(
        m for m in range(sum(DIGITS_CLASS_COUNTS) + 1) if balanced_subset_fits(m, DIGITS_CLASS_COUNTS)
    )
    extra = (
        f" ({dataset_size(name, config)} plus {pretrain['n_samples']} for pretraining)" if pretrain else ""
    )
    raise ConfigError(
        f"config key '{key}': digits has 1797 images ({min(DIGITS_CLASS_COUNTS)} in its "
        f"smallest class), so a class-balanced subset holds at most {largest} points; "
        f"{n} were asked for{extra}"
    )


def check_config(config: dict) -> None:
    """Raise :class:`ConfigError` naming the key for anything the schema cannot catch."""
    for key in ("datasets", *EXPERIMENT_DATASET_KEYS):
        for name in config.get(key) or []:
            sized_dataset(name, config, key)
    for name in all_datasets(config):
        kind = dataset_kind(name, config)
        if kind == "fashion_mnist" and find_idx_pair(config.get("fashion_mnist_dir")) is None:
            raise ConfigError(
                f"config key 'datasets': {name!r} is selected but the Fashion-MNIST files "
                "were not found.\n" + FASHION_MNIST_INSTALL_HINT
            )
        if kind == "digits":
            _check_digits_size(name, config)
        if kind == "user" and not Path(config["user_datasets"][dataset_source(name, config)]).exists():
            source = dataset_source(name, config)
            raise ConfigError(
                f"config key 'user_datasets.{source}': file "
                f"{config['user_datasets'][source]!r} does not exist"
            )
    _check_batch_sizes(config)
    if config.get("hyper_batch_size", 1) > config.get("hyper_n_samples", config["n_samples"]):
        raise ConfigError("config key 'hyper_batch_size': larger than hyper_n_samples")
    check_companions(config)
    check_model(config)
    check_deep_kernels(config)
    if config.get("fit_range", "auto") != "auto":
        lo, hi = config["fit_range"]
        if not lo < hi:
            raise ConfigError(f"config key 'fit_range': need k_min < k_max, got [{lo}, {hi}]")
        for name in all_datasets(config):
            if hi > dataset_size(name, config):
                raise ConfigError(
                    f"config key 'fit_range': k_max = {hi} exceeds the "
                    f"{dataset_size(name, config)} samples of dataset {name!r}"
                )


def _check_batch_sizes(config: dict) -> None:
    """Sampled runs draw b distinct points, so b <= N of every dataset they run on.  The
    critical-lr experiment treats b >= N as full batch, so there b may exceed a smaller dataset's N
    (not the largest one's)."""
    runs = [("batch_sizes", config["datasets"])] + [
        (batch_key, experiment_datasets(config, datasets_key))
        for batch_key, datasets_key in (
            ("regime_batch_sizes", "regime_datasets"),
            ("budget_batch_sizes", "budget_datasets"),
            ("map_batch_size", "map_datasets"),
            ("trace_batch_size", "trace_datasets"),
        )
    ]
    for key, names in runs:
        value = config.get(key)
        for b in value if isinstance(value, list) else [] if value is None else [value]:
            for name in names:
                if b > dataset_size(name, config):
                    raise ConfigError(
                        f"config key '{key}': batch size {b} exceeds the "
                        f"{dataset_size(name, config)} samples of dataset {name!r} "
                        "(batches hold distinct points)"
                    )
    sizes = [dataset_size(d, config) for d in experiment_datasets(config, "critical_datasets")]
    for b in config.get("critical_batch_sizes") or []:
        if sizes and b > max(sizes):
            raise ConfigError(
                f"config key 'critical_batch_sizes': batch size {b} exceeds the "
                f"{max(sizes)} samples of the largest critical dataset"
            )


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
            raise ConfigError(
                f"config key 'companions.{name}{'.' + where if where else ''}': {err.message}"
            ) from None
        try:
            check_study_data(params)
        except Exception as err:  # the message says what is missing and how to get it
            raise ConfigError(f"config key 'companions.{name}': {err}") from None


#: The deep-kernel experiment's config keys (``deep_kernel_<name>``) and their defaults, the
#: schema's (a test checks they agree); :func:`deep_kernel_params` hands them to the job.
DEEP_KERNEL_DEFAULTS = {
    "dataset": "auto",
    "n_samples": 200,
    "pretrain_samples": 1000,
    "pretrain_epochs": 3,
    "pretrain_lr": 1e-3,
    "lr": 1.0,
    "momentum": 0.0,
    "batch_size": 10,
    "steps": 1000,
    "seeds": 10,
    "critical_batch_sizes": [1, 10, 100],
}


def deep_kernel_params(config: dict) -> dict:
    """The parameters of :func:`sgd_spectra.deep_kernels.run_deep_kernel` from the config's flat
    ``deep_kernel_*`` keys (the workflow's seed, record points and Fashion-MNIST folder added)."""
    params = {key: config.get(f"deep_kernel_{key}", default) for key, default in DEEP_KERNEL_DEFAULTS.items()}
    params.update(
        seed=config.get("seed", 0),
        record_points=config.get("record_points", 120),
        fashion_mnist_dir=config.get("fashion_mnist_dir"),
        pretrain_batch_size=PRETRAIN_DEFAULTS["batch_size"],
    )
    return params


def check_deep_kernels(config: dict) -> None:
    """The deep-kernel experiment (when ``deep_kernel_models`` lists any): its batches fit its N,
    and Fashion-MNIST, when asked for by name, is installed (``auto`` falls back to digits)."""
    if not config.get("deep_kernel_models"):
        return
    p = deep_kernel_params(config)
    if p["batch_size"] > p["n_samples"]:
        raise ConfigError(
            f"config key 'deep_kernel_batch_size': batch size {p['batch_size']} exceeds "
            f"deep_kernel_n_samples = {p['n_samples']} (batches hold distinct points)"
        )
    if p["dataset"] == "fashion_mnist" and find_idx_pair(p["fashion_mnist_dir"]) is None:
        raise ConfigError(
            "config key 'deep_kernel_dataset': 'fashion_mnist' is asked for but its files were "
            "not found ('auto' falls back to digits).\n" + FASHION_MNIST_INSTALL_HINT
        )
    on_digits = p["dataset"] == "digits" or (
        p["dataset"] == "auto" and find_idx_pair(p["fashion_mnist_dir"]) is None
    )
    if on_digits and p["n_samples"] > 1700:
        raise ConfigError(
            f"config key 'deep_kernel_n_samples': {p['n_samples']} is more than a class-balanced "
            "subset of digits (1797 images) leaves room for pretraining; use at most 1700"
        )


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
    return [
        {"lr": float(lr), "momentum": float(m), "batch": int(b)}
        for lr, m, b in itertools.product(config["learning_rates"], config["momenta"], config["batch_sizes"])
    ]


# --------------------------------------------------------------------------------------------
# The network: the `model` section
# --------------------------------------------------------------------------------------------

#: Keys of the `model` section that say how the workflow handles the network rather than what
#: the network is, with their defaults (the schema states the same; a test checks they agree).
MODEL_RUN_DEFAULTS = {"pretrain": {}, "ntk_memory_gb": 2.0, "device": "cpu"}
#: The architecture whose NTK has a closed form (sgd_spectra.ntk): the default model.
CLOSED_FORM_MLP = {"kind": "mlp", "depth": 1, "activation": "relu", "parametrisation": "ntk"}
#: Per-sample feature shapes of the bundled datasets (the data rule flattens images): 8x8
#: digits, 28x28 Fashion-MNIST, diabetes' 10 features.  A test checks them against the data.
FEATURE_SHAPES = {"digits": (64,), "fashion_mnist": (784,), "diabetes": (10,)}


def model_spec(config: dict) -> dict:
    """The architecture spec for :func:`sgd_spectra.models.build_model`: the `model` section
    without its run keys; an mlp without ``model.width`` takes the top-level ``width`` (the key
    of configs written before the `model` section existed)."""
    spec = {k: v for k, v in (config.get("model") or {}).items() if k not in MODEL_RUN_DEFAULTS}
    spec.setdefault("kind", "mlp")
    if spec["kind"] == "mlp" and "width" in config:
        spec.setdefault("width", config["width"])
    return spec


def model_options(config: dict) -> dict:
    """``pretrain`` (None without pretraining, i.e. 0 epochs; else its keys with defaults filled
    in), ``ntk_memory_gb`` and ``device``."""
    section = config.get("model") or {}
    options = {key: section.get(key, default) for key, default in MODEL_RUN_DEFAULTS.items()}
    pretrain = {**PRETRAIN_DEFAULTS, **(options["pretrain"] or {})}
    options["pretrain"] = pretrain if pretrain["epochs"] > 0 else None
    return options


def has_closed_form(spec: dict) -> bool:
    """Whether the spec is the one-hidden-layer ReLU network in NTK parametrisation (any width),
    whose NTK needs no autograd; decided without importing torch."""
    return set(spec) <= {*CLOSED_FORM_MLP, "width"} and all(
        spec.get(key, value) == value for key, value in CLOSED_FORM_MLP.items()
    )


def feature_shape(name: str, config: dict) -> tuple[int, ...]:
    """Per-sample shape of a network dataset's ``X`` (a user .npz: read from its header only)."""
    source, kind = dataset_source(name, config), dataset_kind(name, config)
    if kind == "user":
        return (math.prod(_npz_array_shape(config["user_datasets"][source], "images")[1:]),)
    return FEATURE_SHAPES[source if kind == "tabular" else kind]


def _npz_array_shape(path: str, key: str) -> tuple[int, ...]:
    """The shape of array ``key`` in an .npz, from its header (without reading the data)."""
    import zipfile

    import numpy as np

    try:
        with zipfile.ZipFile(path) as archive, archive.open(f"{key}.npy") as fh:
            major, _ = np.lib.format.read_magic(fh)
            read_header = (
                np.lib.format.read_array_header_1_0 if major == 1 else np.lib.format.read_array_header_2_0
            )
            return tuple(read_header(fh)[0])
    except (OSError, KeyError, ValueError, zipfile.BadZipFile) as err:
        raise ConfigError(f"config key 'user_datasets': cannot read array {key!r} of {path}: {err}") from None


def check_model(config: dict) -> None:
    """The `model` section: pretraining fits the datasets, and a model other than the default
    builds, gives one scalar per sample and has an NTK on a probe batch of each dataset's shape.
    Only that last check imports torch (the default config's check stays light)."""
    networks = [name for name in all_datasets(config) if has_network(name, config)]
    pretrain = model_options(config)["pretrain"]
    for name in networks if pretrain else []:
        if dataset_kind(name, config) == "tabular":
            rows = TABULAR_DATASETS[dataset_source(name, config)]
            if dataset_size(name, config) + pretrain["n_samples"] > rows:
                raise ConfigError(
                    f"config key 'model.pretrain.n_samples': {pretrain['n_samples']} "
                    f"pretraining samples and the {dataset_size(name, config)} training "
                    f"samples of {name!r} exceed its {rows} rows (the two are disjoint)"
                )
    spec = model_spec(config)
    if not networks or has_closed_form(spec):
        return
    for shape in dict.fromkeys(feature_shape(name, config) for name in networks):
        where = [name for name in networks if feature_shape(name, config) == shape]
        _probe_model(spec, shape, config.get("seed", 0), where)


def _probe_model(spec: dict, shape: tuple, seed: int, datasets: list[str]) -> None:
    import torch

    from .models import ModelSpecError, build_model
    from .ntk_generic import empirical_ntk

    key = "model.factory" if spec.get("kind") == "custom" else "model"
    on = f"for dataset {datasets[0]!r} (per-sample input shape {shape})"
    try:
        model = build_model(spec, shape, seed, torch.float32)
    except ModelSpecError as err:
        raise ConfigError(f"config key '{key}' {on}: {err}") from None
    probe = torch.randn((2, *shape), generator=torch.Generator().manual_seed(0))
    try:
        empirical_ntk(model, probe, dtype=torch.float32, memory_gb=0.5)
    except Exception as err:
        raise ConfigError(
            f"config key '{key}' {on}: the NTK (torch.func jacrev/vmap) fails on "
            f"this model: {type(err).__name__}: {err}"
        ) from None
