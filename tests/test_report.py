"""Report building blocks: offline math, the config diff, and the browser check itself."""
import html
import os

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


@pytest.mark.skipif(not browser_available() and not os.environ.get("CI"), reason="needs chromium + chromedriver")
def test_browser_check_catches_a_page_that_needs_the_network(tmp_path):
    page = tmp_path / "bad.html"
    page.write_text('<!DOCTYPE html><html><head><script src="https://cdn.example.org/x.js"></script></head>'
                    '<body><img src="missing.png"><p>$x^2$ left as raw TeX</p></body></html>')
    bad = inspect_page(page)
    assert bad["external_requests"] and bad["console_errors"]
    assert bad["images"] and not bad["images"][0]["width"]
    assert bad["maths"] == []
    good = tmp_path / "good.html"
    good.write_text("<!DOCTYPE html><html><body>" + latex_to_mathml(r"$x^2$") + "</body></html>")
    ok = inspect_page(good)
    assert ok["external_requests"] == [] and ok["console_errors"] == []
    assert ok["maths"][0]["width"] > 0 and "math" in ok["maths"][0]["display"]
