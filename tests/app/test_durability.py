"""Durability: three clients label while the server is SIGKILLed 5 times.

Runs the harness of ``benchmarks/durability.py`` on a real ``labelwise label
serve`` subprocess: every acknowledged label must be stored exactly once,
nothing unexplained stored, and the database and the served queue consistent
after every kill and restart.
"""

from __future__ import annotations

import sys
from pathlib import Path

BENCH = Path(__file__).resolve().parents[2] / "benchmarks"


def test_acknowledged_labels_survive_sigkills_exactly_once(tmp_path):
    sys.path.insert(0, str(BENCH))
    try:
        import durability
    finally:
        sys.path.pop(0)
    report = durability.run(
        kills=5,
        clients=3,
        seed=0,
        min_gap=0.3,
        max_gap=1.2,
        n_items=2000,
        folder=tmp_path,
    )
    assert report.kills == 5 and report.problems == []
    assert report.acknowledged >= 20, report
    assert report.lost == 0 and report.duplicated == 0 and report.unexplained == 0
    assert report.server_errors == 0 and report.double_acks == 0
    # stored = acknowledged + those whose answer a kill cut off
    assert report.acknowledged <= report.stored <= report.requests
