"""Pretraining: a few epochs on a split of the same dataset, disjoint from the N training samples,
before the kernel is taken (the paper's "pretrained network" setting, in kind).

The split (:func:`pretraining_split`) reuses the dataset's own loader, so its samples are
standardised exactly as the training set is (images by the whole set's pixel mean/std, tabular
data per feature over all rows): it draws ``N + n_pretrain`` samples with a seed of its own
(:func:`pretraining_seed`) and keeps ``n_pretrain`` of those that are not among the N training
samples.  At most N of the draw can be training samples, so at least ``n_pretrain`` remain.

:func:`pretrain` trains with Adam on mini-batches (Adam, so that one learning rate serves every
parametrisation and architecture), either on the regression target (``mse``: 1/2 mean squared
error, the loss the SGD runs use) or as a binary classifier (``cross_entropy``: the scalar
output is the logit of ``y > 0``, i.e. the upper half of the class labels against the lower
half, because every model here has one output).
"""

from __future__ import annotations

import numpy as np

from .datasets import load_regression_dataset

#: Added to the config seed to get the pretraining draw's own stream (recorded in the metadata).
PRETRAIN_SEED_OFFSET = 104_729
LOSSES = ("mse", "cross_entropy")
#: The keys of the config's ``model.pretrain`` and their defaults (the schema states the same).
PRETRAIN_DEFAULTS = {"epochs": 0, "lr": 1e-3, "loss": "mse", "n_samples": 1000, "batch_size": 32}


def pretraining_seed(seed: int) -> int:
    return int(seed) + PRETRAIN_SEED_OFFSET


def pretraining_split(spec: dict, train_indices: np.ndarray, n_pretrain: int, seed: int):
    """``(X, y, indices)`` of ``n_pretrain`` samples of the dataset ``spec`` none of which is in
    ``train_indices`` (indices into the same source), standardised as the training set."""
    n_train = len(train_indices)
    draw_seed = pretraining_seed(seed)
    X, y, indices, _ = load_regression_dataset(spec, n_train + n_pretrain, draw_seed)
    unused = np.flatnonzero(~np.isin(indices, train_indices))
    if len(unused) < n_pretrain:
        # only a dataset smaller than N + n_pretrain (e.g. tabular data, capped at its rows)
        raise ValueError(
            f"model key 'pretrain.n_samples': dataset {spec['name']!r} has only "
            f"{len(unused)} samples besides the {n_train} training samples, "
            f"{n_pretrain} requested"
        )
    keep = np.sort(np.random.default_rng(draw_seed).choice(unused, size=n_pretrain, replace=False))
    return X[keep], y[keep], indices[keep]


def pretrain(
    model, X, y, epochs: int, lr: float, loss: str, batch_size: int, seed: int, device="cpu", log=print
) -> list[float]:
    """Train ``model`` in place (on ``device``, in its own dtype) for ``epochs`` passes over
    ``(X, y)`` in shuffled mini-batches; returns the mean training loss of each epoch.  Raises
    ``ValueError`` naming ``pretrain.lr`` when the loss stops being finite."""
    import torch

    from .models import flat_output

    if loss not in LOSSES:
        raise ValueError(f"model key 'pretrain.loss' is {loss!r}; expected one of {LOSSES}")
    dtype = next(model.parameters()).dtype
    model.to(device)
    net = flat_output(model)
    X = torch.as_tensor(X, dtype=dtype).to(device)
    y = torch.as_tensor(y, dtype=dtype).to(device)
    target = (y > 0).to(dtype) if loss == "cross_entropy" else y
    criterion = (
        torch.nn.BCEWithLogitsLoss()
        if loss == "cross_entropy"
        else lambda out, t: 0.5 * torch.mean((out - t) ** 2)
    )
    optimiser = torch.optim.Adam(model.parameters(), lr=lr)
    order = torch.Generator().manual_seed(pretraining_seed(seed))
    history = []
    for epoch in range(epochs):
        total = 0.0
        for batch in torch.randperm(len(y), generator=order).split(batch_size):
            batch = batch.to(device)
            optimiser.zero_grad(set_to_none=True)
            value = criterion(net(X[batch]), target[batch])
            value.backward()
            optimiser.step()
            total += value.item() * len(batch)
        history.append(total / len(y))
        if not np.isfinite(history[-1]):
            raise ValueError(
                f"model key 'pretrain.lr': pretraining diverged in epoch {epoch + 1} "
                f"(loss {history[-1]}) at lr = {lr}; lower it"
            )
        log(f"pretraining epoch {epoch + 1}/{epochs}: {loss} {history[-1]:.6g}")
    return history
