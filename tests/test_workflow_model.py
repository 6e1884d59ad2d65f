"""End to end with a network other than the default: the tiny config with a pretrained CNN, through
data (with its disjoint pretraining split), pretraining, the autograd NTK, the spectrum, the theory,
the real network's training and the regime comparison (the report is left to test_workflow.py,
which runs the same rules after these on the default network)."""

import json
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch

ROOT = Path(__file__).resolve().parents[1]
COPY = ["Snakefile", "config.yaml", "config", "workflow", "notebooks"]
MODEL = "model={kind: cnn, channels: [4, 8], pretrain: {epochs: 2, n_samples: 100}}"
TARGETS = ["results/curves/digits.parquet", "results/experiments/regimes/digits.parquet"]


@pytest.fixture(scope="module")
def workdir(tmp_path_factory):
    work = tmp_path_factory.mktemp("workflow_cnn")
    for name in COPY:
        src = ROOT / name
        (shutil.copytree if src.is_dir() else shutil.copy2)(src, work / name)
    cmd = [
        sys.executable,
        "-m",
        "snakemake",
        "--cores",
        "2",
        "--configfile",
        "config/tiny.yaml",
        "--config",
        MODEL,
        "--",
        *TARGETS,
    ]
    out = subprocess.run(cmd, cwd=work, capture_output=True, text=True)
    assert out.returncode == 0, f"{out.stdout[-4000:]}\n{out.stderr[-6000:]}"
    return work


def test_pretraining_split_is_disjoint_and_recorded(workdir):
    data = np.load(workdir / "results" / "data" / "digits.npz")
    meta = json.loads((workdir / "results" / "data" / "digits.json").read_text())
    assert len(data["pretrain_indices"]) == 100 and meta["pretrain_overlap"] == 0
    assert not np.isin(data["pretrain_indices"], data["indices"]).any()
    assert meta["pretrain_indices"] == data["pretrain_indices"].tolist() and "pretrain_draw_seed" in meta


def test_the_kernel_is_the_pretrained_cnn_s_and_training_starts_from_it(workdir):
    record = torch.load(workdir / "results" / "ntk" / "digits.pt", weights_only=True)
    assert record["spec"]["kind"] == "cnn" and len(record["pretrain"]["epoch_losses"]) == 2
    ntk = np.load(workdir / "results" / "ntk" / "digits.npz")
    assert sorted(ntk.files) == ["initial_error", "kernel_over_n", "scale"]
    assert np.linalg.eigvalsh(ntk["kernel_over_n"])[-1] == pytest.approx(1.0)
    # the network runs start from the network the kernel was taken at (float32 against float64)
    loss0 = 0.5 * np.mean(ntk["initial_error"] ** 2)
    curves = pd.read_parquet(workdir / "results" / "curves" / "digits.parquet")
    network = curves[(curves.regime == "network") & (curves.step == 0)]
    assert len(network) > 0 and np.allclose(network.loss, loss0, rtol=1e-5)
    regimes = pd.read_parquet(workdir / "results" / "experiments" / "regimes" / "digits.parquet")
    assert {"network", "linearized", "exact", "se"} == set(regimes.regime)
    first = regimes[(regimes.regime == "network") & (regimes.step == 0)]
    assert np.allclose(first.loss, loss0, rtol=1e-5)


def test_changing_the_model_reruns_the_kernel_not_the_data(workdir):
    out = subprocess.run(
        [
            sys.executable,
            "-m",
            "snakemake",
            "-n",
            "--cores",
            "1",
            "--configfile",
            "config/tiny.yaml",
            "--config",
            MODEL.replace("[4, 8]", "[4, 6]"),
            "--",
            *TARGETS,
        ],
        cwd=workdir,
        capture_output=True,
        text=True,
    )
    assert out.returncode == 0, out.stderr[-3000:]
    assert "empirical_ntk" in out.stdout and "prepare_dataset" not in out.stdout.split("Job stats:")[-1]
