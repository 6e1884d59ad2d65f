"""Execute a figure notebook with papermill; its parameters come from the rule's params."""

import papermill as pm

from sgd_spectra.io import redirect_log

redirect_log(snakemake.log[0])
pm.execute_notebook(
    snakemake.input.notebook,
    snakemake.output.notebook,
    parameters=dict(snakemake.params.parameters),
    kernel_name="python3",
    log_output=True,
    execution_timeout=snakemake.params.timeout,
    progress_bar=False,
)
