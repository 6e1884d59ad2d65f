"""Data loading (IDX, npz, scikit-learn digits) and the synthetic power-law generator."""

import gzip
import struct

import numpy as np
import pytest

from sgd_spectra.datasets import (
    DatasetUnavailable,
    load_diabetes_regression,
    load_digits_regression,
    load_idx_regression,
    load_npz_regression,
    load_regression_dataset,
    power_law_spectrum,
    read_idx,
    size_metadata,
    standardised_tabular,
    synthetic_power_law,
)
from sgd_spectra.spectra import kernel_spectrum


def idx_bytes(array: np.ndarray, type_code: int = 0x08) -> bytes:
    """IDX encoding written from the format description: 0, 0, type, ndim, big-endian dims, data."""
    header = bytes([0, 0, type_code, array.ndim]) + b"".join(struct.pack(">I", s) for s in array.shape)
    big_endian = {0x08: ">u1", 0x09: ">i1", 0x0B: ">i2", 0x0C: ">i4", 0x0D: ">f4", 0x0E: ">f8"}
    return header + array.astype(big_endian[type_code]).tobytes()


def write_idx(path, array, type_code=0x08):
    data = idx_bytes(array, type_code)
    if str(path).endswith(".gz"):
        with gzip.open(path, "wb") as fh:
            fh.write(data)
    else:
        path.write_bytes(data)


def fake_images(n_per_class=12, n_classes=10, shape=(4, 5), seed=0):
    rng = np.random.default_rng(seed)
    labels = np.repeat(np.arange(n_classes), n_per_class).astype(np.uint8)
    labels = labels[rng.permutation(len(labels))]
    images = rng.integers(0, 256, size=(len(labels),) + shape).astype(np.uint8)
    images[:, 0, 0] = labels * 20  # some label-dependent content
    return images, labels


@pytest.mark.parametrize("suffix", ["", ".gz"])
def test_read_idx_round_trip(tmp_path, suffix):
    images, labels = fake_images()
    write_idx(tmp_path / f"img{suffix}", images)
    write_idx(tmp_path / f"lab{suffix}", labels)
    got_images = read_idx(tmp_path / f"img{suffix}")
    got_labels = read_idx(tmp_path / f"lab{suffix}")
    assert got_images.shape == images.shape and got_labels.shape == labels.shape
    np.testing.assert_array_equal(got_images, images)
    np.testing.assert_array_equal(got_labels, labels)


def test_read_idx_other_types(tmp_path):
    x = np.arange(-6, 6, dtype=np.float64).reshape(3, 4) / 7
    write_idx(tmp_path / "f8", x, 0x0E)
    np.testing.assert_array_equal(read_idx(tmp_path / "f8"), x)
    i = np.array([-70000, 5, 70000], dtype=np.int32)
    write_idx(tmp_path / "i4", i, 0x0C)
    np.testing.assert_array_equal(read_idx(tmp_path / "i4"), i)


def test_read_idx_corrupt(tmp_path):
    images, _ = fake_images()
    good = idx_bytes(images)
    (tmp_path / "magic").write_bytes(b"\x01" + good[1:])  # bad magic number
    (tmp_path / "type").write_bytes(good[:2] + b"\x07" + good[3:])  # unknown element type
    (tmp_path / "short").write_bytes(good[:-5])  # truncated data
    for name in ("magic", "type", "short"):
        with pytest.raises(ValueError):
            read_idx(tmp_path / name)


def expected_regression(images, labels, idx):
    flat = images.reshape(len(images), -1).astype(np.float64)
    X = (flat[idx] - flat.mean()) / flat.std()
    y = (labels[idx].astype(np.float64) - labels.mean()) / labels.std()
    return X, y


@pytest.mark.parametrize("gz", [True, False])
def test_load_idx_regression(tmp_path, gz):
    images, labels = fake_images()
    ext = ".gz" if gz else ""
    write_idx(tmp_path / f"train-images-idx3-ubyte{ext}", images)
    write_idx(tmp_path / f"train-labels-idx1-ubyte{ext}", labels)
    X, y, idx = load_idx_regression(50, seed=1, directory=tmp_path)
    assert X.shape == (50, 20) and y.shape == (50,) and len(np.unique(idx)) == 50
    np.testing.assert_array_equal(np.bincount(labels[idx], minlength=10), 5)
    X_ref, y_ref = expected_regression(images, labels, idx)
    np.testing.assert_allclose(X, X_ref, rtol=1e-12)
    np.testing.assert_allclose(y, y_ref, rtol=1e-12)
    # statistics come from the full file, not the subset (which would differ here)
    flat = images[idx].reshape(50, -1).astype(np.float64)
    X_subset_stats = (flat - flat.mean()) / flat.std()
    assert np.abs(X - X_subset_stats).max() > 1e-3
    # same seed, same subset; another seed, another subset
    np.testing.assert_array_equal(load_idx_regression(50, 1, directory=tmp_path)[2], idx)
    assert not np.array_equal(load_idx_regression(50, 2, directory=tmp_path)[2], idx)
    with pytest.raises(ValueError):
        load_idx_regression(200, 1, directory=tmp_path)  # more than 12 per class


def test_load_idx_regression_unbalanced_remainder(tmp_path):
    images, labels = fake_images()
    write_idx(tmp_path / "train-images-idx3-ubyte", images)
    write_idx(tmp_path / "train-labels-idx1-ubyte", labels)
    _, _, idx = load_idx_regression(43, seed=0, directory=tmp_path)
    counts = np.bincount(labels[idx], minlength=10)
    assert counts.sum() == 43 and counts.max() - counts.min() == 1


def test_missing_idx_directory(tmp_path):
    with pytest.raises(DatasetUnavailable, match="apt-get install dataset-fashion-mnist"):
        load_idx_regression(10, 0, directory=tmp_path / "absent")
    with pytest.raises(DatasetUnavailable):
        load_idx_regression(10, 0, candidates=(str(tmp_path / "absent"),))
    # only one of the two files present is not enough
    images, _ = fake_images()
    write_idx(tmp_path / "train-images-idx3-ubyte", images)
    with pytest.raises(DatasetUnavailable):
        load_idx_regression(10, 0, directory=tmp_path)


def test_load_digits_regression():
    from sklearn.datasets import load_digits

    images, labels = load_digits(return_X_y=True)
    X, y, idx = load_digits_regression(200, seed=0)
    assert X.shape == (200, 64) and y.shape == (200,)
    np.testing.assert_array_equal(np.bincount(labels[idx], minlength=10), 20)
    X_ref, y_ref = expected_regression(images, labels, idx)
    np.testing.assert_allclose(X, X_ref, rtol=1e-12)
    np.testing.assert_allclose(y, y_ref, rtol=1e-12)


def test_load_npz_regression(tmp_path):
    images, labels = fake_images(n_per_class=6, n_classes=4, shape=(3, 3), seed=3)
    labels = labels.astype(np.int64)
    path = tmp_path / "data.npz"
    np.savez(path, images=images, labels=labels)
    X, y, idx = load_npz_regression(path, 20, seed=0)
    np.testing.assert_array_equal(np.bincount(labels[idx]), 5)
    X_ref, y_ref = expected_regression(images, labels, idx)
    np.testing.assert_allclose(X, X_ref, rtol=1e-12)
    np.testing.assert_allclose(y, y_ref, rtol=1e-12)
    with pytest.raises(DatasetUnavailable):
        load_npz_regression(tmp_path / "missing.npz", 20, seed=0)


@pytest.mark.parametrize("nu,kappa", [(1.5, 1.0), (2.0, 0.5)])
def test_synthetic_power_law(nu, kappa):
    n = 120
    kernel, e0 = synthetic_power_law(n, nu, kappa, seed=7)
    np.testing.assert_allclose(kernel, kernel.T, atol=1e-15)
    k = np.arange(1, n + 1.0)
    np.testing.assert_allclose(np.sort(np.linalg.eigvalsh(kernel))[::-1], k**-nu, rtol=1e-9, atol=1e-14)
    lam, c = kernel_spectrum(kernel, e0)
    assert c.sum() == pytest.approx(1.0, rel=1e-12)
    assert np.sum(e0**2) == pytest.approx(1.0, rel=1e-12)  # L_0 = 1/(2N)
    expected = k ** -(kappa + 1) / np.sum(k ** -(kappa + 1))
    np.testing.assert_allclose(c, expected, rtol=1e-6, atol=1e-15)
    # the spectrum the workflow saves instead of recovering it: what the eigensolver finds
    known_lam, known_c = power_law_spectrum(n, nu, kappa)
    np.testing.assert_allclose(known_lam, lam, rtol=1e-9, atol=1e-14)
    np.testing.assert_allclose(known_c, c, rtol=1e-6, atol=1e-15)
    # seeds: same seed same problem, another seed a different eigenbasis
    np.testing.assert_array_equal(synthetic_power_law(n, nu, kappa, seed=7)[0], kernel)
    assert not np.allclose(synthetic_power_law(n, nu, kappa, seed=8)[0], kernel)


def test_diabetes_is_standardised_per_feature_over_the_whole_set():
    """All 442 rows (N capped): every raw feature has mean 0 / std 1, and so does the target."""
    from sklearn.datasets import load_diabetes

    raw_X, raw_y = load_diabetes(return_X_y=True, scaled=False)
    X, y, idx = load_diabetes_regression(1000, seed=0)
    assert X.shape == (442, 10) and y.shape == (442,)
    np.testing.assert_array_equal(idx, np.arange(442))
    np.testing.assert_allclose(X.mean(axis=0), 0, atol=1e-12)
    np.testing.assert_allclose(X.std(axis=0), 1, rtol=1e-12)
    assert abs(y.mean()) < 1e-12 and y.std() == pytest.approx(1, rel=1e-12)
    # per feature, not one global scalar: each column is its own affine map of the raw column
    np.testing.assert_allclose(X, (raw_X - raw_X.mean(0)) / raw_X.std(0))
    np.testing.assert_allclose(y, (raw_y - raw_y.mean()) / raw_y.std())


def test_diabetes_subset_is_random_deterministic_and_standardised_on_the_full_set():
    from sklearn.datasets import load_diabetes

    raw_X, raw_y = load_diabetes(return_X_y=True, scaled=False)
    X, y, idx = load_diabetes_regression(200, seed=3)
    X2, y2, idx2 = load_diabetes_regression(200, seed=3)
    np.testing.assert_array_equal(idx, idx2)
    np.testing.assert_array_equal(X, X2)
    assert len(np.unique(idx)) == 200 and not np.array_equal(idx, load_diabetes_regression(200, seed=4)[2])
    # the statistics are those of all 442 rows, so the subset itself is only approximately standardised
    np.testing.assert_allclose(X, ((raw_X - raw_X.mean(0)) / raw_X.std(0))[idx])
    np.testing.assert_allclose(y, ((raw_y - raw_y.mean()) / raw_y.std())[idx])


def test_tabular_subset_is_not_stratified():
    """A random subset: a target taking one value on 90% of the rows is not balanced out."""
    target = np.r_[np.zeros(900), np.ones(100)]
    features = np.random.default_rng(0).standard_normal((1000, 3))
    _, y, _ = standardised_tabular(features, target, 100, seed=0)
    assert np.sum(y > 0) < 30


def test_tabular_n_capped_at_the_rows_with_the_reason_recorded():
    spec = {"name": "diabetes", "kind": "tabular"}
    X, y, idx, source = load_regression_dataset(spec, 1000, 0)
    assert len(y) == 442 and "load_diabetes" in source
    meta = size_metadata("diabetes", 1000, len(y))
    assert meta["n_samples"] == 442 and meta["n_samples_requested"] == 1000
    assert "442" in meta["n_samples_reason"] and "diabetes" in meta["n_samples_reason"]
    assert size_metadata("diabetes", 300, 300) == {"n_samples": 300}
