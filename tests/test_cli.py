import csv

from typer.testing import CliRunner

from labelwise.cli import app
from labelwise.strategies import available_strategies

runner = CliRunner()


def test_strategies_one_per_line():
    res = runner.invoke(app, ["strategies"])
    assert res.exit_code == 0
    assert res.output.split() == available_strategies()


def test_datasets_list_and_fetch():
    res = runner.invoke(app, ["datasets"])
    assert (
        res.exit_code == 0
        and "fashion-mnist" in res.output
        and "not fetched" in res.output
    )
    res = runner.invoke(app, ["datasets", "--fetch", "digits"])
    assert res.exit_code == 0 and "digits: ok" in res.output
    res = runner.invoke(app, ["datasets", "--fetch", "digitz"])
    assert res.exit_code == 2 and "Did you mean 'digits'" in res.output


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
    res = runner.invoke(app, [*base, "--strategy", "random", "--model", "svm"])
    assert res.exit_code == 2 and "Unknown model" in res.output
    res = runner.invoke(app, ["export", str(tmp_path / "none"), "--csv", "x.csv"])
    assert res.exit_code == 2 and "No results.sqlite" in res.output
