"""Scalar-output networks built from a spec dict: the model whose empirical NTK is measured.

``build_model(spec, input_shape, seed)`` returns an ``nn.Module`` mapping a batch of inputs of
shape ``(B, *input_shape)`` to ``B`` scalars (shape ``(B,)`` or ``(B, 1)``).  Kinds:

* ``{"kind": "mlp", "depth": L, "width": W, "activation": "relu"|"tanh"|"gelu",
  "parametrisation": "ntk"|"standard"}`` -- L hidden layers of width W and a bias-free readout.
  Weights and biases are drawn ``N(0, 1)`` from ``torch.Generator().manual_seed(seed)`` in layer
  order (weight, then bias), the readout last.  NTK parametrisation divides each layer's matmul by
  ``sqrt(fan_in)`` in the forward pass; standard parametrisation stores the weights already
  divided by ``sqrt(fan_in)``.  The two compute the same function at initialisation but have
  different tangent kernels.  ``depth=1, relu, ntk`` is exactly :func:`sgd_spectra.ntk.init_network`
  (same class, same draws), so its closed-form NTK stays the fast path.
* ``{"kind": "cnn", "channels": [16, 32], "kernel_size": 3}`` -- conv + ReLU + 2x2 max-pool per
  entry of ``channels``, global average pooling, linear readout.
* ``{"kind": "resnet", "channels": [16, 32], "blocks": 1}`` -- a 3x3 stem, then per stage
  ``blocks`` residual blocks (conv-ReLU-conv + identity or 1x1 projection, ReLU), downsampling by
  2 between stages; no batch norm (it would couple the samples of a batch, and the NTK is
  per-sample); global average pooling, linear readout.
* ``{"kind": "custom", "factory": "package.module:make" | "path/to/file.py:make",
  "kwargs": {...}}`` -- ``make(**kwargs)`` must return an ``nn.Module``.

Image models (and ``custom``) accept ``"input_shape": [C, H, W]``: flat data of ``C*H*W``
features are reshaped to it inside the model.  Without it, an image model on flat data of a
perfect-square size ``d`` reads it as ``1 x sqrt(d) x sqrt(d)`` (Fashion-MNIST's 784, digits' 64).
Every kind is built inside ``torch.random.fork_rng`` seeded with ``seed``, so factories that use
the global RNG are deterministic per seed too, and the caller's RNG state is left untouched.
"""

from __future__ import annotations

import importlib
import importlib.util
import math
from pathlib import Path

import torch
from torch import nn

from sgd_spectra.ntk import init_network

ACTIVATIONS = {"relu": nn.ReLU, "tanh": nn.Tanh, "gelu": nn.GELU}
PARAMETRISATIONS = ("ntk", "standard")
DEFAULTS = {
    "mlp": {"depth": 1, "width": 1000, "activation": "relu", "parametrisation": "ntk"},
    "cnn": {"channels": [16, 32], "kernel_size": 3, "input_shape": None},
    "resnet": {"channels": [16, 32], "blocks": 1, "input_shape": None},
    "custom": {"factory": None, "kwargs": {}, "input_shape": None},
}
PROBE_BATCH = 2


class ModelSpecError(ValueError):
    """A model spec is invalid, or the model it builds is not usable (the message says why)."""


# ----------------------------------------------------------------------------- MLP


class GaussianLinear(nn.Module):
    """``y = W x / sqrt(fan_in) + b`` (NTK) or ``y = W' x + b`` with ``W' = W / sqrt(fan_in)``
    (standard), from the same ``N(0, 1)`` draws.  ``bias=False`` for the readout."""

    def __init__(
        self,
        fan_in: int,
        fan_out: int,
        parametrisation: str,
        bias: bool,
        generator: torch.Generator,
        dtype: torch.dtype,
    ):
        super().__init__()
        self.fan_in = fan_in
        self.ntk = parametrisation == "ntk"
        weight = torch.randn(fan_out, fan_in, generator=generator, dtype=dtype)
        self.weight = nn.Parameter(weight if self.ntk else weight / math.sqrt(fan_in))
        self.bias = nn.Parameter(torch.randn(fan_out, generator=generator, dtype=dtype)) if bias else None

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = x @ self.weight.T
        if self.ntk:
            out = out / math.sqrt(self.fan_in)
        return out if self.bias is None else out + self.bias


class DeepMLP(nn.Module):
    """``depth`` hidden layers of ``width`` units, then a bias-free scalar readout."""

    def __init__(
        self,
        in_features: int,
        depth: int,
        width: int,
        activation: str,
        parametrisation: str,
        generator: torch.Generator,
        dtype: torch.dtype,
    ):
        super().__init__()
        layers = []
        fan_in = in_features
        for _ in range(depth):
            layers += [
                GaussianLinear(fan_in, width, parametrisation, True, generator, dtype),
                ACTIVATIONS[activation](),
            ]
            fan_in = width
        self.hidden = nn.Sequential(*layers)
        self.readout = GaussianLinear(width, 1, parametrisation, False, generator, dtype)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.readout(self.hidden(x)).squeeze(-1)


def build_mlp(spec: dict, input_shape: tuple, seed: int, dtype: torch.dtype) -> nn.Module:
    depth, width = spec["depth"], spec["width"]
    activation, parametrisation = spec["activation"], spec["parametrisation"]
    _check_positive_int(spec, "depth")
    _check_positive_int(spec, "width")
    _check_choice(spec, "activation", ACTIVATIONS)
    _check_choice(spec, "parametrisation", PARAMETRISATIONS)
    if len(input_shape) != 1:
        raise ModelSpecError(f"model kind 'mlp' needs flat inputs, got per-sample shape {tuple(input_shape)}")
    (in_features,) = input_shape
    if (depth, activation, parametrisation) == (1, "relu", "ntk"):
        return init_network(in_features, width, seed, dtype=dtype)  # the closed-form network
    generator = torch.Generator().manual_seed(int(seed))
    return DeepMLP(in_features, depth, width, activation, parametrisation, generator, dtype)


# ----------------------------------------------------------------------------- images


def image_shape(spec: dict, input_shape: tuple) -> tuple[int, int, int]:
    """The ``(C, H, W)`` an image model sees, from the spec's ``input_shape`` or the data's."""
    features = math.prod(input_shape)
    wanted = spec.get("input_shape")
    if wanted is not None:
        wanted = tuple(int(s) for s in wanted)
        if len(wanted) != 3 or math.prod(wanted) != features:
            raise ModelSpecError(
                f"spec key 'input_shape' {list(wanted)} must be [C, H, W] with "
                f"C*H*W = {features} (the data's per-sample shape is "
                f"{tuple(input_shape)})"
            )
        return wanted
    if len(input_shape) == 3:
        return tuple(input_shape)
    side = math.isqrt(features)
    if len(input_shape) == 1 and side * side == features:
        return (1, side, side)
    raise ModelSpecError(
        f"cannot read per-sample shape {tuple(input_shape)} as an image; "
        f"give the spec key 'input_shape': [C, H, W]"
    )


class SmallCNN(nn.Module):
    """Conv(k) + ReLU + 2x2 max-pool per entry of ``channels``, global average pool, readout."""

    def __init__(self, in_channels: int, channels: list[int], kernel_size: int):
        super().__init__()
        layers, previous = [], in_channels
        for width in channels:
            layers += [
                nn.Conv2d(previous, width, kernel_size, padding=kernel_size // 2),
                nn.ReLU(),
                nn.MaxPool2d(2),
            ]
            previous = width
        self.features = nn.Sequential(*layers)
        self.readout = nn.Linear(previous, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.readout(self.features(x).mean(dim=(-2, -1))).squeeze(-1)


class ResidualBlock(nn.Module):
    """``relu(conv(relu(conv(x))) + shortcut(x))``; the shortcut is a strided 1x1 conv when the
    channel count or resolution changes, the identity otherwise."""

    def __init__(self, in_channels: int, out_channels: int, stride: int):
        super().__init__()
        self.conv1 = nn.Conv2d(in_channels, out_channels, 3, stride=stride, padding=1)
        self.conv2 = nn.Conv2d(out_channels, out_channels, 3, padding=1)
        self.shortcut = (
            nn.Identity()
            if stride == 1 and in_channels == out_channels
            else nn.Conv2d(in_channels, out_channels, 1, stride=stride)
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.relu(self.conv2(torch.relu(self.conv1(x))) + self.shortcut(x))


class SmallResNet(nn.Module):
    """3x3 stem, ``blocks`` residual blocks per stage (stride 2 entering each later stage),
    global average pooling, linear readout."""

    def __init__(self, in_channels: int, channels: list[int], blocks: int):
        super().__init__()
        self.stem = nn.Conv2d(in_channels, channels[0], 3, padding=1)
        stages, previous = [], channels[0]
        for stage, width in enumerate(channels):
            for block in range(blocks):
                stride = 2 if stage > 0 and block == 0 else 1
                stages.append(ResidualBlock(previous, width, stride))
                previous = width
        self.blocks = nn.Sequential(*stages)
        self.readout = nn.Linear(previous, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        hidden = self.blocks(torch.relu(self.stem(x)))
        return self.readout(hidden.mean(dim=(-2, -1))).squeeze(-1)


def with_input_shape(module: nn.Module, data_shape: tuple, model_shape: tuple) -> nn.Module:
    """Prepend a reshape from the data's per-sample shape to the model's, when they differ."""
    if tuple(data_shape) == tuple(model_shape):
        return module
    return (
        nn.Sequential(nn.Unflatten(1, tuple(model_shape)), module)
        if len(data_shape) == 1
        else nn.Sequential(nn.Flatten(1), nn.Unflatten(1, tuple(model_shape)), module)
    )


def build_cnn(spec: dict, input_shape: tuple, seed: int, dtype: torch.dtype) -> nn.Module:
    channels = _channel_list(spec)
    _check_positive_int(spec, "kernel_size")
    shape = image_shape(spec, input_shape)
    net = SmallCNN(shape[0], channels, spec["kernel_size"])
    return with_input_shape(net, input_shape, shape).to(dtype)


def build_resnet(spec: dict, input_shape: tuple, seed: int, dtype: torch.dtype) -> nn.Module:
    channels = _channel_list(spec)
    _check_positive_int(spec, "blocks")
    shape = image_shape(spec, input_shape)
    net = SmallResNet(shape[0], channels, spec["blocks"])
    return with_input_shape(net, input_shape, shape).to(dtype)


# ----------------------------------------------------------------------------- custom


def load_factory(reference: str):
    """The callable named by ``"package.module:name"`` or ``"path/to/file.py:name"``."""
    if not isinstance(reference, str) or reference.count(":") != 1:
        raise ModelSpecError(
            f"custom model factory {reference!r} must look like "
            f"'package.module:function' or 'path/to/file.py:function'"
        )
    where, name = reference.split(":")
    try:
        module = _import_file(where) if where.endswith(".py") else importlib.import_module(where)
    except Exception as err:  # any import-time failure of user code: name the factory
        raise ModelSpecError(
            f"custom model factory {reference!r}: cannot import {where!r}: {type(err).__name__}: {err}"
        ) from err
    factory = getattr(module, name, None)
    if not callable(factory):
        raise ModelSpecError(f"custom model factory {reference!r}: {where!r} has no callable named {name!r}")
    return factory


def _import_file(path: str):
    """Import a Python file as a module without putting its folder on ``sys.path``."""
    file = Path(path)
    if not file.is_file():
        raise FileNotFoundError(f"no such file {str(file)!r}")
    module_spec = importlib.util.spec_from_file_location(f"sgd_spectra_custom_{file.stem}", file)
    module = importlib.util.module_from_spec(module_spec)
    module_spec.loader.exec_module(module)
    return module


def build_custom(spec: dict, input_shape: tuple, seed: int, dtype: torch.dtype) -> nn.Module:
    reference, kwargs = spec["factory"], spec["kwargs"]
    if reference is None:
        raise ModelSpecError("model kind 'custom' needs the spec key 'factory'")
    if not isinstance(kwargs, dict):
        raise ModelSpecError(
            f"spec key 'kwargs' of custom model {reference!r} must be a mapping, got {type(kwargs).__name__}"
        )
    factory = load_factory(reference)
    try:
        module = factory(**kwargs)
    except Exception as err:
        raise ModelSpecError(
            f"custom model factory {reference!r} raised {type(err).__name__}: {err}"
        ) from err
    if not isinstance(module, nn.Module):
        raise ModelSpecError(
            f"custom model factory {reference!r} returned {type(module).__name__}, not a torch.nn.Module"
        )
    if spec.get("input_shape") is not None:
        module = with_input_shape(module, input_shape, image_shape(spec, input_shape))
    return module.to(dtype)


# ----------------------------------------------------------------------------- entry point

BUILDERS = {"mlp": build_mlp, "cnn": build_cnn, "resnet": build_resnet, "custom": build_custom}


def build_model(spec: dict, input_shape, seed: int, dtype: torch.dtype = torch.float64) -> nn.Module:
    """The scalar-output network described by ``spec`` for inputs of per-sample ``input_shape``.

    Raises :class:`ModelSpecError` (a ``ValueError``) naming the offending key or factory for an
    unknown kind or key, a bad value, a factory that cannot be imported or raises, and a model
    whose output on a probe batch is not one scalar per sample.  Same seed, same parameters.
    """
    full = resolve_spec(spec)
    input_shape = tuple(int(s) for s in input_shape)
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(int(seed))
        model = BUILDERS[full["kind"]](full, input_shape, int(seed), dtype)
    check_scalar_output(model, input_shape, describe(full), dtype)
    return model


def resolve_spec(spec: dict) -> dict:
    """``spec`` with the kind's defaults filled in; unknown kinds and keys are refused by name."""
    if not isinstance(spec, dict):
        raise ModelSpecError(f"model spec must be a mapping, got {type(spec).__name__}")
    kind = spec.get("kind")
    if kind not in DEFAULTS:
        raise ModelSpecError(f"spec key 'kind' is {kind!r}; expected one of {sorted(DEFAULTS)}")
    unknown = sorted(set(spec) - set(DEFAULTS[kind]) - {"kind"})
    if unknown:
        raise ModelSpecError(
            f"unknown spec key {unknown[0]!r} for model kind {kind!r}; allowed: {sorted(DEFAULTS[kind])}"
        )
    return {**DEFAULTS[kind], **spec}


def describe(spec: dict) -> str:
    if spec["kind"] == "custom":
        return f"custom model factory {spec['factory']!r}"
    return f"model kind {spec['kind']!r}"


def check_scalar_output(
    model: nn.Module, input_shape: tuple, what: str, dtype: torch.dtype = torch.float64
) -> None:
    """Refuse a model whose output on a probe batch is not one scalar per sample."""
    probe = torch.randn((PROBE_BATCH, *input_shape), dtype=dtype, generator=torch.Generator().manual_seed(0))
    try:
        with torch.no_grad():
            out = model(probe)
    except Exception as err:
        raise ModelSpecError(
            f"{what} fails on a probe batch of shape {tuple(probe.shape)}: {type(err).__name__}: {err}"
        ) from err
    shape = tuple(out.shape) if isinstance(out, torch.Tensor) else type(out).__name__
    if shape not in ((PROBE_BATCH,), (PROBE_BATCH, 1)):
        raise ModelSpecError(
            f"{what} must return one scalar per sample (shape ({PROBE_BATCH},) "
            f"or ({PROBE_BATCH}, 1) for a probe batch of {PROBE_BATCH}); it "
            f"returned {shape}"
        )


# ----------------------------------------------------------------------------- checks


def _check_positive_int(spec: dict, key: str) -> None:
    value = spec[key]
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ModelSpecError(f"spec key {key!r} must be a positive integer, got {value!r}")


def _check_choice(spec: dict, key: str, choices) -> None:
    if spec[key] not in choices:
        raise ModelSpecError(f"spec key {key!r} is {spec[key]!r}; expected one of {sorted(choices)}")


def _channel_list(spec: dict) -> list[int]:
    channels = spec["channels"]
    if (
        not isinstance(channels, (list, tuple))
        or not channels
        or not all(isinstance(c, int) and not isinstance(c, bool) and c > 0 for c in channels)
    ):
        raise ModelSpecError(
            f"spec key 'channels' must be a non-empty list of positive integers, got {channels!r}"
        )
    return list(channels)


# ----------------------------------------------------------------------------- workflow helpers


def resolve_device(name: str = "cpu") -> torch.device:
    """``"cpu"``, ``"cuda"`` (refused if no CUDA device is visible) or ``"auto"`` (CUDA when
    available, else the CPU).  Checked when a job runs, not at config time: on a cluster the
    login node that checks the config may have no GPU while the compute nodes do."""
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if name == "cuda" and not torch.cuda.is_available():
        raise ModelSpecError(
            "model key 'device' is 'cuda' but torch sees no CUDA device "
            "(torch.cuda.is_available() is False); use 'auto' to fall back to "
            "the CPU"
        )
    if name not in ("cpu", "cuda"):
        raise ModelSpecError(f"model key 'device' is {name!r}; expected 'auto', 'cpu' or 'cuda'")
    return torch.device(name)


def flat_output(model: nn.Module) -> nn.Module:
    """``model`` with its output flattened to shape ``(B,)``: a model may return ``(B, 1)``,
    which a loss against targets of shape ``(B,)`` would broadcast to ``(B, B)``."""
    return nn.Sequential(model, nn.Flatten(start_dim=0))


#: Version of the checkpoint layout written by :func:`save_checkpoint`.
CHECKPOINT_FORMAT = 1


def save_checkpoint(
    path, model: nn.Module | None, spec: dict | None, input_shape, seed: int, pretrain: dict | None = None
) -> None:
    """Write what rebuilds exactly this network: the spec, the per-sample input shape, the seed
    and the ``state_dict`` (moved to the CPU), with a record of the pretraining if any.
    ``model=None`` records that a problem has no network (a synthetic kernel)."""
    record = {
        "format": CHECKPOINT_FORMAT,
        "spec": spec,
        "seed": int(seed),
        "pretrain": pretrain,
        "input_shape": None if input_shape is None else [int(s) for s in input_shape],
        "state_dict": None
        if model is None
        else {name: t.detach().cpu() for name, t in model.state_dict().items()},
    }
    torch.save(record, path)


def read_checkpoint(path) -> dict:
    """The record :func:`save_checkpoint` wrote (``spec`` is None when there is no network)."""
    record = torch.load(path, map_location="cpu", weights_only=True)
    if not isinstance(record, dict) or record.get("format") != CHECKPOINT_FORMAT:
        raise ValueError(
            f"{path}: not a model checkpoint of format {CHECKPOINT_FORMAT} "
            "(written by sgd_spectra.models.save_checkpoint)"
        )
    return record


def load_model(path, dtype: torch.dtype = torch.float64, device: torch.device | str = "cpu") -> nn.Module:
    """The network saved by :func:`save_checkpoint`, rebuilt from its spec and given the saved
    parameters (cast to ``dtype``), on ``device``."""
    record = read_checkpoint(path)
    if record["spec"] is None:
        raise ValueError(f"{path}: this problem has no network (its kernel is given)")
    model = build_model(record["spec"], record["input_shape"], record["seed"], dtype)
    model.load_state_dict(record["state_dict"])
    return model.to(device)
