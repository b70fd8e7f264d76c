"""Random vs the best strategy vs the average of the others (Fig. 1 of the
learning-AL paper): the stats function, the table command and the report."""

import re

import numpy as np
import pandas as pd
import pytest
from scipy import stats
from typer.testing import CliRunner

from labelwise.bench.stats import (
    paired_summary,
    random_comparison,
    random_comparison_curves,
    random_comparison_display,
)
from labelwise.cli import app
from labelwise.loop.experiment import RunConfig
from labelwise.loop.store import ResultStore
from labelwise.metrics import auac

ROUNDS = 4
LEVELS = {  # balanced accuracy of each strategy per seed (constant over rounds)
    "random": lambda seed, ds: 0.70 + 0.01 * seed,
    "good": lambda seed, ds: 0.80 + 0.02 * seed if ds == "d1" else 0.60,
    "bad": lambda seed, ds: 0.60 + 0.005 * seed * seed,
    "mid": lambda seed, ds: 0.72 + 0.015 * seed if ds == "d1" else 0.75 + 0.01 * seed,
}


def _frame(seeds=4, datasets=("d1", "d2"), metric="balanced_accuracy"):
    rows = []
    for ds in datasets:
        for strat, level in LEVELS.items():
            for seed in range(seeds):
                for r in range(ROUNDS + 1):
                    rows.append(
                        dict(dataset=ds, model="m", strategy=strat, seed=seed, round=r)
                        | dict(n_labeled=10 + 5 * r, metric=metric)
                        | dict(value=level(seed, ds) + 0.01 * r)
                    )
    return pd.DataFrame(rows)


def _auacs(strategy, ds, seeds):
    return np.array(
        [
            auac(np.array([LEVELS[strategy](s, ds) + 0.01 * r for r in range(5)]))
            for s in range(seeds)
        ]
    )


def test_paired_summary_matches_scipy():
    own = np.array([1.0, 1.3, 0.9, 1.6, 1.2])
    other = np.array([1.1, 1.0, 0.8, 1.0, 1.0])
    s = paired_summary(own, other)
    assert s["n_seeds"] == 5 and s["wins"] == 4
    assert s["diff"] == pytest.approx((own - other).mean())
    assert s["sem"] == pytest.approx(stats.sem(own - other))
    assert s["p_t"] == pytest.approx(stats.ttest_rel(own, other).pvalue)
    assert s["p_value"] == pytest.approx(stats.wilcoxon(own, other).pvalue)
    # constant non-zero differences: certain for the t-test (as the penalty matrix)
    whole = np.array([1.0, 2.0, 3.0])
    assert paired_summary(whole + 0.5, whole)["p_t"] == 0.0
    same = paired_summary(own, own)
    assert np.isnan(same["p_t"]) and np.isnan(same["p_value"])
    one = paired_summary(own[:1], other[:1])
    assert one["n_seeds"] == 1 and np.isnan(one["p_t"]) and one["sem"] == 0.0


def test_random_comparison_picks_the_best_and_averages_the_rest():
    t = random_comparison(_frame()).set_index("dataset")
    assert list(t.index) == ["d1", "d2"]
    rnd, good, bad, mid = (_auacs(s, "d1", 4) for s in ("random", "good", "bad", "mid"))
    d1 = t.loc["d1"]
    assert d1["best"] == "good" and d1["n_strategies"] == 3 and d1["n_seeds"] == 4
    assert d1["random"] == pytest.approx(rnd.mean())
    assert d1["best_value"] == pytest.approx(good.mean())
    assert d1["best_diff"] == pytest.approx((good - rnd).mean())
    assert d1["best_p_t"] == pytest.approx(stats.ttest_rel(good, rnd).pvalue)
    assert d1["best_p"] == pytest.approx(stats.wilcoxon(good, rnd).pvalue)
    avg = (good + bad + mid) / 3
    assert d1["average"] == pytest.approx(avg.mean())
    assert d1["average_diff"] == pytest.approx((avg - rnd).mean())
    assert d1["average_p_t"] == pytest.approx(stats.ttest_rel(avg, rnd).pvalue)
    assert t.loc["d2", "best"] == "mid"  # no strategy is best everywhere
    # a loss: the lowest is best
    loss = _frame(metric="rmse")
    assert random_comparison(loss, "rmse").set_index("dataset").loc["d1", "best"] == (
        "bad"
    )


def test_random_comparison_pairs_only_seeds_where_all_finished():
    df = _frame()
    # "bad" stops after round 2 on seed 3: that seed leaves the comparison
    df = df[~((df.strategy == "bad") & (df.seed == 3) & (df["round"] > 2))]
    t = random_comparison(df).set_index("dataset")
    assert t.loc["d1", "n_seeds"] == 3
    rnd, good = _auacs("random", "d1", 3), _auacs("good", "d1", 3)
    assert t.loc["d1", "best_diff"] == pytest.approx((good - rnd).mean())
    assert random_comparison(df[df.strategy != "random"]).empty
    assert random_comparison(df[df.strategy == "random"]).empty


def test_random_comparison_curves_and_display():
    df = _frame(seeds=2, datasets=("d1",))
    table = random_comparison(df)
    curves = random_comparison_curves(df, table)
    assert set(curves.strategy) == {"random", "best: good", "average"}
    avg = curves[(curves.strategy == "average") & (curves.seed == 1)]
    want = [np.mean([LEVELS[s](1, "d1") for s in ("good", "bad", "mid")]) + 0.01 * r
            for r in range(ROUNDS + 1)]  # fmt: skip
    assert avg.sort_values("round")["value"].to_numpy() == pytest.approx(want)
    shown = random_comparison_display(table)
    assert shown.loc["d1", "best"].startswith("good (")
    assert shown.loc["d1", "seeds"] == "2" and "(of 3)" in shown.loc["d1", "average"]


def _store(folder, seeds=3, datasets=("d1", "d2")):
    folder.mkdir()
    store = ResultStore(folder / "results.sqlite")
    df = _frame(seeds=seeds, datasets=datasets)
    for (ds, strat, seed), run in df.groupby(["dataset", "strategy", "seed"]):
        cfg = RunConfig(ds, "m", strat, int(seed), 10, 5, ROUNDS)
        store.start_run(cfg.run_id, cfg.as_dict())
        for r in run.itertuples():
            metrics = {"balanced_accuracy": r.value, "accuracy": r.value}
            store.record_round(
                cfg.run_id, r.round, r.n_labeled, metrics, None, {},
                finished=r.round == ROUNDS,
            )  # fmt: skip


def test_table_auac_and_report_show_the_comparison(tmp_path):
    folder = tmp_path / "grid"
    _store(folder)
    runner = CliRunner()
    res = runner.invoke(
        app, ["table", str(folder), "--metric", "balanced_accuracy", "--auac"]
    )
    assert res.exit_code == 0, res.output
    assert "Random against the best strategy" in res.output
    lines = [ln for ln in res.output.splitlines() if ln.startswith("| d1 |")]
    assert len(lines) == 1 and "| good (" in lines[0]
    res = runner.invoke(app, ["table", str(folder), "--metric", "balanced_accuracy"])
    assert "Random against" not in res.output  # only with --auac
    res = runner.invoke(app, ["report", str(folder)])
    assert res.exit_code == 0, res.output
    html = (folder / "report.html").read_text()
    assert "Random, the best strategy and the average of the others" in html
    assert "good (" in html and (folder / "random_comparison.png").stat().st_size > 5000


def test_report_on_imbalance_settings_keeps_the_penalty_matrix(tmp_path):
    # their primary metric became balanced accuracy, which dropped the
    # accuracy penalty matrix (shown whenever accuracy is recorded) from the page
    folder = tmp_path / "grid"
    _store(folder, datasets=("d1:imbalanced", "d2:imbalanced-weighted"))
    res = CliRunner().invoke(app, ["report", str(folder)])
    assert res.exit_code == 0, res.output
    html = (folder / "report.html").read_text()
    assert "Normalised area under the balanced_accuracy curve" in html
    assert "Pairwise penalty matrix" in html


def test_one_seed_shows_no_standard_error():
    # one seed has no standard error: the cells show the mean (or difference)
    # alone instead of a made-up "± 0.000", and no p-value
    from labelwise.bench.stats import final_pivot
    from labelwise.loop.report import auc_table, format_auc_table

    df = _frame(seeds=1, datasets=("d1",))
    shown = random_comparison_display(random_comparison(df))
    assert "±" not in shown.loc["d1", "best − random"]
    assert shown.loc["d1", "p (t), best"] == ""
    assert final_pivot(df, "balanced_accuracy").loc["good", "d1"] == "0.840 (1 seed)"
    md = format_auc_table(auc_table(df, "balanced_accuracy"), "balanced_accuracy")
    assert "±" not in md.splitlines()[2] and md.splitlines()[2].endswith("| 1 |")
    two = random_comparison_display(random_comparison(_frame(seeds=2)))
    assert "±" in two.loc["d1", "best − random"]


def test_report_leaves_the_standard_error_of_one_seed_empty(tmp_path):
    # the report's value tables showed "0.0000" as the standard error of a
    # strategy run on one seed (which has none)
    from labelwise.bench.report import _table

    frame = pd.DataFrame(
        {"strategy": ["a", "b"], "auc_sem": [0.0, 0.02], "n_seeds": [1, 3]}
    )
    cells = re.findall(r"<td>([^<]*)</td>", _table(frame))
    assert cells == ["a", "", "1", "b", "0.0200", "3"]
    folder = tmp_path / "grid"
    _store(folder, seeds=1, datasets=("d1",))
    res = CliRunner().invoke(app, ["report", str(folder)])
    assert res.exit_code == 0, res.output
    html = re.sub(r"base64,[^\"]*", "", (folder / "report.html").read_text())
    assert "<td>1</td>" in html  # the one-seed rows are there
    assert "<td>0.0000</td>" not in html and "NaN" not in html
