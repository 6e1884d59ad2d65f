"""Numbers and small pieces of HTML for the report: one home for how a value is printed.

``fmt`` and ``pm`` return HTML (superscripts, thin spaces); ``tex_number`` and ``tex_pm`` return
matplotlib mathtext for the figure notebooks.  An uncertainty that is only floating-point
round-off (:func:`is_round_off`) is printed as "(exact)" by both families.
"""

from __future__ import annotations

import base64
import html
import math as _math
import os
from collections.abc import Sequence
from functools import cache
from pathlib import Path

import numpy as np

#: An uncertainty below this (relative to max(1, |value|)) is floating-point round-off, not a spread.
ROUND_OFF = 1e-12


def esc(value) -> str:
    return html.escape(str(value), quote=True)


def to_float(value) -> float:
    """A float from a number or a numeric string; nan for anything else."""
    if value is None:
        return _math.nan
    if isinstance(value, str):
        try:
            return float(value.strip())
        except ValueError:
            return _math.nan
    try:
        return float(value)
    except (TypeError, ValueError):
        return _math.nan


def math(latex: str, display: bool = False) -> str:
    """LaTeX -> MathML (inline, or a centred block with ``display=True``), converted now."""
    from latex2mathml.converter import convert

    return convert(latex, display="block" if display else "inline")


@cache
def symbols() -> dict[str, str]:
    """MathML of symbols used inside f-strings (Python 3.11 forbids backslashes there)."""
    tex = {
        "nu": r"\nu",
        "kappa": r"\kappa",
        "lambda_k": r"\lambda_k",
        "K/N": "K/N",
        "lambda_1": r"\lambda_1=1",
        "Lk^-nu": r"\Lambda k^{-\nu}",
        "k": "k",
        "S_k/S_1": "S_k/S_1",
        "S_k": r"S_k=\sum_{l\ge k}c_l",
    }
    return {key: math(value) for key, value in tex.items()}


def fmt(value, digits: int = 3) -> str:
    """A number as HTML with ``digits`` significant digits; 1.2e-09 -> 1.2 × 10<sup>−9</sup>."""
    if isinstance(value, (bool, np.bool_)):
        return "yes" if value else "no"
    if isinstance(value, str) and _math.isnan(to_float(value)) and value.strip().lower() != "nan":
        return esc(value)
    x = to_float(value)
    if _math.isnan(x):
        return "—"
    if _math.isinf(x):
        return "∞" if x > 0 else "−∞"
    if x == int(x) and abs(x) < 1e6:
        return f"{int(x)}".replace("-", "−")
    if x != 0 and (abs(x) < 1e-3 or abs(x) >= 1e5):
        mant, exp = f"{x:.{digits - 1}e}".split("e")
        return f"{mant.replace('-', '−')}&#8239;×&#8239;10<sup>{int(exp)}</sup>".replace("<sup>-", "<sup>−")
    return f"{x:.{digits}g}".replace("-", "−")


def is_round_off(value, err) -> bool:
    """True when ``err`` is only round-off: the quantity is exact (e.g. a fit to an exact power law)."""
    v, e = to_float(value), to_float(err)
    return _math.isfinite(e) and 0 <= e < ROUND_OFF * max(1.0, abs(v) if _math.isfinite(v) else 1.0)


def pm(value, err, digits: int = 3) -> str:
    """``value ± err`` with the value rounded to the error's second significant digit;
    ``value (exact)`` when the error is only round-off (:func:`is_round_off`)."""
    v, e = to_float(value), to_float(err)
    if is_round_off(v, e) and not _math.isnan(v):
        return f"{fmt(v, digits)} (exact)"
    if _math.isnan(e) or e <= 0 or _math.isnan(v):
        return fmt(v, digits)
    decimals = max(0, min(4, 1 - int(_math.floor(_math.log10(e)))))
    if abs(v) < 1e-3 or abs(v) >= 1e5:
        return f"{fmt(v, digits)} ± {fmt(e, 2)}"
    return f"{v:.{decimals}f} ± {fmt(e, 2)}".replace("-", "−")


def tex_number(x, digits: int = 3) -> str:
    """A number for matplotlib mathtext: ``1.2\\times10^{-15}`` for tiny or huge values."""
    x = float(x)
    if not _math.isfinite(x):
        return r"\infty" if x > 0 else (r"-\infty" if x < 0 else r"\mathrm{nan}")
    if x != 0 and (abs(x) < 1e-3 or abs(x) >= 1e5):
        mant, exp = f"{x:.{digits - 1}e}".split("e")
        return rf"{mant}\times10^{{{int(exp)}}}"
    return f"{x:.{digits}g}"


def tex_pm(value, err, digits: int = 3) -> str:
    """``value \\pm err`` for matplotlib mathtext, or ``value`` (exact) when err is round-off."""
    if is_round_off(value, err):
        return rf"{tex_number(value, digits)}\ \mathrm{{(exact)}}"
    if not _math.isfinite(to_float(err)):
        return tex_number(value, digits)
    return rf"{tex_number(value, digits)} \pm {tex_number(err, 2)}"


def cell_value(value: str) -> str:
    """A claims-table cell: numbers formatted, text escaped."""
    value = (value or "").strip()
    if not value:
        return "—"
    x = to_float(value)
    if not _math.isnan(x) or value.lower() == "nan":
        return fmt(x, 3)
    return esc(value)


def table(
    header: Sequence[str] | None, rows: Sequence[Sequence[str]], cls: str = "", caption: str | None = None
) -> str:
    """An HTML table; cells are already HTML (escape text yourself)."""
    out = [f'<table class="{cls}">' if cls else "<table>"]
    if caption:
        out.append(f"<caption>{caption}</caption>")
    if header:
        out.append("<thead><tr>" + "".join(f"<th>{h}</th>" for h in header) + "</tr></thead>")
    out.append("<tbody>")
    for row in rows:
        out.append("<tr>" + "".join(f"<td>{c}</td>" for c in row) + "</tr>")
    out.append("</tbody></table>")
    return "\n".join(out)


def compact_png(png: bytes) -> bytes:
    """The PNG with a 256-colour palette when that is smaller: line plots lose nothing visible and
    shrink about fourfold, which keeps a page of 200-dpi figures to a few MB."""
    import io

    from PIL import Image

    with Image.open(io.BytesIO(png)) as image:
        dpi = image.info.get("dpi")
        palette = image.convert("RGB").quantize(colors=256, method=Image.Quantize.FASTOCTREE)
    out = io.BytesIO()
    palette.save(out, format="PNG", optimize=True, **({"dpi": dpi} if dpi else {}))
    return out.getvalue() if out.tell() < len(png) else png


def data_uri(image_path: str | os.PathLike) -> str:
    """A PNG (made compact) or SVG file as a ``data:`` URI, so the page stays one self-contained file."""
    path = Path(image_path)
    if path.suffix.lower() == ".svg":
        return "data:image/svg+xml;base64," + base64.b64encode(path.read_bytes()).decode("ascii")
    return "data:image/png;base64," + base64.b64encode(compact_png(path.read_bytes())).decode("ascii")
