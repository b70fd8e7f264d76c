"""LHD against least confidence on the Four-Moons toy (LHD paper §5, reduced scale)."""

import sqlite3

import numpy as np

from labelwise.bench import parse_grid, run_grid


def test_lhd_beats_least_confidence_on_four_moons(tmp_path):
    grid = parse_grid(
        {
            "name": "four-moons-ci",
            "datasets": ["four-moons"],
            "models": [
                {
                    "name": "mlp",
                    "params": {"layers": 2, "batch": 16, "epochs": 60, "ema": 0.999},
                }
            ],
            "strategies": ["least-confidence", "lhd"],
            "settings": {"initial": 20, "batch_size": 200, "rounds": 5, "seeds": 3},
        }
    )
    counts = run_grid(grid, tmp_path, workers=2, progress=False)
    assert counts["finished"] == 6
    rows = (
        sqlite3.connect(tmp_path / "results.sqlite")
        .execute(
            "SELECT r.strategy, r.seed, m.value FROM measurements m JOIN runs r USING (run_id) "
            "WHERE m.metric='accuracy' AND m.round=5"
        )
        .fetchall()
    )
    final = {
        s: np.mean([v for st, _, v in rows if st == s])
        for s in ("least-confidence", "lhd")
    }
    assert final["lhd"] - final["least-confidence"] >= 0.15, final
