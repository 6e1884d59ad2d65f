"""The claims table as the report shows it: read, counted, summarised and turned into rows."""

from __future__ import annotations

import math as _math
import os
import re
from dataclasses import dataclass

import pandas as pd

from .format import cell_value, esc, to_float

VERDICTS = ("holds", "fails", "inconclusive")
#: The verdicts a reader must see first: the summary at the top lists these paper claims.
NEEDS_ATTENTION = ("fails", "inconclusive")


def read_claims(path: str | os.PathLike) -> pd.DataFrame:
    """The claims table (any number of rows); missing columns are added empty (``kind``: paper)."""
    from ..claims import CLAIM_COLUMNS as cols

    try:
        claims = pd.read_csv(path, dtype=str, keep_default_na=False)
    except pd.errors.EmptyDataError:
        claims = pd.DataFrame(columns=cols)
    for c in cols:
        if c not in claims.columns:
            claims[c] = ""
    claims["verdict"] = claims["verdict"].str.strip().str.lower()
    claims["kind"] = claims["kind"].replace("", "paper")
    return claims


def split_claims(claims: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(claims of the paper, implementation checks)."""
    return claims[claims.kind != "check"], claims[claims.kind == "check"]


def verdict_counts(claims: pd.DataFrame) -> dict[str, int]:
    counts = {v: int((claims["verdict"] == v).sum()) for v in VERDICTS}
    other = int((~claims["verdict"].isin(VERDICTS)).sum())
    if other:
        counts["other"] = other
    return counts


def verdict_class(verdict: str) -> str:
    """CSS class of a verdict badge."""
    return verdict if verdict in VERDICTS else "other"


@dataclass
class ClaimView:
    """One claims-table row, ready for the template: text fields are plain (the template escapes
    them), ``*_html`` fields are HTML, ``*_value`` the numeric columns (sort keys, '' if none)."""

    claim_id: str
    anchor: str  # the row's id, unique within its table: the summary links to it
    claim: str
    source: str
    dataset: str
    prediction_html: str
    measurement_html: str
    tolerance_html: str
    verdict: str
    verdict_class: str
    section: str
    section_html: str
    predicted_value: str
    measured_value: str
    tolerance_value: str


def _sort_key(value) -> str:
    """A numeric column as a sort key: the number's repr, or '' when the claim has none."""
    x = to_float(value)
    return "" if _math.isnan(x) else repr(x)


def section_link(row, anchors: set[str]) -> str:
    """The claim's section as a link to its anchor (the dataset's subsection where one exists)."""
    section = (row.get("section") or "").strip().lstrip("#")
    dataset = (row.get("dataset") or "").strip()
    if not section:
        return f'<a href="#{esc(dataset)}">{esc(dataset)}</a>' if dataset in anchors else "—"
    for target in (section, f"{dataset}-{section}"):
        if target in anchors:
            return f'<a href="#{esc(target)}">{esc(section)}</a>'
    if dataset in anchors:
        return f'<a href="#{esc(dataset)}">{esc(section)}</a>'
    return esc(section)


def row_anchor(claim_id: str, dataset: str, taken: set[str]) -> str:
    """``claim-<id>-<dataset>`` as an HTML id (letters, digits, '-', '_'), made unique in ``taken``."""
    base = re.sub(r"[^A-Za-z0-9_-]+", "-", f"claim-{claim_id}-{dataset}").strip("-")
    anchor, n = base, 1
    while anchor in taken:
        n += 1
        anchor = f"{base}-{n}"
    taken.add(anchor)
    return anchor


def claim_views(claims: pd.DataFrame, anchors: set[str]) -> list[ClaimView]:
    out, taken = [], set()
    for _, r in claims.iterrows():
        out.append(
            ClaimView(
                claim_id=r["claim_id"],
                anchor=row_anchor(r["claim_id"], r["dataset"], taken),
                claim=r["claim"],
                source=r.get("source") or "",
                dataset=r["dataset"],
                prediction_html=cell_value(r["prediction"]),
                measurement_html=cell_value(r["measurement"]),
                tolerance_html=cell_value(r["tolerance"]),
                verdict=r["verdict"] or "—",
                verdict_class=verdict_class(r["verdict"]),
                section=(r.get("section") or "").strip().lstrip("#"),
                section_html=section_link(r, anchors),
                predicted_value=_sort_key(r.get("predicted_value")),
                measured_value=_sort_key(r.get("measured_value")),
                tolerance_value=_sort_key(r.get("tolerance_value")),
            )
        )
    return out


def needing_attention(views: list[ClaimView]) -> list[ClaimView]:
    """The failing paper claims, then the inconclusive ones, each in table order."""
    return [v for verdict in NEEDS_ATTENTION for v in views if v.verdict == verdict]
