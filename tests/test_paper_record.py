"""docs/paper/, the published paper-scale run, still matches the code (CONTRIBUTING.md,
"Republishing the paper-scale results"): it was made from a commit of this history, the paper
config still plans the jobs it ran, and its summary is the one its claims give."""

import importlib.util
import json
import subprocess
from pathlib import Path

import pandas as pd
import pytest

ROOT = Path(__file__).resolve().parents[1]
PAPER = ROOT / "docs" / "paper"
spec = importlib.util.spec_from_file_location("publish_paper", ROOT / "docs" / "publish_paper.py")
publish_paper = importlib.util.module_from_spec(spec)
spec.loader.exec_module(publish_paper)


@pytest.fixture(scope="module")
def record() -> dict:
    return json.loads((PAPER / "run.json").read_text())


def _git(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(["git", *args], cwd=ROOT, capture_output=True, text=True)


def test_published_run_was_made_from_an_ancestor_of_head(record):
    if _git("rev-parse", "--git-dir").returncode != 0:
        pytest.skip("not a git checkout")
    if _git("rev-parse", "--is-shallow-repository").stdout.strip() == "true":
        pytest.skip("a shallow clone does not hold the history to check ancestry")
    assert record["commit"] in (PAPER / "README.md").read_text()
    ancestor = _git("merge-base", "--is-ancestor", record["commit"], "HEAD")
    assert ancestor.returncode == 0, (
        f"docs/paper/ was published from {record['commit']}, which is not an ancestor of HEAD: "
        "republish it (CONTRIBUTING.md)"
    )


def test_paper_config_plans_the_jobs_the_published_run_ran(record):
    planned = publish_paper.planned_jobs(ROOT)
    assert planned == record["planned_jobs"], (
        "config/paper.yaml now plans other jobs than the published run: republish docs/paper/ "
        "(CONTRIBUTING.md)"
    )


def test_published_summary_is_the_one_its_claims_give():
    claims = pd.read_csv(PAPER / "claims.csv")
    readme = (PAPER / "README.md").read_text()
    for line in publish_paper.claims_section(claims):
        assert line in readme


def test_published_report_is_standalone_and_small():
    html = (PAPER / "index.html").read_text()
    assert len(html.encode()) <= publish_paper.MAX_HTML_BYTES
    assert 'href="notebooks/' not in html, "the notebooks' own pages are not published"
    assert publish_paper.standalone_report(html) == html


def test_project_readme_quotes_the_published_counts(record):
    """The README's pointer to docs/paper/ quotes the published run's verdicts and wall time."""
    claims = pd.read_csv(PAPER / "claims.csv")
    paper = claims[claims.kind == "paper"]
    counts = publish_paper.verdict_counts(paper)
    readme = " ".join((ROOT / "README.md").read_text().split())
    quoted = (
        f"{len(paper)} paper claims, of which {counts['holds']} hold, {counts['fails']} fail and "
        f"{counts['inconclusive']} are inconclusive"
    )
    assert quoted in readme
    assert (
        f"{sum(record['planned_jobs'].values())} jobs in {round(record['wall_seconds'] / 60)} min" in readme
    )
