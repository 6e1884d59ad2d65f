"""The real network trained for several seeds at once (the batch sequences of :func:`batch_rng`).

:func:`train_networks` gives, seed by seed, what :func:`sgd_spectra.dynamics.train_network` (the
per-seed loop with ``torch.optim.SGD``) gives: the same start (a copy of ``net`` per seed), the
same batches, the same heavy-ball update, the same divergence rule and full-train losses at the
same steps, equal to float32 round-off.  Routes:

* ``"mlp"`` -- the package's MLPs (:class:`~sgd_spectra.ntk.NTKTwoLayerMLP` and
  :class:`~sgd_spectra.models.DeepMLP`: ReLU, tanh or GELU, NTK or standard parametrisation).
  The parameters of all seeds are stacked along a leading seed axis and one step of every seed
  is a few batched matmuls (``bmm``/``baddbmm``): the forward pass, the backward pass written out
  from the layer structure, and the momentum update in place, with the weight gradient
  accumulated straight into the momentum buffer (``buf <- beta buf + grad`` as one ``baddbmm``).
  No autograd graph, no optimizer, no per-step allocation of the gradients.  A seed that
  diverges is dropped from the stack.
* ``"loop"`` -- every other model: :func:`~sgd_spectra.dynamics.train_network` seed by seed.
  (``torch.func.stack_module_state`` + ``vmap(grad)`` was measured slower than this loop on the
  CPU, for the MLP (0.6-0.75x) and for the small CNN; see ``benchmarks/bench_network.py``.)
"""

from __future__ import annotations

import copy
import math

import numpy as np
import torch
from torch import nn
from tqdm import tqdm

from .dynamics import batch_rng, draw_batch, train_network
from .models import ACTIVATIONS, DeepMLP, GaussianLinear
from .ntk import NTKTwoLayerMLP
from .theory import DIVERGENCE_FACTOR, unique_steps

#: Seeds of one stack hold at most this many bytes of state (parameters, momentum buffers and a
#: step's activations); more seeds run in successive stacks.  A step streams the whole state:
#: a stack that stays in the last-level cache is faster per seed than a larger one (measured
#: at N = 1000, d = 64, width 1000, b = 100: 20 seeds in one stack ran at half the speed of 3).
MAX_STACK_BYTES = 12 << 20
#: The batch inputs of at most this many bytes are drawn and gathered at once (a block of steps).
BLOCK_BYTES = 4 << 20

_ACTIVATION_NAMES = {cls: name for name, cls in ACTIVATIONS.items()}


class _Layer:
    """One linear layer of a stacked MLP: ``act(scale * h @ W^T + bias)``; ``bias``/``act`` None
    for the readout.  ``weight`` (S, out, in), ``bias`` (S, 1, out), buffers alike."""

    def __init__(self, weight, bias, scale: float, act: str | None, seeds: int):
        self.weight = weight.detach().unsqueeze(0).repeat(seeds, 1, 1)
        self.bias = None if bias is None else bias.detach().reshape(1, 1, -1).repeat(seeds, 1, 1)
        self.scale = scale
        self.act = act
        self.weight_buf = torch.zeros_like(self.weight)
        self.bias_buf = None if bias is None else torch.zeros_like(self.bias)

    def keep(self, rows: torch.Tensor) -> None:
        """Keep only the seeds at ``rows`` (a diverged seed leaves the stack)."""
        for name in ("weight", "bias", "weight_buf", "bias_buf"):
            value = getattr(self, name)
            if value is not None:
                setattr(self, name, value.index_select(0, rows))


def mlp_layers(net: nn.Module):
    """``[(weight, bias, scale, activation), ...]`` of a network the ``"mlp"`` route trains (the
    readout last, bias and activation None), or None for any other network.  The weights are
    used as ``scale * h @ weight^T``: ``1/sqrt(fan_in)`` in NTK parametrisation, 1 otherwise."""
    if (
        type(net) is nn.Sequential
        and len(net) == 2
        and type(net[1]) is nn.Flatten
        and (net[1].start_dim, net[1].end_dim) == (0, -1)
    ):
        net = net[0]  # models.flat_output
    if type(net) is NTKTwoLayerMLP:
        width, d = net.weight.shape
        return [
            (net.weight, net.bias, 1 / math.sqrt(d), "relu"),
            (net.readout.unsqueeze(0), None, 1 / math.sqrt(width), None),
        ]
    if type(net) is not DeepMLP or type(net.readout) is not GaussianLinear or net.readout.bias is not None:
        return None
    modules = list(net.hidden)
    if len(modules) % 2:
        return None
    layers = []
    for linear, act in zip(modules[::2], modules[1::2]):
        name = _ACTIVATION_NAMES.get(type(act))
        if type(linear) is not GaussianLinear or linear.bias is None or name is None:
            return None
        if name == "gelu":
            name = f"gelu_{act.approximate}"
        layers.append((linear.weight, linear.bias, _scale(linear), name))
    readout = net.readout
    return layers + [(readout.weight, None, _scale(readout), None)]


def _scale(linear: GaussianLinear) -> float:
    return 1 / math.sqrt(linear.fan_in) if linear.ntk else 1.0


def _activate(z: torch.Tensor, act: str) -> torch.Tensor:
    if act == "relu":
        return torch.relu(z)
    if act == "tanh":
        return torch.tanh(z)
    return torch.nn.functional.gelu(z, approximate=act.removeprefix("gelu_"))


def _activation_backward(grad: torch.Tensor, z: torch.Tensor, h: torch.Tensor, act: str) -> torch.Tensor:
    """``d loss / d z`` from ``d loss / d h`` (the derivative torch's autograd uses)."""
    if act == "relu":
        return torch.ops.aten.threshold_backward(grad, h, 0)
    if act == "tanh":
        return torch.ops.aten.tanh_backward(grad, h)
    return torch.ops.aten.gelu_backward(grad, z, approximate=act.removeprefix("gelu_"))


class _StackedMLP:
    """The MLP of ``layers`` (:func:`mlp_layers`) for ``seeds`` seeds at once, with the momentum
    state of ``torch.optim.SGD(lr, momentum)`` (dampening 0, no Nesterov, no weight decay)."""

    def __init__(self, layers, seeds: int):
        self.layers = [_Layer(w, b, c, a, seeds) for w, b, c, a in layers]

    def keep(self, rows: torch.Tensor) -> None:
        for layer in self.layers:
            layer.keep(rows)

    @staticmethod
    def _ones(like: torch.Tensor) -> torch.Tensor:
        """(S, 1, b) ones: ``ones @ grad`` sums a (S, b, n) gradient over the batch."""
        return like.new_ones(()).expand(like.shape[0], 1, like.shape[1])

    def full_outputs(self, X: torch.Tensor) -> torch.Tensor:
        """The network's outputs on all of ``X`` (N, d) for every seed: (S, N), seed by seed
        (one seed's activations are contiguous matrices)."""
        out = torch.empty(self.layers[0].weight.shape[0], X.shape[0], dtype=X.dtype, device=X.device)
        for s in range(len(out)):
            h = X
            for layer in self.layers:
                if layer.bias is None:
                    h = torch.mm(h, layer.weight[s].T)
                    if layer.scale != 1.0:
                        h.mul_(layer.scale)
                else:
                    h = _activate(
                        torch.addmm(layer.bias[s, 0], h, layer.weight[s].T, alpha=layer.scale), layer.act
                    )
            out[s] = h.squeeze(-1)
        return out

    def step(self, xb: torch.Tensor, yb: torch.Tensor, lr: float, momentum: float) -> torch.Tensor:
        """One SGD step of every seed on its batch ``xb`` (S, b, d), ``yb`` (S, b) for the loss
        ``mean((f - y)^2) / 2``; returns the batch losses before the step (S,)."""
        hs, zs = [xb], []
        for layer in self.layers:
            if layer.bias is None:
                z = torch.bmm(hs[-1], layer.weight.transpose(1, 2))
                if layer.scale != 1.0:
                    z.mul_(layer.scale)
            else:
                z = torch.baddbmm(layer.bias, hs[-1], layer.weight.transpose(1, 2), alpha=layer.scale)
            zs.append(z)
            hs.append(z if layer.act is None else _activate(z, layer.act))
        residual = hs[-1].squeeze(-1) - yb
        batch_loss = 0.5 * residual.square().mean(dim=1)
        grad = (residual / residual.shape[1]).unsqueeze(-1)  # d loss / d f, (S, b, 1)
        for i in range(len(self.layers) - 1, -1, -1):
            layer = self.layers[i]
            if layer.act is not None:
                grad = _activation_backward(grad, zs[i], hs[i + 1], layer.act)
            # buf <- momentum * buf + grad, grad = scale * grad_z^T h: one baddbmm; with momentum
            # 0 the old buffer is ignored (baddbmm's beta = 0), as torch.optim.SGD keeps none
            below = None
            if i > 0:
                scaled = grad if layer.scale == 1.0 else grad * layer.scale
                # d loss / d h below, with the weights before this step's update
                below = torch.bmm(scaled, layer.weight)
                layer.weight_buf.baddbmm_(scaled.transpose(1, 2), hs[i], beta=momentum)
            else:
                layer.weight_buf.baddbmm_(grad.transpose(1, 2), hs[i], beta=momentum, alpha=layer.scale)
            layer.weight.add_(layer.weight_buf, alpha=-lr)
            if layer.bias is not None:  # the same for the bias, its gradient the sum over the batch
                layer.bias_buf.baddbmm_(self._ones(grad), grad, beta=momentum)
                layer.bias.add_(layer.bias_buf, alpha=-lr)
            grad = below
        return batch_loss


def train_networks(
    net: nn.Module,
    X,
    y,
    lr: float,
    momentum: float,
    batch_size: int,
    seeds,
    record_steps,
    base_seed: int = 0,
    progress: bool = False,
    route: str = "auto",
):
    """Train a copy of ``net`` for each of ``seeds`` (``torch.optim.SGD(lr, momentum)`` on 1/2 MSE,
    mini-batches of ``batch_size`` from :func:`batch_rng` of each seed), seeds stacked when the
    network allows it (module docstring).  ``net`` is left as it is.

    Returns ``(loss, diverged_at)``: loss (seeds, len(record_steps)), the full-train loss
    ``|f(X) - y|^2 / (2N)`` at ``record_steps`` and ``inf`` from the divergence on; per seed the
    divergence step or -1.  Divergence as in :func:`~sgd_spectra.dynamics.train_network`: the
    full loss at a record step, or ``b/N`` times the batch loss at any step, not finite or above
    ``DIVERGENCE_FACTOR`` times the initial loss.  ``route``: ``"auto"``, ``"mlp"`` or ``"loop"``.
    """
    seeds = [int(s) for s in seeds]
    layers = mlp_layers(net) if route in ("auto", "mlp") else None
    if route == "mlp" and layers is None:
        raise ValueError(f"route 'mlp' cannot train a {type(net).__name__}")
    if route not in ("auto", "mlp", "loop"):
        raise ValueError(f"route is {route!r}; expected 'auto', 'mlp' or 'loop'")
    if layers is None:
        results = [
            train_network(
                copy.deepcopy(net), X, y, lr, momentum, batch_size, s, record_steps, base_seed, progress
            )
            for s in seeds
        ]
        return np.array([r[0] for r in results]).reshape(len(seeds), -1), np.array(
            [r[1] for r in results], dtype=np.int64
        )
    per_seed = 2 * sum(w.numel() + (0 if b is None else b.numel()) for w, b, _, _ in layers)
    per_seed += 3 * batch_size * sum(w.shape[0] for w, _, _, _ in layers)  # z, h and their gradient
    per_stack = max(1, MAX_STACK_BYTES // (per_seed * layers[0][0].element_size()))
    weight = layers[0][0]
    Xt = torch.as_tensor(X, dtype=weight.dtype, device=weight.device)
    yt = torch.as_tensor(y, dtype=weight.dtype, device=weight.device)
    with torch.no_grad():  # as the loop computes it
        limit = DIVERGENCE_FACTOR * float(0.5 * torch.mean((net(Xt) - yt) ** 2))
    parts = [
        _train_stacked(
            layers,
            Xt,
            yt,
            lr,
            momentum,
            batch_size,
            seeds[i : i + per_stack],
            record_steps,
            limit,
            base_seed,
            progress,
        )
        for i in range(0, len(seeds), per_stack)
    ]
    return np.concatenate([p[0] for p in parts]), np.concatenate([p[1] for p in parts])


def _train_stacked(layers, Xt, yt, lr, momentum, batch_size, seeds, record_steps, limit, base_seed, progress):
    """The ``"mlp"`` route for one stack of seeds.

    Steps run in blocks that end before a record step (at most :data:`BLOCK_BYTES` of batch
    inputs): a block's batches are drawn and gathered at once, and its batch losses checked at
    its end.  A seed that diverges inside a block runs on to the block's end (its numbers stay
    in its own rows) and then leaves the stack, its divergence step the first bad one."""
    device = Xt.device
    n = len(yt)
    record_steps, inverse = unique_steps(record_steps)
    loss = np.full((len(seeds), len(record_steps)), np.inf)
    diverged_at = np.full(len(seeds), -1, dtype=np.int64)
    per_step = len(seeds) * batch_size * Xt[0].numel() * Xt.element_size()
    longest = max(1, BLOCK_BYTES // per_step)
    bar = tqdm(
        total=int(record_steps[-1]),
        desc=f"network b={batch_size} {len(seeds)} seeds",
        mininterval=5,
        disable=not progress,
    )
    with torch.no_grad(), bar:
        model = _StackedMLP(layers, len(seeds))
        live = np.arange(len(seeds))  # the seeds (rows of loss) still in the stack
        rngs = [batch_rng(base_seed, s, batch_size) for s in seeds]
        t = 0
        for rec, until in enumerate(record_steps):
            while t < until:  # steps t .. stop - 1, then check them
                stop = min(int(until), t + longest)
                idx = np.stack(
                    [[draw_batch(rngs[i], n, batch_size) for _ in range(t, stop)] for i in live], 1
                )
                idx = torch.as_tensor(idx, device=device)  # (steps, seeds, b)
                xs, ys = Xt[idx], yt[idx]
                batch_loss = torch.stack([model.step(xs[k], ys[k], lr, momentum) for k in range(stop - t)])
                batch_loss = batch_loss.cpu().double().numpy()
                # the batch loss is an unbiased estimate of the full loss: b/N of it bounds it below
                bad = ~(np.isfinite(batch_loss) & (batch_loss * batch_size / n <= limit))
                ok = ~bad.any(axis=0)
                diverged_at[live[~ok]] = t + bad[:, ~ok].argmax(axis=0)
                live = _drop(model, live, ok, device)
                bar.update(stop - t)
                t = stop
                if len(live) == 0:
                    return loss[:, inverse], diverged_at
            full = (0.5 * torch.mean((model.full_outputs(Xt) - yt) ** 2, dim=1)).cpu().double().numpy()
            ok = np.isfinite(full) & (full <= limit)
            loss[live[ok], rec] = full[ok]
            diverged_at[live[~ok]] = t
            live = _drop(model, live, ok, device)
            if len(live) == 0:
                break
    return loss[:, inverse], diverged_at


def _drop(model: _StackedMLP, live: np.ndarray, ok: np.ndarray, device) -> np.ndarray:
    """The seeds of ``live`` that are ``ok``; the others leave the stack."""
    if ok.all():
        return live
    model.keep(torch.as_tensor(np.flatnonzero(ok), device=device))
    return live[ok]
