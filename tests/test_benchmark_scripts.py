"""The measuring helpers of benchmarks/scale.py and selection_speed.py (no timing)."""

import importlib
import os
import subprocess
from pathlib import Path

import pytest
import torch

BENCH = Path(__file__).resolve().parents[1] / "benchmarks"


@pytest.fixture
def scripts(monkeypatch):
    monkeypatch.syspath_prepend(str(BENCH))
    return importlib.import_module("scale"), importlib.import_module("selection_speed")


class _Model:
    def embed(self, X):
        return [x * 2 for x in X]

    def predict_proba(self, X):
        return self.embed(X)  # nested: counted once

    def fit(self, X):
        return "not an output method"


def test_output_methods_are_timed_once_and_still_answer(scripts):
    scale, _ = scripts
    model = _Model()
    spent = scale._time_outputs(model, torch.device("cpu"))
    assert model.predict_proba([1, 2]) == [2, 4] and model.embed([3]) == [6]
    assert spent[0] > 0.0
    assert "fit" not in vars(model) and "embed" in vars(model)
    before = spent[0]
    model.fit([1])
    assert spent[0] == before


def test_every_output_method_of_the_capabilities_is_timed(scripts):
    """A capability's output method missing from the list (``ema_tensor_outputs``
    was: LHD on a GPU took its forward passes through it) is counted as selection
    time instead of forward time, on the device path only."""
    import inspect

    from labelwise.models import base

    scale, _ = scripts
    not_outputs = {"fit", "finetune", "device"}
    methods = {
        name
        for _, proto in inspect.getmembers(base, inspect.isclass)
        if proto.__module__ == base.__name__
        for name in vars(proto)
        if not name.startswith("_") and name not in not_outputs
    }
    assert {"ema_tensor_outputs", "grad_feature_tensor", "tensor_outputs"} <= methods
    assert methods <= set(scale.OUTPUT_METHODS)


def test_reference_checkout_and_its_environment(scripts):
    _, speed = scripts
    head = subprocess.run(
        ["git", "-C", str(BENCH.parent), "rev-parse", "HEAD"],
        capture_output=True,
        text=True,
        check=False,
    )
    if head.returncode != 0:
        pytest.skip("not a git checkout")
    src = Path(speed.ref_checkout("HEAD"))
    assert (src / "labelwise" / "__init__.py").is_file()
    env = speed.library_env(str(src))
    assert env["PYTHONPATH"].split(os.pathsep)[0] == str(src)
    assert speed.library_env(None) is None
    with pytest.raises(SystemExit, match="git archive failed"):
        speed.ref_checkout("no-such-revision-xyz")


def test_eer_class_weights_shows_the_sign_flip_and_its_fix(monkeypatch):
    """benchmarks/eer_class_weights.py: what the learned-AL page reports, seed 0."""
    monkeypatch.syspath_prepend(str(BENCH))
    script = importlib.import_module("eer_class_weights")
    from labelwise.datasets import load

    cols = {c: i for i, c in enumerate(script.COLUMNS) if not c.startswith("…")}
    weighted = script._row(load("waveform:imbalanced-weighted"), 0)
    assert weighted[cols["eer ~ oracle"]] < -0.2
    assert weighted[3] < -0.4  # the points predicted common carry the sign flip
    assert weighted[cols["unweighted ~ oracle"]] > 0.4
    # without training weights the two posteriors are the same and agree with the oracle
    plain = script._row(load("waveform:imbalanced"), 0)
    assert plain[1:5] == plain[5:9]
    assert plain[cols["eer ~ oracle"]] > 0.4


def test_image_study_tables_compare_each_baseline_with_random(monkeypatch):
    """benchmarks/image_study_tables.py: signs, standard errors and cell counts."""
    import numpy as np
    import pandas as pd

    monkeypatch.syspath_prepend(str(BENCH))
    script = importlib.import_module("image_study_tables")
    rng = np.random.default_rng(0)
    # per cell and seed, the AUAC offset of each strategy over random
    offsets = {"a": {"lloss": 0.5, "vaal": -0.5}, "b": {"lloss": -0.2, "vaal": -0.3}}
    rows = []
    for cell, off in offsets.items():
        for seed in range(3):
            base = rng.uniform(0.5, 0.6, size=11)
            noise = rng.normal(scale=0.005, size=(2, 11))
            curves = {"random": base}
            for i, (name, o) in enumerate(off.items()):
                curves[name] = base + o / 10 + noise[i]  # 10 unit steps: AUAC + o
            for name, values in curves.items():
                rows += [
                    dict(dataset=cell, model="cnn", strategy=name, seed=seed, round=r,
                         n_labeled=100 + 100 * r, metric="balanced_accuracy", value=v)
                    for r, v in enumerate(values)
                ]  # fmt: skip
    table = script.against_random(pd.DataFrame(rows), ("lloss", "vaal"))
    got = table.set_index(["strategy", "dataset"])["diff"]
    for cell, off in offsets.items():
        for name, o in off.items():
            assert got[(name, cell)] == pytest.approx(o, abs=0.05)
    assert (table["n_seeds"] == 3).all() and (table["p_t"] < 0.05).all()
    text = script._matrix(table)
    assert "| lloss | +0.5" in text and "| 1/2 | 1 |" in text  # lloss above in a only
    assert "| vaal |" in text and "| 0/2 | 0 |" in text


def test_scale_refuses_a_batch_larger_than_the_unlabeled_pool(scripts, capsys):
    scale, _ = scripts
    with pytest.raises(SystemExit):
        scale.main(["--device", "cpu", "--n", "1100", "--batch-size", "101"])
    assert "--batch-size must be in [1, N - 1000]" in capsys.readouterr().err
