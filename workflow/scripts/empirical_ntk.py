"""Empirical NTK of the configured network, normalised so that lambda_max(K/N) = 1.

Network datasets: the model is built from the config's spec and seed (pretrained first on the
data rule's disjoint split when configured); its kernel is the closed form for the default
one-hidden-layer ReLU network and the chunked autograd NTK otherwise.  The network is saved
(results/ntk/{dataset}.pt) so the training rules train exactly it, and ``scale = N / lambda_max(K)``
converts effective learning rates into torch learning rates.  Synthetic data: the kernel and its
spectrum are given (scale 1) and the checkpoint records that there is no network.
"""

import numpy as np
import torch

from sgd_spectra.io import redirect_log
from sgd_spectra.models import build_model, resolve_device, save_checkpoint
from sgd_spectra.ntk import normalise_kernel
from sgd_spectra.ntk_generic import kernel_arrays
from sgd_spectra.pretrain import pretrain

redirect_log(snakemake.log[0])
torch.set_num_threads(snakemake.threads)
p = snakemake.params
data = np.load(snakemake.input[0])
if "X" in data:
    device = resolve_device(p.device)
    X = torch.as_tensor(data["X"], dtype=torch.float64)
    model = build_model(p.model, X.shape[1:], p.seed, torch.float64).to(device)
    print(f"model {p.model} on {device}: {sum(t.numel() for t in model.parameters())} parameters")
    record = None
    if p.pretrain:
        history = pretrain(
            model,
            data["X_pretrain"],
            data["y_pretrain"],
            p.pretrain["epochs"],
            p.pretrain["lr"],
            p.pretrain["loss"],
            p.pretrain["batch_size"],
            p.seed,
            device,
        )
        record = {**p.pretrain, "epoch_losses": history, "indices": data["pretrain_indices"].tolist()}
    arrays = kernel_arrays(model, X.to(device), data["y"], memory_gb=p.memory_gb, progress=True)
    save_checkpoint(snakemake.output.model, model, p.model, X.shape[1:], p.seed, record)
else:
    # lambda_max(K) = N lambda_max(K/N), known from the spectrum the kernel was built from
    n = len(data["initial_error"])
    kernel_over_n, scale = normalise_kernel(data["kernel_over_n"] * n, lam_max=n * data["eigenvalues"].max())
    arrays = {
        "kernel_over_n": kernel_over_n,
        "initial_error": data["initial_error"],
        "scale": scale,
        "eigenvalues": data["eigenvalues"] * scale,
        "coefficients": data["coefficients"],
    }
    save_checkpoint(snakemake.output.model, None, None, None, p.seed)
initial_error, scale = arrays["initial_error"], arrays["scale"]
print(f"N={len(initial_error)} scale=N/lambda_max(K)={scale:.6g} L0={np.mean(initial_error**2) / 2:.6g}")
np.savez(snakemake.output.kernel, **arrays)
