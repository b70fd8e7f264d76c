import pytest

from labelwise.bench import ConfigError, load_grid, parse_grid

BASE = {
    "datasets": ["digits"],
    "models": ["logreg", {"name": "mlp", "params": {"epochs": 5}}],
    "strategies": ["random", {"name": "bald", "params": {"n_mc_samples": 3}}],
    "settings": {"initial": 10, "batch_size": 5, "rounds": 2, "seeds": [0, 4]},
}


def _with(**changes):
    data = {k: (dict(v) if isinstance(v, dict) else list(v)) for k, v in BASE.items()}
    for key, value in changes.items():
        if "." in key:
            section, sub = key.split(".")
            data[section][sub] = value
        else:
            data[key] = value
    return data


def test_expands_the_grid():
    grid = parse_grid(BASE)
    runs = grid.runs()
    assert len(runs) == 1 * 2 * 2 * 2
    labels = {r.strategy for r in runs}
    assert labels == {"random", "bald(n_mc_samples=3)"}
    assert {r.seed for r in runs} == {0, 4}
    assert len({r.run_id for r in runs}) == len(runs)
    mlp = next(r for r in runs if r.model == "mlp")
    assert (
        mlp.extra["model_params"]["epochs"] == 5
        and mlp.extra["model_params"]["lr"] == 1e-3
    )


@pytest.mark.parametrize(
    ("data", "match"),
    [
        (
            _with(strategy=["x"]),
            "unknown top-level key 'strategy'; valid keys: datasets",
        ),
        (
            _with(**{"settings.batch": 3}),
            "unknown key 'batch' in \\[settings\\]; valid keys: initial",
        ),
        (
            _with(**{"settings.rounds": "ten"}),
            "key 'rounds' in \\[settings\\] must be an int",
        ),
        (_with(**{"settings.initial": 0}), "'initial' must be positive"),
        (_with(**{"settings.seeds": [-1]}), "'seeds' must list ints"),
        (_with(datasets=["digitz"]), "Unknown dataset 'digitz'.*Did you mean 'digits'"),
        (_with(datasets=["digits:noisy-blu"]), "KIND one of noisy-blank"),
        (_with(datasets=["digits:noisy-blank:2"]), "share must be a number"),
        (
            _with(strategies=[{"name": "lhd", "finetune": "yes"}]),
            "'finetune' of 'lhd' must be true, false or a table",
        ),
        (
            _with(strategies=[{"name": "lhd", "finetune": {"epochs": 3}}]),
            "unknown key 'epochs' in 'finetune of 'lhd''; valid keys: threshold",
        ),
        (_with(finetune={"threshold": 1.5}), "threshold must be in"),
        (_with(finetune={"augment": 1}), "'augment' in 'finetune' must be true or"),
        (
            _with(models=[{"name": "mlp", "finetune": True}]),
            "unknown key 'finetune' in an entry of 'models'; valid keys: name, params",
        ),
        (_with(strategies=["badg"]), "Did you mean 'badge'"),
        (
            _with(strategies=[{"name": "bald", "params": {"t": 1}}]),
            "Bad parameters for strategy 'bald'",
        ),
        (
            _with(strategies=[{"name": "bald", "extra": 1}]),
            "unknown key 'extra'.*valid keys: finetune, label, name, params",
        ),
        (
            _with(models=[{"name": "mlp", "params": {"epoch": 1}}]),
            "Unknown parameter 'epoch' for model 'mlp'. Valid: batch, dropout, ema, epochs",
        ),
        (
            _with(models=[{"name": "mlp", "params": {"lr": "big"}}]),
            "'lr' must be a number",
        ),
        (_with(models=["xgboost"]), "Unknown model 'xgboost'"),
        (
            _with(models=["ridge"]),
            "dataset 'digits' is a classification task but model 'ridge' is not; "
            "classification models: cnn, embedding-head, gru, logreg, lstm, mlp, "
            "resnet18, svm, tcn, transformer",
        ),
        (
            _with(datasets=["friedman1"]),
            "'friedman1' is a regression task but model 'logreg' is not; regression "
            "models: bmdal-mlp, embedding-regressor, ridge",
        ),
        (_with(strategies=[]), "'strategies' must be a non-empty list"),
        (_with(strategies=["random", "random"]), "same entry twice"),
    ],
)
def test_rejects_bad_grids(data, match):
    with pytest.raises(ConfigError, match=match):
        parse_grid(data, "grid.toml")


def test_a_label_names_a_strategy_entry():
    grid = parse_grid(
        _with(
            strategies=[
                "random",
                {"name": "bald", "params": {"n_mc_samples": 3}, "label": "bald-3"},
            ]
        )
    )
    runs = grid.runs()
    assert {r.strategy for r in runs} == {"random", "bald-3"}
    assert next(r for r in runs if r.strategy == "bald-3").strategy_params == {
        "n_mc_samples": 3
    }
    with pytest.raises(ConfigError, match="'label' of 'bald' must be a non-empty"):
        parse_grid(_with(strategies=[{"name": "bald", "label": ""}]))
    with pytest.raises(ConfigError, match="the same entry twice"):
        parse_grid(_with(strategies=["random", {"name": "bald", "label": "random"}]))


def test_finetune_entries_and_noise_wrappers():
    grid = parse_grid(
        _with(
            datasets=["digits", "digits:noisy-class:0.4"],
            strategies=[
                "margin",
                {"name": "margin", "finetune": True},
                {"name": "lhd", "finetune": {"max_epochs": 3}},
            ],
            finetune={"lr_factor": 1, "min_size": 50},
        )
    )
    runs = grid.runs()
    assert {r.dataset for r in runs} == {"digits", "digits:noisy-class:0.4"}
    by_label = {r.strategy: r for r in runs}
    assert set(by_label) == {"margin", "margin+finetune", "lhd+finetune"}
    assert "finetune" not in by_label["margin"].extra  # old run ids unchanged
    ft = by_label["margin+finetune"].extra["finetune"]
    assert ft["lr_factor"] == 1 and ft["min_size"] == 50 and ft["max_epochs"] == 500
    ft = by_label["lhd+finetune"].extra["finetune"]
    assert ft["max_epochs"] == 3 and ft["min_size"] == 50 and ft["threshold"] == 0.8
    assert by_label["margin"].run_id != by_label["margin+finetune"].run_id


def test_load_grid_file_errors(tmp_path):
    with pytest.raises(ConfigError, match="does not exist"):
        load_grid(tmp_path / "none.toml")
    bad = tmp_path / "bad.toml"
    bad.write_text("datasets = [")
    with pytest.raises(ConfigError, match="not valid TOML"):
        load_grid(bad)


def test_shipped_configs_are_valid():
    from pathlib import Path

    configs = sorted(
        (Path(__file__).parents[2] / "benchmarks" / "configs").glob("*.toml")
    )
    assert configs
    for path in configs:
        assert load_grid(path).runs()
