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

Each study's parameter schema lives beside it in ``<module>.schema.yaml`` (its ``PARAMS_SCHEMA``),
so the config can be checked before any job without importing a study (and torch with it).
"""

from __future__ import annotations

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


def check_study_data(params: dict) -> None:
    """Before any job: a study asking for ``dataset: fashion_mnist`` needs its IDX files
    (``auto`` falls back to digits)."""
    from ..datasets import FASHION_MNIST_INSTALL_HINT, DatasetUnavailable, find_idx_pair

    if params.get("dataset") == "fashion_mnist" and find_idx_pair(params.get("fashion_mnist_dir")) is None:
        raise DatasetUnavailable(FASHION_MNIST_INSTALL_HINT)
