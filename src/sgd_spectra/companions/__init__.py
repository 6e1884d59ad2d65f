"""Companion studies: one checkable study per related paper (docs/companions.md).

Each module is one study and has the same interface, which the workflow's generic
``companion_study`` rule and the report use:

* ``STUDY``: a dict with ``seed`` (the paper's seed id, e.g. ``"000"``), ``title``, ``paper``
  (authors, venue, arXiv id), ``claim`` (the paper's claim in one paragraph), ``caption`` (the
  figure caption) and ``deviations`` (what of the paper's setting could not be recovered and what
  the study does instead).
* ``run_study(params: dict) -> dict[str, pandas.DataFrame]``: runs the study with the config's
  parameters and returns tidy tables (written as ``<name>.parquet``).
* ``study_claims(tables, params) -> list[dict]``: the claims-table rows (see
  :func:`sgd_spectra.claims.claim_row`), computed from the tables alone.
* ``PRESETS``: its named parameter sets, ``{"default": DEFAULT_PARAMS, "tiny": TINY_PARAMS,
  "paper": PAPER_PARAMS}``; the config's ``companions.<study>`` picks one with ``preset`` and
  overrides single parameters by name (:func:`resolve_params`).

Each study's parameter schema lives beside it in ``<module>.schema.yaml`` (its ``PARAMS_SCHEMA``),
so the config can be checked before any job without importing a study (and torch with it); for
the same reason :func:`study_presets` reads the presets from the module's source.  A study too long
for one file keeps this interface in ``<study>.py`` and its parts in ``<study>_<part>.py`` beside it.
"""

from __future__ import annotations

import ast
import importlib
from pathlib import Path

import yaml

#: Config key -> module name, in report order.
STUDIES = {
    "gradient_span": "gradient_span",  # seed 000, Benning & Döring
    "edge_of_stability": "edge_of_stability",  # seed 001, Chen & Bruna
    "du_gram": "du_gram",  # seed 003, Du et al.
    "which_minimizer": "which_minimizer",  # seed 004, Nonnenmacher et al.
}


def study_module(name: str):
    """The module implementing companion study ``name`` (a key of :data:`STUDIES`)."""
    if name not in STUDIES:
        raise KeyError(f"unknown companion study {name!r}; known: {', '.join(STUDIES)}")
    return importlib.import_module(f"{__name__}.{STUDIES[name]}")


def params_schema(name: str) -> dict:
    """Study ``name``'s parameter schema (JSON Schema), read from its ``.schema.yaml``."""
    if name not in STUDIES:
        raise KeyError(f"unknown companion study {name!r}; known: {', '.join(STUDIES)}")
    return yaml.safe_load((Path(__file__).parent / f"{STUDIES[name]}.schema.yaml").read_text())


def _literal(node, names: dict):
    """The value of a preset's expression: literals, earlier presets by name, ``dict(...)``."""
    if isinstance(node, ast.Name):
        return names[node.id]
    if isinstance(node, ast.Dict):
        return {_literal(k, names): _literal(v, names) for k, v in zip(node.keys, node.values)}
    if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id == "dict":
        out = {}
        for arg in node.args:
            out.update(_literal(arg, names))
        for kw in node.keywords:
            out.update(_literal(kw.value, names) if kw.arg is None else {kw.arg: _literal(kw.value, names)})
        return out
    if isinstance(node, ast.List):
        return [_literal(e, names) for e in node.elts]
    return ast.literal_eval(node)


def study_presets(name: str) -> dict[str, dict]:
    """Study ``name``'s ``PRESETS`` (preset name -> parameters), read from its module's source
    without importing it (the module's own ``PRESETS`` is the same dict: a test checks it)."""
    if name not in STUDIES:
        raise KeyError(f"unknown companion study {name!r}; known: {', '.join(STUDIES)}")
    tree = ast.parse((Path(__file__).parent / f"{STUDIES[name]}.py").read_text())
    names: dict = {}
    for node in tree.body:
        if (
            isinstance(node, ast.Assign)
            and len(node.targets) == 1
            and isinstance(node.targets[0], ast.Name)
            and node.targets[0].id in ("DEFAULT_PARAMS", "TINY_PARAMS", "PAPER_PARAMS", "PRESETS")
        ):
            names[node.targets[0].id] = _literal(node.value, names)
    return names["PRESETS"]


def resolve_params(name: str, section: dict | None) -> dict:
    """Study ``name``'s parameters from its config section: the named ``preset`` (default:
    "default") with every other key of the section overriding that parameter.  Raises
    ``KeyError`` with the dotted config key of an unknown preset or parameter."""
    section = dict(section or {})
    presets = study_presets(name)
    preset = section.pop("preset", "default")
    if preset not in presets:
        raise KeyError(
            f"companions.{name}.preset", f"unknown preset {preset!r}; choose one of {', '.join(presets)}"
        )
    allowed = params_schema(name).get("properties", {})
    for key in section:
        if key not in allowed:
            raise KeyError(
                f"companions.{name}.{key}",
                f"{name} has no parameter {key!r}; its parameters: {', '.join(allowed)}",
            )
    return {**presets[preset], **section}


def power_of_ten(value: float) -> str:
    """A tolerance as the claims tables write it: ``1e-2`` for 0.01 (``format`` gives ``0.01`` or
    ``1e-02``)."""
    mantissa, exponent = f"{value:e}".split("e")
    return f"{float(mantissa):g}e{int(exponent)}"


def check_study_data(params: dict) -> None:
    """Before any job: a study asking for ``dataset: fashion_mnist`` needs its IDX files
    (``auto`` falls back to digits)."""
    from ..datasets import FASHION_MNIST_INSTALL_HINT, DatasetUnavailable, find_idx_pair

    if params.get("dataset") == "fashion_mnist" and find_idx_pair(params.get("fashion_mnist_dir")) is None:
        raise DatasetUnavailable(FASHION_MNIST_INSTALL_HINT)
