"""docs/publish_paper.py, the tool that publishes a paper-scale run into docs/paper/: its report
copy, its verdict summary and its runtime table, on constructed inputs."""

import importlib.util
from pathlib import Path

import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
spec = importlib.util.spec_from_file_location("publish_paper", ROOT / "docs" / "publish_paper.py")
publish_paper = importlib.util.module_from_spec(spec)
spec.loader.exec_module(publish_paper)


def test_the_published_report_drops_only_the_notebook_links():
    html = '<p><a href="notebooks/theory.html">the notebook</a> and <a href="#claims">claims</a></p>'
    assert publish_paper.standalone_report(html) == '<p>the notebook and <a href="#claims">claims</a></p>'


def _claims():
    rows = [
        ("a", "paper", "holds", "fits", "p1", "m1"),
        ("b", "paper", "fails", "loss", "slope -1.33", "measured -1.55 | wide"),
        ("c", "paper", "inconclusive", "loss", "p3", "m3"),
        ("d", "paper", "holds", "loss", "p4", "m4"),
        ("e", "check", "holds", "fits", "p5", "m5"),
    ]
    frame = pd.DataFrame(
        rows, columns=["claim_id", "kind", "verdict", "section", "prediction", "measurement"]
    )
    return frame.assign(dataset="digits", tolerance="± 0.1")


def test_verdict_summary_counts_and_lists_the_failing_and_inconclusive_claims():
    lines = publish_paper.claims_section(_claims())
    text = "\n".join(lines)
    assert lines[2].startswith("**4 paper claims: 2 hold, 1 fail, 1 are inconclusive.**")
    assert "Implementation checks: 1 of 1 hold." in lines[2]
    fails = text[text.index("## Claims that fail") : text.index("## Claims that are inconclusive")]
    assert "| b " in fails and "| c " not in fails and "| a " not in fails
    assert "measured -1.55 \\| wide" in fails, "a | inside a cell is escaped for the markdown table"
    assert "| c " in text[text.index("## Claims that are inconclusive") :]


def test_runtime_table_sums_jobs_by_rule_and_names_the_longest():
    jobs = pd.DataFrame(
        {
            "rule": ["train", "train", "report_fig"],
            "job": ["x/b10", "x/b100", "all"],
            "wall_s": [10.0, 30.0, 5.0],
            "cpu_s": [9.0, 28.0, 4.0],
            "max_rss_mb": [100.0, 300.0, 50.0],
        }
    )
    text = "\n".join(publish_paper.runtime_section(jobs, wall=60.0, cores=2))
    assert "3 benchmarked jobs took 45 s of wall time and 41 s of CPU" in text
    assert "on 2 cores that is 0.4 min against 1.0 min of wall time" in text
    row = next(line for line in text.splitlines() if line.startswith("| train "))
    assert [cell.strip() for cell in row.strip("|").split("|")] == ["train", "2", "40", "37", "30", "300"]
