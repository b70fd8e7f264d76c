import sqlite3

import numpy as np
import pandas as pd
import pytest

from labelwise.loop import (
    ResultStore,
    RunConfig,
    auc_table,
    plot_learning_curves,
    run_simulation,
)
from labelwise.metrics import classification_metrics, normalized_auc
from labelwise.models import SklearnClassifier
from labelwise.strategies import get_strategy


def _data(seed=0):
    rng = np.random.default_rng(seed)
    y = rng.integers(3, size=300)
    x = np.eye(3)[y] * 1.5 + rng.normal(size=(300, 3))
    return x[:200], y[:200], x[200:], y[200:]


def _cfg(strategy="entropy", seed=0, rounds=4):
    return RunConfig(
        dataset="blobs",
        model="logreg",
        strategy=strategy,
        seed=seed,
        n_initial=10,
        batch_size=5,
        n_rounds=rounds,
    )


def _run(store, cfg, on_round=None):
    xp, yp, xt, yt = _data()
    return run_simulation(
        cfg,
        SklearnClassifier(),
        get_strategy(cfg.strategy),
        xp,
        yp,
        xt,
        yt,
        classes=["a", "b", "c"],
        store=store,
        on_round=on_round,
    )


def test_metrics():
    m = classification_metrics(np.array([0, 0, 0, 1]), np.array([0, 0, 1, 1]))
    assert m["accuracy"] == 0.75 and m["balanced_accuracy"] == pytest.approx(
        (2 / 3 + 1) / 2
    )


def test_records_every_round(tmp_path):
    store = ResultStore(tmp_path / "r.sqlite")
    assert _run(store, _cfg()) == "finished"
    df = store.measurements()
    assert sorted(df["round"].unique()) == [0, 1, 2, 3, 4]
    assert df.groupby("round")["n_labeled"].first().tolist() == [10, 15, 20, 25, 30]
    assert set(df["metric"]) == {
        "accuracy",
        "balanced_accuracy",
        "train_seconds",
        "select_seconds",
    }
    assert (df[df["metric"] == "select_seconds"]["round"] < 4).all()
    assert _run(store, _cfg()) == "skipped"


def test_resume_after_crash_equals_uninterrupted(tmp_path):
    ref_store = ResultStore(tmp_path / "ref.sqlite")
    _run(ref_store, _cfg())
    store = ResultStore(tmp_path / "crash.sqlite")

    def crash(r, m):
        if r == 2:
            raise KeyboardInterrupt  # like a kill between two rounds

    with pytest.raises(KeyboardInterrupt):
        _run(store, _cfg(), on_round=crash)
    assert _run(store, _cfg()) == "finished"
    con = sqlite3.connect(tmp_path / "crash.sqlite")
    n_labels = con.execute(
        "SELECT COUNT(*), COUNT(DISTINCT idx) FROM labels"
    ).fetchone()
    assert n_labels == (30, 30)
    a = ref_store.measurements()
    b = store.measurements()
    acc = lambda df: df[df.metric == "accuracy"].sort_values("round")["value"].tolist()  # noqa: E731
    assert acc(a) == acc(b)
    assert len(b) == len(a)


def test_failure_is_recorded_and_others_go_on(tmp_path):
    store = ResultStore(tmp_path / "r.sqlite")
    xp, yp, xt, yt = _data()
    xp = xp.copy()
    status = run_simulation(
        _cfg(),
        SklearnClassifier(),
        get_strategy("bald"),
        xp,
        yp,
        xt,
        yt,
        classes=["a", "b", "c"],
        store=store,
    )
    assert status == "failed"
    runs = store.runs()
    assert runs["status"].tolist() == ["failed"]
    assert "UnsupportedModelError" in runs["error"][0]
    assert _run(store, _cfg(strategy="random")) == "finished"


def test_same_seed_same_curves(tmp_path):
    a, b = ResultStore(tmp_path / "a.sqlite"), ResultStore(tmp_path / "b.sqlite")
    _run(a, _cfg(strategy="badge", seed=3))
    _run(b, _cfg(strategy="badge", seed=3))
    cols = ["round", "metric", "value"]
    da = (
        a.measurements()
        .query("metric.str.contains('accuracy')")[cols]
        .reset_index(drop=True)
    )
    db = (
        b.measurements()
        .query("metric.str.contains('accuracy')")[cols]
        .reset_index(drop=True)
    )
    pd.testing.assert_frame_equal(da, db)
    la = (
        sqlite3.connect(tmp_path / "a.sqlite")
        .execute("SELECT idx, round FROM labels ORDER BY idx")
        .fetchall()
    )
    lb = (
        sqlite3.connect(tmp_path / "b.sqlite")
        .execute("SELECT idx, round FROM labels ORDER BY idx")
        .fetchall()
    )
    assert la == lb


def test_report(tmp_path):
    store = ResultStore(tmp_path / "r.sqlite")
    for s in ("random", "margin"):
        for seed in (0, 1):
            _run(store, _cfg(strategy=s, seed=seed, rounds=2))
    df = store.measurements()
    table = auc_table(df)
    assert (
        set(table["strategy"]) == {"random", "margin"} and (table["n_seeds"] == 2).all()
    )
    one = df[(df.strategy == "margin") & (df.seed == 0) & (df.metric == "accuracy")]
    assert table.set_index("strategy").loc["margin", "auc_mean"] == pytest.approx(
        np.mean(
            [
                normalized_auc(g.n_labeled.to_numpy(), g.value.to_numpy())
                for _, g in df[
                    (df.strategy == "margin") & (df.metric == "accuracy")
                ].groupby("seed")
            ]
        )
    )
    assert len(one) == 3
    plot_learning_curves(df, tmp_path / "c.png")
    assert (tmp_path / "c.png").read_bytes()[:4] == b"\x89PNG"
    assert store.export_csv(tmp_path / "x.csv") == len(df)
    assert normalized_auc(
        np.array([0, 1, 2]), np.array([0.0, 1.0, 1.0])
    ) == pytest.approx(0.75)


def test_learning_curves_legend_names_every_panels_strategies(tmp_path, monkeypatch):
    # the random comparison draws a different "best: NAME" in each panel: all of
    # them belong in the figure's one legend, and panels wrap after three a row
    import matplotlib.figure
    import pandas as pd

    seen = {}
    real = matplotlib.figure.Figure.legend

    def spy(self, handles, labels, **kw):
        seen["labels"] = list(labels)
        seen["shape"] = self.axes[0].get_gridspec().get_geometry()
        return real(self, handles, labels, **kw)

    monkeypatch.setattr(matplotlib.figure.Figure, "legend", spy)
    rows = []
    for i, (ds, best) in enumerate(
        [("d1", "best: a"), ("d2", "best: b"), ("d3", "best: a"), ("d4", "best: c")]
    ):
        for strat in ("random", "average", best):
            for seed in range(2):
                for r in range(3):
                    rows.append(
                        dict(dataset=ds, model="m", strategy=strat, seed=seed, round=r,
                             n_labeled=10 + 10 * r, metric="accuracy", value=0.5 + 0.1 * r + i)
                    )  # fmt: skip
    plot_learning_curves(pd.DataFrame(rows), tmp_path / "c.png")
    assert set(seen["labels"]) == {"random", "average", "best: a", "best: b", "best: c"}
    assert len(seen["labels"]) == 5 and seen["shape"] == (2, 3)


def test_the_summary_metric_is_balanced_accuracy_on_imbalance_settings_only():
    import pandas as pd

    from labelwise.loop.report import primary_metric

    def df(datasets, metrics=("accuracy", "balanced_accuracy")):
        rows = [
            {"dataset": d, "metric": m, "value": 0.5} for d in datasets for m in metrics
        ]
        return pd.DataFrame(rows)

    assert primary_metric(df(["mnist:imbalanced"])) == "balanced_accuracy"
    assert (
        primary_metric(df(["mnist:imbalanced-weighted", "fashion-mnist:imbalanced"]))
        == "balanced_accuracy"
    )
    assert primary_metric(df(["mnist:balanced"])) == "accuracy"
    assert primary_metric(df(["mnist:imbalanced", "mnist"])) == "accuracy"
    assert primary_metric(df(["mnist:imbalanced"], ["accuracy"])) == "accuracy"
    assert primary_metric(df(["housing"], ["rmse", "mae"])) == "rmse"
