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
