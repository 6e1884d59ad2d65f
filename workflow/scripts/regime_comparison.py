"""Regimes over a short horizon (paper Figs. 1, 7): real network, sampled linearized SGD, the exact
averaged recursion and SE(tau) for several tau, on one setting and several batch sizes."""

import numpy as np
import pandas as pd
import torch

from sgd_spectra.experiments import regime_comparison
from sgd_spectra.io import curves_frame, redirect_log, use_threads
from sgd_spectra.models import flat_output, load_model, read_checkpoint, resolve_device
from sgd_spectra.network_training import train_networks
from sgd_spectra.theory import log_spaced_steps

redirect_log(snakemake.log[0])
use_threads(snakemake.threads)
torch.set_num_threads(snakemake.threads)
p = snakemake.params
spec, ntk = np.load(snakemake.input.spectrum), np.load(snakemake.input.ntk)
table = regime_comparison(
    spec["eigenvalues"],
    spec["coefficients"],
    ntk["kernel_over_n"],
    ntk["initial_error"],
    p.lr,
    p.momentum,
    p.batch_sizes,
    p.taus,
    p.seeds,
    p.steps,
    base_seed=p.base_seed,
)
frames = [table]
if read_checkpoint(snakemake.input.model)["spec"] is not None and p.network_seeds:
    device = resolve_device(p.device)
    data = np.load(snakemake.input.data)
    X = torch.as_tensor(data["X"], dtype=torch.float32).to(device)
    y = torch.as_tensor(data["y"], dtype=torch.float32).to(device)
    # the full-train loss costs a forward pass over all N points: log-spaced steps, not every one
    record = log_spaced_steps(p.steps, 30)
    # the network the kernel was computed from; every seed starts from it
    net = flat_output(load_model(snakemake.input.model, torch.float32, device))
    for b in p.batch_sizes:
        # the same batch sequences as the linearized runs of the same seed, the seeds stacked
        loss, div = train_networks(
            net,
            X,
            y,
            p.lr * float(ntk["scale"]),
            p.momentum,
            b,
            range(p.network_seeds),
            record,
            base_seed=p.base_seed,
        )
        for seed in range(p.network_seeds):
            frames.append(
                curves_frame(
                    loss[seed],
                    record,
                    [div[seed]],
                    regime="network",
                    seed=seed,
                    lr=p.lr,
                    momentum=p.momentum,
                    batch=b,
                )
            )
table = pd.concat(frames, ignore_index=True)
table["dataset"] = snakemake.wildcards.dataset
print(table.groupby(["regime", "tau", "batch"], dropna=False).loss.last().to_string())
table.to_parquet(snakemake.output[0], index=False)
