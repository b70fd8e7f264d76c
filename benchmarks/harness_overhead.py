"""Wall-time overhead of the bench harness over the bare active-learning loop.

Runs the same small grid twice per repetition, interleaved: once as a bare loop
(ActiveLearner: fit, evaluate, query, teach; nothing stored) and once through
``run_grid`` (SQLite transaction per round, per-run log files, resume checks, one
worker). Prints the median times and their ratio; the target is under 5 %.

Usage: python benchmarks/harness_overhead.py [--repeats R]
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time

import torch

from labelwise.bench import parse_grid, run_grid
from labelwise.bench.runner import _data
from labelwise.loop import ActiveLearner, initial_indices
from labelwise.loop.oracle import SimulatedOracle
from labelwise.metrics import classification_metrics
from labelwise.models.registry import make_model
from labelwise.pool import LabelState
from labelwise.strategies import get_strategy

GRID = {
    "name": "overhead",
    "datasets": ["digits"],
    "models": [{"name": "mlp", "params": {"epochs": 100}}],
    "strategies": ["random", "margin", "badge"],
    "settings": {"initial": 20, "batch_size": 20, "rounds": 8, "seeds": 3},
}


def bare(grid) -> None:
    for run in grid.runs():
        x, y, xt, yt, classes = _data(run.dataset, None, None)
        oracle = SimulatedOracle(y)
        state = LabelState(len(y), classes=classes)
        init = initial_indices(len(y), run.n_initial, run.seed)
        state.teach(init, oracle.label(init), round=0)
        learner = ActiveLearner(
            make_model(run.model, **run.extra["model_params"]),
            get_strategy(run.extra["strategy_name"]),
            x,
            state=state,
            seed=run.seed,
        )
        for rnd in range(run.n_rounds + 1):
            learner.fit()
            classification_metrics(yt, learner.predict_proba(xt).argmax(1))
            if rnd < run.n_rounds:
                sel = learner.query(run.batch_size)
                learner.teach(sel.indices, oracle.label(sel.indices))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    torch.set_num_threads(1)  # as in the harness's workers
    grid = parse_grid(GRID)
    _data("digits", None, None)  # load once, outside the timings
    t_bare, t_harness = [], []
    for _ in range(args.repeats):
        start = time.perf_counter()
        bare(grid)
        t_bare.append(time.perf_counter() - start)
        with tempfile.TemporaryDirectory() as tmp:
            start = time.perf_counter()
            run_grid(grid, tmp, workers=1, progress=False)
            t_harness.append(time.perf_counter() - start)
    b, h = statistics.median(t_bare), statistics.median(t_harness)
    n_runs = len(grid.runs())
    print(
        f"grid: {n_runs} runs x {GRID['settings']['rounds'] + 1} rounds, {args.repeats} repeats"
    )
    print(f"bare loop     median {b:.2f} s  ({', '.join(f'{t:.2f}' for t in t_bare)})")
    print(
        f"bench harness median {h:.2f} s  ({', '.join(f'{t:.2f}' for t in t_harness)})"
    )
    print(f"overhead: {100 * (h / b - 1):+.1f} % (target < 5 %)")


if __name__ == "__main__":
    main()
