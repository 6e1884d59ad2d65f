"""Executed notebook -> a self-contained HTML page that renders offline, math included.

nbconvert's stock HTML loads MathJax, require.js and mermaid from a CDN; offline, the math stays
raw LaTeX and the browser logs failed requests.  Here LaTeX in markdown cells ($...$, $$...$$)
is converted to MathML at export time (browsers render MathML natively) and the page is written
with the ``offline`` template, which drops those script tags.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

import nbformat
from latex2mathml.converter import convert
from nbconvert import HTMLExporter

TEMPLATES = Path(__file__).parent / "templates"
_DISPLAY = re.compile(r"\$\$(.+?)\$\$", re.S)
_INLINE = re.compile(r"(?<![\\$])\$(?!\$)(.+?)(?<![\\$])\$")


def latex_to_mathml(markdown: str) -> str:
    """Replace $$...$$ (display) and $...$ (inline) LaTeX in markdown by MathML elements."""
    markdown = _DISPLAY.sub(lambda m: convert(m.group(1).strip(), display="block"), markdown)
    return _INLINE.sub(lambda m: convert(m.group(1).strip()), markdown)


def notebook_to_html(notebook_path: str | os.PathLike, html_path: str | os.PathLike) -> None:
    nb = nbformat.read(notebook_path, as_version=4)
    for cell in nb.cells:
        if cell.cell_type == "markdown":
            cell.source = latex_to_mathml(cell.source)
    exporter = HTMLExporter(template_name="offline", extra_template_basedirs=[str(TEMPLATES)])
    body, _ = exporter.from_notebook_node(nb)
    Path(html_path).write_text(body, encoding="utf-8")
