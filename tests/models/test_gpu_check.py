"""benchmarks/gpu_check.py's parsing and verdicts (the GPU run itself needs CUDA)."""

import importlib.util
import json
from pathlib import Path

import pytest

PATH = Path(__file__).resolve().parents[2] / "benchmarks" / "gpu_check.py"


@pytest.fixture(scope="module")
def gpu_check():
    spec = importlib.util.spec_from_file_location("gpu_check", PATH)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _row(case, n, b, seconds):
    return {
        "case": case,
        "n": n,
        "d": 128,
        "batch_size": b,
        "device": "cuda:0",
        "seconds": seconds,
        "peak_extra_mb": 10.0,
        "embedding_mb": 512.0,
    }


def test_rows_parse_from_json_lines_and_lists(gpu_check):
    rows = [_row("coreset", 1_000_000, 100, 0.05), _row("bait", 100_000, 100, 2.0)]
    lines = "noise\n" + "\n".join(json.dumps(r) for r in rows) + "\n{broken\n"
    assert gpu_check.parse_rows(lines) == rows
    assert gpu_check.parse_rows(json.dumps(rows)) == rows


def test_target_verdicts(gpu_check):
    rows = [_row("coreset", 1_000_000, 100, 0.05), _row("bait", 100_000, 100, 2.0)]
    speeds = [
        {
            "precision": "bf16",
            "train_images_per_s": 25_000,
            "batch": 512,
            "inference_images_per_s": 100_000,
        }
    ]
    table = {
        r["target"]: r["verdict"] for r in gpu_check.target_table(rows, speeds, False)
    }
    assert table["coreset, B = 100"] == "pass"
    assert table["bait, N = 10⁵"] == "fail"
    assert table["badge"] == "not measured"
    assert table["ResNet-18 training, 32 x 32, bf16"] == "pass"
    slow = [{**speeds[0], "train_images_per_s": 19_999}]
    quick = gpu_check.target_table(rows, slow, True)
    assert {r["verdict"] for r in quick} >= {"smoke test only"}
    assert "fail" not in {r["verdict"] for r in quick}
    assert gpu_check.target_table(rows, slow, False)[-2]["verdict"] == "fail"
    md = gpu_check.markdown(
        {
            "device": "cuda",
            "date": "today",
            "machine": "m",
            "seconds": 1.0,
            "gpu_tests": {"status": "pass", "summary": "3 passed"},
            "scale": {"status": "pass", "summary": "2 rows", "rows": rows},
            "resnet18": speeds,
            "targets": gpu_check.target_table(rows, speeds, False),
        }
    )
    assert "| coreset, B = 100 | <= 0.08 s | 0.05 s | pass |" in md
    assert "| bf16, batch 512 | 25,000 | 100,000 |" in md
    # the scale rows rounded for reading (they printed 0.3901999119989341)
    assert "| coreset | 1,000,000 | 100 | 0.05 | - | - | 10 | 512 |" in md
    assert "| bait | 100,000 | 100 | 2 | - | - | 10 | 512 |" in md


def test_scale_subprocess_and_its_absence(gpu_check, tmp_path, monkeypatch):
    fake = tmp_path / "scale.py"
    fake.write_text(
        "import json, sys\n"
        "args = sys.argv[1:]\n"
        "n = int(args[args.index('--n') + 1])\n"
        "print(json.dumps({'case': 'badge', 'n': n, 'batch_size': 100,"
        " 'seconds': 0.01, 'device': args[args.index('--device') + 1]}))\n"
    )
    monkeypatch.setattr(gpu_check, "SCALE", fake)
    out = gpu_check.run_scale("cpu", 1234, timeout=60)
    assert out["status"] == "pass"
    assert out["rows"] == [
        {
            "case": "badge",
            "n": 1234,
            "batch_size": 100,
            "seconds": 0.01,
            "device": "cpu",
        }
    ]
    monkeypatch.setattr(gpu_check, "SCALE", tmp_path / "missing.py")
    out = gpu_check.run_scale("cpu", 10, timeout=60)
    assert out["status"] == "not run" and out["rows"] == []


def test_selection_targets_use_the_selection_column(gpu_check):
    """coreset's bound holds for the selection on computed embeddings, entropy's
    for the whole query; rows without the split fall back to the whole query."""
    rows = [
        {**_row("coreset", 1_000_000, 100, 0.5), "selection_seconds": 0.05},
        {**_row("entropy", 1_000_000, 100, 0.6), "selection_seconds": 0.01},
        _row("badge", 1_000_000, 100, 0.04),
    ]
    table = {r["target"]: r for r in gpu_check.target_table(rows, [], False)}
    assert table["coreset, B = 100"]["verdict"] == "pass"
    assert table["coreset, B = 100"]["measured"] == "0.05 s (selection)"
    assert table["entropy (with the MLP's forward pass)"]["verdict"] == "fail"
    assert table["badge"]["verdict"] == "pass"


def test_extra_runs_pass_their_case_and_batch_size(gpu_check, tmp_path, monkeypatch):
    # the targets outside the N = 10⁶, B = 100 table (coreset with B = 1 000, bait
    # at N = 10⁵) are run one case each, and their rows match those targets
    fake = tmp_path / "scale.py"
    fake.write_text(
        "import json, sys\n"
        "args = sys.argv[1:]\n"
        "get = lambda k, d: args[args.index(k) + 1] if k in args else d\n"
        "for case in get('--cases', 'badge').split(','):\n"
        "    print(json.dumps({'case': case, 'n': int(get('--n', 0)),\n"
        "        'batch_size': int(get('--batch-size', 100)), 'seconds': 0.01}))\n"
    )
    monkeypatch.setattr(gpu_check, "SCALE", fake)
    rows = []
    for case, n, b in gpu_check.EXTRA_RUNS:
        out = gpu_check.run_scale("cpu", n, timeout=60, cases=case, batch_size=b)
        assert out["status"] == "pass"
        rows += out["rows"]
    assert [(r["case"], r["n"], r["batch_size"]) for r in rows] == [
        tuple(x) for x in gpu_check.EXTRA_RUNS
    ]
    table = {r["target"]: r["verdict"] for r in gpu_check.target_table(rows, [], False)}
    assert table["coreset, B = 1 000"] == "pass"
    assert table["bait, N = 10⁵"] == "pass"
