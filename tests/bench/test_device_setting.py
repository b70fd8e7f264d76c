"""The grid-level device/precision settings and the --device options."""

import json

import pytest
import torch
from typer.testing import CliRunner

from labelwise.bench import ConfigError, parse_grid
from labelwise.bench.config import with_placement
from labelwise.cli import app

BASE = {
    "datasets": ["digits"],
    "models": [{"name": "mlp", "params": {"epochs": 2}}],
    "strategies": ["random"],
    "settings": {"initial": 10, "batch_size": 5, "rounds": 1, "seeds": 1},
}


def _grid(**settings):
    return parse_grid({**BASE, "settings": {**BASE["settings"], **settings}})


def test_default_placement_keeps_run_ids_and_explicit_device_joins_them():
    plain = _grid().runs()[0]
    auto = _grid(device="auto", precision="fp32").runs()[0]
    assert plain.run_id == auto.run_id and "device" not in plain.extra
    cpu = _grid(device="cpu").runs()[0]
    assert cpu.extra["device"] == "cpu" and cpu.run_id != plain.run_id


@pytest.mark.parametrize(
    ("settings", "match"),
    [
        ({"device": "tpu"}, "device must be one of"),
        ({"device": 0}, "must be a string"),
        ({"device": "cpu", "precision": "bf16"}, "needs a CUDA device"),
        ({"precision": "half"}, "precision must be"),
    ],
)
def test_bad_placement_is_a_config_error(settings, match):
    with pytest.raises(ConfigError, match=match):
        _grid(**settings)


def test_with_placement_overrides_and_validates():
    grid = with_placement(_grid(), "cpu", None)
    assert grid.settings.device == "cpu" and grid.settings.precision == "fp32"
    with pytest.raises(ConfigError, match="needs a CUDA device"):
        with_placement(grid, None, "bf16")


def test_run_names_the_device_and_records_it(tmp_path):
    out = tmp_path / "exp"
    res = CliRunner().invoke(
        app,
        [
            "run",
            "--dataset",
            "digits",
            "--model",
            "mlp",
            "--epochs",
            "2",
            "--strategy",
            "random",
            "--initial",
            "10",
            "--batch-size",
            "10",
            "--rounds",
            "1",
            "--seeds",
            "1",
            "--device",
            "cpu",
            "--out",
            str(out),
        ],
    )
    assert res.exit_code == 0, res.output
    assert "model mlp on cpu;" in res.output
    assert json.loads((out / "grid.json").read_text())["device"] == "cpu"
    log = next((out / "logs").glob("*.log")).read_text()
    assert "model on cpu" in log


@pytest.mark.skipif(torch.cuda.is_available(), reason="checks the CPU-only message")
def test_run_refuses_cuda_without_cuda(tmp_path):
    res = CliRunner().invoke(
        app,
        [
            *("run", "--dataset", "digits", "--strategy", "random"),
            *("--device", "cuda", "--out", str(tmp_path)),
        ],
    )
    assert res.exit_code == 2 and "sees no CUDA device" in res.output


def test_label_session_checks_its_placement_first(tmp_path):
    from labelwise.app import LabelSession
    from labelwise.exceptions import InvalidParameterError

    with pytest.raises(InvalidParameterError, match="needs a CUDA device"):
        LabelSession(tmp_path, device="cpu", precision="bf16")
    with pytest.raises(InvalidParameterError, match="device must be one of"):
        LabelSession(tmp_path, device="tpu")
