"""Report building blocks: offline math, the config diff, and the browser check itself."""

import html
import os
import re
from pathlib import Path

import pandas as pd
import pytest
from browser import browser_available, inspect_page

from sgd_spectra.notebook_html import latex_to_mathml
from sgd_spectra.report import config_listing


def test_latex_in_markdown_becomes_mathml():
    out = latex_to_mathml(r"rate $\alpha_c$ and $$L_t \propto t^{-\zeta}$$ but \$5 stays")
    assert out.count("<math") == 2 and 'display="block"' in out
    assert "$" not in out.replace(r"\$5", "")
    assert "<msub>" in out and "<mi>α</mi>" in html.unescape(out)


def test_config_listing_marks_changed_keys():
    listing, changed = config_listing({"steps": 10, "seed": 0, "new": 1}, {"steps": 1000, "seed": 0})
    assert changed == ["steps", "new"]
    assert listing.count('<mark class="changed">') == 2 and "seed: 0" in listing
    assert config_listing({"seed": 0}, None)[1] == []
    # nested sections: the changed keys by their dotted names, the unchanged ones unmarked
    listing, changed = config_listing(
        {"seed": 0, "sgd": {"steps": 10, "momenta": [0.0]}, "companions": {"du_gram": {"preset": "tiny"}}},
        {
            "seed": 0,
            "sgd": {"steps": 1000, "momenta": [0.0]},
            "companions": {"du_gram": {"preset": "default"}},
        },
    )
    assert changed == ["sgd.steps", "companions.du_gram.preset"]
    assert "sgd:\n" in listing and "  momenta: [0.0]" in listing and listing.count("<mark") == 2


@pytest.mark.skipif(
    not browser_available() and not os.environ.get("CI"), reason="needs chromium + chromedriver"
)
def test_browser_check_catches_a_page_that_needs_the_network(tmp_path):
    page = tmp_path / "bad.html"
    page.write_text(
        '<!DOCTYPE html><html><head><script src="https://cdn.example.org/x.js"></script></head>'
        '<body><img src="missing.png"><p>$x^2$ left as raw TeX</p></body></html>'
    )
    bad = inspect_page(page)
    assert bad["external_requests"] and bad["console_errors"]
    assert bad["images"] and not bad["images"][0]["width"]
    assert bad["maths"] == []
    good = tmp_path / "good.html"
    good.write_text("<!DOCTYPE html><html><body>" + latex_to_mathml(r"$x^2$") + "</body></html>")
    ok = inspect_page(good)
    assert ok["external_requests"] == [] and ok["console_errors"] == []
    assert ok["maths"][0]["width"] > 0 and "math" in ok["maths"][0]["display"]


# --------------------------------------------------------------------------------------------
# The page: verdict summary, sortable/filterable claims table, numbers printed once
# --------------------------------------------------------------------------------------------


def claims_frame():
    """A constructed claims table: every verdict, paper claims and an implementation check."""
    from sgd_spectra.claims import claim_row

    rows = [
        claim_row(
            "power_law_nu",
            "Eigenvalues follow a power law",
            "digits",
            "s",
            "p",
            "m",
            "t",
            "holds",
            "fits",
            measured_value=1.23,
        ),
        claim_row(
            "late_time_exponent",
            "Late slope <fails>",
            "digits",
            "s",
            "p",
            "m",
            "t",
            "fails",
            "across",
            predicted_value=-0.5,
            measured_value=-0.8,
            tolerance_value=0.1,
        ),
        claim_row(
            "regime_best_tau", "tau = +1 best", "power law", "s", "p", "m", "t", "inconclusive", "experiments"
        ),
        claim_row("budget_independence", "Budget", "digits", "s", "p", "m", "t", "fails", "experiments"),
        claim_row(
            "critical_lr_closed_form", "A check that fails", "digits", "s", "p", "m", "t", "fails", "theory"
        ),
    ]
    return pd.DataFrame(rows)


def minimal_page(tmp_path, claims):
    from sgd_spectra.report import ReportInputs, build_report

    claims.to_csv(tmp_path / "claims.csv", index=False)
    return build_report(
        tmp_path / "report" / "index.html",
        ReportInputs(
            config={"steps": 10},
            datasets=[],
            data={},
            fits={},
            theory={},
            claims=tmp_path / "claims.csv",
            benchmarks_dir=tmp_path / "none",
        ),
    )


def test_claim_rows_carry_numbers_beside_the_text():
    from sgd_spectra.claims import CLAIM_COLUMNS, NUMERIC_COLUMNS

    rows = claims_frame()
    assert list(rows.columns) == CLAIM_COLUMNS and set(NUMERIC_COLUMNS) <= set(CLAIM_COLUMNS)
    assert rows.loc[1, list(NUMERIC_COLUMNS)].tolist() == [-0.5, -0.8, 0.1]
    assert rows.loc[2, list(NUMERIC_COLUMNS)].isna().all()  # no single number: nan


def test_summary_lists_exactly_the_failing_and_inconclusive_paper_claims(tmp_path):
    page = minimal_page(tmp_path, claims_frame())
    summary = page.split('id="summary"', 1)[1].split("</section>", 1)[0]
    listed = re.findall(r'<tr><td><a href="#([^"]+)">', summary)
    # failing first, then inconclusive; the failing implementation check is not a paper claim
    assert listed == [
        "claim-late_time_exponent-digits",
        "claim-budget_independence-digits",
        "claim-regime_best_tau-power-law",
    ]
    assert html.escape("Late slope <fails>") in summary and "A check that fails" not in summary
    assert re.search(r"4 claims of the paper: .*1 holds.*2 fails.*1 inconclusive", summary)
    for anchor in listed:  # each links to its row
        assert f'<tr id="{anchor}"' in page
    assert page.index('id="summary"') < page.index('id="claims"')


def test_claims_table_is_plain_html_and_the_script_only_enhances_it(tmp_path):
    page = minimal_page(tmp_path, claims_frame())
    tables = [part.split("</table>", 1)[0] for part in page.split('<table class="claims">')[1:]]
    assert len(tables) == 2  # paper claims, then checks
    assert tables[0].count("<tr") == 4 + 1 and tables[1].count("<tr") == 1 + 1
    assert 'data-verdict="fails" data-dataset="digits" data-section="across"' in tables[0]
    assert 'data-value="-0.8"' in tables[0]  # numeric sort key of the measurement
    script = page.split("<script>", 1)[1].split("</script>", 1)[0]
    assert page.count("<script") == 1 and "src=" not in script.split("\n", 1)[0]  # inline, nothing fetched
    assert "aria-sort" in script and "claim-filters" in script and "data-" in script
    assert "<select" not in page.replace(script, "")  # the controls exist only with the script


def test_round_off_uncertainties_are_printed_as_exact():
    from sgd_spectra.claims import _pm_text
    from sgd_spectra.report import fmt, pm, tex_pm

    assert pm(1.5, 1e-15) == "1.5 (exact)" and pm(1.5, 0.0) == "1.5 (exact)"
    assert pm(1.5, 0.02) == "1.500 ± 0.02"
    assert tex_pm(1.5, 3e-16).endswith(r"\mathrm{(exact)}")
    assert _pm_text(1.5, 1e-14) == "1.500 (exact)" and _pm_text(1.5, 0.01) == "1.500 ± 0.010"
    assert fmt(2.5e-9) == "2.50&#8239;×&#8239;10<sup>−9</sup>"


def test_notebook_style_gives_200_dpi_and_legible_legends():
    import matplotlib as mpl
    from matplotlib.font_manager import FontProperties

    from sgd_spectra.report import style

    with mpl.rc_context({"legend.fontsize": 7}):
        style.apply()
        assert mpl.rcParams["savefig.dpi"] == 200
        assert FontProperties(size=mpl.rcParams["legend.fontsize"]).get_size_in_points() >= 9


@pytest.mark.skipif(
    not browser_available() and not os.environ.get("CI"), reason="needs chromium + chromedriver"
)
def test_claims_table_sorts_and_filters_in_a_real_browser(tmp_path):
    from browser import claims_table_interaction

    minimal_page(tmp_path, claims_frame())
    seen = claims_table_interaction(tmp_path / "report" / "index.html")
    assert seen["console_errors"] == [] and seen["external_requests"] == []
    assert seen["initial"] == [
        "Eigenvalues follow a power law",
        "Late slope <fails>",
        "tau = +1 best",
        "Budget",
    ]
    # measurement column ascending: numbers first (-0.8 < 1.23), then the rows without a number
    assert seen["sorted_by_measurement"][:2] == ["Late slope <fails>", "Eigenvalues follow a power law"]
    assert seen["filtered_fails"] == ["Late slope <fails>", "Budget"]
    assert seen["filtered_rows_in_dom"] == 4  # filtering hides, never removes


# --------------------------------------------------------------------------------------------
# Captions: one .rst per figure, read by `snakemake --report` and by the page
# --------------------------------------------------------------------------------------------

CAPTIONS = sorted((Path(__file__).resolve().parents[1] / "workflow" / "report").glob("*.rst"))


@pytest.mark.parametrize("caption", CAPTIONS, ids=[c.stem for c in CAPTIONS])
def test_every_caption_renders_for_snakemake_and_for_the_page(caption):
    """Snakemake renders a caption with Jinja2 (no `page`), then docutils; the page with `page`."""
    import jinja2
    from docutils.core import publish_parts

    from sgd_spectra.report.captions import caption_html

    wildcards = {"dataset": "digits", "study": "du_gram"}
    snakemake = type("S", (), {"wildcards": type("W", (), wildcards), "config": {}})
    text = jinja2.Environment().from_string(caption.read_text()).render(snakemake=snakemake)
    body = publish_parts(text, writer="html", settings_overrides={"report_level": 2})["body"]
    assert "system-message" not in body and "page." not in text and "{{" not in text
    page = dict(k_min=2, k_max=30, nu="1.5 ± 0.02", kappa="0.75", fit_range_rule="auto", has_network=True)
    out = caption_html(caption, wildcards, {}, **page)
    assert "$" not in out and ":math:" not in out and "``" not in out and "{%" not in out
    assert "<math" in out or ":math:" not in caption.read_text()


def test_page_takes_figures_captions_and_notebooks_from_the_registry(tmp_path):
    from sgd_spectra.report import ReportInputs, build_report

    claims_frame().to_csv(tmp_path / "claims.csv", index=False)
    caption = tmp_path / "budget.rst"
    caption.write_text(
        "Loss against :math:`t\\,b` for ``b < 4`` and **all** seeds{% if page is defined %} (page){% endif %}."
    )
    item = dict(
        section="experiments", key="budget", figure=str(tmp_path / "budget.png"), caption=str(caption)
    )
    page = build_report(
        tmp_path / "report" / "index.html",
        ReportInputs(
            config={},
            datasets=[],
            data={},
            fits={},
            theory={},
            claims=tmp_path / "claims.csv",
            benchmarks_dir=tmp_path / "none",
            items=[
                dict(
                    item,
                    key="asymptotics",
                    anchor="experiments-figure-asymptotics",
                    title="Later",
                    notebook="notebooks/asymptotics.html",
                ),
                dict(item, title="Budget independence (paper Fig. 5)", notebook="notebooks/budget.html"),
            ],
        ),
    )
    section = page.split('<h2 id="experiments">', 1)[1].split("<h2", 1)[0]
    # the fixed order (context.FIGURE_ORDER), not the registration order
    assert section.index("Budget independence") < section.index("<h3>Later</h3>")
    assert 'id="experiments-figure-budget"' in section and 'id="experiments-figure-asymptotics"' in section
    assert "<code>b &lt; 4</code> and <b>all</b> seeds (page)." in section and "<math" in section
    assert (
        '<a href="notebooks/budget.html">budget</a>, <a href="notebooks/asymptotics.html">asymptotics</a>'
        in section
    )
