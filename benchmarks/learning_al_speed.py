"""Time one step of the myopic oracle and of the np strategy (issue targets).

* oracle: a 3 000-point pool (``waveform:balanced``), 100 labels, logistic
  regression — target under 30 s a step on 2 cores;
* np: ``waveform:imbalanced-weighted`` (pool 1 542), 100 labels, 300 simulations
  — target under 2 minutes a step, with where the time goes.

Both with the oracle's fits one scikit-learn fit at a time (joblib) and batched
(:func:`labelwise.kernels.fit_logistic_plus_one`), measured in the same run; and
the batched oracle on the largest pool of the protocol (adult).

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


def _oracle_step(name: str, pool_size: int | None, batched: bool, jobs: int) -> tuple:
    d, state, model = _setup(name, pool_size)
    oracle = get_strategy("oracle", n_jobs=jobs, batched=batched)
    oracle.set_simulation(
        d.y_train,
        d.X_test,
        d.y_test,
        eval_weights=d.eval_weights,
        class_weights=d.class_weights,
    )
    start = time.perf_counter()
    sel = oracle.select(model, d.X_train, state, 1, rng=0)
    return time.perf_counter() - start, sel, state, d.X_train.shape[1]


def _np_step(batched: bool, jobs: int) -> tuple[float, dict, int]:
    d, state, model = _setup("waveform:imbalanced-weighted", None)
    np_strategy = get_strategy("np", n_jobs=jobs, progress=False, batched=batched)
    np_strategy.set_reward(
        d.X_reward,
        d.y_reward,
        eval_weights=d.eval_weights,
        class_weights=d.class_weights,
    )
    start = time.perf_counter()
    np_strategy.select(model, d.X_train, state, 1, rng=np.random.default_rng(0))
    return time.perf_counter() - start, np_strategy.timings_, state.n_unlabeled


def main(argv: list[str] | None = None) -> int:
    """Command line entry point."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--jobs", type=int, default=2)
    args = ap.parse_args(argv)
    t_refit, s_refit, state, _ = _oracle_step(
        "waveform:balanced", 3000, False, args.jobs
    )
    t_fast, s_fast, _, _ = _oracle_step("waveform:balanced", 3000, True, args.jobs)
    same = s_fast.indices.tolist() == s_refit.indices.tolist()
    print(
        f"oracle, waveform:balanced: pool {state.n_unlabeled}, {s_fast.info['fits']} "
        f"fits a step (target 30 s): one scikit-learn fit each ({args.jobs} jobs) "
        f"{t_refit:.2f} s, batched {t_fast:.2f} s: {t_refit / t_fast:.0f}x "
        f"(same pick: {same})"
    )
    t_adult, _, state, n_feat = _oracle_step("adult:imbalanced-weighted", None, True, 1)
    print(
        f"oracle, adult:imbalanced-weighted: pool {state.n_unlabeled} "
        f"({n_feat} features), batched {t_adult:.1f} s a step"
    )
    for batched in (False, True):
        total, t, n_pool = _np_step(batched, args.jobs)
        how = "batched" if batched else f"one fit each, {args.jobs} jobs"
        print(
            f"np, waveform:imbalanced-weighted: pool {n_pool}, 300 simulations, "
            f"oracle fits {how}: {total:.1f} s per step (target 120 s): oracle fits "
            f"{t['simulate_seconds']:.1f} s, training {t['train_seconds']:.1f} s, "
            f"scoring {t['score_seconds'] * 1000:.0f} ms"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
