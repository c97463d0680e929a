"""utils.search, utils.search_train: spaces, rungs, run loops (chapter 17)."""

import numpy as np
import pytest

from utils import search
from utils import search_train as st

TOY = {f"x{j}": search.Uniform(0.0, 1.0) for j in range(5)}


def toy(trial, budget):
    return st.toy_score(trial.config, budget, seed=trial.seed + budget)


def test_halving_rungs_hand_cases():
    # Li et al. (2017), Table 1, bracket s = 4: R = 81, eta = 3
    assert search.halving_rungs(81, 1, 3) == [
        (81, 1),
        (27, 3),
        (9, 9),
        (3, 27),
        (1, 81),
    ]
    assert search.halving_rungs(9, 10, 3) == [(9, 10), (3, 30), (1, 90)]
    assert search.halving_rungs(8, 1, 2) == [(8, 1), (4, 2), (2, 4), (1, 8)]
    assert search.halving_rungs(405, 1, 3, r_max=81)[-1] == (5, 81)
    assert search.halving_rungs(1, 5, 3) == [(1, 5)]


def test_budget_rungs_jamieson_talwalkar():
    # n = 8, B = 240: three rounds of 80 units
    assert search.budget_rungs(8, 240, 2) == [(8, 10), (4, 20), (2, 40)]
    assert search.budget_rungs(9, 270, 3) == [(9, 15), (3, 45)]


def test_hyperband_brackets_match_li_et_al_table_1():
    table = {
        4: [(81, 1), (27, 3), (9, 9), (3, 27), (1, 81)],
        3: [(34, 3), (11, 9), (3, 27), (1, 81)],
        2: [(15, 9), (5, 27), (1, 81)],
        1: [(8, 27), (2, 81)],
        0: [(5, 81)],
    }
    assert dict(search.hyperband_brackets(81, 3)) == table


@pytest.mark.parametrize("eta", [0, 1, -3, 2.5, True])
def test_bad_reduction_factor(eta):
    with pytest.raises(ValueError, match="eta"):
        search.halving_rungs(9, 1, eta)
    with pytest.raises(ValueError, match="eta"):
        search.hyperband_brackets(81, eta)


def test_budget_too_small_for_one_rung():
    with pytest.raises(ValueError, match="too small for one rung"):
        search.halving_rungs(9, 10, 3, r_max=5)
    with pytest.raises(ValueError, match="too small for one rung"):
        search.budget_rungs(8, 20, 2)
    with pytest.raises(ValueError, match="budget"):
        search.run_halving(toy, search.sample_configs(TOY, 9), 1, 3, budget=10)
    with pytest.raises(ValueError, match="too small for one trial"):
        search.run_random(toy, search.sample_configs(TOY, 3), 10, budget=5)


def test_empty_space_and_configs():
    for bad in ({}, None, [1]):
        with pytest.raises(ValueError, match="space"):
            search.sample_configs(bad, 3)
    with pytest.raises(ValueError, match="space"):
        search.check_space({"lr": (0.1, 1.0)})
    with pytest.raises(ValueError, match="configs is empty"):
        search.run_halving(toy, [], 1, 3)
    with pytest.raises(ValueError):
        search.Choice(())
    with pytest.raises(ValueError):
        search.LogUniform(0.0, 1.0)
    with pytest.raises(ValueError):
        search.Uniform(1.0, 1.0)


def test_sampling_and_grid():
    space = {"lr": search.LogUniform(1e-3, 1e-1), "d": search.Choice((1, 2, 3))}
    a, b = search.sample_configs(space, 50, seed=3), search.sample_configs(space, 50, 3)
    assert a == b and a != search.sample_configs(space, 50, seed=4)
    assert all(1e-3 <= c["lr"] <= 1e-1 and c["d"] in (1, 2, 3) for c in a)
    grid = search.grid_configs(space, 2)
    assert len(grid) == 6
    lrs = sorted({c["lr"] for c in grid})
    assert lrs == pytest.approx([10**-2.5, 10**-1.5])  # cell centres in log
    assert search.grid_configs({"x": search.Uniform(0, 1)}, 2) == [
        {"x": 0.25},
        {"x": 0.75},
    ]


def test_run_halving_charges_and_promotes():
    seen = []

    def obj(trial, r):
        seen.append((trial.index, r))
        return -abs(trial.config["x"] - 0.5)

    configs = [{"x": x} for x in np.linspace(0, 1, 9)]
    res = search.run_halving(obj, configs, 2, 3)
    assert res["rungs"] == [(9, 2), (3, 6), (1, 18)]
    assert res["spent"] == 9 * 2 + 3 * 4 + 1 * 12
    assert res["best"].config["x"] == 0.5 and res["best"].spent == 18
    assert [i for i, r in seen if r == 6] == [4, 3, 5]
    fresh = search.run_halving(obj, configs, 2, 3, resume=False)
    assert fresh["spent"] == 9 * 2 + 3 * 6 + 18
    assert [u for u, _ in res["history"]][-1] == res["spent"]


def test_search_is_reproducible_under_a_seed():
    def run(seed):
        res = search.run_hyperband(toy, TOY, 27, 3, seed=seed)
        return res["best"].config, res["spent"], res["history"]

    assert run(5) == run(5)
    assert run(5)[0] != run(6)[0]
    r1 = search.run_random(toy, search.sample_configs(TOY, 8, 1), 9, seed=1, budget=40)
    assert len(r1["trials"]) == 4 and r1["spent"] == 36


def test_toy_score():
    best = {"x0": 0.62, "x1": 0.41, "x2": 0.0, "x3": 0.0, "x4": 0.0}
    assert st.toy_score(best) == pytest.approx(0.9)
    assert st.toy_score(best, 10_000) == pytest.approx(0.9, abs=0.01)
    assert st.toy_score(best, 5, seed=1) == st.toy_score(best, 5, seed=1)
    with pytest.raises(ValueError, match="x3"):
        st.toy_score({**best, "x3": 2.0})
    with pytest.raises(ValueError, match="budget"):
        st.toy_score(best, 0)


def test_ema_and_bad_configs():
    assert st.ema([2.0, 2.0, 2.0]) == pytest.approx([2.0, 2.0, 2.0])
    out = st.ema([0.0, 1.0], beta=0.5)
    assert out == pytest.approx([0.0, 2 / 3])
    with pytest.raises(ValueError):
        st.ema([], 0.5)
    with pytest.raises(ValueError, match="depth"):
        st.init_params(8, 5, 0)
    with pytest.raises(ValueError, match="lr"):
        st._config({"lr": -1.0})


def test_cifar_objective_resumes_and_matches_keras():
    rng = np.random.default_rng(0)
    data = {
        f"x_{s}": rng.normal(size=(40, 32, 32, 3)).astype("float32")
        for s in ("train", "val", "test")
    }
    data.update(
        {
            f"y_{s}": rng.integers(0, 10, 40).astype("int32")
            for s in ("train", "val", "test")
        }
    )
    obj = st.CifarObjective(data, batch_size=8)
    trial = search.Trial(0, {"width": 4, "depth": 2, "augment": True}, seed=1)
    acc = obj(trial, 3)
    assert 0 <= acc <= 1 and obj.steps_done == 3
    obj(trial, 5)
    assert obj.steps_done == 5 and trial.state["done"] == 5
    with pytest.raises(ValueError, match="below"):
        obj(trial, 2)
    twin = st.keras_twin(trial.state["params"])
    ours = st.forward(trial.state["params"], data["x_val"][:4]).numpy()
    np.testing.assert_allclose(twin(data["x_val"][:4]).numpy(), ours, atol=1e-4)
    assert 0 <= obj.test_accuracy(trial) <= 1
    lrs, losses = st.lr_range_test(obj, {"width": 4, "depth": 1}, 6, seed=0)
    assert lrs.shape == losses.shape == (6,) and lrs[0] == pytest.approx(1e-4)
    with pytest.raises(ValueError, match="data lacks"):
        st.CifarObjective({"x_train": 1})
