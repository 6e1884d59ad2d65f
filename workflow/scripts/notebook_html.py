"""Render an executed notebook to HTML that needs no network (math as MathML)."""

from sgd_spectra.io import redirect_log
from sgd_spectra.notebook_html import notebook_to_html

redirect_log(snakemake.log[0])
notebook_to_html(snakemake.input[0], snakemake.output[0])
