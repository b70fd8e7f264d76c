"""Where one run of an image-study grid spends its time, and the grid's predicted cost.

For one dataset of a grid config (default: its last), on one thread as bench
workers run (``torch.set_num_threads(1)``), at a few labeled-set sizes between
``initial`` and ``initial + rounds * batch_size``: fit the grid's model on a
seeded uniform labeled set of that size (CPU seconds, wall seconds, epochs,
balanced accuracy on the test set), then time one selection of ``batch_size``
by every strategy of the grid on that fitted model. A run's cost is then
interpolated linearly in |L| over its ``rounds + 1`` fits and ``rounds``
selections, and the grid's as the mean run x runs / workers.

CPU seconds (``time.process_time``) are what is reported for the prediction:
on a shared machine the wall time of one process grows with the load, its CPU
time much less (with one thread, CPU time = the time it computes; a core
shared with other jobs still slows it somewhat, so the figures err high). Wall seconds
are printed beside them. The labeled sets are uniform draws, not a strategy's
picks, and a run also pays imports, data loading and the store: six runs of
the CPU image grid's weighted Fashion-MNIST cell through ``labelwise bench
--workers 1`` took 327 CPU s against 301 predicted (+9 %).

    python benchmarks/image_study_cost.py benchmarks/configs/image-study-cpu.toml \
        [--dataset fashion-mnist:imbalanced-weighted] [--labels 100,600,1100] \
        [--strategies random,lloss] [--workers 2] [--seed 0]
"""

from __future__ import annotations

import argparse
import time
from typing import Any

import numpy as np
import torch

from labelwise.bench.config import load_grid
from labelwise.bench.runner import _simulation_context
from labelwise.datasets import load
from labelwise.metrics import classification_metrics
from labelwise.models.registry import check_model_params, make_model
from labelwise.pool import LabelState
from labelwise.strategies import get_strategy


def _timed(fn: Any, *args: Any, **kw: Any) -> tuple[Any, float, float]:
    """``(result, cpu_seconds, wall_seconds)`` of ``fn(*args, **kw)``."""
    cpu, wall = time.process_time(), time.perf_counter()
    out = fn(*args, **kw)
    return out, time.process_time() - cpu, time.perf_counter() - wall


def _labeled(d: Any, n: int, seed: int) -> LabelState:
    rng = np.random.default_rng(seed)
    idx = rng.choice(len(d.y_train), size=n, replace=False)
    state = LabelState(len(d.y_train), classes=d.classes)
    state.teach(idx, d.y_train[idx], round=0)
    return state


def _fit(model: Any, d: Any, state: LabelState, seed: int) -> None:
    idx = state.labeled_indices()
    y = state.labels(idx)
    kw = {}
    if d.class_weights is not None:
        kw["sample_weight"] = d.class_weights[np.asarray(y, int)]
    model.fit(d.X_train[idx], y, n_classes=len(d.classes), rng=seed, **kw)


def _interpolate(sizes: list[int], values: list[float], at: np.ndarray) -> float:
    """Sum of ``values`` (measured at ``sizes``) interpolated linearly at ``at``.

    Outside the measured sizes the nearest value is used (np.interp), so sample
    the first and the last |L| of a run (the default does).
    """
    order = np.argsort(sizes)
    xs, ys = np.asarray(sizes)[order], np.asarray(values)[order]
    return float(np.sum(np.interp(at, xs, ys)))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("config")
    ap.add_argument("--dataset", default=None)
    ap.add_argument("--labels", default=None, help="comma-separated |L| to sample")
    ap.add_argument("--strategies", default=None, help="comma-separated labels")
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()
    torch.set_num_threads(1)
    grid = load_grid(args.config)
    s = grid.settings
    name = args.dataset or grid.datasets[-1]
    d = load(name, pool_size=s.pool_size, test_size=s.test_size)
    last = s.initial + s.rounds * s.batch_size
    sizes = (
        [int(v) for v in args.labels.split(",")]
        if args.labels
        else [s.initial, (s.initial + last) // 2, last]
    )
    wanted = None if args.strategies is None else set(args.strategies.split(","))
    strategies = [c for c in grid.strategies if wanted is None or c.label in wanted]
    spec = grid.models[0]
    params = check_model_params(spec.name, spec.params)
    print(f"{grid.name}: {name}, pool {len(d.y_train)}, test {len(d.y_test)}")
    print(f"model {spec.name} {params}")
    aux = (d.X_aux, d.y_aux) if d.X_aux is not None else None
    ctx = _simulation_context(d, aux, name)  # what a bench run hands its strategy
    fit_cpu: list[float] = []
    sel_cpu: dict[str, list[float]] = {c.label: [] for c in strategies}
    # one fit and one prediction first: the first call of a process pays the
    # one-off set-up of the convolution kernels (about a second), no run pays it
    # again per round
    warm = make_model(spec.name, device="cpu", **{**params, "epochs": 1})
    _fit(warm, d, _labeled(d, s.initial, args.seed), args.seed)
    warm.predict_proba(d.X_train[:256])
    for n in sizes:
        state = _labeled(d, n, args.seed)
        model = make_model(spec.name, device="cpu", **params)
        _, cpu, wall = _timed(_fit, model, d, state, args.seed)
        fit_cpu.append(cpu)
        acc = classification_metrics(
            d.y_test, model.predict_proba(d.X_test).argmax(1), d.eval_weights
        )["balanced_accuracy"]
        epochs = getattr(model, "epochs_", ["?"])
        print(
            f"|L| = {n:5d}  fit   {cpu:7.2f} s cpu {wall:7.2f} s wall  "
            f"epochs {epochs[0]}  balanced accuracy {acc:.3f}"
        )
        for comp in strategies:
            strat = get_strategy(comp.name, **comp.params)
            strat.prepare_simulation(ctx)
            _, cpu, wall = _timed(
                strat.select, model, d.X_train, state, s.batch_size, rng=args.seed
            )
            sel_cpu[comp.label].append(cpu)
            print(f"           {comp.label:18s} {cpu:7.2f} s cpu {wall:7.2f} s wall")
    fit_at = s.initial + s.batch_size * np.arange(s.rounds + 1)
    fits = _interpolate(sizes, fit_cpu, fit_at)
    print(f"\nper run (cpu s, interpolated in |L|): fits {fits:.0f}")
    total = 0.0
    for label, vals in sel_cpu.items():
        sel = _interpolate(sizes, vals, fit_at[:-1])
        total += fits + sel
        print(f"  {label:18s} selections {sel:6.0f}  run {fits + sel:6.0f}")
    mean = total / max(len(sel_cpu), 1)
    n_runs = (
        len(grid.runs())
        if wanted is None
        else len(grid.datasets) * len(s.seeds) * len(strategies)
    )
    print(
        f"mean run {mean:.0f} cpu s; {n_runs} runs -> {mean * n_runs / 3600:.2f} h "
        f"on one worker, {mean * n_runs / 3600 / args.workers:.2f} h on "
        f"{args.workers} workers"
    )


if __name__ == "__main__":
    main()
