# sgd-spectra: tangent-kernel spectrum -> SGD theory -> real training -> figures -> HTML report.
# Stages, in DAG order, live in workflow/rules/; the math lives in src/sgd_spectra/.
from snakemake.utils import min_version, validate

min_version("9.0")

configfile: "config.yaml"

from sgd_spectra.config import coerce_command_line

# Types, ranges and unknown keys first (numbers given with --config arrive as text), then the
# relations between keys (in common.smk); both stop the run before any job starts.
validate(coerce_command_line(config), "workflow/schemas/config.schema.yaml")


include: "workflow/rules/common.smk"
include: "workflow/rules/data.smk"
include: "workflow/rules/ntk.smk"
include: "workflow/rules/spectra.smk"
include: "workflow/rules/theory.smk"
include: "workflow/rules/training.smk"
include: "workflow/rules/figures.smk"
include: "workflow/rules/experiments.smk"
include: "workflow/rules/asymptotics.smk"
include: "workflow/rules/tau_analysis.smk"
include: "workflow/rules/companions.smk"
include: "workflow/rules/report.smk"


rule all:
    input:
        "report/index.html",
