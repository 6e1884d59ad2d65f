# sgd-spectra: tangent-kernel spectrum -> SGD theory -> real training -> figures -> HTML report.
# Stages, in DAG order, live in workflow/rules/; the math lives in src/sgd_spectra/.
import os

from snakemake.utils import min_version, validate

min_version("9.0")


configfile: "config.yaml"


# The software of every job: the image built from envs/Dockerfile or envs/sgd-spectra.def, which
# installs the hashed pins of envs/requirements.lock (see docs/container.md). Used only with
# `--software-deployment-method apptainer` (or `--sdm apptainer`); a plain `snakemake --cores 2`
# ignores it and runs in the current Python environment. No image is published, so the default
# is a local SIF next to the definitions, built with
#   apptainer build envs/sgd-spectra.sif envs/sgd-spectra.def
# SGD_SPECTRA_IMAGE overrides it: another path (e.g. a SIF on the cluster's shared file system)
# or a registry URI such as docker://<registry>/<you>/sgd-spectra:0.1.0 after pushing your image.
container: os.environ.get("SGD_SPECTRA_IMAGE", os.path.join(workflow.basedir, "envs", "sgd-spectra.sif"))


import yaml

from sgd_spectra.config import ConfigError, check_schema, coerce_command_line
from sgd_spectra.resources import allocator_environment

# Types, ranges and unknown keys first (numbers given with --config arrive as text), naming the
# dotted key (e.g. experiments.loss_map.lr_points); then the schema's defaults are filled in, and
# the relations between keys are checked (in common.smk); all before any job starts.
with open(os.path.join(workflow.basedir, "workflow", "schemas", "config.schema.yaml")) as fh:
    try:
        check_schema(coerce_command_line(config), yaml.safe_load(fh))
    except ConfigError as err:
        raise WorkflowError(f"Invalid configuration: {err}") from None
validate(config, "workflow/schemas/config.schema.yaml")

# every job (a child of this process, locally, on SLURM or in the container) runs with the malloc
# settings of sgd_spectra.resources.MALLOC_ENV: big temporaries reused instead of faulted in anew
os.environ.update(allocator_environment(os.environ))


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
include: "workflow/rules/deep_kernels.smk"
include: "workflow/rules/report.smk"


rule all:
    """The whole workflow: the report and everything it is built from."""
    input:
        rules.report.output.html,
