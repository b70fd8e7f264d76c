import json

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from labelwise.bench.stats import auc_ranks, average_ranks, checkpoints, penalty_matrix


def test_checkpoints():
    budgets = np.array([100, 200, 300, 400, 500, 600, 700, 800, 900, 1000, 1100])
    flat_late = np.array([0.5, 0.6, 0.7, 0.75, 0.8, 0.85, 0.88, 0.9, 0.92, 0.95, 1.0])
    assert checkpoints(budgets, flat_late, 100, 100) == [100, 200, 300, 500, 900]
    early = np.array([0.5, 0.995, 1, 1, 1, 1, 1, 1, 1, 1, 1.0])
    assert checkpoints(budgets, early, 100, 100) == [100, 200]


def _frame(curves, seeds=5, n0=10, b=10, rounds=4, datasets=("d1",)):
    """Synthetic accuracy curves: curves[strategy](seed, round) -> value."""
    rows, runs = [], []
    for ds in datasets:
        for strat, fn in curves.items():
            for seed in range(seeds):
                runs.append(
                    {
                        "dataset": ds,
                        "model": "m",
                        "strategy": strat,
                        "seed": seed,
                        "config": json.dumps({"batch_size": b, "n_initial": n0}),
                    }
                )
                for r in range(rounds + 1):
                    rows.append(
                        {
                            "dataset": ds,
                            "model": "m",
                            "strategy": strat,
                            "seed": seed,
                            "round": r,
                            "n_labeled": n0 + r * b,
                            "metric": "accuracy",
                            "value": fn(seed, r),
                        }
                    )
    return pd.DataFrame(rows), pd.DataFrame(runs)


def slow_penalty(df, runs, strategies, cps):
    """Direct use of scipy's paired t-test per checkpoint."""
    pen = np.zeros((len(strategies), len(strategies)))
    for budget in cps:
        for i, si in enumerate(strategies):
            for j, sj in enumerate(strategies):
                if i == j:
                    continue
                a = (
                    df[(df.strategy == si) & (df.n_labeled == budget)]
                    .sort_values("seed")
                    .value.to_numpy()[:5]
                )
                b = (
                    df[(df.strategy == sj) & (df.n_labeled == budget)]
                    .sort_values("seed")
                    .value.to_numpy()[:5]
                )
                t, p = stats.ttest_rel(a, b)
                if p < 0.05 and t > 0:
                    pen[i, j] += 1 / len(cps)
    return pen


def test_penalty_matrix_matches_scipy():
    rng = np.random.default_rng(0)
    noise = rng.normal(scale=0.01, size=(3, 6, 5))
    curves = {
        "random": lambda s, r: 0.5 + 0.05 * r + noise[0, s, r],
        "good": lambda s, r: 0.5 + 0.07 * r + noise[1, s, r],
        "noisy": lambda s, r: 0.5 + 0.05 * r + 3 * noise[2, s, r],
    }
    df, runs = _frame(curves, seeds=6)
    strategies, pen, n_exp = penalty_matrix(df, runs)
    assert strategies == ["good", "noisy", "random"] and n_exp == 1
    random_curve = df[df.strategy == "random"].groupby("n_labeled").value.mean()
    cps = checkpoints(random_curve.index.to_numpy(), random_curve.to_numpy(), 10, 10)
    assert np.allclose(pen, slow_penalty(df, runs, strategies, cps))
    assert pen[0, 2] >= 0.5  # "good" beats random at every checkpoint after the first
    assert pen[2, 0] == 0


def test_penalty_sums_over_experiments_and_needs_random():
    curves = {
        "random": lambda s, r: 0.5 + 0.01 * s,
        "a": lambda s, r: 0.6 + 0.01 * s + 0.001 * r,
    }
    df, runs = _frame(curves, datasets=("d1", "d2"))
    _, pen, n_exp = penalty_matrix(df, runs)
    assert n_exp == 2 and pen[0, 1] == pytest.approx(2.0)
    df2, runs2 = _frame({"a": curves["a"], "b": curves["random"]})
    assert penalty_matrix(df2, runs2)[2] == 0


def test_ranks():
    curves = {
        "random": lambda s, r: 0.5 + 0.01 * r,
        "a": lambda s, r: 0.6,
        "b": lambda s, r: 0.4,
    }
    df, _ = _frame(curves, seeds=2, datasets=("d1", "d2"))
    ranks = auc_ranks(df)
    assert ranks.set_index(["dataset", "strategy"]).loc[("d1", "a"), "rank"] == 1
    assert average_ranks(ranks).to_dict() == {"a": 1.0, "random": 2.0, "b": 3.0}


def test_final_table_and_pivot_take_each_runs_last_round():
    from labelwise.bench.stats import final_pivot, final_table, to_markdown

    curves = {
        "random": lambda seed, r: 0.5 + 0.1 * r + 0.01 * seed,
        "lhd+finetune": lambda seed, r: 0.6 + 0.05 * r,
    }
    df, _ = _frame(curves, seeds=3, rounds=2, datasets=("d1", "d2"))
    df = df[~((df["strategy"] == "random") & (df["seed"] == 2) & (df["round"] == 2))]
    table = final_table(df).set_index(["dataset", "strategy"])
    # random: seeds 0 and 1 end at round 2, seed 2 at round 1
    want = np.array([0.7, 0.71, 0.62])
    row = table.loc[("d1", "random")]
    assert row["mean"] == pytest.approx(want.mean())
    assert row["sem"] == pytest.approx(want.std(ddof=1) / np.sqrt(3))
    assert row["n_seeds"] == 3 and row["n_labeled"] == 30
    pivot = final_pivot(df)
    assert list(pivot.columns) == ["d1", "d2"]
    assert list(pivot.index) == ["random", "lhd+finetune"]
    assert pivot.loc["lhd+finetune", "d2"] == "0.700 ± 0.000"
    md = to_markdown(pivot).splitlines()
    assert md[0] == "| strategy | d1 | d2 |" and md[1] == "|---|---|---|"
    assert md[3].startswith("| lhd+finetune | 0.700 ± 0.000 |")
    assert final_pivot(df, "clean_share").empty


def test_agbal_table_pairs_methods_and_averages_relative_improvement():
    from labelwise.bench.stats import agbal_table, final_table

    curves = {
        "random": lambda seed, r: 1.0,
        "lcmd": lambda seed, r: 0.8,
        "agbal-lcmd": lambda seed, r: 0.6,
        "bmdal-bait": lambda seed, r: 0.5,
        "agbal-bait": lambda seed, r: 0.55,
        "maxdet": lambda seed, r: 0.9,  # no AGBAL pair: left out
    }
    df, _ = _frame(curves, seeds=2, rounds=3, datasets=("d1", "d2"))
    df["metric"] = "mse"
    table = agbal_table(df, "mse")
    assert list(table.index) == [
        "random",
        "lcmd",
        "agbal-lcmd",
        "bmdal-bait",
        "agbal-bait",
    ]
    assert list(table.columns) == ["d1", "d2", "avg impro %"]
    assert table.loc["agbal-lcmd", "avg impro %"] == "+25.0"
    assert table.loc["agbal-bait", "avg impro %"] == "-10.0"
    assert table.loc["lcmd", "avg impro %"] == "" and table.loc["lcmd", "d1"] == 0.8
    at2 = final_table(df, "mse", round=2)
    assert (at2["n_labeled"] == 30).all()


def test_log_mean_is_bmdals_mean_of_log_metric_over_steps():
    from labelwise.bench.stats import final_table

    curves = {"lcmd": lambda seed, r: float(np.exp(-r - seed))}
    df, _ = _frame(curves, seeds=2, rounds=3)
    table = final_table(df, "accuracy", log_mean=True)
    # rounds 1..3: log values -(1..3) - seed, mean -2 - seed; over seeds 0, 1: -2.5
    assert table["mean"].iloc[0] == pytest.approx(-2.5)
    assert table["sem"].iloc[0] == pytest.approx(np.std([-2, -3], ddof=1) / np.sqrt(2))


def test_agbal_shift_table_and_figure_follow_zeta_and_n_aux(tmp_path):
    from labelwise.bench.report import agbal_pairs, plot_agbal_shift, shift_keys
    from labelwise.bench.stats import agbal_shift_table, aux_setting

    assert aux_setting("shifted") == ("shifted", 8.0, 1000)
    assert aux_setting("bike-sharing:aux:0:300") == ("bike-sharing", 0.0, 300)
    assert aux_setting("friedman1") is None and aux_setting("shifted:x") is None
    curves = {
        "lcmd": lambda seed, r: 0.8,
        "agbal-lcmd": lambda seed, r: 0.6 + 0.01 * seed,
        "random": lambda seed, r: 1.0,
    }
    datasets = ("shifted:0:1000", "shifted:8:1000", "shifted:8:300", "diamonds:aux")
    df, _ = _frame(curves, seeds=2, rounds=2, datasets=datasets)
    df["metric"] = "mse"
    df = pd.concat([df, df.assign(dataset="friedman1")])
    table = agbal_shift_table(df, "mse")
    assert set(table["dataset"]) == set(datasets)  # friedman1 has no aux data
    row = table[(table["dataset"] == "shifted:8:300") & (table["strategy"] == "lcmd")]
    assert (row["base"].item(), row["zeta"].item(), row["n_aux"].item()) == (
        "shifted",
        8.0,
        300,
    )
    # shifted varies both; diamonds:aux (one setting) gives no panel
    assert shift_keys(table) == [
        ("shifted", "zeta", "n_aux", 1000.0),
        ("shifted", "n_aux", "zeta", 8.0),
    ]
    assert agbal_pairs(["random", "lcmd", "agbal-lcmd", "agbal-fw"]) == [
        ("lcmd", "agbal-lcmd")
    ]
    png = tmp_path / "shift.png"
    assert plot_agbal_shift(table, [("lcmd", "agbal-lcmd")], png)
    assert png.stat().st_size > 10_000
    one = table[table["dataset"] == "diamonds:aux"]
    assert not plot_agbal_shift(one, [("lcmd", "agbal-lcmd")], tmp_path / "no.png")


def test_auac_is_the_trapezoid_over_steps():
    from labelwise.bench.stats import final_table

    curves = {"oracle": lambda seed, r: 0.9, "rise": lambda seed, r: 0.8 + 0.01 * r}
    df, _ = _frame(curves, seeds=2, rounds=10)
    t = final_table(df, "accuracy", auac=True).set_index("strategy")
    assert t.loc["oracle", "mean"] == pytest.approx(9.0)  # 10 unit steps at 0.9
    # trapezoid of 0.80, 0.81, ..., 0.90 over 10 steps
    assert t.loc["rise", "mean"] == pytest.approx(8.5)
    assert t.loc["rise", "n_seeds"] == 2
    # a run still going (5 of 10 steps) has a shorter curve: it is left out of
    # the areas, the ranks and the paired comparison
    from labelwise.bench.stats import seed_ranks, versus_group

    partial = (df["strategy"] == "rise") & (df["seed"] == 1) & (df["round"] > 5)
    short = df[~partial]
    t = final_table(short, "accuracy", auac=True).set_index("strategy")
    assert t.loc["rise", "n_seeds"] == 1 and t.loc["rise", "mean"] == pytest.approx(8.5)
    assert t.loc["oracle", "n_seeds"] == 2
    ranks = seed_ranks(short, "accuracy").set_index("strategy")
    assert ranks.loc["rise", "n_seeds"] == 1 and ranks.loc["oracle", "n_seeds"] == 2
    assert versus_group(short, "rise", ["oracle"], "accuracy").iloc[0]["n_seeds"] == 1


def test_seed_ranks_average_per_seed_ranks_and_draw(tmp_path):
    from labelwise.bench.report import plot_seed_ranks
    from labelwise.bench.stats import seed_ranks

    curves = {
        "a": lambda seed, r: 0.9,
        "b": lambda seed, r: 0.8 + 0.2 * (seed == 0),  # best on seed 0 only
        "c": lambda seed, r: 0.5,
    }
    df, _ = _frame(curves, seeds=3, rounds=4, datasets=("d1", "d2"))
    df["metric"] = "balanced_accuracy"
    r = seed_ranks(df).set_index(["dataset", "strategy"])
    # seed 0: b, a, c; seeds 1, 2: a, b, c
    assert r.loc[("d1", "a"), "rank"] == pytest.approx(4 / 3)
    assert r.loc[("d1", "b"), "rank"] == pytest.approx(5 / 3)
    assert r.loc[("d2", "c"), "rank"] == 3.0 and r.loc[("d2", "c"), "n_seeds"] == 3
    plot_seed_ranks(seed_ranks(df), tmp_path / "r.png")
    assert (tmp_path / "r.png").stat().st_size > 5_000


def test_versus_group_pairs_seeds_against_the_group_mean():
    from scipy.stats import wilcoxon

    from labelwise.bench.stats import versus_group

    curves = {
        "np": lambda seed, r: 0.80 + 0.01 * seed,
        "g1": lambda seed, r: 0.79,
        "g2": lambda seed, r: 0.81 + 0.002 * seed,
        "other": lambda seed, r: 0.1,
    }
    df, _ = _frame(curves, seeds=6, rounds=3, datasets=("d1",))
    df["metric"] = "balanced_accuracy"
    t = versus_group(df, "np", ["g1", "g2"]).iloc[0]
    # AUAC over rounds 0..3 = 3 x the constant level
    own = np.array([3 * (0.80 + 0.01 * s) for s in range(6)])
    group = np.array([(3 * 0.79 + 3 * (0.81 + 0.002 * s)) / 2 for s in range(6)])
    assert t["n_seeds"] == 6
    assert t["strategy"] == pytest.approx(own.mean())
    assert t["group"] == pytest.approx(group.mean())
    assert t["diff"] == pytest.approx((own - group).mean())
    assert t["wins"] == int(np.sum(own - group >= 0))
    assert t["p_value"] == pytest.approx(wilcoxon(own, group).pvalue)
    last = versus_group(df, "np", ["g1"], auac=False).iloc[0]
    assert last["diff"] == pytest.approx(np.mean([0.01 + 0.01 * s for s in range(6)]))
    assert versus_group(df, "np", ["missing"]).empty


def test_paired_t_is_scipys_and_certain_when_every_seed_agrees():
    from scipy.stats import ttest_rel

    from labelwise.bench.stats import paired_t

    rng = np.random.default_rng(0)
    a, b = rng.normal(size=7), rng.normal(size=7)
    assert paired_t(a - b) == pytest.approx(ttest_rel(a, b).statistic)
    assert paired_t(np.full(3, 0.5)) == np.inf
    assert paired_t(np.full(3, -0.5)) == -np.inf
    assert paired_t(np.zeros(4)) == 0.0
