"""Figure captions: each lives once, in ``workflow/report/<figure>.rst`` beside the rule that draws
the figure (its ``report()`` flag), and is read both by ``snakemake --report`` and by this page.

A caption is reStructuredText that Snakemake first renders with Jinja2 (``snakemake.wildcards``,
``snakemake.config``).  The page renders the same file with a ``page`` variable added (the numbers
only the page has, e.g. a dataset's fitted exponents), so a caption can say more on the page:
``{% if page is defined %} ... {% endif %}``.  Of reStructuredText the captions use plain
paragraphs, ``:math:`...``` (LaTeX, turned into MathML here, like the template's ``$...$``),
````literal```` and ``**bold**``; that subset is turned into HTML by :func:`caption_html`.
"""

from __future__ import annotations

import html
import os
import re
from collections.abc import Mapping
from functools import cache
from pathlib import Path
from types import SimpleNamespace

import jinja2
from markupsafe import Markup

_TOKENS = re.compile(
    r":math:`(?P<math>[^`]+)`"
    r"|``(?P<code>.+?)``"
    r"|\*\*(?P<bold>.+?)\*\*"
    r"|(?P<jinja>\{\{.*?\}\}|\{%.*?%\})"
    r"|\\(?P<escaped>.)",
    re.S,
)


def rst_to_html(source: str) -> str:
    """The captions' subset of reStructuredText as HTML, Jinja2 tags left in place (one paragraph:
    line breaks become spaces)."""
    from ..notebook_html import latex_to_mathml

    source = re.sub(r"\s*\n\s*", " ", source.strip())
    out, pos = [], 0
    for m in _TOKENS.finditer(source):
        out.append(html.escape(source[pos : m.start()], quote=False))
        if m["math"] is not None:
            out.append(latex_to_mathml(f"${m['math']}$"))
        elif m["code"] is not None:
            out.append(f"<code>{rst_to_html(m['code'])}</code>")
        elif m["bold"] is not None:
            out.append(f"<b>{rst_to_html(m['bold'])}</b>")
        elif m["jinja"] is not None:
            out.append(m["jinja"])
        else:
            out.append(html.escape(m["escaped"], quote=False))
        pos = m.end()
    out.append(html.escape(source[pos:], quote=False))
    return "".join(out)


@cache
def _template(path: str, mtime_ns: int) -> jinja2.Template:
    env = jinja2.Environment(autoescape=True, undefined=jinja2.StrictUndefined)
    return env.from_string(rst_to_html(Path(path).read_text(encoding="utf-8")))


def caption_html(
    path: str | os.PathLike,
    wildcards: Mapping[str, str] | None = None,
    config: Mapping | None = None,
    **page,
) -> Markup:
    """The caption file at ``path`` as HTML for the page: rendered like ``snakemake --report`` does
    (``snakemake.wildcards``, ``snakemake.config``) plus ``page`` (values that are HTML must be
    :class:`~markupsafe.Markup`; anything else is escaped)."""
    path = Path(path)
    snakemake = SimpleNamespace(wildcards=SimpleNamespace(**(wildcards or {})), config=dict(config or {}))
    text = _template(str(path), path.stat().st_mtime_ns).render(snakemake=snakemake, page=page)
    return Markup(text.strip())
