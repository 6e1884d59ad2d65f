"""Seed 004 (:mod:`.which_minimizer`): the binary regression task, unit-norm inputs and targets ±1."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from ..datasets import (
    FASHION_MNIST_INSTALL_HINT,
    DatasetUnavailable,
    balanced_subset,
    find_idx_pair,
    read_idx,
)


def _unit_rows(X: np.ndarray) -> np.ndarray:
    return X / np.linalg.norm(X, axis=1, keepdims=True)


def pool_images(images: np.ndarray) -> np.ndarray:
    """(N, 28, 28) images -> (N, 196): 2x2 average pooling to 14x14, flattened."""
    n, h, w = images.shape
    pooled = images.astype(np.float64).reshape(n, h // 2, 2, w // 2, 2).mean(axis=(2, 4))
    return pooled.reshape(n, -1)


def _binary_split(
    labels: np.ndarray,
    n_train: int,
    n_test: int,
    rng: np.random.Generator,
    test_labels: np.ndarray | None = None,
):
    """Balanced train indices among classes 0/1 and balanced test indices: from ``test_labels``
    (a separate test file) when given, else from the remaining points of ``labels``.  The test
    set has ``min(n_test, 2 * smaller class)`` points, so it stays balanced when the pool is short."""
    pool = np.flatnonzero(labels < 2)
    train = pool[balanced_subset(labels[pool], n_train, rng)]
    if test_labels is None:
        test_pool, test_labels = np.setdiff1d(pool, train), labels
    else:
        test_pool = np.flatnonzero(test_labels < 2)
    n_take = min(n_test, 2 * int(np.bincount(test_labels[test_pool], minlength=2).min()))
    test = test_pool[balanced_subset(test_labels[test_pool], n_take, rng)]
    return train, test


def _fashion_test_files(directory: Path):
    """The t10k (images, labels) IDX files in ``directory`` (gzipped or not), or None."""
    paths = []
    for stem in ("t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"):
        hits = [directory / (stem + ext) for ext in (".gz", "") if (directory / (stem + ext)).exists()]
        if not hits:
            return None
        paths.append(hits[0])
    return tuple(paths)


def load_task(dataset: str, fashion_mnist_dir: str | None, n_train: int, n_test: int, data_seed: int) -> dict:
    """The binary regression task: unit-norm inputs, targets +1 (class 1) / -1 (class 0).

    ``dataset``: "fashion_mnist" (T-shirt 0 vs Trouser 1, 2x2-pooled to 14x14; raises
    :class:`DatasetUnavailable` when the IDX files are missing), "digits" (scikit-learn 8x8
    digits 0 vs 1) or "auto" (Fashion-MNIST when found, else digits).  ``fashion_mnist_dir``, when
    set, is the only directory searched; None means Debian's location.  Test points come from
    the t10k files when present, else they are disjoint from the training points.
    """
    rng = np.random.default_rng(data_seed)
    found = find_idx_pair(fashion_mnist_dir) if dataset in ("fashion_mnist", "auto") else None
    if dataset == "fashion_mnist" and found is None:
        raise DatasetUnavailable(FASHION_MNIST_INSTALL_HINT)
    if found is not None:
        images, labels = (read_idx(p) for p in found)
        test_files = _fashion_test_files(Path(found[0]).parent)
        if test_files is not None:
            test_images, test_labels = (read_idx(p) for p in test_files)
            train, test = _binary_split(labels, n_train, n_test, rng, test_labels)
            X_test, t_test = pool_images(test_images[test]), test_labels[test]
            source = f"Fashion-MNIST in {found[0].parent} (test: t10k)"
        else:
            train, test = _binary_split(labels, n_train, n_test, rng)
            X_test, t_test = pool_images(images[test]), labels[test]
            source = f"Fashion-MNIST in {found[0].parent} (test: disjoint training images)"
        X_train, t_train = pool_images(images[train]), labels[train]
        name = "Fashion-MNIST T-shirt vs Trouser"
    else:
        from sklearn.datasets import load_digits

        images, labels = load_digits(return_X_y=True)
        train, test = _binary_split(labels, n_train, n_test, rng)
        X_train, t_train = images[train].astype(np.float64), labels[train]
        X_test, t_test = images[test].astype(np.float64), labels[test]
        name = "digits 0 vs 1"
        source = "scikit-learn load_digits" + (" (Fashion-MNIST not found)" if dataset == "auto" else "")
    return dict(
        X_train=_unit_rows(X_train),
        y_train=np.where(t_train == 1, 1.0, -1.0),
        X_test=_unit_rows(X_test),
        y_test=np.where(t_test == 1, 1.0, -1.0),
        dataset=name,
        source=source,
    )
