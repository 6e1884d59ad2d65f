"""Datasets: real images and tabular data as regression problems, and synthetic power-law problems.

Real images (theory.md §12): a class-balanced subset of N images, pixels standardised by the global
scalar mean/std of the whole training set, regression target = the class label standardised by
the mean/std of all training labels.

Real tabular data (theory.md §12, the authors' UCI Bike Sharing / SGEMM preparation): each feature
and the target standardised over the whole dataset, then a random (non-stratified) subset of N
rows.  A dataset with fewer than N rows is used whole (its metadata records why N is smaller).

Synthetic data: a kernel with exact power-law spectrum ``lambda_k = k^-nu`` in a Haar-random
eigenbasis, and an initial error whose output-space coefficients decay as ``k^-(kappa+1)``, so
the tail sums of the coefficients decay exactly as ``k^-kappa`` (the authors' generator).
"""

from __future__ import annotations

import gzip
import os
import struct
from pathlib import Path

import numpy as np

#: Where Debian's ``dataset-fashion-mnist`` package puts the IDX files.
FASHION_MNIST_DIRS = ("/usr/share/datasets/fashion-mnist",)
FASHION_MNIST_FILES = ("train-images-idx3-ubyte", "train-labels-idx1-ubyte")
FASHION_MNIST_INSTALL_HINT = (
    "Fashion-MNIST is not installed. Install Debian's package with\n"
    "    sudo apt-get install dataset-fashion-mnist\n"
    "or download train-images-idx3-ubyte.gz and train-labels-idx1-ubyte.gz from\n"
    "https://github.com/zalandoresearch/fashion-mnist and set `data.fashion_mnist_dir` in the config."
)


class DatasetUnavailable(RuntimeError):
    """A configured dataset cannot be found on this machine (the message says how to get it)."""


def read_idx(path: str | os.PathLike) -> np.ndarray:
    """Read an IDX file (the MNIST format), gzipped or not, into an array of its declared shape."""
    path = Path(path)
    opener = gzip.open if path.suffix == ".gz" else open
    with opener(path, "rb") as fh:
        data = fh.read()
    zero, dtype_code, ndim = struct.unpack(">HBB", data[:4])
    if zero != 0:
        raise ValueError(f"{path}: not an IDX file (bad magic number)")
    dtypes = {0x08: ">u1", 0x09: ">i1", 0x0B: ">i2", 0x0C: ">i4", 0x0D: ">f4", 0x0E: ">f8"}
    if dtype_code not in dtypes:
        raise ValueError(f"{path}: unknown IDX element type 0x{dtype_code:02x}")
    shape = struct.unpack(">" + "I" * ndim, data[4 : 4 + 4 * ndim])
    array = np.frombuffer(data, dtype=dtypes[dtype_code], offset=4 + 4 * ndim)
    if array.size != int(np.prod(shape)):
        raise ValueError(f"{path}: header declares shape {shape} but holds {array.size} elements")
    return array.reshape(shape)


def _find_idx(directory: Path, stem: str) -> Path | None:
    for name in (stem + ".gz", stem):
        if (directory / name).exists():
            return directory / name
    return None


def find_idx_pair(directory: str | os.PathLike | None, candidates=FASHION_MNIST_DIRS):
    """Locate (images, labels) IDX training files in ``directory`` or the default locations."""
    dirs = [Path(directory)] if directory else [Path(d) for d in candidates]
    for d in dirs:
        images, labels = (_find_idx(d, s) for s in FASHION_MNIST_FILES)
        if images is not None and labels is not None:
            return images, labels
    return None


def balanced_subset(labels: np.ndarray, n_samples: int, rng: np.random.Generator) -> np.ndarray:
    """Indices of ``n_samples`` points with (as nearly as possible) equal counts per class."""
    classes = np.unique(labels)
    per_class = np.full(len(classes), n_samples // len(classes))
    per_class[: n_samples % len(classes)] += 1
    chosen = []
    for cls, count in zip(classes, per_class):
        pool = np.flatnonzero(labels == cls)
        if count > len(pool):
            raise ValueError(
                f"class {cls} has {len(pool)} points, {count} requested "
                f"(n_samples={n_samples} is too large for a balanced subset)"
            )
        chosen.append(rng.choice(pool, size=count, replace=False))
    return np.sort(np.concatenate(chosen))


def standardised_regression(images: np.ndarray, labels: np.ndarray, n_samples: int, seed: int):
    """Balanced subset as a regression problem: (X, y, indices), standardised as in §12."""
    images = images.reshape(len(images), -1).astype(np.float64)
    labels = labels.astype(np.float64)
    rng = np.random.default_rng(seed)
    idx = balanced_subset(labels.astype(int), n_samples, rng)
    X = (images[idx] - images.mean()) / images.std()
    y = (labels[idx] - labels.mean()) / labels.std()
    return X, y, idx


def load_digits_regression(n_samples: int, seed: int):
    """scikit-learn's bundled 8x8 digits (1797 images, offline) as a regression problem."""
    from sklearn.datasets import load_digits

    images, labels = load_digits(return_X_y=True)
    return standardised_regression(images, labels, n_samples, seed)


def load_idx_regression(
    n_samples: int, seed: int, directory: str | os.PathLike | None = None, candidates=FASHION_MNIST_DIRS
):
    """Fashion-MNIST (or any MNIST-format IDX copy) as a regression problem."""
    found = find_idx_pair(directory, candidates)
    if found is None:
        raise DatasetUnavailable(FASHION_MNIST_INSTALL_HINT)
    images, labels = (read_idx(p) for p in found)
    return standardised_regression(images, labels, n_samples, seed)


def load_npz_regression(path: str | os.PathLike, n_samples: int, seed: int):
    """A user-supplied copy (MNIST, CIFAR-10, ...) as ``.npz`` with arrays ``images``, ``labels``."""
    path = Path(path)
    if not path.exists():
        raise DatasetUnavailable(
            f"{path} does not exist: point `path` at an .npz file with arrays 'images' and 'labels'"
        )
    with np.load(path) as data:
        return standardised_regression(data["images"], data["labels"], n_samples, seed)


#: Bundled tabular regression datasets (kind "tabular"): name -> number of rows.
TABULAR_DATASETS = {"diabetes": 442}


def tabular_n_samples(name: str, n_requested: int) -> int:
    """N actually used for a tabular dataset: ``n_requested``, capped at the rows it has."""
    return min(int(n_requested), TABULAR_DATASETS[name])


def size_metadata(name: str, n_requested: int, n_used: int) -> dict:
    """What a dataset's metadata records about its size: ``n_samples`` is the N every downstream
    rule works with; when it is below the configured one, the request and the reason too."""
    meta = {"n_samples": int(n_used)}
    if n_used < n_requested:
        meta.update(
            n_samples_requested=int(n_requested),
            n_samples_reason=f"{name} has only {n_used} samples, all of them are used "
            f"(n_samples = {n_requested} configured)",
        )
    return meta


def standardised_tabular(features: np.ndarray, target: np.ndarray, n_samples: int, seed: int):
    """Tabular data as a regression problem: ``(X, y, indices)``.  Every feature and the target
    are standardised by their mean/std over the whole dataset, then a random (non-stratified)
    subset of ``min(n_samples, rows)`` rows is drawn with ``default_rng(seed)``."""
    features = np.asarray(features, dtype=np.float64)
    target = np.asarray(target, dtype=np.float64)
    std = features.std(axis=0)
    if np.any(std == 0):
        raise ValueError(f"constant feature(s) {np.flatnonzero(std == 0).tolist()} cannot be standardised")
    X = (features - features.mean(axis=0)) / std
    y = (target - target.mean()) / target.std()
    n = min(int(n_samples), len(X))
    idx = np.sort(np.random.default_rng(seed).choice(len(X), size=n, replace=False))
    return X[idx], y[idx], idx


def load_diabetes_regression(n_samples: int, seed: int):
    """scikit-learn's bundled diabetes data (442 patients, 10 raw features -- age, sex, BMI, blood
    pressure, six serum measurements -- target: disease progression after one year), offline."""
    from sklearn.datasets import load_diabetes

    features, target = load_diabetes(return_X_y=True, scaled=False)
    return standardised_tabular(features, target, n_samples, seed)


def centred_digits_parity(n_samples: int, seed: int):
    """``(X, y, idx)``: a class-balanced subset of scikit-learn's digits (drawn with
    ``default_rng(seed)``), pixels centred by the subset's mean image, target ``+1`` for even
    digits and ``-1`` for odd ones (the companion studies' binary task; each rescales rows itself)."""
    from sklearn.datasets import load_digits

    images, labels = load_digits(return_X_y=True)
    idx = balanced_subset(labels, n_samples, np.random.default_rng(seed))
    X = images[idx].astype(np.float64)
    X -= X.mean(axis=0)
    return X, np.where(labels[idx] % 2 == 0, 1.0, -1.0), idx


def haar_orthogonal(n: int, rng: np.random.Generator) -> np.ndarray:
    """A Haar-distributed random orthogonal matrix (QR of a Gaussian with the sign fix)."""
    q, r = np.linalg.qr(rng.standard_normal((n, n)))
    return q * np.sign(np.diag(r))


def synthetic_power_law(n_samples: int, nu: float, kappa: float, seed: int):
    """Kernel ``K/N`` with eigenvalues ``k^-nu`` and an initial error with tail exponent kappa.

    Returns ``(kernel_over_n, initial_error)`` with ``sum_k c_k = 1`` (so ``L_0 = 1 / (2N)``),
    matching the authors' ``generate_synthetic_data``.
    """
    eigenvalues, coefficients = power_law_spectrum(n_samples, nu, kappa)
    basis = haar_orthogonal(n_samples, np.random.default_rng(seed))  # columns = eigenvectors
    kernel = (basis * eigenvalues) @ basis.T
    kernel = (kernel + kernel.T) / 2
    return kernel, basis @ np.sqrt(coefficients)


def power_law_spectrum(n_samples: int, nu: float, kappa: float) -> tuple[np.ndarray, np.ndarray]:
    """The spectrum of :func:`synthetic_power_law` as built, without its eigenbasis: eigenvalues
    ``k^-nu`` (descending, the largest 1) and coefficients ``c_k = k^-(kappa+1)`` scaled to sum
    to 1, as :func:`sgd_spectra.spectra.kernel_spectrum` would recover them from the kernel."""
    k = np.arange(1, n_samples + 1, dtype=np.float64)
    coef = k ** (-(kappa + 1) / 2)
    coef /= np.linalg.norm(coef)
    return k**-nu, coef**2


def load_regression_dataset(spec: dict, n_samples: int, seed: int):
    """Dispatch on ``spec['kind']`` (as built by the workflow from the config).

    Returns ``(X, y, indices, source)`` for image and tabular data (a tabular dataset may return
    fewer than ``n_samples`` rows: see :func:`size_metadata`); use :func:`synthetic_power_law`
    for synthetic problems.
    """
    kind = spec["kind"]
    if kind == "tabular":
        if spec.get("source", spec["name"]) != "diabetes":
            raise ValueError(f"unknown tabular dataset {spec.get('source', spec['name'])!r}")
        return (
            *load_diabetes_regression(n_samples, seed),
            "scikit-learn load_diabetes(scaled=False) (bundled), features and target standardised",
        )
    if kind == "digits":
        return (*load_digits_regression(n_samples, seed), "scikit-learn load_digits (bundled)")
    if kind == "fashion_mnist":
        found = find_idx_pair(spec.get("directory"))
        source = f"Fashion-MNIST IDX files in {found[0].parent}" if found else "Fashion-MNIST"
        return (*load_idx_regression(n_samples, seed, spec.get("directory")), source)
    if kind == "user":
        return (*load_npz_regression(spec["path"], n_samples, seed), f"user file {spec['path']}")
    raise ValueError(f"not an image or tabular dataset kind: {kind!r}")
