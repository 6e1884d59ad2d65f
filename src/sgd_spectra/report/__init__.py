"""The final HTML report, and the plotting conventions shared by the figure notebooks.

Everything here is plain Python (no Snakemake): ``workflow/scripts/build_report.py`` only maps the
rule's inputs onto :class:`ReportInputs`.  The modules:

* :mod:`.context` -- what the page shows, read from the results (:func:`build_context`);
* :mod:`.page` -- the Jinja2 template ``templates/report/index.html.j2`` rendered into one
  self-contained file (:func:`build_report`);
* :mod:`.claims_view`, :mod:`.tables` -- the claims table, stability and fit tables;
* :mod:`.captions` -- the figures' captions, read from ``workflow/report/*.rst`` (also Snakemake's);
* :mod:`.provenance` -- config as run, git state, versions, machine, runtimes;
* :mod:`.format` -- how numbers are printed (HTML and matplotlib mathtext);
* :mod:`.style` -- colours, labels, line styles and matplotlib settings of the figures.

The names below are re-exported so that ``from sgd_spectra.report import X`` keeps working.
"""

from .claims_view import VERDICTS, read_claims, verdict_counts
from .context import ReportContext, ReportInputs, build_context
from .format import ROUND_OFF, data_uri, esc, fmt, is_round_off, math, pm, table, tex_number, tex_pm
from .page import build_report, render
from .provenance import config_listing, git_state, machine_description, package_versions, runtime_frame
from .style import (
    ASYMPTOTE_COLOUR,
    DATA_COLOUR,
    DIVERGED_COLOUR,
    FIT_COLOUR,
    REGIME_COLOURS,
    SE_LINESTYLES,
    regime_colour,
    regime_key,
    regime_label,
    se_linestyle,
)
from .tables import fits_table, stability_frame, stability_table

__all__ = [
    "ASYMPTOTE_COLOUR",
    "DATA_COLOUR",
    "DIVERGED_COLOUR",
    "FIT_COLOUR",
    "REGIME_COLOURS",
    "ROUND_OFF",
    "SE_LINESTYLES",
    "VERDICTS",
    "ReportContext",
    "ReportInputs",
    "build_context",
    "build_report",
    "config_listing",
    "data_uri",
    "esc",
    "fits_table",
    "fmt",
    "git_state",
    "is_round_off",
    "machine_description",
    "math",
    "package_versions",
    "pm",
    "read_claims",
    "regime_colour",
    "regime_key",
    "regime_label",
    "render",
    "runtime_frame",
    "se_linestyle",
    "stability_frame",
    "stability_table",
    "table",
    "tex_number",
    "tex_pm",
    "verdict_counts",
]
