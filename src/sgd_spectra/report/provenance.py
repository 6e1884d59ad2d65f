"""Where a report came from: the config as run, git state, package versions, machine, runtimes."""

from __future__ import annotations

import datetime as _dt
import glob
import importlib.metadata
import os
import platform
import subprocess
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from ..io import to_plain
from .format import esc, fmt, table

PROVENANCE_PACKAGES = (
    "sgd-spectra",
    "numpy",
    "scipy",
    "torch",
    "pandas",
    "snakemake",
    "papermill",
    "nbconvert",
    "seaborn",
    "matplotlib",
    "latex2mathml",
    "jinja2",
)


def runtime_frame(benchmarks_dir: str | os.PathLike) -> pd.DataFrame:
    """Per rule (first folder under ``benchmarks_dir``): jobs, total and max seconds."""
    rows = []
    root = Path(benchmarks_dir)
    for path in sorted(glob.glob(str(root / "**" / "*.tsv"), recursive=True)):
        rel = Path(path).relative_to(root)
        rule = rel.parts[0] if len(rel.parts) > 1 else rel.stem
        try:
            s = pd.read_csv(path, sep="\t")["s"].astype(float)
        except Exception:
            continue
        rows.append({"rule": rule, "seconds": float(s.mean())})
    if not rows:
        return pd.DataFrame(columns=["rule", "jobs", "total_s", "max_s"])
    df = pd.DataFrame(rows)
    out = df.groupby("rule")["seconds"].agg(jobs="size", total_s="sum", max_s="max").reset_index()
    return out.sort_values("total_s", ascending=False).reset_index(drop=True)


def git_state(repo_dir: str | os.PathLike = ".") -> str:
    """'<commit> (clean|dirty tree)' or why there is no commit to name."""

    def git(*args):
        return subprocess.run(["git", "-C", str(repo_dir), *args], capture_output=True, text=True, timeout=20)

    try:
        inside = git("rev-parse", "--is-inside-work-tree")
    except (OSError, subprocess.SubprocessError):
        return "not a git checkout (git not available)"
    if inside.returncode != 0 or inside.stdout.strip() != "true":
        return "not a git checkout"
    head = git("rev-parse", "HEAD")
    status = git("status", "--porcelain", "--untracked-files=normal")
    dirty = "dirty tree: uncommitted changes" if status.stdout.strip() else "clean tree"
    if head.returncode != 0:
        return f"git checkout without any commit ({dirty})"
    return f"{head.stdout.strip()} ({dirty})"


def package_versions(packages: Sequence[str] = PROVENANCE_PACKAGES) -> dict[str, str]:
    """Installed versions (without importing the packages), Python first."""
    out = {"python": platform.python_version()}
    for name in packages:
        try:
            out[name] = importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            out[name] = "not installed"
    return out


def machine_description() -> str:
    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return f"{platform.platform()}; {cpu}; {os.cpu_count()} logical CPUs"


def config_listing(config: dict, default: dict | None) -> tuple[str, list[str]]:
    """The config as YAML, section by section; the keys that differ from ``default`` wrapped in
    <mark> and listed by their dotted names (``sgd.steps``)."""
    import textwrap

    import yaml

    config, default = to_plain(config), to_plain(default) if default is not None else None
    blocks, changed = [], []

    def walk(node, base, path, indent):
        for key, value in node.items():
            dotted = f"{path}.{key}" if path else str(key)
            if (
                isinstance(value, dict)
                and value
                and isinstance(base, dict)
                and isinstance(base.get(key), dict)
            ):
                blocks.append(esc(textwrap.indent(f"{key}:\n", indent)))
                walk(value, base[key], dotted, indent + "  ")
                continue
            text = yaml.safe_dump({key: value}, sort_keys=False, default_flow_style=None, width=100)
            text = esc(textwrap.indent(text, indent))
            if base is not None and (not isinstance(base, dict) or key not in base or base[key] != value):
                changed.append(dotted)
                text = f'<mark class="changed">{text}</mark>'
            blocks.append(text)

    walk(config, default, "", "")
    return "".join(blocks), changed


def runtime_table(runtimes: pd.DataFrame) -> str:
    """Per-rule runtimes (:func:`runtime_frame`) with a total row; '' without any."""
    if runtimes.empty:
        return ""
    rows = [
        [f"<code>{esc(r.rule)}</code>", fmt(r.jobs), f"{r.total_s:.1f}", f"{r.max_s:.1f}"]
        for r in runtimes.itertuples()
    ]
    rows.append(
        [
            "<b>all benchmarked rules</b>",
            fmt(int(runtimes.jobs.sum())),
            f"<b>{runtimes.total_s.sum():.1f}</b>",
            f"{runtimes.max_s.max():.1f}",
        ]
    )
    return table(
        ["rule", "jobs", "total s", "max s"],
        rows,
        caption="Per-rule runtimes from Snakemake's benchmark files: wall-clock seconds per "
        "job, summed over the rule's jobs (jobs run in parallel, so the sum exceeds "
        "the workflow's wall time).",
    )


@dataclass
class Provenance:
    """What the methods section shows: the config listing (HTML), the keys changed from the
    default (None without a default to compare with), facts (label, text) and per-rule runtimes."""

    config_html: str
    changed: list[str] | None
    facts: list[tuple[str, str]]
    runtimes_html: str  # '' when no benchmark file was found


def provenance(config: dict, default_config: dict | None, repo_dir, benchmarks_dir) -> Provenance:
    listing, changed = config_listing(config, default_config)
    versions = package_versions()
    facts = [
        ("git commit", git_state(repo_dir)),
        ("machine", machine_description()),
        ("report built", _dt.datetime.now().astimezone().strftime("%Y-%m-%d %H:%M %Z")),
        ("versions", ", ".join(f"{k} {v}" for k, v in versions.items())),
    ]
    return Provenance(
        listing,
        changed if default_config is not None else None,
        facts,
        runtime_table(runtime_frame(benchmarks_dir)),
    )
