"""Empirical NTK at initialisation (closed form), normalised so that lambda_max(K/N) = 1.

Image data: the network is initialised from the config seed; its parameters are saved so the
training rule trains exactly this network, and ``scale = N / lambda_max(K)`` converts effective
learning rates into torch learning rates.  Synthetic data: the kernel is given (scale 1).
"""
import numpy as np
import torch

from sgd_spectra.io import redirect_log
from sgd_spectra.ntk import init_network, normalise_kernel, ntk_closed_form

redirect_log(snakemake.log[0])
torch.set_num_threads(snakemake.threads)
data = np.load(snakemake.input[0])
if "X" in data:
    X = torch.as_tensor(data["X"], dtype=torch.float64)
    y = data["y"]
    net = init_network(X.shape[1], snakemake.params.width, snakemake.params.seed)
    raw = ntk_closed_form(net, X).numpy()
    kernel_over_n, scale = normalise_kernel(raw)
    with torch.no_grad():
        f0 = net(X).numpy()
    extra = {"weight": net.weight.detach().numpy(), "bias": net.bias.detach().numpy(),
             "readout": net.readout.detach().numpy()}
    initial_error = f0 - y
else:
    kernel_over_n, scale = normalise_kernel(data["kernel_over_n"] * len(data["initial_error"]))
    initial_error = data["initial_error"]
    extra = {}
print(f"N={len(initial_error)} scale=N/lambda_max(K)={scale:.6g} L0={np.mean(initial_error**2)/2:.6g}")
np.savez(snakemake.output[0], kernel_over_n=kernel_over_n, initial_error=initial_error,
         scale=scale, **extra)
