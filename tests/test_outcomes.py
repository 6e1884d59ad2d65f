"""sgd_spectra.outcomes on hand-built curves whose outcomes are known by construction."""

import numpy as np
import pandas as pd

from sgd_spectra import outcomes

STEPS = [0, 10, 100]


def run(regime, lr, seed, losses, diverged_at=-1, tau=np.nan, momentum=0.0, batch=10):
    return [
        dict(
            regime=regime,
            tau=tau,
            lr=lr,
            momentum=momentum,
            batch=batch,
            seed=seed,
            step=t,
            loss=loss,
            diverged_at=diverged_at,
        )
        for t, loss in zip(STEPS, losses)
    ]


def curves():
    rows = []
    # lr 0.5: three seeds that converge
    for seed in range(3):
        rows += run("linearized", 0.5, seed, [1.0, 0.5, 0.1 + 0.01 * seed])
    # lr 2.0: seed 0 diverges at step 10, seed 1 grows without diverging, seed 2 converges
    rows += run("linearized", 2.0, 0, [1.0, np.inf, np.inf], diverged_at=10)
    rows += run("linearized", 2.0, 1, [1.0, 2.0, 3.0])
    rows += run("linearized", 2.0, 2, [1.0, 0.5, 0.2])
    # lr 1.0: no seed diverges, but the seed-mean ends above where it started
    rows += run("linearized", 1.0, 0, [1.0, 0.9, 0.5])
    rows += run("linearized", 1.0, 1, [1.0, 1.5, 2.0])
    # the SE regime at two taus: only tau = 1 diverges
    rows += run("se", 2.0, 0, [1.0, np.inf, np.inf], diverged_at=50, tau=1.0)
    rows += run("se", 2.0, 0, [1.0, 0.5, 0.1], tau=-1.0)
    frame = pd.DataFrame(rows)
    # rows out of step order: the first and last loss are by step, not by row
    return frame.sample(frac=1.0, random_state=0).reset_index(drop=True)


def test_per_seed_flags_divergence_and_growth():
    seeds = outcomes.per_seed(
        outcomes.select(curves(), "linearized", {"lr": 2.0, "momentum": 0.0, "batch": 10})
    )
    seeds = seeds.set_index("seed")
    assert seeds.diverged.tolist() == [True, False, False]
    assert seeds.grew.tolist() == [False, True, False]
    assert seeds.diverged_at.tolist() == [10, -1, -1]
    assert seeds.first_loss.tolist() == [1.0, 1.0, 1.0]
    assert seeds.last_loss.iloc[1] == 3.0


def test_setting_outcomes_counts_per_setting():
    table = outcomes.setting_outcomes(curves(), "linearized").set_index("lr")
    assert list(table.columns) == [c for c in outcomes.OUTCOME_COLUMNS if c != "lr"]
    assert table.loc[0.5, ["n_seeds", "n_diverged", "n_grew", "first"]].tolist() == [3, 0, 0, -1]
    assert table.loc[2.0, ["n_seeds", "n_diverged", "n_grew", "first"]].tolist() == [3, 1, 1, 10]
    assert table.loc[1.0, ["n_seeds", "n_diverged", "n_grew", "first"]].tolist() == [2, 0, 1, -1]


def test_setting_outcomes_selects_the_tau_of_the_se_regime():
    frame = curves()
    assert outcomes.setting_outcomes(frame, "se", tau=1.0)["n_diverged"].tolist() == [1]
    assert outcomes.setting_outcomes(frame, "se", tau=-1.0)["n_diverged"].tolist() == [0]
    empty = outcomes.setting_outcomes(frame, "network")
    assert empty.empty and list(empty.columns) == outcomes.OUTCOME_COLUMNS


def test_converged_needs_no_divergence_and_a_lower_seed_mean():
    frame = curves()

    def setting(lr):
        return {"lr": lr, "momentum": 0.0, "batch": 10}

    assert outcomes.converged(frame, "linearized", setting(0.5)) is True
    assert outcomes.converged(frame, "linearized", setting(2.0)) is False  # one seed diverged
    assert outcomes.converged(frame, "linearized", setting(1.0)) is False  # mean 1.25 > 1.0
    assert outcomes.converged(frame, "network", setting(0.5)) is None  # not run


def test_diverged_count():
    frame = outcomes.select(curves(), "linearized", {"lr": 2.0, "momentum": 0.0, "batch": 10})
    assert outcomes.diverged_count(frame) == (1, 3)
