"""Config checks that a JSON schema cannot express, and the names the workflow derives from it.

The config is nested, one section per stage and per experiment (``data``, ``model``, ``sgd``,
``theory``, ``experiments.<name>``, ``companions.<study>``, ``report``); a key is named by its
dotted path, e.g. ``experiments.loss_map.lr_points``.  The schema
(``workflow/schemas/config.schema.yaml``) checks types, ranges and unknown keys
(:func:`check_schema` names the dotted key); :func:`check_config` then checks relations between
keys (a batch larger than the data set, a fit range past N, a dataset that is not on this
machine).  Both run before any job starts and name the offending key.
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
#: The experiments (sections of ``experiments``) that run on datasets of their own choice.
DATASET_EXPERIMENTS = ("loss_map", "critical_lr", "regimes", "budget", "trace")
#: The config keys that list an experiment's datasets.
EXPERIMENT_DATASET_KEYS = tuple(f"experiments.{name}.datasets" for name in DATASET_EXPERIMENTS)
#: A sized name: ``<source>_<N>`` or ``<source>_<N>k``, e.g. ``fashion_mnist_1k`` (N = 1000).
_SIZED_NAME = re.compile(r"(?P<source>.+)_(?P<count>[1-9][0-9]*)(?P<thousands>k?)")


class ConfigError(ValueError):
    """An invalid configuration; the message names the key."""


def lookup_key(config: dict, key: str, default=None):
    """The value of a dotted key (``"experiments.loss_map.lr_points"``), else ``default``."""
    node = config
    for part in key.split("."):
        if not isinstance(node, dict) or node.get(part) is None:
            return default
        node = node[part]
    return node


def section(config: dict, key: str) -> dict:
    """A section by its dotted name (``"sgd"``, ``"experiments.budget"``); {} when absent."""
    return lookup_key(config, key, {}) or {}


def check_schema(config: dict, schema: dict) -> None:
    """Validate against the JSON schema; the first error raises :class:`ConfigError` naming the
    full dotted key, also of an unknown key (``experiments.loss_map.lr_pointz``)."""
    import jsonschema

    errors = jsonschema.Draft202012Validator(schema).iter_errors(config)
    error = jsonschema.exceptions.best_match(errors)
    if error is None:
        return
    where = ".".join(str(p) for p in error.absolute_path)
    unexpected = re.search(r"\((.*) (?:was|were) unexpected\)", error.message)
    if error.validator in ("additionalProperties", "unevaluatedProperties") and unexpected:
        names = re.findall(r"'([^']*)'", unexpected.group(1))
        keys = ", ".join(f"'{where + '.' if where else ''}{name}'" for name in names)
        raise ConfigError(
            f"unknown config key {keys}; every key is listed in workflow/schemas/config.schema.yaml"
        )
    raise ConfigError(f"config key '{where or '(top level)'}': {error.message}")


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

    ``snakemake --config "sgd={learning_rates: [0.5, 1]}"`` delivers the list items as strings, and
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
    if name in section(config, "data.synthetic"):
        return "synthetic"
    if name in section(config, "data.user_datasets"):
        return "user"
    return None


def sized_dataset(name: str, config: dict, key: str = "data.datasets") -> tuple[str, int | None]:
    """``(source, N)`` of a dataset name: a configured dataset is its own source at ``data.n_samples``
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
        + ", a name under 'data.synthetic' or a name under 'data.user_datasets'"
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
    """The N a dataset name asks for: its size suffix, else ``data.n_samples``."""
    return sized_dataset(name, config)[1] or config["data"]["n_samples"]


def dataset_spec(name: str, config: dict) -> dict:
    """Everything the data rule needs to build one dataset (only this dataset's keys)."""
    source = dataset_source(name, config)
    kind = dataset_kind(name, config)
    spec = {"name": name, "source": source, "kind": kind}
    data = config["data"]
    if kind == "synthetic":
        spec.update(data["synthetic"][source])
    elif kind == "fashion_mnist":
        spec["directory"] = data.get("fashion_mnist_dir")
    elif kind == "user":
        spec["path"] = data["user_datasets"][source]
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
    key = (
        f"{_listing_key(name, config)} entry {name!r}" if sized_dataset(name, config)[1] else "data.n_samples"
    )
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


def _listing_key(name: str, config: dict) -> str:
    """The dotted key of the first list that names dataset ``name``."""
    for key in ("data.datasets", *EXPERIMENT_DATASET_KEYS):
        if name in (lookup_key(config, key) or []):
            return key
    return "data.datasets"


def check_config(config: dict) -> None:
    """Raise :class:`ConfigError` naming the key for anything the schema cannot catch."""
    for key in ("data.datasets", *EXPERIMENT_DATASET_KEYS):
        for name in lookup_key(config, key) or []:
            sized_dataset(name, config, key)
    data = config["data"]
    for name in all_datasets(config):
        kind = dataset_kind(name, config)
        if kind == "fashion_mnist" and find_idx_pair(data.get("fashion_mnist_dir")) is None:
            raise ConfigError(
                f"config key '{_listing_key(name, config)}': {name!r} is selected but the Fashion-MNIST "
                "files were not found.\n" + FASHION_MNIST_INSTALL_HINT
            )
        if kind == "digits":
            _check_digits_size(name, config)
        if kind == "user" and not Path(data["user_datasets"][dataset_source(name, config)]).exists():
            source = dataset_source(name, config)
            raise ConfigError(
                f"config key 'data.user_datasets.{source}': file "
                f"{data['user_datasets'][source]!r} does not exist"
            )
    _check_batch_sizes(config)
    hyper = section(config, "experiments.hyperparameters")
    if hyper.get("batch_size", 1) > hyper.get("n_samples", data["n_samples"]):
        raise ConfigError(
            "config key 'experiments.hyperparameters.batch_size': larger than "
            "experiments.hyperparameters.n_samples"
        )
    check_companions(config)
    check_model(config)
    check_deep_kernels(config)
    fit_range = lookup_key(config, "theory.fit_range", "auto")
    if fit_range != "auto":
        lo, hi = fit_range
        if not lo < hi:
            raise ConfigError(f"config key 'theory.fit_range': need k_min < k_max, got [{lo}, {hi}]")
        for name in all_datasets(config):
            if hi > dataset_size(name, config):
                raise ConfigError(
                    f"config key 'theory.fit_range': k_max = {hi} exceeds the "
                    f"{dataset_size(name, config)} samples of dataset {name!r}"
                )


def _check_batch_sizes(config: dict) -> None:
    """Sampled runs draw b distinct points, so b <= N of every dataset they run on.  The
    critical-lr experiment treats b >= N as full batch, so there b may exceed a smaller dataset's N
    (not the largest one's)."""
    runs = [("sgd.batch_sizes", config["data"]["datasets"])] + [
        (f"experiments.{experiment}.{batch_key}", experiment_datasets(config, experiment))
        for experiment, batch_key in (
            ("regimes", "batch_sizes"),
            ("budget", "batch_sizes"),
            ("loss_map", "batch_size"),
            ("trace", "batch_size"),
        )
    ]
    for key, names in runs:
        value = lookup_key(config, key)
        for b in value if isinstance(value, list) else [] if value is None else [value]:
            for name in names:
                if b > dataset_size(name, config):
                    raise ConfigError(
                        f"config key '{key}': batch size {b} exceeds the "
                        f"{dataset_size(name, config)} samples of dataset {name!r} "
                        "(batches hold distinct points)"
                    )
    sizes = [dataset_size(d, config) for d in experiment_datasets(config, "critical_lr")]
    for b in lookup_key(config, "experiments.critical_lr.batch_sizes") or []:
        if sizes and b > max(sizes):
            raise ConfigError(
                f"config key 'experiments.critical_lr.batch_sizes': batch size {b} exceeds the "
                f"{max(sizes)} samples of the largest critical dataset"
            )


def companion_studies(config: dict) -> list[str]:
    """The companion studies the config runs (a study left out, or null, is skipped), in report order."""
    from .companions import STUDIES

    chosen = section(config, "companions")
    return [name for name in STUDIES if chosen.get(name) is not None]


def companion_params(config: dict, study: str) -> dict:
    """A companion study's parameters: its ``preset`` with the section's overrides
    (:func:`sgd_spectra.companions.resolve_params`); a null ``fashion_mnist_dir`` means the
    workflow's ``data.fashion_mnist_dir``."""
    from .companions import resolve_params

    try:
        params = resolve_params(study, config["companions"][study])
    except KeyError as err:
        key, message = err.args if len(err.args) == 2 else (f"companions.{study}", str(err))
        raise ConfigError(f"config key '{key}': {message}") from None
    if "fashion_mnist_dir" in params and params["fashion_mnist_dir"] is None:
        params["fashion_mnist_dir"] = lookup_key(config, "data.fashion_mnist_dir")
    return params


def check_companions(config: dict) -> None:
    """Resolve each companion study's parameters (a known preset, known parameter names), validate
    them against its schema (read without importing the study), then that a dataset it asks for is
    installed."""
    import jsonschema

    from .companions import check_study_data, params_schema

    for name in companion_studies(config):
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


#: The deep-kernel experiment's config keys (``experiments.deep_kernels.<name>``, but ``models``)
#: and their defaults, the schema's (a test checks they agree); :func:`deep_kernel_params` hands
#: them to the job.
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
    """The parameters of :func:`sgd_spectra.deep_kernels.run_deep_kernel` from the config's
    ``experiments.deep_kernels`` section (the workflow's seed, record points and Fashion-MNIST folder
    added)."""
    deep = section(config, "experiments.deep_kernels")
    params = {key: deep.get(key, default) for key, default in DEEP_KERNEL_DEFAULTS.items()}
    params.update(
        seed=config.get("seed", 0),
        record_points=lookup_key(config, "sgd.record_points", 120),
        fashion_mnist_dir=lookup_key(config, "data.fashion_mnist_dir"),
        pretrain_batch_size=PRETRAIN_DEFAULTS["batch_size"],
    )
    return params


def check_deep_kernels(config: dict) -> None:
    """The deep-kernel experiment (when ``experiments.deep_kernels.models`` lists any): its batches
    fit its N, and Fashion-MNIST, when asked for by name, is installed (``auto`` falls back to digits)."""
    if not lookup_key(config, "experiments.deep_kernels.models"):
        return
    p = deep_kernel_params(config)
    if p["batch_size"] > p["n_samples"]:
        raise ConfigError(
            f"config key 'experiments.deep_kernels.batch_size': batch size {p['batch_size']} exceeds "
            f"experiments.deep_kernels.n_samples = {p['n_samples']} (batches hold distinct points)"
        )
    if p["dataset"] == "fashion_mnist" and find_idx_pair(p["fashion_mnist_dir"]) is None:
        raise ConfigError(
            "config key 'experiments.deep_kernels.dataset': 'fashion_mnist' is asked for but its files were "
            "not found ('auto' falls back to digits).\n" + FASHION_MNIST_INSTALL_HINT
        )
    on_digits = p["dataset"] == "digits" or (
        p["dataset"] == "auto" and find_idx_pair(p["fashion_mnist_dir"]) is None
    )
    if on_digits and p["n_samples"] > 1700:
        raise ConfigError(
            f"config key 'experiments.deep_kernels.n_samples': {p['n_samples']} is more than a class-balanced "
            "subset of digits (1797 images) leaves room for pretraining; use at most 1700"
        )


def experiment_datasets(config: dict, experiment: str) -> list[str]:
    """The datasets an experiment (a name of :data:`DATASET_EXPERIMENTS`, e.g. ``"loss_map"``) runs
    on: those of ``experiments.<experiment>.datasets`` whose source is selected in ``data.datasets``
    (so ``--config "data={datasets: [digits]}"`` simply narrows the experiments too, and
    ``fashion_mnist_1k`` runs wherever a Fashion-MNIST dataset is selected)."""
    selected = {dataset_source(d, config) for d in config["data"]["datasets"]}
    names = lookup_key(config, f"experiments.{experiment}.datasets") or []
    return [d for d in names if dataset_source(d, config) in selected]


def all_datasets(config: dict) -> list[str]:
    """Every dataset a run builds a kernel for: ``data.datasets`` first, then those only an
    experiment uses (e.g. a sized copy at the paper's N for that experiment)."""
    names = list(config["data"]["datasets"])
    for experiment in DATASET_EXPERIMENTS:
        names += [d for d in experiment_datasets(config, experiment) if d not in names]
    return names


def fmt(value) -> str:
    """Compact, round-trippable text for a number in a file name (0.5 -> '0.5', 10 -> '10')."""
    return f"{value:g}" if isinstance(value, float) else str(value)


def setting_name(lr, momentum, batch) -> str:
    """File-name stem of one SGD setting, e.g. ``lr0.5_mom0_b10``."""
    return f"lr{fmt(float(lr))}_mom{fmt(float(momentum))}_b{int(batch)}"


def sgd_settings(config: dict) -> list[dict]:
    """Every (learning rate, momentum, batch size) combination of the ``sgd`` section."""
    sgd = config["sgd"]
    return [
        {"lr": float(lr), "momentum": float(m), "batch": int(b)}
        for lr, m, b in itertools.product(sgd["learning_rates"], sgd["momenta"], sgd["batch_sizes"])
    ]


# --------------------------------------------------------------------------------------------
# The network: the `model` section
# --------------------------------------------------------------------------------------------

#: Keys of the `model` section that say how the workflow handles the network rather than what
#: the network is, with their defaults (the schema states the same; a test checks they agree).
MODEL_RUN_DEFAULTS = {"pretrain": {}, "ntk_memory_gb": 2.0, "device": "cpu"}
#: The architecture whose NTK has a closed form (sgd_spectra.ntk): the default model.
CLOSED_FORM_MLP = {"kind": "mlp", "depth": 1, "activation": "relu", "parametrisation": "ntk"}
#: The mlp's default hidden width (the paper's M = 1000; sgd_spectra.models.DEFAULTS, the schema).
MLP_WIDTH = 1000
#: Per-sample feature shapes of the bundled datasets (the data rule flattens images): 8x8
#: digits, 28x28 Fashion-MNIST, diabetes' 10 features.  A test checks them against the data.
FEATURE_SHAPES = {"digits": (64,), "fashion_mnist": (784,), "diabetes": (10,)}


def model_spec(config: dict) -> dict:
    """The architecture spec for :func:`sgd_spectra.models.build_model`: the `model` section
    without its run keys (an mlp's ``width`` defaults to the paper's 1000, as in the schema)."""
    model = config.get("model") or {}
    spec = {k: v for k, v in model.items() if k not in MODEL_RUN_DEFAULTS and k != "width"}
    spec.setdefault("kind", "mlp")
    if spec["kind"] == "mlp":  # width last, where the spec has always had it
        spec["width"] = model.get("width", MLP_WIDTH)
    return spec


def model_width(config: dict) -> int:
    """The hidden width resource estimates assume: ``model.width``, else the default 1000."""
    return (config.get("model") or {}).get("width", MLP_WIDTH)


def model_options(config: dict) -> dict:
    """``pretrain`` (None without pretraining, i.e. 0 epochs; else its keys with defaults filled
    in), ``ntk_memory_gb`` and ``device``."""
    model = config.get("model") or {}
    options = {key: model.get(key, default) for key, default in MODEL_RUN_DEFAULTS.items()}
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
        return (math.prod(_npz_array_shape(config["data"]["user_datasets"][source], "images")[1:]),)
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
        raise ConfigError(
            f"config key 'data.user_datasets': cannot read array {key!r} of {path}: {err}"
        ) from None


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
