"""`sgd-spectra predict`: the numbers it prints are the library's, and bad input is one line + exit 2."""
import json
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
    lam, c = k ** -1.5, k ** -2.0
    np.save(tmp_path / "lam.npy", lam)
    np.savetxt(tmp_path / "c.txt", c)
    return tmp_path / "lam.npy", tmp_path / "c.txt", lam, c


def test_predict_json_matches_independent_simulation(spectrum_files, capsys):
    lam_file, c_file, lam, c = spectrum_files
    assert main(["predict", "--eigenvalues", str(lam_file), "--coefficients", str(c_file), "--batch-size", "10",
                 "--lr", "0.8", "--momentum", "0.3", "--steps", "0,1,10,100", "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
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
    assert out["loss"]["0"] == pytest.approx(c.sum() / (2 * 500))
    # the loss at t=1 by hand: one SE step from C = c, J = V = 0
    a, g = 0.8 * lam, out["gamma"]
    c1 = (1 - a) ** 2 * c + g * a ** 2 * (c.sum() - c)
    assert out["loss"]["1"] == pytest.approx(c1.sum() / 1000, rel=1e-12)
    # the critical learning rate: U(1) = 1 there, by the independent closed form of eq. 21
    lr_c, b = out["lr_critical"], 0.3
    u = g * np.sum(lr_c * lam * (1 + b) / (2 * (1 - b * b) - lr_c * lam * ((1 - b) - g * (1 + b))))
    assert u == pytest.approx(1.0, rel=1e-8) or lr_c == pytest.approx(2 * (1 + b))


def test_predict_table_and_unstable_setting(spectrum_files):
    lam_file, c_file, *_ = spectrum_files
    code, out, _ = run(["predict", "--eigenvalues", str(lam_file), "--coefficients", str(c_file),
                        "--batch-size", "1", "--lr", "1.5"])
    assert code == 0 and "UNSTABLE" in out and "divergence time" in out


@pytest.mark.parametrize("extra, message", [
    (["--momentum", "1.0"], "momentum"),
    (["--momentum", "-1.5"], "momentum"),
    (["--batch-size", "0"], "batch-size"),
    (["--lr", "-1"], "lr"),
    (["--eigenvalues", "/nonexistent.npy"], "not found"),
])
def test_bad_input_is_one_line_and_exit_2(spectrum_files, extra, message):
    lam_file, c_file, *_ = spectrum_files
    args = ["predict", "--eigenvalues", str(lam_file), "--batch-size", "10", "--lr", "0.5"] + extra
    code, out, err = run(args)
    assert code == 2 and out == ""
    assert len(err.strip().splitlines()) == 1 and message in err and "Traceback" not in err


def test_bad_files_are_one_line_and_exit_2(tmp_path, spectrum_files):
    lam_file, *_ = spectrum_files
    bad = tmp_path / "bad.txt"
    for content, message in (("1\n0.5\nnan\n", "NaN"), ("1\n-0.5\n", "non-negative"), ("1\nabc\n", "cannot read")):
        bad.write_text(content)
        code, _, err = run(["predict", "--eigenvalues", str(bad), "--batch-size", "1", "--lr", "0.5"])
        assert code == 2 and message in err and len(err.strip().splitlines()) == 1
    short = tmp_path / "short.txt"
    short.write_text("1\n0.5\n")
    code, _, err = run(["predict", "--eigenvalues", str(lam_file), "--coefficients", str(short),
                        "--batch-size", "1", "--lr", "0.5"])
    assert code == 2 and "lengths must match" in err
    code, _, err = run(["predict", "--batch-size", "1"])
    assert code == 2 and "required" in err and len(err.strip().splitlines()) == 1
