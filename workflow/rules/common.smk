# Shared helpers: config checks, target lists, wildcard constraints.
import hashlib
import math
import re
from pathlib import Path

import sgd_spectra
import yaml

from sgd_spectra.resources import MATRIX_MB, mem_for, minutes_for
from sgd_spectra.config import (
    ConfigError,
    all_datasets,
    check_config,
    companion_params,
    companion_studies,
    dataset_size,
    dataset_spec,
    experiment_datasets,
    has_closed_form,
    has_network,
    model_options,
    model_spec,
    model_width,
    requested_size,
    setting_name,
    sgd_settings,
)

try:
    check_config(config)
except ConfigError as err:
    raise WorkflowError(f"Invalid configuration: {err}") from None

# The config's sections (README "Configuration"; every key in workflow/schemas/config.schema.yaml),
# their defaults filled in by the schema; rules read their keys from these.
DATA = config["data"]
SGD = config["sgd"]
THEORY = config["theory"]
DIVERGENCE = THEORY["divergence"]
TRANSITION = THEORY["transition"]
REGIMES = config["experiments"]["regimes"]
LOSS_MAP = config["experiments"]["loss_map"]
CRITICAL_LR = config["experiments"]["critical_lr"]
TRACE = config["experiments"]["trace"]
BUDGET = config["experiments"]["budget"]
HYPER = config["experiments"]["hyperparameters"]
DEEP_KERNELS = config["experiments"]["deep_kernels"]
REPORT = config["report"]

DATASETS = list(DATA["datasets"])
# plus the datasets only an experiment uses (e.g. fashion_mnist_1k for the loss maps)
ALL_DATASETS = all_datasets(config)
# the embedded default, so the report can highlight what a run changed; with the schema's defaults
# filled in like the run's own config (else e.g. the `model` section would always look changed)
with open(Path(workflow.basedir) / "config.yaml") as fh:
    DEFAULT_CONFIG = yaml.safe_load(fh)
validate(DEFAULT_CONFIG, "../schemas/config.schema.yaml")
SETTINGS = {setting_name(**s): s for s in sgd_settings(config)}


wildcard_constraints:
    dataset="|".join(re.escape(d) for d in ALL_DATASETS),
    regime="network|linearized",
    setting=r"lr[0-9.e+-]+_mom[0-9.e+-]+_b[0-9]+",
    batch=r"[0-9]+",


def code_version(*modules):
    """Hash of the package modules a rule's script uses: passed as a param, so that editing the
    math reruns the jobs that depend on it (Snakemake's code trigger only sees the script)."""
    digest = hashlib.sha1()
    for module in modules:
        digest.update((Path(sgd_spectra.__file__).parent / f"{module}.py").read_bytes())
    return digest.hexdigest()[:12]


def study_modules(study):
    """A companion study's modules (companions/<study>.py and its companions/<study>_*.py parts)
    as code_version names."""
    package = Path(sgd_spectra.__file__).parent / "companions"
    return sorted(f"companions/{p.stem}" for p in package.glob(f"{study}*.py"))


def n_of(wildcards):
    """The N of a job's dataset (for its memory and runtime)."""
    return dataset_size(wildcards.dataset, config)


# --- Job resources ------------------------------------------------------------------------------
# Every rule asks for memory (mem_mb) and wall time (runtime, minutes) computed from the work it
# does, with sgd_spectra.resources (mem_for, minutes_for: doubled on each resubmission) and the
# costs below, so that one config fits any N on a cluster. The seconds per unit of work were
# measured on the 2-core CI machine, busy with other work (README "The paper-scale configuration";
# benchmarks/), which errs on the slow side.


def shared_threads(threads):
    """Threads of a job whose extra threads are worth less than a second job beside it: `threads`
    when `--cores` (on a cluster, the profile's `cores` of a group job) holds two such jobs, else
    one.  On 2 cores the paper DAG nearly always has another job ready, and these jobs' second
    thread was worth at most 0.7 of a core (loss_map 367 s on one thread, 252 s on two; the N = 10^4
    spectrum 194 s and 123 s; the NTK, deep-kernel and critical-lr jobs kept 0.9-1.5 of their 2
    cores busy; README "The paper-scale configuration").  Jobs that use a second core fully
    (regime_comparison, gradient_span, du_gram) ask for it whatever the cores."""
    try:
        cores = workflow.cores
    except WorkflowError:  # no --cores given
        return threads
    return threads if cores >= 2 * threads else 1


def eigh_seconds(n):
    """Dense symmetric eigendecomposition (O(N^3)): 16 s at N = 2000 (numpy eigh, 2 busy cores)."""
    return 16 * (n / 2000) ** 3


def exact_step_seconds(n):
    """One step of the exact N x N second-moment recursion (two GEMMs, O(N^3)): 1.7 s at N = 3000."""
    return 1.7 * (n / 3000) ** 3


def exact_critical_seconds(n):
    """One second_moment.exact_critical_lr call (O(N^3)): about 4 s at N = 1000."""
    return 4 * (n / 1000) ** 3


def se_seconds(mode_steps):
    """SE recursion, fused numba kernel: 670 M mode-steps/s on one busy core (bench_theory.py)."""
    return 1.5e-9 * mode_steps


def linearized_seconds(run_steps, batch, n):
    """Sampled linearized SGD, linear in runs x steps x b x N: 193 s for the loss map's
    5000 cells x 8 seeds x 10^4 steps at b = 10, N = 1000 (bench_loss_map.py)."""
    return 193 * run_steps * batch * n / (5000 * 8 * 10**4 * 10 * 1000)


def network_seconds(runs, steps, batch, n, evaluations):
    """The real network (width `model.width`): about 9 ms per SGD step at b = 100 (1 ms of it fixed)
    and 0.07 s per full-loss evaluation at N = 3000, width 1000 (README table)."""
    width = model_width(config) / 1000
    step = 1e-3 + 8e-5 * batch * width
    return runs * (steps * step + evaluations * 0.07 * n / 3000 * width)


def ntk_seconds(wildcards):
    """The empirical NTK: 4.3 s closed form at N = 3000 (O(N^2)), ten times that by autograd
    (other models; not measured), the eigvalsh that normalises it, and any pretraining
    (epochs x samples at the network's per-sample cost)."""
    n = n_of(wildcards)
    if not has_network(wildcards.dataset, config):
        return eigh_seconds(n) / 2
    kernel = 4.3 * (n / 3000) ** 2 * (1 if has_closed_form(model_spec(config)) else 10)
    pretrain = model_options(config)["pretrain"] or {}
    pretraining = 0
    if pretrain.get("epochs"):
        steps = math.ceil(pretrain_samples(wildcards) / pretrain["batch_size"])
        pretraining = network_seconds(pretrain["epochs"], steps, pretrain["batch_size"], 0, 0)
    return kernel + eigh_seconds(n) / 2 + pretraining


def ntk_memory_mb(wildcards, attempt):
    """The kernel, its copies and a freed one the allocator keeps (resources.MALLOC_ENV: 4.6 GiB
    measured at N = 10^4); plus the Jacobian's memory cap when the NTK is computed by autograd
    (any model but the closed-form default)."""
    extra = 0
    if has_network(wildcards.dataset, config) and not has_closed_form(model_spec(config)):
        extra = 1024 * model_options(config)["ntk_memory_gb"]
    return mem_for(attempt, n_of(wildcards), matrices=4, extra_mb=extra)


def loss_map_seconds(n):
    """A loss map: SE for every cell, linearized SGD for every cell and seed, and the exact
    alpha_c(beta) at each momentum (2.5 s each at N = 1000, O(N^3); bench_loss_map.py)."""
    cells = LOSS_MAP["lr_points"] * LOSS_MAP["momentum_points"]
    return (
        se_seconds(cells * LOSS_MAP["steps"] * n)
        + linearized_seconds(cells * LOSS_MAP["seeds"] * LOSS_MAP["steps"], LOSS_MAP["batch_size"], n)
        + LOSS_MAP["momentum_points"] * 2.5 * (n / 1000) ** 3
    )


def hyperparameter_seconds():
    """Fig. 6's SE scans: a learning-rate scan per problem, and a momentum scan after it for the
    momentum problems, each point `steps` steps on `n_samples` modes (experiments.hyperparameters)."""
    points = len(HYPER["lr_problems"]) * HYPER["lr_points"] + len(HYPER["momentum_problems"]) * (
        HYPER["lr_points"] + HYPER["momentum_points"]
    )
    return se_seconds(points * HYPER["n_samples"] * HYPER["steps"])


def notebook_mem_mb(wildcards, input, attempt):
    """A figure notebook: the kernel plus the tables it plots."""
    return mem_for(attempt, extra_mb=table_mb(input))


def notebook_minutes(wildcards, attempt):
    """papermill starts a kernel and runs the plotting cells: seconds to a minute (README)."""
    return minutes_for(attempt, 60)


def gpus(wildcards):
    """GPUs a torch job asks for: one when the network runs on CUDA (`model.device: cuda`) and the
    dataset has a network; the SLURM plugin turns the `gpu` resource into a GPU request. None
    otherwise, also for `auto`, which takes a GPU only where the node already has one."""
    return int(model_options(config)["device"] == "cuda" and has_network(wildcards.dataset, config))


def table_mb(input, factor=10):
    """A job that reads tables: pandas holds about `factor` times their size on disk."""
    return factor * input.size_mb


def regimes(dataset):
    """Sampled-SGD regimes of a dataset: the network (image data only) and its linearization."""
    out = ["linearized"]
    if has_network(dataset, config) and SGD["network_seeds"] > 0:
        out.insert(0, "network")
    return out


def training_runs(wildcards):
    """The sampled-SGD runs of a dataset: a linearized job per batch size, a network job per setting."""
    runs = expand(rules.train_linearized.output[0], dataset=wildcards.dataset, batch=SGD["batch_sizes"])
    if "network" in regimes(wildcards.dataset):
        runs += expand(rules.train_network.output[0], dataset=wildcards.dataset, setting=list(SETTINGS))
    return runs


def pretrain_samples(wildcards):
    """Pretraining samples prepare_dataset sets aside for a network dataset (None: no pretraining)."""
    pretrain = model_options(config)["pretrain"]
    return pretrain["n_samples"] if pretrain and has_network(wildcards.dataset, config) else None


def setting_of(wildcards):
    return SETTINGS[wildcards.setting]


def settings_of_batch(wildcards):
    """The (lr, momentum, batch) settings one training job runs: all of its batch size."""
    return [s for s in SETTINGS.values() if s["batch"] == int(wildcards.batch)]


# --- The report's registry ----------------------------------------------------------------------
# Each rule file registers, right after its figure rules, what they contribute to the report
# (README "Layout"): for every figure its file, its caption (the .rst of the figure's report()
# flag, the same file `snakemake --report` reads), the executed notebook's HTML, the claims module
# and where on the page it goes. The `report` rule takes the registry's files as inputs and passes
# the entries to the page (sgd_spectra.report.context orders them).
REPORT_ITEMS = []


def register_report_item(
    section, key, producer, output="figure", title=None, anchor=None, wide=False, claims=None, **wildcards
):
    """Add the figure `output` of `producer` (a `rules.<name>` proxy with a `notebook` output) to
    the report, its wildcards filled in (e.g. dataset="digits"). `section`: the page section it
    goes in; `key`: the figure (the page's order: sgd_spectra.report.context.FIGURE_ORDER);
    `claims`: the function whose claims it illustrates; `title`: its subsection heading, if any;
    `anchor`: its id on the page; `wide`: full page width."""
    notebook = expand(producer.output.notebook, **wildcards)[0]
    caption = getattr(producer.rule.output, output).flags["report"].caption
    REPORT_ITEMS.append(
        dict(
            section=section,
            key=key,
            producer=producer.rule.name,
            wildcards=wildcards,
            figure=expand(getattr(producer.output, output), **wildcards)[0],
            caption=os.path.relpath(caption.get_path_or_uri(secret_free=True)),
            notebook=expand(rules.notebook_html.output.html, name=Path(notebook).stem)[0],
            claims=claims,
            title=title,
            anchor=anchor or f"{section}-figure-{key}",
            wide=wide,
        )
    )


def report_files(field):
    """The registry's files of one field ('figure', 'caption' or 'notebook'), each once."""
    return list(dict.fromkeys(item[field] for item in REPORT_ITEMS))


def report_notebook_copies():
    """report/notebooks/X.html for each executed notebook X.html of the registry (copied there)."""
    return [f"report/notebooks/{Path(path).name}" for path in report_files("notebook")]
