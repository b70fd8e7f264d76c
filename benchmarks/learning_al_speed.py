"""Time one step of the myopic oracle and of the np strategy (issue targets).

* oracle: a 3 000-point pool (``waveform:balanced``), 100 labels, logistic
  regression — target under 30 s a step on 2 cores;
* np: ``waveform:imbalanced-weighted`` (pool 1 542), 100 labels, 300 simulations
  — target under 2 minutes a step, with where the time goes.

    python benchmarks/learning_al_speed.py [--jobs 2]
"""

from __future__ import annotations

import argparse
import sys
import time

import numpy as np

from labelwise.datasets import load
from labelwise.loop.experiment import initial_indices
from labelwise.models.registry import make_model
from labelwise.pool import LabelState
from labelwise.strategies import get_strategy


def _setup(name: str, pool_size: int | None) -> tuple:
    d = load(name, pool_size=pool_size)
    init = initial_indices(len(d.y_train), 100, 0)
    state = LabelState(len(d.y_train), classes=d.classes)
    state.teach(init, d.y_train[init], round=0)
    w = None if d.class_weights is None else d.class_weights[d.y_train[init]]
    model = make_model("logreg").fit(
        d.X_train[init], d.y_train[init], n_classes=2, rng=0, sample_weight=w
    )
    return d, state, model


def main(argv: list[str] | None = None) -> int:
    """Command line entry point."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--jobs", type=int, default=2)
    args = ap.parse_args(argv)
    d, state, model = _setup("waveform:balanced", 3000)
    oracle = get_strategy("oracle", n_jobs=args.jobs)
    oracle.set_simulation(d.y_train, d.X_test, d.y_test, eval_weights=d.eval_weights)
    start = time.perf_counter()
    sel = oracle.select(model, d.X_train, state, 1, rng=0)
    t_oracle = time.perf_counter() - start
    print(
        f"oracle: pool {state.n_unlabeled}, {sel.info['fits']} fits, "
        f"{t_oracle:.1f} s per step ({args.jobs} jobs; target 30 s)"
    )
    d, state, model = _setup("waveform:imbalanced-weighted", None)
    np_strategy = get_strategy("np", n_jobs=args.jobs, progress=False)
    np_strategy.set_reward(
        d.X_reward,
        d.y_reward,
        eval_weights=d.eval_weights,
        class_weights=d.class_weights,
    )
    start = time.perf_counter()
    np_strategy.select(model, d.X_train, state, 1, rng=np.random.default_rng(0))
    total = time.perf_counter() - start
    t = np_strategy.timings_
    print(
        f"np: pool {state.n_unlabeled}, 300 simulations: {total:.1f} s per step "
        f"(target 120 s): oracle fits {t['simulate_seconds']:.1f} s, training "
        f"{t['train_seconds']:.1f} s, scoring {t['score_seconds'] * 1000:.0f} ms"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
