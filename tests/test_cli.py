import csv

import pytest
from typer.testing import CliRunner

from labelwise.cli import app
from labelwise.strategies import available_strategies

runner = CliRunner()


def test_strategies_one_per_line():
    res = runner.invoke(app, ["strategies"])
    assert res.exit_code == 0
    assert res.output.split() == available_strategies()


def test_version_names_labelwise_torch_and_cuda():
    import torch

    import labelwise

    res = runner.invoke(app, ["--version"])
    assert res.exit_code == 0, res.output
    assert res.output.startswith(f"labelwise {labelwise.__version__} (")
    assert f"torch {torch.__version__}" in res.output
    cuda = "available" if torch.cuda.is_available() else "not available"
    assert f"CUDA {cuda})" in res.output


def test_datasets_listing_names_a_cut_cache_file_as_damaged(tmp_path, monkeypatch):
    # a raw.npz cut short by a killed copy was listed as "cached"
    monkeypatch.setenv("LABELWISE_DATA", str(tmp_path))
    (tmp_path / "digits").mkdir()
    (tmp_path / "digits" / "raw.npz").write_bytes(b"PK\x03\x04 cut short")
    res = runner.invoke(app, ["datasets"])
    assert res.exit_code == 0, res.output
    line = next(ln for ln in res.output.splitlines() if ln.startswith("digits\t"))
    assert "damaged: delete" in line and "raw.npz and fetch it again" in line
    assert "\tnot fetched\t" in next(
        ln for ln in res.output.splitlines() if ln.startswith("mnist\t")
    )


def test_datasets_list_and_fetch():
    res = runner.invoke(app, ["datasets"])
    assert (
        res.exit_code == 0
        and "fashion-mnist" in res.output
        and "not fetched" in res.output
    )
    res = runner.invoke(app, ["datasets", "--fetch", "digits"])
    assert res.exit_code == 0 and "digits: ok" in res.output
    res = runner.invoke(app, ["datasets", "--fetch", "shifted:64"])
    assert res.exit_code == 0 and "generated on load" in res.output
    res = runner.invoke(app, ["datasets"])
    assert "shifted\tgenerated on load" in res.output
    res = runner.invoke(app, ["datasets", "--fetch", "digitz"])
    assert res.exit_code == 2 and "Did you mean 'digits'" in res.output


def test_datasets_fetch_checks_every_name_first(tmp_path, monkeypatch):
    """A typo anywhere fetches nothing; wrapped names fetch their base."""
    monkeypatch.setenv("LABELWISE_DATA", str(tmp_path))
    res = runner.invoke(app, ["datasets", "--fetch", "digits", "--fetch", "nope"])
    assert res.exit_code == 2 and "Unknown dataset 'nope'" in res.output
    assert not (tmp_path / "digits" / "raw.npz").exists()
    res = runner.invoke(app, ["datasets", "--fetch", "digits:imbalanced"])
    assert res.exit_code == 0 and "digits:imbalanced: ok" in res.output
    assert (tmp_path / "digits" / "raw.npz").exists()


def test_run_and_export(tmp_path):
    out = tmp_path / "exp"
    args = [
        "run",
        "--dataset",
        "digits",
        "--model",
        "logreg",
        "--strategy",
        "random",
        "--strategy",
        "coreset",
        "--initial",
        "20",
        "--batch-size",
        "10",
        "--rounds",
        "2",
        "--seeds",
        "2",
        "--out",
        str(out),
    ]
    res = runner.invoke(app, args)
    assert res.exit_code == 0, res.output
    assert "| digits | logreg | coreset |" in res.output
    assert (out / "results.sqlite").exists()
    assert (out / "learning_curve.png").read_bytes()[:4] == b"\x89PNG"
    res = runner.invoke(app, ["export", str(out), "--csv", str(tmp_path / "m.csv")])
    assert res.exit_code == 0
    rows = list(csv.DictReader(open(tmp_path / "m.csv")))
    assert list(rows[0]) == [
        "dataset",
        "model",
        "strategy",
        "seed",
        "round",
        "n_labeled",
        "metric",
        "value",
    ]
    assert len(rows) == 2 * 2 * (3 * 3 + 2)  # 3 metrics x 3 rounds + 2 select rows
    assert {r["round"] for r in rows} == {"0", "1", "2"}
    # rerunning resumes: nothing is added
    res = runner.invoke(app, args)
    assert res.exit_code == 0
    runner.invoke(app, ["export", str(out), "--csv", str(tmp_path / "m2.csv")])
    assert len(list(csv.DictReader(open(tmp_path / "m2.csv")))) == len(rows)


def test_run_errors(tmp_path):
    base = [
        "run",
        "--dataset",
        "digits",
        "--out",
        str(tmp_path),
        "--initial",
        "10",
        "--rounds",
        "1",
    ]
    res = runner.invoke(app, [*base, "--strategy", "entrpy"])
    assert res.exit_code == 2 and "Did you mean 'entropy'" in res.output
    res = runner.invoke(app, [*base, "--strategy", "bald"])
    assert res.exit_code == 2 and "--dropout" in res.output
    res = runner.invoke(
        app, [*base, "--strategy", "variation-ratio", "--model", "logreg"]
    )
    assert (
        res.exit_code == 2
        and "MCDropout" not in res.output
        and "Ensemble" in res.output
    )
    res = runner.invoke(app, [*base, "--strategy", "random", "--model", "xgboost"])
    assert res.exit_code == 2 and "Unknown model" in res.output
    res = runner.invoke(app, ["export", str(tmp_path / "none"), "--csv", "x.csv"])
    assert res.exit_code == 2 and "No results.sqlite" in res.output


def test_run_noisy_with_finetune_then_table(tmp_path):
    out = tmp_path / "noisy"
    args = [
        "run",
        "--dataset",
        "digits:noisy-blank:0.5",
        "--model",
        "mlp",
        "--strategy",
        "random",
        "--strategy",
        "lhd",
        "--ema",
        "0.99",
        "--epochs",
        "20",
        "--initial",
        "20",
        "--batch-size",
        "20",
        "--rounds",
        "2",
        "--seeds",
        "1",
        "--finetune",
        "--finetune-epochs",
        "2",
        "--finetune-min-size",
        "50",
        "--finetune-lr-factor",
        "1",
        "--out",
        str(out),
    ]
    res = runner.invoke(app, args)
    assert res.exit_code == 0, res.output
    assert "| digits:noisy-blank:0.5 | mlp | lhd+finetune |" in res.output
    res = runner.invoke(app, ["table", str(out), "--metric", "clean_share"])
    assert res.exit_code == 0, res.output
    lines = res.output.splitlines()
    assert lines[0] == "| strategy | digits:noisy-blank:0.5 |"
    assert lines[2].startswith("| random+finetune | ") and "(1 seed)" in lines[2]
    assert lines[3].startswith("| lhd+finetune | ")
    res = runner.invoke(app, ["table", str(out), "--timings"])
    assert res.exit_code == 0 and "finetune_seconds" in res.output.splitlines()[0]
    res = runner.invoke(app, ["table", str(out), "--metric", "rmse"])
    assert res.exit_code == 2 and "recorded metrics: accuracy" in res.output
    res = runner.invoke(app, ["report", str(out)])
    html = (out / "report.html").read_text()
    assert res.exit_code == 0 and "Values at the last round" in html
    assert "clean_share" in html and "finetune" in html


def test_finetune_needs_a_torch_model(tmp_path):
    res = runner.invoke(
        app,
        [
            "run",
            "--dataset",
            "digits",
            "--model",
            "logreg",
            "--strategy",
            "random",
            "--finetune",
            "--out",
            str(tmp_path),
        ],
    )
    assert res.exit_code == 2 and "FineTunable" in res.output
    assert "TorchClassifier" in res.output


def test_run_regression_prints_rmse_areas(tmp_path):
    out = tmp_path / "reg"
    args = [
        "run",
        "--dataset",
        "friedman1",
        "--model",
        "bmdal-mlp",
        "--strategy",
        "random",
        "--strategy",
        "lcmd",
        "--initial",
        "30",
        "--batch-size",
        "30",
        "--rounds",
        "2",
        "--seeds",
        "1",
        "--epochs",
        "10",
        "--hidden",
        "32",
        "--pool-size",
        "400",
        "--test-size",
        "300",
        "--out",
        str(out),
    ]
    res = runner.invoke(app, args)
    assert res.exit_code == 0, res.output
    assert "area under the rmse curve" in res.output and "lower is better" in res.output
    assert "| friedman1 | bmdal-mlp | lcmd |" in res.output
    res = runner.invoke(app, ["report", str(out)])
    html = (out / "report.html").read_text()
    assert "Normalised area under the rmse curve" in html and "penalty" not in html
    res = runner.invoke(app, [*args[:4], "mlp", *args[5:]])
    assert res.exit_code == 2 and "regression task" in res.output
    res = runner.invoke(app, [*args, "--dropout", "0.1"])
    assert res.exit_code == 2 and "takes no option(s) dropout" in res.output


def test_agbal_on_the_shifted_task_through_the_bench_runner(tmp_path):
    grid = tmp_path / "g.toml"
    grid.write_text(
        'datasets = ["shifted:8:200"]\n'
        'strategies = ["random", "lcmd", "agbal-lcmd"]\n'
        '[[models]]\nname = "bmdal-mlp"\n'
        "params = { hidden = 16, layers = 1, epochs = 5, batch = 64 }\n"
        "[settings]\ninitial = 30\nbatch_size = 30\nrounds = 2\nseeds = 1\n"
        "pool_size = 300\ntest_size = 200\n"
    )
    out = tmp_path / "out"
    res = runner.invoke(app, ["bench", str(grid), "--out", str(out), "--workers", "1"])
    assert res.exit_code == 0, res.output
    res = runner.invoke(app, ["table", str(out), "--agbal"])
    assert res.exit_code == 0, res.output
    lines = res.output.splitlines()
    assert lines[0] == "| strategy | shifted:8:200 | avg impro % |"
    assert [ln.split(" | ")[0] for ln in lines[2:]] == [
        "| random",
        "| lcmd",
        "| agbal-lcmd",
    ]
    res = runner.invoke(app, ["table", str(out), "--metric", "rmse", "--round", "1"])
    assert res.exit_code == 0 and "| agbal-lcmd |" in res.output
    res = runner.invoke(app, ["report", str(out)])
    html = (out / "report.html").read_text()
    assert res.exit_code == 0 and "<h2>AGBAL against BMDAL</h2>" in html
    assert "<td>agbal-lcmd</td>" in html
    res = runner.invoke(app, ["table", str(out), "--metric", "rmse", "--round", "7"])
    assert res.exit_code == 2 and "round 7" in res.output
    # AGBAL on a dataset without auxiliary data fails with a clear message
    grid.write_text(grid.read_text().replace("shifted:8:200", "friedman1"))
    res = runner.invoke(
        app, ["bench", str(grid), "--out", str(tmp_path / "o2"), "--workers", "1"]
    )
    assert res.exit_code == 1
    log = "".join(p.read_text() for p in (tmp_path / "o2" / "logs").iterdir())
    assert "needs auxiliary data" in log and "friedman1:aux" in log


def test_agbal_runs_from_the_command_line_on_a_real_dataset_with_aux(tmp_path):
    out = tmp_path / "run"
    args = ["run", "--dataset", "friedman1:aux:8:200", "--model", "bmdal-mlp"]
    args += ["--strategy", "maxdiag", "--strategy", "agbal-maxdiag"]
    args += ["--initial", "30", "--batch-size", "30", "--rounds", "1", "--seeds", "1"]
    args += ["--epochs", "5", "--hidden", "16", "--pool-size", "300"]
    args += ["--test-size", "200", "--out", str(out)]
    res = runner.invoke(app, args)
    assert res.exit_code == 0, res.output
    assert "| friedman1:aux:8:200 | bmdal-mlp | agbal-maxdiag |" in res.output


def test_learning_al_strategies_through_the_bench_runner(tmp_path):
    grid = tmp_path / "g.toml"
    grid.write_text(
        'datasets = ["waveform:imbalanced-weighted"]\n'
        'strategies = ["uncertainty", "oracle", '
        '{ name = "np", params = { n_sim = 4, epochs = 2, progress = false } }]\n'
        '[[models]]\nname = "logreg"\n'
        "[settings]\ninitial = 30\nbatch_size = 1\nrounds = 2\nseeds = 1\n"
        "pool_size = 200\n"
    )
    out = tmp_path / "out"
    res = runner.invoke(app, ["bench", str(grid), "--out", str(out), "--workers", "1"])
    assert res.exit_code == 0, res.output
    assert "failed 0" in res.output
    res = runner.invoke(
        app, ["table", str(out), "--metric", "balanced_accuracy", "--auac"]
    )
    assert res.exit_code == 0 and "| oracle |" in res.output
    # the oracle and the NP need what only the imbalance settings carry
    grid.write_text(grid.read_text().replace("waveform:imbalanced-weighted", "digits"))
    res = runner.invoke(
        app, ["bench", str(grid), "--out", str(tmp_path / "o2"), "--workers", "1"]
    )
    log = "".join(p.read_text() for p in (tmp_path / "o2" / "logs").iterdir())
    assert "needs a labeled reward set" in log


# --- issue 15, defect 10: bad command lines fail up front with one line ---


def _one_error_line(res):
    """Exit 2, no traceback, and exactly one ``error:`` line."""
    assert res.exit_code == 2, res.output
    assert isinstance(res.exception, SystemExit), res.exception
    assert "Traceback" not in res.output
    errors = [line for line in res.output.splitlines() if line.startswith("error:")]
    assert len(errors) == 1, res.output
    return errors[0]


RUN = ["run", "--dataset", "digits", "--strategy", "random", "--rounds", "1"]


def test_initial_larger_than_the_pool_is_refused_before_any_run(tmp_path):
    out = tmp_path / "o"
    res = runner.invoke(app, [*RUN, "--out", str(out), "--initial", "2000"])
    line = _one_error_line(res)
    assert "initial = 2000" in line and "1347 pool items" in line
    assert not (out / "results.sqlite").exists()
    res = runner.invoke(
        app, [*RUN, "--out", str(out), "--initial", "10", "--pool-size", "5"]
    )
    line = _one_error_line(res)
    assert "5 pool items (pool_size = 5)" in line and "--pool-size" in line
    assert not (out / "results.sqlite").exists()


def test_rounds_that_would_label_the_whole_pool_are_refused_before_any_run(tmp_path):
    # 10 initial + 1 more batch of 10 labels all 20 pool items before the last
    # query: the run used to fail at that query ("The unlabeled pool is empty")
    out = tmp_path / "o"
    args = [*RUN, "--model", "logreg", "--rounds", "2", "--initial", "10"]
    args += ["--batch-size", "10", "--seeds", "1", "--out", str(out)]
    line = _one_error_line(runner.invoke(app, [*args, "--pool-size", "20"]))
    assert "20 labels" in line and "20 pool items (pool_size = 20)" in line
    assert "--rounds" in line and "--batch-size" in line
    assert not (out / "results.sqlite").exists()
    # one item left for the last query: it runs (that batch shrinks to 1)
    res = runner.invoke(app, [*args, "--pool-size", "21"])
    assert res.exit_code == 0, res.output
    assert "failed" not in res.output


def test_out_naming_a_file_is_one_line(tmp_path):
    f = tmp_path / "afile"
    f.write_text("x")
    res = runner.invoke(app, [*RUN, "--out", str(f), "--initial", "10"])
    assert "is a file" in _one_error_line(res)
    res = runner.invoke(app, [*RUN, "--out", str(f / "sub"), "--initial", "10"])
    assert "Cannot create the output folder" in _one_error_line(res)
    assert f.read_text() == "x"


def _damaged_results(folder, how):
    import sqlite3

    folder.mkdir()
    db = folder / "results.sqlite"
    con = sqlite3.connect(db)
    con.execute("CREATE TABLE measurements (run_id TEXT, value REAL, note TEXT)")
    con.executemany(
        "INSERT INTO measurements VALUES (?, ?, ?)",
        [(f"run{i}", i / 7, "x" * 200) for i in range(200)],
    )
    con.commit()
    con.close()
    data = db.read_bytes()
    assert len(data) > 8 * 4096
    if how == "truncated":
        db.write_bytes(data[: len(data) // 2])
    else:
        db.write_bytes(b"not a database" * 100)
    return db


@pytest.mark.parametrize("how", ["truncated", "garbage"])
def test_damaged_results_sqlite_is_one_line_with_the_fix(tmp_path, how):
    folder = tmp_path / "o"
    db = _damaged_results(folder, how)
    res = runner.invoke(app, ["table", str(folder)])
    line = _one_error_line(res)
    assert str(db) in line and "damaged" in line and "Move it aside" in line
    res = runner.invoke(app, [*RUN, "--out", str(folder), "--initial", "10"])
    assert "damaged" in _one_error_line(res)
    grid = tmp_path / "g.toml"
    grid.write_text(
        'datasets = ["digits"]\nmodels = ["logreg"]\nstrategies = ["random"]\n'
        "[settings]\ninitial = 10\nbatch_size = 5\nrounds = 1\nseeds = 1\n"
    )
    res = runner.invoke(
        app, ["bench", str(grid), "--out", str(folder), "--workers", "1"]
    )
    assert "damaged" in _one_error_line(res)
    res = runner.invoke(app, ["report", str(folder)])
    assert "damaged" in _one_error_line(res)
    res = runner.invoke(app, ["export", str(folder), "--csv", str(tmp_path / "o.csv")])
    assert "damaged" in _one_error_line(res)
    assert not (tmp_path / "o.csv").exists()


def test_run_sets_strategy_parameters_by_name(tmp_path):
    """``--strategy NAME:KEY=VALUE,...``: typed values, the spec as the label."""
    import json

    from labelwise.loop import ResultStore

    out = tmp_path / "eer"
    args = ["run", "--dataset", "waveform:imbalanced-weighted", "--model", "logreg",
            "--strategy", "random", "--strategy", "eer:loss=log,max_candidates=20",
            "--initial", "100", "--batch-size", "1", "--rounds", "1", "--seeds", "1",
            "--out", str(out)]  # fmt: skip
    res = runner.invoke(app, args)
    assert res.exit_code == 0, res.output
    runs = ResultStore(out / "results.sqlite").runs()
    cfg = json.loads(
        runs.set_index("strategy").loc["eer:loss=log,max_candidates=20", "config"]
    )
    assert cfg["strategy_params"] == {"loss": "log", "max_candidates": 20}
    base = [*args[:-1], str(tmp_path / "bad")]
    i = base.index("eer:loss=log,max_candidates=20")
    for spec, message in (
        ("eer:loss", "is not KEY=VALUE"),
        ("eer:los=log", "argument 'los'"),
    ):
        res = runner.invoke(app, [*base[:i], spec, *base[i + 1 :]])
        assert res.exit_code == 2 and message in res.output


def test_the_dataset_help_and_listing_name_the_imbalance_settings():
    listing = runner.invoke(app, ["datasets"]).output
    assert "balanced|imbalanced|imbalanced-weighted" in listing
    helptext = runner.invoke(app, ["run", "--help"], env={"COLUMNS": "400"}).output
    assert "imbalanced-weighted" in helptext


@pytest.mark.parametrize("option", ["--pool-size", "--test-size"])
def test_a_zero_pool_or_test_size_is_refused_like_a_negative_one(tmp_path, option):
    # 0 used to be dropped before validation and silently meant "all of it"
    out = tmp_path / "o"
    res = runner.invoke(app, [*RUN, "--out", str(out), "--initial", "10", option, "0"])
    assert "must be positive; got 0" in _one_error_line(res)
    assert not (out / "results.sqlite").exists()


@pytest.mark.parametrize(
    "extra", [["--log-mean"], ["--round", "1"], ["--agbal"]], ids=str
)
def test_table_refuses_auac_with_an_option_it_cannot_honour(tmp_path, extra):
    # --auac --log-mean was a KeyError traceback; --auac --round 1 printed a
    # table of 0.000 (the area of a single point); --agbal silently won
    out = tmp_path / "o"
    args = [*RUN, "--model", "logreg", "--out", str(out), "--initial", "10"]
    res = runner.invoke(app, [*args, "--seeds", "1", "--pool-size", "60"])
    assert res.exit_code == 0, res.output
    res = runner.invoke(app, ["table", str(out), "--auac", *extra])
    assert "--auac" in _one_error_line(res) and extra[0] in res.output


def test_table_notes_runs_that_did_not_finish(tmp_path):
    # a run that stopped early (failed, interrupted) used to look complete
    import sqlite3

    out = tmp_path / "o"
    args = [*RUN, "--model", "logreg", "--out", str(out), "--initial", "10"]
    res = runner.invoke(app, [*args, "--seeds", "2", "--pool-size", "60"])
    assert res.exit_code == 0, res.output
    res = runner.invoke(app, ["table", str(out)])
    assert res.exit_code == 0 and "did not finish" not in res.output
    with sqlite3.connect(out / "results.sqlite") as con:
        (rid,) = con.execute("SELECT run_id FROM runs LIMIT 1").fetchone()
        con.execute("UPDATE runs SET status = 'interrupted' WHERE run_id = ?", (rid,))
    res = runner.invoke(app, ["table", str(out)])
    assert res.exit_code == 0
    assert "note: 1 of 2 runs did not finish (1 interrupted)" in res.output
    assert "labelwise bench or labelwise run" in res.output  # this folder is a run's
    assert "| random |" in res.output  # the table itself is still printed
