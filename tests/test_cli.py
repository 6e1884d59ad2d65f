"""`sgd-spectra predict` and `sweep`: the numbers they print are the library's, the exit status says
converges (0) / diverges (3) / bad input (2), and --help loads nothing heavy."""

import csv
import io
import json
import re
import subprocess
import sys

import numpy as np
import pytest

from sgd_spectra.cli import main


def run(args):
    out = subprocess.run([sys.executable, "-m", "sgd_spectra.cli", *args], capture_output=True, text=True)
    return out.returncode, out.stdout, out.stderr


@pytest.fixture
def spectrum_files(tmp_path):
    k = np.arange(1, 501, dtype=float)
    lam, c = k**-1.5, k**-2.0
    np.save(tmp_path / "lam.npy", lam)
    np.savetxt(tmp_path / "c.txt", c)
    return tmp_path / "lam.npy", tmp_path / "c.txt", lam, c


def test_predict_json_matches_independent_simulation(spectrum_files, capsys):
    lam_file, c_file, lam, c = spectrum_files
    assert (
        main(
            [
                "predict",
                "--eigenvalues",
                str(lam_file),
                "--coefficients",
                str(c_file),
                "--batch-size",
                "10",
                "--lr",
                "0.8",
                "--momentum",
                "0.3",
                "--steps",
                "0,1,10,100",
                "--json",
            ]
        )
        == 0
    )
    out = json.loads(capsys.readouterr().out)
    loss = {p["step"]: p["loss"] for p in out["loss"]}
    for key in ("gamma", "lambda_crit", "u1", "lr_critical", "stable", "phase", "nu", "kappa", "v1", "loss"):
        assert key in out
    assert out["gamma"] == pytest.approx((500 - 10) / (10 * 499))
    assert out["nu"] == pytest.approx(1.5, abs=1e-6)
    # kappa is the local tail-sum slope on the modes resolved by t = 100 (S_k = sum_{l=k}^{500} l^-2)
    k_lo, k_hi = out["fit_range"]
    k = np.arange(k_lo, k_hi + 1)
    tails = np.array([np.sum(np.arange(j, 501.0) ** -2.0) for j in k])
    assert out["kappa"] == pytest.approx(-np.polyfit(np.log(k), np.log(tails), 1)[0], abs=0.01)
    assert out["late_time_slope"] == pytest.approx(-out["kappa"] / 1.5, rel=1e-6)
    assert out["phase"] == "signal-dominated" and out["stable"] is True
    assert loss[0] == pytest.approx(c.sum() / (2 * 500))
    # the loss at t=1 by hand: one SE step from C = c, J = V = 0
    a, g = 0.8 * lam, out["gamma"]
    c1 = (1 - a) ** 2 * c + g * a**2 * (c.sum() - c)
    assert loss[1] == pytest.approx(c1.sum() / 1000, rel=1e-12)
    # the critical learning rate: U(1) = 1 there, by the independent closed form of eq. 21
    lr_c, b = out["lr_critical"], 0.3
    u = g * np.sum(lr_c * lam * (1 + b) / (2 * (1 - b * b) - lr_c * lam * ((1 - b) - g * (1 + b))))
    assert u == pytest.approx(1.0, rel=1e-8) or lr_c == pytest.approx(2 * (1 + b))


def test_predict_exit_status_says_converges_or_diverges(spectrum_files):
    lam_file, c_file, *_ = spectrum_files
    spectrum = ["predict", "--eigenvalues", str(lam_file), "--coefficients", str(c_file)]
    code, out, _ = run(spectrum + ["--batch-size", "10", "--lr", "0.5"])
    assert code == 0 and "STABLE: the loss converges" in out
    code, out, _ = run(spectrum + ["--batch-size", "1", "--lr", "1.5"])
    assert code == 3 and "UNSTABLE" in out and "divergence time" in out
    code, out, _ = run(spectrum + ["--batch-size", "1", "--lr", "1.5", "--json"])
    assert code == 3 and json.loads(out)["stable"] is False


def test_json_writes_non_finite_numbers_as_null(spectrum_files):
    lam_file, c_file, *_ = spectrum_files
    # b = 10, lr = 3: past the pole of U(1) (2 - lr (1 - gamma) < 0), so U(1), V(1) and late losses are infinite
    code, out, _ = run(
        [
            "predict",
            "--eigenvalues",
            str(lam_file),
            "--coefficients",
            str(c_file),
            "--batch-size",
            "10",
            "--lr",
            "3",
            "--steps",
            "0,1,1000",
            "--json",
        ]
    )
    assert code == 3
    assert "Infinity" not in out and "NaN" not in out and '"inf"' not in out
    result = json.loads(out)
    assert result["u1"] is None and result["v1"] is None
    assert [p["step"] for p in result["loss"]] == [0, 1, 1000]
    assert all(set(p) == {"step", "loss"} for p in result["loss"])
    assert isinstance(result["loss"][0]["loss"], float) and result["loss"][-1]["loss"] is None
    # no coefficients: what needs them is absent, what cannot be computed is null
    code, out, _ = run(
        [
            "predict",
            "--eigenvalues",
            str(lam_file),
            "--batch-size",
            "10",
            "--lr",
            "0.5",
            "--tau",
            "-1",
            "--json",
        ]
    )
    result = json.loads(out)
    assert code == 0 and "loss" not in result and result["lambda_crit"] is None and result["kappa"] is None


def test_version():
    from importlib.metadata import version

    code, out, _ = run(["--version"])
    assert code == 0 and out.strip() == f"sgd-spectra {version('sgd-spectra')}"


@pytest.mark.parametrize("command", ["predict", "sweep"])
def test_help_shows_every_default_and_the_exit_status(command):
    code, out, _ = run([command, "--help"])
    assert code == 0 and '3 when it is "diverges"' in out and "null" in out
    options = re.split(r"\n  (?=--)", out.split("options:")[1].split("\n\n")[0])[1:]
    assert len(options) >= 8
    for text in options:
        assert "(default:" in text or "(required)" in text, text
    assert "(default: 1.0)" in out and "(default: 1,10,100,1000,10000)" in out


def test_help_loads_no_heavy_module():
    """The lean CLI promise: --help imports neither the theory's numba/scipy.optimize nor the workflow's packages."""
    code = (
        "import sys\nfrom sgd_spectra.cli import main\ntry:\n    main(['predict', '--help'])\n"
        "except SystemExit:\n    pass\n"
        "heavy = ('torch', 'pandas', 'snakemake', 'scipy.optimize', 'numba', 'pyarrow')\n"
        "print(sorted(m for m in sys.modules if m.split('.')[0] in heavy or m.startswith('scipy.optimize')))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip().splitlines()[-1] == "[]"


def read_sweep(text):
    """The sweep CSV as a list of dicts of floats; an empty cell (the CSV's null) as None."""
    rows = list(csv.DictReader(io.StringIO(text)))
    return [
        {k: (None if v == "" else v == "True" if k == "stable" else float(v)) for k, v in r.items()}
        for r in rows
    ]


def test_sweep_rows_equal_predict_per_cell(spectrum_files, tmp_path, capsys):
    lam_file, c_file, *_ = spectrum_files
    spectrum = ["--eigenvalues", str(lam_file), "--coefficients", str(c_file), "--steps", "10,100,1000"]
    out_file = tmp_path / "sweep.csv"
    code, out, _ = run(
        [
            "sweep",
            *spectrum,
            "--lrs",
            "0.5,1.5",
            "--momenta",
            "0,0.5",
            "--batch-sizes",
            "1,10",
            "--out",
            str(out_file),
        ]
    )
    assert code == 0 and out == ""
    rows = read_sweep(out_file.read_text())
    assert [(r["batch"], r["lr"], r["momentum"]) for r in rows] == [
        (b, lr, m) for b in (1, 10) for lr in (0.5, 1.5) for m in (0, 0.5)
    ]
    assert list(rows[0]) == [
        "batch",
        "lr",
        "momentum",
        "gamma",
        "u1",
        "stable",
        "lr_critical",
        "loss_t10",
        "loss_t100",
        "loss_t1000",
    ]
    assert {r["stable"] for r in rows} == {True, False}  # the grid holds both verdicts
    assert any(r["loss_t1000"] is None for r in rows)  # and a diverged loss
    for r in rows:  # the independent path: one predict per cell
        assert main(
            [
                "predict",
                *spectrum,
                "--batch-size",
                str(int(r["batch"])),
                "--lr",
                str(r["lr"]),
                "--momentum",
                str(r["momentum"]),
                "--json",
            ]
        ) == (0 if r["stable"] else 3)
        p = json.loads(capsys.readouterr().out)
        assert r["stable"] == p["stable"]
        for key in ("gamma", "u1", "lr_critical"):
            assert r[key] == pytest.approx(p[key], rel=1e-12)
        for point in p["loss"]:
            expected = r[f"loss_t{point['step']}"]
            assert (expected is None and point["loss"] is None) or expected == pytest.approx(
                point["loss"], rel=1e-9
            )


def test_sweep_writes_stdout_without_out(spectrum_files):
    lam_file, c_file, *_ = spectrum_files
    code, out, _ = run(
        [
            "sweep",
            "--eigenvalues",
            str(lam_file),
            "--coefficients",
            str(c_file),
            "--lrs",
            "0.5",
            "--batch-sizes",
            "10",
            "--steps",
            "100",
        ]
    )
    assert code == 0 and len(read_sweep(out)) == 1 and read_sweep(out)[0]["momentum"] == 0.0


@pytest.mark.parametrize(
    "extra, message",
    [
        (["--lrs", "0.5,x"], "--lrs"),
        (["--lrs", "0.5,-1"], "--lrs"),
        (["--momenta", "0,1"], "--momenta"),
        (["--batch-sizes", "1,2.5"], "--batch-sizes"),
        (["--batch-sizes", "1,501"], "--batch-sizes"),
        (["--steps", "10,-1"], "--steps"),
        (["--out", "/nonexistent/dir/sweep.csv"], "--out"),
    ],
)
def test_sweep_bad_value_names_the_option(spectrum_files, extra, message):
    lam_file, c_file, *_ = spectrum_files
    args = {"--lrs": "0.5", "--momenta": "0", "--batch-sizes": "10"}
    args.update(dict(zip(extra[::2], extra[1::2])))
    code, out, err = run(
        [
            "sweep",
            "--eigenvalues",
            str(lam_file),
            "--coefficients",
            str(c_file),
            *[x for kv in args.items() for x in kv],
        ]
    )
    assert code == 2 and out == ""
    assert len(err.strip().splitlines()) == 1 and message in err and "Traceback" not in err


@pytest.mark.parametrize(
    "extra, message",
    [
        (["--momentum", "1.0"], "momentum"),
        (["--momentum", "-1.5"], "momentum"),
        (["--batch-size", "0"], "batch-size"),
        (["--lr", "-1"], "lr"),
        (["--eigenvalues", "/nonexistent.npy"], "not found"),
    ],
)
def test_bad_input_is_one_line_and_exit_2(spectrum_files, extra, message):
    lam_file, c_file, *_ = spectrum_files
    args = ["predict", "--eigenvalues", str(lam_file), "--batch-size", "10", "--lr", "0.5"] + extra
    code, out, err = run(args)
    assert code == 2 and out == ""
    assert len(err.strip().splitlines()) == 1 and message in err and "Traceback" not in err


def test_bad_files_are_one_line_and_exit_2(tmp_path, spectrum_files):
    lam_file, *_ = spectrum_files
    bad = tmp_path / "bad.txt"
    for content, message in (
        ("1\n0.5\nnan\n", "NaN"),
        ("1\n-0.5\n", "non-negative"),
        ("1\nabc\n", "cannot read"),
    ):
        bad.write_text(content)
        code, _, err = run(["predict", "--eigenvalues", str(bad), "--batch-size", "1", "--lr", "0.5"])
        assert code == 2 and message in err and len(err.strip().splitlines()) == 1
    short = tmp_path / "short.txt"
    short.write_text("1\n0.5\n")
    code, _, err = run(
        [
            "predict",
            "--eigenvalues",
            str(lam_file),
            "--coefficients",
            str(short),
            "--batch-size",
            "1",
            "--lr",
            "0.5",
        ]
    )
    assert code == 2 and "lengths must match" in err
    code, _, err = run(["predict", "--batch-size", "1"])
    assert code == 2 and "required" in err and len(err.strip().splitlines()) == 1


# ----------------------------------------------------------------------------- your own model

USER_MODELS = '''
import torch
from torch import nn


class TinyCNN(nn.Module):
    """Not a model of the package: 1x6x6 images, one conv, a linear readout."""

    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(1, 3, 3)
        self.readout = nn.Linear(3 * 4 * 4, 1)

    def forward(self, x):
        return self.readout(torch.tanh(self.conv(x)).flatten(1))


def make_model():
    return TinyCNN()


def vector_output():
    return nn.Sequential(nn.Flatten(), nn.Linear(36, 2))


def broken():
    raise RuntimeError("this factory fails")
'''


@pytest.fixture
def user_model(tmp_path):
    (tmp_path / "my_net.py").write_text(USER_MODELS)
    rng = np.random.default_rng(0)
    X = rng.standard_normal((40, 1, 6, 6))
    np.savez(tmp_path / "data.npz", X=X, y=X[:, 0, 2, 3] - X[:, 0, 4, 1])
    np.savez(tmp_path / "no_y.npz", X=X)
    return tmp_path


def run_in(cwd, args):
    out = subprocess.run(
        [sys.executable, "-m", "sgd_spectra.cli", *args], capture_output=True, text=True, cwd=cwd
    )
    return out.returncode, out.stdout, out.stderr


def test_spectrum_of_your_own_model_then_predict(user_model):
    code, out, err = run_in(
        user_model,
        ["spectrum", "--model", "my_net.py:make_model", "--data", "data.npz", "--out", "spec/mine.npz"],
    )
    assert code == 0, err
    assert "N = 40 samples" in out and (user_model / "spec" / "mine.pt").exists()
    with np.load(user_model / "spec" / "mine.npz") as spec:
        assert sorted(spec.files) == ["coefficients", "eigenvalues", "n_samples", "scale"]
        assert spec["eigenvalues"][0] == pytest.approx(1.0) and int(spec["n_samples"]) == 40
        lam, c = spec["eigenvalues"], spec["coefficients"]
    code, out, err = run_in(
        user_model,
        [
            "predict",
            "--spectrum",
            "spec/mine.npz",
            "--batch-size",
            "8",
            "--lr",
            "0.5",
            "--momentum",
            "0.9",
            "--steps",
            "0,10",
            "--json",
        ],
    )
    assert code in (0, 3), err
    result = json.loads(out)
    assert result["n_samples"] == 40 and result["gamma"] == pytest.approx((40 - 8) / (8 * 39))
    assert result["loss"][0]["loss"] == pytest.approx(c.sum() / 80)
    # the same numbers from the eigenvalue and coefficient files
    np.save(user_model / "lam.npy", lam)
    np.save(user_model / "c.npy", c)
    _, same, _ = run_in(
        user_model,
        [
            "predict",
            "--eigenvalues",
            "lam.npy",
            "--coefficients",
            "c.npy",
            "--batch-size",
            "8",
            "--lr",
            "0.5",
            "--momentum",
            "0.9",
            "--steps",
            "0,10",
            "--json",
        ],
    )
    assert json.loads(same) == result


def test_spectrum_subset_seed_and_dtype(user_model):
    args = [
        "spectrum",
        "--model",
        "my_net.py:make_model",
        "--data",
        "data.npz",
        "--n-samples",
        "20",
        "--seed",
        "3",
        "--dtype",
        "float32",
        "--memory-gb",
        "0.1",
    ]
    assert run_in(user_model, args + ["--out", "a.npz"])[0] == 0
    assert run_in(user_model, args + ["--out", "b.npz"])[0] == 0
    with np.load(user_model / "a.npz") as a, np.load(user_model / "b.npz") as b:
        assert int(a["n_samples"]) == 20
        np.testing.assert_array_equal(a["eigenvalues"], b["eigenvalues"])  # same seed, same spectrum


@pytest.mark.parametrize(
    "args, message",
    [
        (["--model", "my_net.py:vector_output", "--data", "data.npz"], "one scalar per sample"),
        (["--model", "my_net.py:broken", "--data", "data.npz"], "this factory fails"),
        (["--model", "nowhere.py:make_model", "--data", "data.npz"], "nowhere.py"),
        (["--model", "my_net.py:make_model", "--data", "missing.npz"], "--data file not found"),
        (["--model", "my_net.py:make_model", "--data", "no_y.npz"], "'X' and 'y'"),
        (["--model", "my_net.py:make_model", "--data", "data.npz", "--n-samples", "41"], "--n-samples"),
    ],
)
def test_spectrum_bad_input_is_one_line_and_exit_2(user_model, args, message):
    code, out, err = run_in(user_model, ["spectrum", *args, "--out", "x.npz"])
    assert code == 2 and out == "" and "Traceback" not in err
    assert len(err.strip().splitlines()) == 1 and message in err
    assert not (user_model / "x.npz").exists()


def test_spectrum_option_excludes_the_eigenvalue_files(spectrum_files, tmp_path):
    lam_file, c_file, lam, c = spectrum_files
    np.savez(tmp_path / "s.npz", eigenvalues=lam, coefficients=c, n_samples=len(lam))
    setting = ["--batch-size", "10", "--lr", "0.5"]
    code, _, err = run(
        ["predict", "--spectrum", str(tmp_path / "s.npz"), "--eigenvalues", str(lam_file), *setting]
    )
    assert code == 2 and "mutually exclusive" in err
    code, _, err = run(["predict", *setting])
    assert code == 2 and "--spectrum" in err and len(err.strip().splitlines()) == 1
    code, _, err = run(["predict", "--spectrum", str(tmp_path / "missing.npz"), *setting])
    assert code == 2 and "not found" in err
    np.savez(tmp_path / "bad.npz", eigenvalues=lam)
    code, _, err = run(["predict", "--spectrum", str(tmp_path / "bad.npz"), *setting])
    assert code == 2 and "coefficients" in err
    code, out, _ = run(
        ["sweep", "--spectrum", str(tmp_path / "s.npz"), "--lrs", "0.5", "--batch-sizes", "10"]
    )
    assert code == 0 and len(read_sweep(out)) == 1
    code, _, err = run(["sweep", "--eigenvalues", str(lam_file), "--lrs", "0.5", "--batch-sizes", "10"])
    assert code == 2 and "coefficients" in err


def test_python_api_predict_matches_the_command(spectrum_files, tmp_path, capsys):
    lam_file, c_file, lam, c = spectrum_files
    np.savez(tmp_path / "s.npz", eigenvalues=lam, coefficients=c, n_samples=len(lam), scale=2.0)
    import sgd_spectra

    result = sgd_spectra.predict(tmp_path / "s.npz", lr=0.8, momentum=0.3, batch_size=10, steps=[10, 100])
    assert isinstance(result, sgd_spectra.Prediction) and result.torch_lr == pytest.approx(1.6)
    main(
        [
            "predict",
            "--spectrum",
            str(tmp_path / "s.npz"),
            "--batch-size",
            "10",
            "--lr",
            "0.8",
            "--momentum",
            "0.3",
            "--steps",
            "10,100",
            "--json",
        ]
    )
    expected = json.loads(capsys.readouterr().out)
    assert result.stable == expected["stable"] and result.u1 == pytest.approx(expected["u1"], rel=1e-12)
    assert result.loss == {p["step"]: pytest.approx(p["loss"], rel=1e-12) for p in expected["loss"]}
    assert result.nu == pytest.approx(expected["nu"]) and result.phase == expected["phase"]
    same = sgd_spectra.predict(
        {"eigenvalues": lam, "coefficients": c, "n_samples": 500},
        lr=0.8,
        momentum=0.3,
        batch_size=10,
        steps=[10, 100],
    )
    assert same.loss == result.loss and same.torch_lr is None
    with pytest.raises(ValueError, match="momentum"):
        sgd_spectra.predict(tmp_path / "s.npz", lr=0.8, momentum=1.0, batch_size=10)


def test_api_and_spectrum_help_import_no_torch():
    code = (
        "import sys\nimport sgd_spectra\nsgd_spectra.Prediction\nfrom sgd_spectra.cli import main\n"
        "try:\n    main(['spectrum', '--help'])\nexcept SystemExit:\n    pass\n"
        "print('torch' in sys.modules)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip().splitlines()[-1] == "False"


def test_spectrum_help_shows_every_default():
    from sgd_spectra.cli import DEFAULT_MEMORY_GB
    from sgd_spectra.ntk_generic import DEFAULT_MEMORY_GB as LIBRARY_DEFAULT

    assert DEFAULT_MEMORY_GB == LIBRARY_DEFAULT
    code, out, _ = run(["spectrum", "--help"])
    options = re.split(r"\n  (?=--)", out.split("options:")[1].split("\n\n")[0])[1:]
    assert len(options) == 8
    for text in options:
        assert "(default:" in text or "(required)" in text, text
