"""End to end: the whole DAG on the tiny config, in a temporary copy of the workflow.

The tests walk through what a user does: a run interrupted midway, a resumed run that does not
redo finished jobs, a rerun that does nothing, a changed learning rate that reruns only what
depends on it, and the same numbers from the same seed.  The run itself is a session fixture
(``conftest.tiny_run``, shared with test_slurm.py), so the tests pass in any order and alone; a test
that reruns jobs does so in a copy of the finished run.
"""

import os
import re
import shutil
from html import escape
from pathlib import Path

import pandas as pd
import pytest
from browser import browser_available, inspect_page
from conftest import run_tiny

ROOT = Path(__file__).resolve().parents[1]


def snakemake(workdir, *args, check=True):
    return run_tiny(workdir, *args, check=check)


def planned_jobs(dry_run_output):
    """{rule: count} from the 'Job stats' table of a dry run."""
    table = dry_run_output.split("Job stats:")[-1]
    return {m[0]: int(m[1]) for m in re.findall(r"^(\w+)\s+(\d+)$", table, flags=re.M) if m[0] != "total"}


@pytest.fixture(scope="module")
def interrupted_run(tiny_run):
    """The session's tiny run (conftest.tiny_run): interrupted once, then resumed."""
    return tiny_run


@pytest.fixture(scope="module")
def finished(interrupted_run):
    """The workdir after the whole tiny run."""
    assert (interrupted_run["workdir"] / "report" / "index.html").exists(), interrupted_run["log"]
    return interrupted_run["workdir"]


def test_interrupted_run_resumes_without_redoing_work(interrupted_run):
    run = interrupted_run
    assert not run["stopped_by_itself"], "snakemake stopped by itself before it could be interrupted"
    assert not run["report_after_interrupt"], "the run was not interrupted midway"
    assert any("training" in str(p) for p in run["finished"]), (
        "no training job finished before the interruption"
    )
    assert not run["redone"], f"finished outputs were recomputed: {run['redone']}"


def test_report_has_fits_and_claims(finished):
    html = (finished / "report" / "index.html").read_text()
    claims = pd.read_csv(finished / "results" / "claims.csv")
    assert {"se_tracks_linearized", "power_law_nu"} <= set(claims.claim_id)
    assert set(claims.verdict) <= {"holds", "fails", "inconclusive"}
    # two tables: the paper's claims, then the implementation checks; a header row each
    tables = [part.split("</table>", 1)[0] for part in html.split('<table class="claims">')[1:]]
    assert len(tables) == 2 and sum(t.count("<tr") for t in tables) == len(claims) + 2
    assert tables[1].count("<tr") == (claims.kind == "check").sum() + 1
    for claim in claims.claim.unique():
        assert escape(claim) in "".join(tables)
    # the synthetic problem's fitted exponent appears in the report and is the generator's
    fit = pd.read_json(finished / "results" / "fits" / "synthetic_signal.json", typ="series")
    assert abs(fit["nu"]["exponent"] - 1.5) < 0.05
    assert abs(fit["kappa_truncated_model"] - 0.75) < 0.05  # the implementation check's estimator
    assert f"{fit['nu']['exponent']:.3f}" in html
    assert "<img" in html and "data:image/png;base64," in html
    assert "http://" not in html.replace("http://www.w3.org", "")  # nothing fetched from a network
    for nb in ("digits_spectrum", "synthetic_signal_loss_curves"):
        assert (finished / "report" / "notebooks" / f"{nb}.html").exists()


def test_report_renders_offline_in_a_real_browser(finished):
    """Headless Chromium, network off: no console error, no request, every image decoded, the
    MathML laid out as math, one claims-table row per claim; a full-page screenshot is kept."""
    if not browser_available():
        if os.environ.get("CI"):
            pytest.fail("chromium and chromedriver are required in CI (.ci/run installs them)")
        pytest.skip("needs Debian's chromium and chromium-driver (apt-get install chromium chromium-driver)")
    shot = ROOT / "results" / "report_screenshot.png"
    page = inspect_page(finished / "report" / "index.html", screenshot=shot)
    assert page["console_errors"] == [] and page["external_requests"] == []
    assert len(page["images"]) >= 6 and all(
        i["complete"] and i["width"] > 0 and i["height"] > 0 for i in page["images"]
    ), page["images"]
    assert page["maths"] and all(
        m["width"] > 0 and m["height"] > 0 and "math" in m["display"] for m in page["maths"]
    )
    assert page["claim_rows"] == len(pd.read_csv(finished / "results" / "claims.csv"))
    assert shot.stat().st_size > 50_000
    for notebook in (finished / "report" / "notebooks").glob("*.html"):
        nb = inspect_page(notebook)
        assert nb["console_errors"] == [] and nb["external_requests"] == [], notebook.name
        assert all(i["complete"] and i["width"] > 0 for i in nb["images"]), notebook.name
        assert all(m["width"] > 0 and "math" in m["display"] for m in nb["maths"]), notebook.name


def test_snakemake_report_also_works(finished):
    snakemake(finished, "--report", "results/snakemake_report.html")
    html = (finished / "results" / "snakemake_report.html").read_text(errors="replace")
    assert "loss_curves.png" in html and "spectrum.png" in html


def test_rerun_does_nothing(finished):
    assert "Nothing to be done" in snakemake(finished, "-n")


def test_changed_learning_rate_reruns_only_dependent_jobs(finished):
    jobs = planned_jobs(snakemake(finished, "-n", "--config", "sgd={learning_rates: [0.5, 0.7]}"))
    # a new setting (lr 0.7): its network job, and the linearized job of its batch size (b = 5)
    # per dataset; nothing upstream of the training runs
    assert jobs.get("train_linearized") == 2 and jobs.get("train_network") == 1, jobs
    assert not {"prepare_dataset", "empirical_ntk", "kernel_spectrum", "fit_power_laws"} & set(jobs), jobs


def test_same_seed_same_numbers(finished, tmp_path):
    # in a copy: forcing jobs again leaves the other tests' run untouched
    workdir = tmp_path / "again"
    shutil.copytree(finished, workdir, symlinks=True)
    targets = [
        "results/training/digits/network/lr0.5_mom0_b5.parquet",
        "results/training/digits/linearized/b5.parquet",
        "results/theory/digits.parquet",
    ]
    before = [pd.read_parquet(workdir / t) for t in targets]
    snakemake(
        workdir,
        "--forcerun",
        "train_network",
        "train_linearized",
        "se_predictions",
        "--until",
        "train_network",
        "train_linearized",
        "se_predictions",
    )
    for t, old in zip(targets, before):
        pd.testing.assert_frame_equal(pd.read_parquet(workdir / t), old, check_exact=False, rtol=1e-6)


def test_experiments_and_companion_studies_reach_the_report(finished):
    html = (finished / "report" / "index.html").read_text()
    claims = pd.read_csv(finished / "results" / "claims.csv", keep_default_na=False)
    # the paper's experiments of the tiny config: regimes (Figs. 1, 7) and budget (Fig. 5)
    assert {"regime_exact_mean", "regime_best_tau", "budget_independence"} <= set(claims.claim_id)
    regimes = pd.read_parquet(finished / "results" / "experiments" / "regimes" / "digits.parquet")
    assert {"network", "linearized", "exact", "se"} == set(regimes.regime)
    assert 'id="experiments-figure-regimes"' in html and 'id="experiments-figure-budget"' in html
    # every companion study: tables, claims with verdicts, a section with its figure and notebook
    from sgd_spectra.companions import STUDIES

    for study in STUDIES:
        rows = claims[claims.section == f"companion-{study}"]
        assert len(rows) >= 3 and set(rows.verdict) <= {"holds", "fails", "inconclusive"}
        assert list((finished / "results" / "companions" / study / "tables").glob("*.parquet"))
        section = html.split(f'id="companion-{study}"', 1)[1].split("<h3", 1)[0]
        assert "data:image/png;base64," in section and f"notebooks/companion_{study}.html" in section
        assert (finished / "report" / "notebooks" / f"companion_{study}.html").exists()


def test_deep_kernel_experiment_reaches_the_report(finished):
    """Figs. 9 and 11 in kind: one job per model kind, two claims each, a section with its figure."""
    html = (finished / "report" / "index.html").read_text()
    claims = pd.read_csv(finished / "results" / "claims.csv", keep_default_na=False)
    rows = claims[claims.section == "deep-kernels"]
    assert set(rows.claim_id) == {"deep_se_tracks_linearized", "deep_critical_lr_vs_batch"}
    assert set(rows.dataset) == {f"{kind} on digits" for kind in ("mlp", "cnn", "resnet")}
    section = html.split('<h2 id="deep-kernels">', 1)[1].split("<h2", 1)[0]
    assert "ResNet-18" in section and "data:image/png;base64," in section
    assert (
        "notebooks/deep_kernels.html" in section
        and (finished / "report" / "notebooks" / "deep_kernels.html").exists()
    )
