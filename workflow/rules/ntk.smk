# Stage 2: empirical NTK of the network (at initialisation, or after pretraining), normalised so
# lambda_max(K/N) = 1, and the network itself (results/ntk/{dataset}.pt), so that training
# starts from exactly the network whose kernel was taken.


def ntk_memory_mb(wildcards):
    """The kernel and its eigendecomposition's copies; plus the Jacobian's memory cap when the
    NTK is computed by autograd (any model but the closed-form default)."""
    kernel = 2000 + 3 * 8 * n_of(wildcards) ** 2 // 2**20
    if not has_network(wildcards.dataset, config) or has_closed_form(model_spec(config)):
        return kernel
    return kernel + int(1024 * model_options(config)["ntk_memory_gb"])


rule empirical_ntk:
    input:
        "results/data/{dataset}.npz",
    output:
        kernel="results/ntk/{dataset}.npz",
        model="results/ntk/{dataset}.pt",
    params:
        # a synthetic kernel is only normalised: editing the model code must not redo its DAG
        code=lambda wc: code_version("ntk", "ntk_generic", "models", "pretrain")
        if has_network(wc.dataset, config) else code_version("ntk"),
        model=lambda wc: model_spec(config) if has_network(wc.dataset, config) else None,
        pretrain=lambda wc: model_options(config)["pretrain"] if has_network(wc.dataset, config) else None,
        memory_gb=model_options(config)["ntk_memory_gb"],
        device=model_options(config)["device"],
        seed=config["seed"],
    log:
        "logs/ntk/{dataset}.log",
    benchmark:
        "results/benchmarks/empirical_ntk/{dataset}.tsv"
    threads: 2
    resources:
        mem_mb=ntk_memory_mb,
        runtime=30,
    script:
        "../scripts/empirical_ntk.py"
