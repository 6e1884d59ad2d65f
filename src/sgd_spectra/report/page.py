"""Render :class:`~sgd_spectra.report.context.ReportContext` with the Jinja2 template into one
self-contained HTML file: the CSS and the small table script are inlined, figures are data URIs,
and the template's LaTeX (``$...$``, ``$$...$$``) becomes MathML when the template is loaded, so
the page needs no network and works without JavaScript."""

from __future__ import annotations

import itertools
import os
from functools import lru_cache
from pathlib import Path

import jinja2
from markupsafe import Markup

from .context import ReportContext, ReportInputs, build_context
from .format import data_uri, esc, fmt, math, pm

TEMPLATE_DIR = Path(__file__).resolve().parents[1] / "templates" / "report"


class MathLoader(jinja2.FileSystemLoader):
    """Loads templates with their LaTeX already converted to MathML (once per process)."""

    def get_source(self, environment, template):
        from ..notebook_html import latex_to_mathml

        source, filename, uptodate = super().get_source(environment, template)
        return (latex_to_mathml(source) if template.endswith(".j2") else source), filename, uptodate


def _html(function):
    """A formatting function whose output is HTML, marked safe for the autoescaping template."""
    return lambda *args, **kwargs: Markup(function(*args, **kwargs))


def _escape_as_esc(value):
    """Escape text exactly as :func:`~sgd_spectra.report.format.esc` does (``'`` as ``&#x27;``), so
    a claim reads the same in the page as in anything built with ``esc``."""
    return value if isinstance(value, Markup) else Markup(esc(value))


@lru_cache(maxsize=1)
def environment() -> jinja2.Environment:
    env = jinja2.Environment(
        loader=MathLoader(str(TEMPLATE_DIR)),
        autoescape=True,
        trim_blocks=True,
        lstrip_blocks=True,
        undefined=jinja2.StrictUndefined,
        finalize=_escape_as_esc,
    )
    env.globals.update(
        fmt=_html(fmt),
        pm=_html(pm),
        math=_html(math),
        data_uri=data_uri,
        exists=lambda path: path is not None and Path(path).exists(),
    )
    env.filters["html"] = Markup
    return env


def render(context: ReportContext) -> str:
    """The page as one string; figures are numbered in order of appearance."""
    figure_numbers = itertools.count(1)
    return (
        environment()
        .get_template("index.html.j2")
        .render(
            c=context,
            css=Markup((TEMPLATE_DIR / "report.css").read_text(encoding="utf-8")),
            script=Markup((TEMPLATE_DIR / "report.js").read_text(encoding="utf-8")),
            next_figure=lambda: next(figure_numbers),
        )
    )


def write_atomically(output: str | os.PathLike, text: str) -> None:
    output = Path(output)
    output.parent.mkdir(parents=True, exist_ok=True)
    tmp = output.with_name(output.name + ".tmp")
    tmp.write_text(text, encoding="utf-8")
    tmp.replace(output)


def build_report(output: str | os.PathLike, inputs: ReportInputs) -> str:
    """Write the self-contained report page built from ``inputs`` to ``output``; return its HTML."""
    page = render(build_context(inputs))
    write_atomically(output, page)
    return page
