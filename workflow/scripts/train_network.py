"""Train the real network (SGD with momentum, as torch.optim.SGD) for one setting, several seeds:
every seed starts from the saved network, the seeds stacked (sgd_spectra.network_training)."""

import numpy as np
import pandas as pd
import torch

from sgd_spectra.io import curves_frame, redirect_log
from sgd_spectra.models import flat_output, load_model, resolve_device
from sgd_spectra.network_training import train_networks
from sgd_spectra.theory import log_spaced_steps

redirect_log(snakemake.log[0])
torch.set_num_threads(snakemake.threads)
p, s = snakemake.params, snakemake.params.setting
data, ntk = np.load(snakemake.input.data), np.load(snakemake.input.ntk)
device = resolve_device(p.device)
# float32 as in the paper's training scripts (4x faster than float64 on CPU)
X = torch.as_tensor(data["X"], dtype=torch.float32).to(device)
y = torch.as_tensor(data["y"], dtype=torch.float32).to(device)
record = log_spaced_steps(p.steps, p.record_points)
# the effective learning rate is in units of 1/lambda_max of the normalised kernel
torch_lr = s["lr"] * float(ntk["scale"])
print(f"setting {s}, torch lr = {torch_lr:.6g}, on {device}")
# the network the kernel was computed from (its saved parameters, rounded to float32)
net = flat_output(load_model(snakemake.input.model, torch.float32, device))
seeds = range(p.n_seeds)
loss, diverged_at = train_networks(
    net, X, y, torch_lr, s["momentum"], s["batch"], seeds, record, base_seed=p.base_seed, progress=True
)
frames = []
for seed in seeds:
    print(f"seed {seed}: final loss {loss[seed, -1]:.4g}, diverged at {diverged_at[seed]}")
    frames.append(
        curves_frame(
            loss[seed],
            record,
            [diverged_at[seed]],
            dataset=snakemake.wildcards.dataset,
            regime="network",
            seed=seed,
            **s,
        )
    )
pd.concat(frames, ignore_index=True).to_parquet(snakemake.output[0], index=False)
