"""The SLURM profile against a real single-node SLURM cluster (tests/slurm/start_cluster.sh).

Jobs must really go through SLURM (sbatch job ids in the driver's log and SLURM's own job logs),
the results must equal a local run of the same config, an interrupted driver must resume without
redoing finished jobs, and a failing job must be retried per the profile and then reported with
the path of its log.  Skipped where SLURM cannot be started (not root / not Debian), except in CI.
"""

import os
import re
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from conftest import copy_workflow, finished_outputs

ROOT = Path(__file__).resolve().parents[1]
SLURM_DIR = ROOT / "tests" / "slurm"
# fast polling for the test; a user's profile polls less often
FAST = ["--slurm-init-seconds-before-status-checks", "1", "--seconds-between-status-checks", "2"]


@pytest.fixture(scope="module")
def cluster():
    was_running = (
        subprocess.run(
            ["bash", "-c", "sinfo -h -N -o %T 2>/dev/null | grep -qE 'idle|mixed|alloc'"]
        ).returncode
        == 0
    )
    if not was_running and (os.geteuid() != 0 or not shutil.which("apt-get")):
        if os.environ.get("CI"):
            pytest.fail("CI must be able to start the SLURM test cluster")
        pytest.skip("starting the test cluster needs root and Debian's slurm-wlm")
    start = subprocess.run(["bash", str(SLURM_DIR / "start_cluster.sh")], capture_output=True, text=True)
    assert start.returncode == 0, start.stdout + start.stderr
    yield
    if not was_running:  # leave no daemons behind that this test started
        subprocess.run(["bash", str(SLURM_DIR / "stop_cluster.sh")], check=False)
        assert subprocess.run(["pgrep", "-x", "slurmctld"]).returncode != 0


def run_snakemake(workdir, *args, check=True, timeout=900):
    cmd = [sys.executable, "-m", "snakemake", "--configfile", "config/tiny.yaml", *args]
    out = subprocess.run(cmd, cwd=workdir, capture_output=True, text=True, timeout=timeout)
    if check and out.returncode != 0:
        raise AssertionError(f"{' '.join(cmd)} failed:\n{out.stdout[-3000:]}\n{out.stderr[-6000:]}")
    return out.stdout + out.stderr


@pytest.fixture(scope="module")
def local_run(tiny_run):
    """The same config run locally (profiles/local): the session's tiny run (conftest.tiny_run)."""
    assert (tiny_run["workdir"] / "report" / "index.html").exists(), tiny_run["log"]
    return tiny_run["workdir"]


@pytest.fixture(scope="module")
def slurm_run(cluster, tmp_path_factory):
    """The tiny config through profiles/slurm, interrupted midway and resumed."""
    work = tmp_path_factory.mktemp("slurm")
    copy_workflow(work)
    log_path = work / "driver.log"
    with open(log_path, "w") as log:
        proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "snakemake",
                "--profile",
                "profiles/slurm",
                "--configfile",
                "config/tiny.yaml",
                *FAST,
            ],
            cwd=work,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        deadline = time.time() + 600
        while (
            time.time() < deadline
            and proc.poll() is None
            and len(re.findall(r"^Finished jobid", log_path.read_text(), flags=re.M)) < 6
        ):
            time.sleep(0.5)
        assert proc.poll() is None, (
            "the SLURM run ended before it could be interrupted:\n" + log_path.read_text()
        )
        os.killpg(proc.pid, signal.SIGINT)  # Ctrl-C on the driver: it cancels its SLURM jobs
        proc.wait(timeout=180)
    first = log_path.read_text()
    finished = {
        work / p: (work / p).stat().st_mtime_ns for p in finished_outputs(first) if (work / p).exists()
    }
    run_snakemake(work, "--unlock")
    second = run_snakemake(work, "--profile", "profiles/slurm", *FAST)
    return work, first, second, finished


# rules profiles/slurm leaves on the driver (common.smk's localrules)
LOCAL_RULES = {"collect_curves", "notebook_html", "claims", "report"}


def test_jobs_went_through_slurm(slurm_run):
    work, first, second, _ = slurm_run
    submitted = re.findall(r"submitted with SLURM jobid (\d+) \(log: (\S+)\)", first + second)
    ids = {int(j) for j, _ in submitted}
    assert len(ids) == len(submitted), "SLURM job ids must be distinct"
    # SLURM's own per-job logs exist where the profile puts them, and squeue still knows the jobs
    logs = [Path(p) for _, p in submitted]
    assert all(p.is_relative_to(work / "logs" / "slurm") for p in logs)
    # a job cancelled by the interruption may leave no log; every job of the resumed run has one
    resumed = [Path(p) for _, p in re.findall(r"submitted with SLURM jobid (\d+) \(log: (\S+)\)", second)]
    assert resumed and all(p.exists() for p in resumed)
    known = subprocess.run(["squeue", "-h", "-t", "all", "-o", "%i"], capture_output=True, text=True).stdout
    assert ids & {int(x) for x in known.split()}, "squeue does not know the submitted job ids"
    # every job ran inside a SLURM job (its rule in a SLURM log), except the local rules, which
    # ran in the driver and nowhere else
    planned = set(re.findall(r"^\s*rule (\w+):", first + second, flags=re.M))
    in_slurm = set(
        re.findall(r"^\s*rule (\w+):", "".join(p.read_text() for p in logs if p.exists()), flags=re.M)
    )
    local = set(re.findall(r"^\s*localrule (\w+):", first + second, flags=re.M))
    assert planned - LOCAL_RULES <= in_slurm, (
        f"jobs that ran outside SLURM: {planned - LOCAL_RULES - in_slurm}"
    )
    assert local >= LOCAL_RULES and not local & in_slurm
    # grouped: a few sbatch calls for the tiny DAG's ~40 cluster jobs, even counting the resubmission
    # of the groups the interruption cancelled
    not_cluster = "|".join(LOCAL_RULES | {"all"})
    jobs = len(
        re.findall(rf"^Finished jobid: \d+ \(Rule: (?!(?:{not_cluster})\))", first + second, flags=re.M)
    )
    assert 4 <= len(submitted) <= jobs / 2, f"{len(submitted)} sbatch calls for {jobs} jobs"
    assert re.search(r"[Ee]fficiency report|job data", second), "the profile asks for the efficiency report"
    assert (work / "report" / "index.html").exists()


def test_interrupted_driver_resumes_without_redoing_jobs(slurm_run):
    _, first, second, finished = slurm_run
    assert "Finished jobid" in first and finished
    assert "report/index.html" not in finished_outputs(first), "the first run was not interrupted"
    redone = [p for p, mtime in finished.items() if p.stat().st_mtime_ns != mtime]
    assert not redone, f"the resumed run redid finished jobs: {redone}"


def test_slurm_results_equal_a_local_run(slurm_run, local_run):
    work = slurm_run[0]
    for rel in ["results/fits/digits.json", "results/fits/synthetic_signal.json"]:
        assert pd.read_json(work / rel, typ="series").equals(pd.read_json(local_run / rel, typ="series")), rel
    for rel in [
        "results/curves/digits.parquet",
        "results/curves/synthetic_signal.parquet",
        "results/theory/digits.parquet",
    ]:
        a, b = (
            pd.read_parquet(d / rel)
            .sort_values(["regime", "tau", "lr", "momentum", "batch", "seed", "step"])
            .reset_index(drop=True)
            for d in (work, local_run)
        )
        pd.testing.assert_frame_equal(a, b, check_exact=False, rtol=1e-9)
    a = np.load(work / "results/spectra/digits.npz")
    b = np.load(local_run / "results/spectra/digits.npz")
    np.testing.assert_allclose(a["eigenvalues"], b["eigenvalues"], rtol=1e-12, atol=1e-15)


def requested(slurm_jobid: str) -> tuple[int, int]:
    """Memory (MB) and time limit (minutes) SLURM granted a job, from squeue (which keeps
    finished jobs for MinJobAge)."""
    out = subprocess.run(
        ["squeue", "-h", "-t", "all", "-j", slurm_jobid, "-o", "%m %l"], capture_output=True, text=True
    ).stdout.split()
    mem, limit = out  # e.g. 2002M, and 10:00 or 2:07:00 or 1-02:00:00
    days, _, clock = limit.rpartition("-")
    hours, minutes, _seconds = ([0] + [int(x) for x in clock.split(":")])[-3:]
    mb = int(mem[:-1]) if mem.endswith("M") else round(float(mem[:-1]) * 1024)
    return mb, (int(days or 0) * 24 + hours) * 60 + minutes


def test_failing_job_is_retried_then_reported_with_its_log(cluster, tmp_path):
    copy_workflow(tmp_path)
    broken = tmp_path / "broken.npz"
    np.savez(broken, pixels=np.zeros((10, 4)))  # no `images`/`labels`: the data rule fails
    out = run_snakemake(
        tmp_path,
        "--profile",
        "profiles/slurm",
        *FAST,
        "--config",
        f"data={{datasets: [broken], user_datasets: {{broken: {broken}}}}}",
        "--until",
        "prepare_dataset",
        check=False,
    )
    # prepare_dataset is in the `dataset` group: alone here, it still goes to SLURM as a group job
    attempts = re.findall(
        r"submitted with SLURM jobid (\d+) \(log: (\S+(?:rule|group_dataset)_prepare_dataset\S+)\)", out
    )
    assert len(attempts) == 2, f"restart-times: 1 means two attempts:\n{out[-3000:]}"
    # the retry asks for twice the memory and wall time (the rules scale them with `attempt`)
    (mem1, time1), (mem2, time2) = (requested(job) for job, _ in attempts)
    assert abs(mem2 - 2 * mem1) <= 2 and time2 == 2 * time1, (
        f"{mem1} MB, {time1} min -> {mem2} MB, {time2} min"
    )
    # after the last submission: the failure, with the failed rule and the path of its SLURM log
    report = out.split(f"submitted with SLURM jobid {attempts[-1][0]}", 1)[1]
    assert "Error in rule prepare_dataset" in report and attempts[-1][1] in report
    failed_log = Path(attempts[-1][1])
    assert (
        failed_log.exists()
        and "KeyError" in failed_log.read_text() + (tmp_path / "logs/data/broken.log").read_text()
    )


# --- faults on the node: a tiny workflow (tests/slurm/Snakefile) through the same profile -------

SUBMITTED = r"submitted with SLURM jobid (\d+) \(log: (\S+)\)"


def slurm_state(slurm_jobid: str) -> str:
    """A job's state as squeue still knows it (MinJobAge): RUNNING, COMPLETED, CANCELLED, ..."""
    return subprocess.run(
        ["squeue", "-h", "-t", "all", "-j", slurm_jobid, "-o", "%T"], capture_output=True, text=True
    ).stdout.strip()


@pytest.fixture(scope="module")
def faults(cluster, tmp_path_factory):
    """The three parts of tests/slurm/Snakefile, each through profiles/slurm in its own directory,
    side by side (their drivers mostly wait on SLURM): `sleep`, whose group job is cancelled with
    `scancel` as soon as it runs; `hog`, over its memory on the first attempt; `chain`, a group job
    that fails on the node. Per part: directory, exit status, driver output, the cancelled job."""
    runs = {}
    for part, config in [("sleep", []), ("hog", ["hog_mb=1000"]), ("chain", [])]:
        work = tmp_path_factory.mktemp(part)
        shutil.copytree(ROOT / "profiles", work / "profiles")
        shutil.copy2(SLURM_DIR / "Snakefile", work / "Snakefile")
        cmd = [sys.executable, "-m", "snakemake", "--profile", "profiles/slurm", *FAST, "--config"]
        with open(work / "driver.log", "w") as log:
            proc = subprocess.Popen(
                [*cmd, f"part={part}", *config],
                cwd=work,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        runs[part] = work, proc
    try:
        work, proc = runs["sleep"]
        cancelled, deadline = None, time.time() + 300
        while cancelled is None and time.time() < deadline and proc.poll() is None:
            found = re.search(SUBMITTED, (work / "driver.log").read_text())
            if found and slurm_state(found[1]) == "RUNNING":
                cancelled = found[1]
                subprocess.run(["scancel", cancelled], check=True)
            time.sleep(0.3)
        for _, proc in runs.values():
            proc.wait(timeout=600)
    finally:
        for _, proc in runs.values():
            if proc.poll() is None:
                os.killpg(proc.pid, signal.SIGINT)
                proc.wait(timeout=60)
    return {
        part: (work, proc.returncode, (work / "driver.log").read_text(), cancelled)
        for part, (work, proc) in runs.items()
    }


def test_cancelled_job_is_resubmitted_and_the_run_completes(faults):
    """`scancel` of a running group job (two `training` jobs in one SLURM job): the driver sees
    it fail, resubmits the group once (restart-times: 1) and the run completes."""
    work, returncode, out, cancelled = faults["sleep"]
    assert cancelled, "the group job never ran:\n" + out[-3000:]
    assert returncode == 0, out[-3000:]
    submitted = re.findall(SUBMITTED, out)
    attempts = [job for job, _ in submitted]
    assert len(attempts) == 2 and attempts[0] == cancelled and attempts[1] != cancelled, out[-3000:]
    assert slurm_state(cancelled) == "CANCELLED" and slurm_state(attempts[1]) == "COMPLETED"
    # the cancellation is reported as the group's failure, with its SLURM log, before the retry
    failure = out.split(f"submitted with SLURM jobid {cancelled}", 1)[1].split("Trying to restart", 1)[0]
    assert "Error in group training" in failure and submitted[0][1] in failure
    assert f"JOB {cancelled} ON" in Path(submitted[0][1]).read_text()  # slurmstepd: "... CANCELLED AT"
    # both outputs come from the resubmitted SLURM job (each writes its $SLURM_JOB_ID)
    assert {(work / f"out/sleep_{i}.txt").read_text().strip() for i in (1, 2)} == {attempts[1]}


def test_job_over_its_memory_is_killed_then_resubmitted_with_twice_the_memory(faults):
    """`hog` holds 1000 MB (plus Snakemake's ~180 MB on the node) and asks for 800 MB, then twice
    that on the resubmission: the cluster kills the first attempt, the second completes."""
    work, returncode, out, _ = faults["hog"]
    assert returncode == 0, out[-3000:]
    attempts = re.findall(SUBMITTED, out)
    assert len(attempts) == 2, out[-3000:]
    (first, first_log), (second, second_log) = attempts
    assert [requested(job)[0] for job in (first, second)] == [800, 1600]
    # SLURM killed the first attempt for its memory, and says so in the job's log
    killed = re.search(r"exceeded memory limit \((\d+) > (\d+)\), being killed", Path(first_log).read_text())
    assert killed, Path(first_log).read_text()[-3000:]
    used, limit = int(killed[1]), int(killed[2])
    assert limit == 800 * 2**20 < used  # bytes; caught as the allocation grows, once a second
    assert slurm_state(first) in {"FAILED", "OUT_OF_MEMORY"} and slurm_state(second) == "COMPLETED"
    assert "exceeded memory limit" not in Path(second_log).read_text()
    assert (work / "out/hog.txt").read_text().strip() == second


def test_failed_group_job_is_reported_with_its_log(faults):
    """A group job (`prep` then `fit`, one SLURM job) whose second rule fails on the node: retried
    once, then reported as a failed group with the path of its SLURM log, which has the error."""
    work, returncode, out, _ = faults["chain"]
    assert returncode != 0
    attempts = re.findall(SUBMITTED, out)
    assert len(attempts) == 2 and all("group_training" in log for _, log in attempts), out[-3000:]
    (first, _), (last, last_log) = attempts
    assert slurm_state(first) == slurm_state(last) == "FAILED"
    report = out.split(f"submitted with SLURM jobid {last}", 1)[1]
    assert "Error in group training" in report and last_log in report, report[-3000:]
    # the log has what happened on the node: both rules of the group, the failing one's error
    node = Path(last_log).read_text()
    assert re.search(r"rule prep:", node) and re.search(r"rule fit:", node), node[-3000:]
    assert "Error in rule fit" in node and "the node-side failure on purpose" in node
    assert "the node-side failure on purpose" in (work / "logs/fit.log").read_text()
