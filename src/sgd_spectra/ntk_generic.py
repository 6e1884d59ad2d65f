"""Empirical NTK of any scalar-output ``nn.Module``, under a memory cap, and its spectrum.

``K_ij = <d f(x_i)/d theta, d f(x_j)/d theta>`` over every trainable parameter, i.e. ``K = J J^T``
for the ``N x P`` Jacobian ``J``.  The rows of ``J`` come from ``torch.func``
(``vmap(jacrev(f_single))`` over a chunk of samples, ``functional_call`` for the parameters), and
the Gram matrix is accumulated with BLAS ``syrk`` (``K += J_g J_g^T`` computes one triangle: half
the flops of a GEMM).  ``J`` is split into column groups (slices of the flattened parameter
vector) so that one group's ``N x P_g`` block fits the cap; each group is filled a chunk of
samples at a time.  The whole ``J`` is held only when it fits.  Column groups cost one extra pass
of forward and backward each, so the cap trades memory for time; see :func:`plan_chunks`.

:func:`empirical_spectrum` turns the kernel into what the workflow consumes -- eigenvalues of
``K/N`` normalised to ``lambda_max = 1`` and the coefficients ``c_k = <u_k, f0(X) - y>^2`` --
through the project's single homes for those facts, :func:`sgd_spectra.ntk.normalise_kernel`
and :func:`sgd_spectra.spectra.kernel_spectrum`.
"""

from __future__ import annotations

import contextlib
import copy
import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from torch import nn

from sgd_spectra.ntk import NTKTwoLayerMLP, normalise_kernel, ntk_closed_form
from sgd_spectra.spectra import kernel_spectrum

DEFAULT_MEMORY_GB = 2.0
#: Largest sample chunk even when the cap allows more: past ~64 samples the vmapped backward
#: gains nothing per sample and only its working set grows (out of cache).
MAX_SAMPLE_CHUNK = 64
FORWARD_CHUNK = 256  # samples per no-grad forward pass for f0(X)


@dataclass(frozen=True)
class ColumnGroup:
    """Columns ``[start, stop)`` of the flattened parameter vector (named_parameters order).

    ``tensors`` are the parameter tensors those columns belong to; ``offset`` is the column at
    which the first of them starts; ``sample_chunk`` is the number of samples per vmap call."""

    start: int
    stop: int
    tensors: tuple[str, ...]
    offset: int
    sample_chunk: int


@dataclass(frozen=True)
class ChunkPlan:
    n_samples: int
    n_params: int
    itemsize: int
    autograd_bytes_per_sample: int
    groups: tuple[ColumnGroup, ...]

    @property
    def n_chunks(self) -> int:
        return sum(math.ceil(self.n_samples / g.sample_chunk) for g in self.groups)


@dataclass(frozen=True)
class Spectrum:
    """Eigenvalues of ``K/N`` scaled to ``lambda_max = 1`` (descending), the initial error's
    coefficients in the same order, ``scale = N / lambda_max(K)`` and ``N``."""

    eigenvalues: np.ndarray
    coefficients: np.ndarray
    scale: float
    n_samples: int


# ----------------------------------------------------------------------------- preparation


def in_dtype(model: nn.Module, dtype: torch.dtype) -> nn.Module:
    """``model`` itself if every floating parameter and buffer has ``dtype``, else a cast copy
    (the caller's model is never modified)."""
    tensors = list(model.parameters()) + list(model.buffers())
    if all(t.dtype == dtype for t in tensors if t.is_floating_point()):
        return model
    return copy.deepcopy(model).to(dtype)


def trainable_parameters(model: nn.Module) -> dict[str, torch.Tensor]:
    params = {name: p.detach() for name, p in model.named_parameters() if p.requires_grad}
    if not params:
        raise ValueError("model has no trainable parameters; its NTK is zero")
    return params


def autograd_bytes_per_sample(model: nn.Module, params: dict, buffers: dict, x: torch.Tensor) -> int:
    """Bytes autograd saves for the backward pass of one sample ``x`` (a batch of one; parameters
    themselves excluded: they are shared by the chunk).  Views of one tensor saved twice are
    counted twice, which only makes the estimate conservative.  Also refuses a model whose
    output on that sample is not one scalar."""
    from torch.func import functional_call

    live = {name: p.clone().requires_grad_() for name, p in params.items()}
    shared = {p.data_ptr() for p in live.values()}
    total = 0

    def pack(tensor):
        nonlocal total
        if tensor.data_ptr() not in shared:
            total += tensor.numel() * tensor.element_size()
        return tensor

    with torch.enable_grad(), torch.autograd.graph.saved_tensors_hooks(pack, lambda t: t):
        out = functional_call(model, {**live, **buffers}, (x,))
    if not isinstance(out, torch.Tensor) or out.numel() != 1:
        shape = tuple(out.shape) if isinstance(out, torch.Tensor) else type(out).__name__
        raise ValueError(
            f"the NTK needs one scalar output per sample; on one sample the model returned {shape}"
        )
    return total


def column_groups(params: dict, n_groups: int) -> list[tuple[int, int, tuple[str, ...], int]]:
    """Split the flattened parameter vector into ``n_groups`` near-equal column ranges; for each,
    the tensors it touches and the column where the first of them starts."""
    names = list(params)
    starts = np.cumsum([0] + [params[n].numel() for n in names])
    bounds = np.linspace(0, starts[-1], n_groups + 1).round().astype(np.int64)
    groups = []
    for start, stop in zip(bounds[:-1], bounds[1:]):
        first = int(np.searchsorted(starts, start, side="right")) - 1
        last = int(np.searchsorted(starts, stop, side="left")) - 1
        groups.append((int(start), int(stop), tuple(names[first : last + 1]), int(starts[first])))
    return groups


def plan_chunks(
    model: nn.Module, X, dtype: torch.dtype = torch.float64, memory_gb: float = DEFAULT_MEMORY_GB
) -> ChunkPlan:
    """Column groups and sample chunks that keep the NTK computation under ``memory_gb``.

    Arithmetic, with ``b`` bytes per number, N samples, P parameters:

    * held throughout: the kernel accumulator, ``N^2 b`` (``syrk`` fills one triangle, mirrored
      in place at the end), and in float32 the float64 copy returned, ``8 N^2``; the model cast
      to ``dtype`` and its detached parameters, ``2 P b``.  The rest, ``free``, is split in two
      halves;
    * one half holds a column group's Jacobian block, ``N P_g b``, so
      ``P_g <= free / (2 N b)`` and there are ``ceil(P / P_g)`` groups (one when J fits);
    * the other half is the vmap working set of one sample chunk of ``c`` samples:
      ``c (2 A + 2 T_g b)``, with ``A`` the bytes autograd saves per sample (measured on one
      sample; doubled for the gradients flowing back through them) and ``T_g`` the size of the
      tensors the group touches (their per-sample gradients, and the flattened copy).  So
      ``c = floor(free / 2 / (2 A + 2 T_g b))``, clipped to ``[1, min(N, MAX_SAMPLE_CHUNK)]``.

    The granularity is one sample: a model whose single-sample working set exceeds half the cap
    is still run, one sample at a time.
    """
    model = in_dtype(model, dtype)
    params = trainable_parameters(model)
    X = torch.as_tensor(X).to(device=next(iter(params.values())).device, dtype=dtype)
    return plan_for(model, params, dict(model.named_buffers()), X, memory_gb)


def plan_for(model: nn.Module, params: dict, buffers: dict, X: torch.Tensor, memory_gb: float) -> ChunkPlan:
    """:func:`plan_chunks` for a model already in ``X.dtype`` and its detached parameters."""
    n, itemsize = X.shape[0], X.element_size()
    n_params = sum(p.numel() for p in params.values())
    kernel_bytes = n * n * (itemsize + (8 if itemsize != 8 else 0))
    free = memory_gb * 1e9 - kernel_bytes - 2 * n_params * itemsize
    cols = int(free / 2 // (n * itemsize)) if free > 0 else 0
    if cols < 1:
        need = (kernel_bytes + (2 * n_params + 2 * n) * itemsize) / 1e9
        raise ValueError(
            f"memory_gb={memory_gb} is too small for the NTK of {n} samples and "
            f"{n_params} parameters; it needs at least {need:.3g} GB"
        )
    n_groups = math.ceil(n_params / cols)
    act = autograd_bytes_per_sample(model, params, buffers, X[:1])
    groups = []
    for start, stop, tensors, offset in column_groups(params, n_groups):
        touched = sum(params[name].numel() for name in tensors)
        per_sample = 2 * act + 2 * touched * itemsize
        chunk = int(min(max(free / 2 // per_sample, 1), n, MAX_SAMPLE_CHUNK))
        groups.append(ColumnGroup(start, stop, tensors, offset, chunk))
    return ChunkPlan(n, n_params, itemsize, act, tuple(groups))


# ----------------------------------------------------------------------------- Jacobian, Gram


def jacobian_block_fn(model: nn.Module, params: dict, buffers: dict, group: ColumnGroup):
    """``x_chunk -> J[x_chunk, start:stop]``: per-sample gradients of the scalar output with
    respect to the group's tensors only (the others enter as constants), flattened in
    named_parameters order and sliced to the group's columns."""
    from torch.func import functional_call, jacrev, vmap

    fixed = {name: p for name, p in params.items() if name not in group.tensors}
    fixed.update(buffers)
    wrt = {name: params[name] for name in group.tensors}

    def f_single(trainable, x):
        out = functional_call(model, {**fixed, **trainable}, (x.unsqueeze(0),))
        return out.reshape(())  # a model with more than one output per sample fails here

    per_sample = vmap(jacrev(f_single), in_dims=(None, 0))
    lo, hi = group.start - group.offset, group.stop - group.offset

    def block(x_chunk: torch.Tensor) -> torch.Tensor:
        jac = per_sample(wrt, x_chunk)
        flat = [jac[name].reshape(x_chunk.shape[0], -1) for name in group.tensors]
        return (flat[0] if len(flat) == 1 else torch.cat(flat, dim=1))[:, lo:hi]

    return block


class GramAccumulator:
    """``K += J_g J_g^T`` in place.  On the CPU in float32/64 this is BLAS ``syrk`` (scipy's),
    which fills the upper triangle of a Fortran-ordered K at half a GEMM's flops, run with as
    many threads as torch uses; elsewhere ``torch.addmm_``."""

    def __init__(self, n: int, dtype: torch.dtype, device: torch.device):
        from scipy.linalg import blas

        self.syrk = {torch.float64: blas.dsyrk, torch.float32: blas.ssyrk}.get(dtype)
        if device.type != "cpu":
            self.syrk = None
        if self.syrk is None:
            self.kernel = torch.zeros(n, n, dtype=dtype, device=device)
        else:
            self.kernel = np.zeros((n, n), dtype=torch.empty(0, dtype=dtype).numpy().dtype, order="F")

    def add(self, block: torch.Tensor) -> None:
        if self.syrk is None:
            self.kernel.addmm_(block, block.T)
            return
        # block.T is a Fortran-ordered P_g x N view of the C-ordered block: no copy, trans=1
        # gives block @ block.T, and overwrite_c updates the F-ordered kernel in place.
        with blas_threads(torch.get_num_threads()):
            out = self.syrk(1.0, block.numpy().T, beta=1.0, c=self.kernel, trans=1, lower=0, overwrite_c=1)
        if out is not self.kernel:  # scipy copied instead of updating in place
            self.kernel = np.asfortranarray(out)

    def result(self) -> np.ndarray:
        if self.syrk is None:
            return self.kernel.detach().cpu().to(torch.float64).numpy()
        mirror_upper_triangle(self.kernel)
        return self.kernel.astype(np.float64, copy=False)


def mirror_upper_triangle(kernel: np.ndarray, block_elements: int = 1 << 20) -> None:
    """Copy the upper triangle onto the lower one in place, a band of rows at a time, so the
    temporaries stay ~``block_elements`` numbers instead of a second N x N array."""
    n = kernel.shape[0]
    step = max(1, block_elements // n)
    for lo in range(0, n, step):
        hi = min(lo + step, n)
        kernel[lo:hi, :lo] = kernel[:lo, lo:hi].T
        diagonal = kernel[lo:hi, lo:hi]
        diagonal[...] = np.triu(diagonal) + np.triu(diagonal, 1).T


def blas_threads(n_threads: int):
    """Limit scipy's BLAS to ``n_threads`` (threadpoolctl ships with scikit-learn)."""
    try:
        from threadpoolctl import threadpool_limits
    except ImportError:  # pragma: no cover - scikit-learn is a dependency
        return contextlib.nullcontext()
    return threadpool_limits(limits=n_threads, user_api="blas")


def empirical_ntk(
    model: nn.Module,
    X,
    dtype: torch.dtype = torch.float64,
    memory_gb: float = DEFAULT_MEMORY_GB,
    progress: bool = False,
) -> np.ndarray:
    """``K = J J^T`` (N x N, float64) over all trainable parameters of a scalar-output model.

    Computed in ``dtype`` (float64 by default; the model is cast on a copy if needed) with the
    Jacobian split by :func:`plan_chunks` so that peak memory stays near ``memory_gb``.
    ``progress=True`` shows a tqdm bar over the (column group, sample chunk) steps.
    """
    from tqdm.auto import tqdm

    if dtype not in (torch.float32, torch.float64):
        raise ValueError(f"dtype must be torch.float32 or torch.float64, got {dtype}")
    model = in_dtype(model, dtype)
    params = trainable_parameters(model)
    device = next(iter(params.values())).device
    X = torch.as_tensor(X).to(device=device, dtype=dtype)
    buffers = dict(model.named_buffers())
    plan = plan_for(model, params, buffers, X, memory_gb)
    gram = GramAccumulator(plan.n_samples, dtype, device)
    with tqdm(total=plan.n_chunks, desc="empirical NTK", unit="chunk", disable=not progress) as bar:
        for group in plan.groups:
            block_fn = jacobian_block_fn(model, params, buffers, group)
            jac = torch.empty(plan.n_samples, group.stop - group.start, dtype=dtype, device=device)
            for lo in range(0, plan.n_samples, group.sample_chunk):
                hi = min(lo + group.sample_chunk, plan.n_samples)
                jac[lo:hi] = block_fn(X[lo:hi])
                bar.update()
            gram.add(jac)
            del jac
    return gram.result()


# ----------------------------------------------------------------------------- spectrum


def model_kernel(
    model: nn.Module,
    X,
    dtype: torch.dtype = torch.float64,
    memory_gb: float = DEFAULT_MEMORY_GB,
    progress: bool = False,
) -> np.ndarray:
    """The empirical NTK by the fastest exact route: the closed form for the one-hidden-layer
    ReLU network (:class:`~sgd_spectra.ntk.NTKTwoLayerMLP`), :func:`empirical_ntk` otherwise."""
    if isinstance(model, NTKTwoLayerMLP):
        net = in_dtype(model, dtype)
        X = torch.as_tensor(X).to(net.weight.device)
        return ntk_closed_form(net, X).to(torch.float64).cpu().numpy()
    return empirical_ntk(model, X, dtype=dtype, memory_gb=memory_gb, progress=progress)


def kernel_arrays(
    model: nn.Module, X, y, memory_gb: float = DEFAULT_MEMORY_GB, progress: bool = False
) -> dict[str, np.ndarray | float]:
    """What the workflow's NTK stage saves in ``results/ntk/{dataset}.npz``, in float64:
    ``kernel_over_n`` (K/N normalised so that its largest eigenvalue is 1), ``initial_error``
    ``f0(X) - y`` and ``scale = N / lambda_max(K)``; for the closed-form network also its
    ``weight``, ``bias`` and ``readout`` arrays (the file's layout before model checkpoints)."""
    kernel = model_kernel(model, X, dtype=torch.float64, memory_gb=memory_gb, progress=progress)
    kernel_over_n, scale = normalise_kernel(kernel)
    y = np.asarray(y, dtype=np.float64).reshape(-1)
    arrays = {"kernel_over_n": kernel_over_n, "initial_error": model_outputs(model, X) - y, "scale": scale}
    if isinstance(model, NTKTwoLayerMLP):
        arrays.update(
            {name: getattr(model, name).detach().cpu().numpy() for name in ("weight", "bias", "readout")}
        )
    return arrays


def model_outputs(model: nn.Module, X, dtype: torch.dtype = torch.float64) -> np.ndarray:
    """``f(X)`` as N float64 numbers (no grad, in chunks of FORWARD_CHUNK samples)."""
    model = in_dtype(model, dtype)
    device = next(model.parameters()).device
    X = torch.as_tensor(X).to(device=device, dtype=dtype)
    with torch.no_grad():
        outs = [model(X[lo : lo + FORWARD_CHUNK]).reshape(-1) for lo in range(0, X.shape[0], FORWARD_CHUNK)]
    out = torch.cat(outs).to(torch.float64).cpu().numpy()
    if out.shape != (X.shape[0],):
        raise ValueError(
            f"model must return one scalar per sample; got {out.size} numbers for {X.shape[0]} samples"
        )
    return out


def empirical_spectrum(
    model: nn.Module,
    X,
    y,
    dtype: torch.dtype = torch.float64,
    memory_gb: float = DEFAULT_MEMORY_GB,
    progress: bool = False,
) -> Spectrum:
    """The spectrum of ``model``'s empirical NTK on ``X`` and the initial error ``f0(X) - y``.

    Eigenvalues are those of ``K/N`` rescaled so that the largest is 1 (``scale = N /
    lambda_max(K)`` multiplies learning rates of the real network), descending; coefficients are
    ``c_k = <u_k, f0(X) - y>^2`` in the same order."""
    kernel = model_kernel(model, X, dtype=dtype, memory_gb=memory_gb, progress=progress)
    kernel_over_n, scale = normalise_kernel(kernel)
    y = np.asarray(y, dtype=np.float64).reshape(-1)
    initial_error = model_outputs(model, X, dtype) - y
    eigenvalues, coefficients = kernel_spectrum(kernel_over_n, initial_error)
    return Spectrum(eigenvalues, coefficients, float(scale), int(kernel.shape[0]))


def state_dict_path(path) -> Path:
    """Where :func:`save_spectrum` puts the model's ``state_dict``: ``spectrum.pt`` beside
    ``spectrum.npz`` (the same stem)."""
    return Path(path).with_suffix(".pt")


def save_spectrum(path, spectrum: Spectrum, model: nn.Module) -> tuple[Path, Path]:
    """Write ``path`` (an ``.npz`` with exactly eigenvalues, coefficients, scale, n_samples --
    the keys ``kernel_spectrum.py`` writes) and the model's ``state_dict`` beside it."""
    path = Path(path)
    if path.suffix != ".npz":
        raise ValueError(f"spectrum path {str(path)!r} must end in .npz")
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "wb") as fh:  # a file object: np.savez appends nothing to the name
        np.savez(
            fh,
            eigenvalues=spectrum.eigenvalues,
            coefficients=spectrum.coefficients,
            scale=spectrum.scale,
            n_samples=spectrum.n_samples,
        )
    torch.save(model.state_dict(), state_dict_path(path))
    return path, state_dict_path(path)


def load_spectrum(path) -> Spectrum:
    """The :class:`Spectrum` saved by :func:`save_spectrum` (load the state_dict with
    ``torch.load(state_dict_path(path))``)."""
    from sgd_spectra.prediction import read_spectrum_file  # the one reader of the format

    found = read_spectrum_file(path)
    return Spectrum(found["eigenvalues"], found["coefficients"], found["scale"], found["n_samples"])
