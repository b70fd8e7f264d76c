"""What does the learned strategy learn? Its scores and eer's against the oracle's values.

For every seed and acquisition step (100 random start labels, logistic
regression, class weights in the weighted setting; each step adds the NP's
pick, as the ``np`` strategy would) this trains the NP as the ``np`` strategy
does and prints Spearman correlations:

* ``np train``: μ against the targets of the NP's own training problems (mean
  over problems whose targets vary): does the NP fit what it was trained on?
* ``np fresh``: the same on 100 fresh simulated problems of the same step;
* ``np reward`` / ``np test``: μ on the real pool against the myopic oracle's
  values measured on the reward set (in the NP's target: accuracy gain or
  log-loss fall) and on the test set (balanced-accuracy gain: what the
  benchmark scores);
* ``zero train`` / ``zero pool``: the share of exactly-zero targets in the
  training problems (after any normalisation) and among the real pool's
  reward-set values;
* ``eer fresh`` / ``eer reward`` / ``eer test``: the same correlations for
  ``eer``'s expected reduction (on the reward set, with the loss of the NP's
  target: 0/1 for ``gain``, log loss for ``log-loss``), on the fresh
  problems and on the real pool; ``eerP`` is Roy & McCallum's pool estimate
  (expected log loss on 500 pool points) on the real pool;
* ``reward~test``: the reward-set values against the test-set values.

Options select the NP variant (``--target``, ``--target-norm``) and the reward
set's size: ``--reward-size N`` above 100 moves ``N - 100`` random pool points
(seed 0) into the reward set of the NP and of eer (the imbalance settings
hold 100 reward points).

    python benchmarks/np_diagnostic.py [--dataset waveform:imbalanced-weighted] [--seeds 3] [--steps 1] [--epochs 100] [--target gain|log-loss] [--target-norm per-problem] [--reward-size 100]
"""

from __future__ import annotations

import argparse
import sys
from typing import Any

import numpy as np
import torch
from scipy.stats import spearmanr
from threadpoolctl import threadpool_limits

from labelwise.datasets import load
from labelwise.loop.experiment import initial_indices
from labelwise.models.registry import make_model
from labelwise.pool import LabelState
from labelwise.strategies import get_strategy
from labelwise.strategies.lookahead import myopic_improvements
from labelwise.strategies.neural_process import (
    myopic_log_loss_gains,
    predict_np,
    simulate,
)

COLUMNS = [
    "np train", "np fresh", "np reward", "np test", "zero train", "zero pool",
    "eer fresh", "eer reward", "eer test", "eerP reward", "eerP test", "reward~test",
]  # fmt: skip


def _rho(a: np.ndarray, b: np.ndarray) -> float:
    if np.ptp(a) == 0 or np.ptp(b) == 0:
        return float("nan")
    return float(spearmanr(a, b).statistic)


def _fit(X: np.ndarray, y: np.ndarray, rows: np.ndarray, cw: Any, seed: int) -> Any:
    return make_model("logreg").fit(
        X[rows], y[rows], n_classes=2, rng=seed,
        sample_weight=None if cw is None else cw[y[rows]],
    )  # fmt: skip


def _eer_scores(
    strategy: Any, X: np.ndarray, y: np.ndarray, ctx: np.ndarray, cw: Any, seed: int
) -> tuple[np.ndarray, np.ndarray]:
    """The expected reduction (eer) of every non-context row: (rows, scores)."""
    state = LabelState(len(X), classes=["0", "1"])
    state.teach(ctx, y[ctx], round=0)
    model = _fit(X, y, ctx, cw, seed)
    sel = strategy.select(model, X, state, state.n_unlabeled, rng=seed)
    order = np.argsort(sel.indices)
    return sel.indices[order], np.asarray(sel.scores)[order]


def _step(
    args: argparse.Namespace,
    d: Any,
    X: np.ndarray,
    y: np.ndarray,
    Xr: np.ndarray,
    yr: np.ndarray,
    state: LabelState,
    seed: int,
) -> tuple[dict[str, float], int]:
    """One seed and step: the row of correlations and the NP's pick."""
    cw = d.class_weights
    lab, pool = state.labeled_indices(), state.unlabeled_indices()
    model = _fit(X, y, lab, cw, seed)
    kw: dict[str, Any] = {
        "n_classes": 2,
        "weights": d.eval_weights,
        "sample_weight": cw,
    }
    gains = myopic_log_loss_gains if args.target == "log-loss" else myopic_improvements
    v_reward = gains(model, X, lab, y[lab], pool, y[pool], Xr, yr, **kw)
    v_test = myopic_improvements(
        model, X, lab, y[lab], pool, y[pool], d.X_test, d.y_test, **kw
    )
    learned = get_strategy(
        "np", n_sim=args.n_sim, epochs=args.epochs, progress=False,
        target=args.target, target_norm=args.target_norm,
    )  # fmt: skip
    learned.set_reward(Xr, yr, eval_weights=d.eval_weights, class_weights=cw)
    sel = learned.select(model, X, state, 1, rng=seed)
    x = np.asarray(X, dtype=np.float32).reshape(len(X), -1)
    xs = x / float(np.abs(x).max())
    net = learned.net_
    assert net is not None
    train = learned.problems_
    fresh = simulate(
        model, X, lab, y[lab], Xr, yr, n_classes=2, n_sim=args.n_fresh,
        rng=np.random.default_rng([seed, 99]), weights=d.eval_weights,
        sample_weight=cw, target=args.target,
    )  # fmt: skip
    mu = predict_np(net, xs[lab], xs[pool])
    eer = get_strategy("eer", loss="log" if args.target == "log-loss" else "zero-one")
    eer.set_reward(Xr, yr, eval_weights=d.eval_weights, class_weights=cw)
    eer_pool = get_strategy("eer", evaluate_on="pool", loss="log", max_eval=500)
    eer_pool.set_reward(Xr, yr, eval_weights=d.eval_weights, class_weights=cw)
    rows, s_eer = _eer_scores(eer, X, y, lab, cw, seed)
    _, s_eerp = _eer_scores(eer_pool, X, y, lab, cw, seed)
    assert np.array_equal(rows, pool)
    eer_fresh = []
    for c, _, v in fresh:
        _, s = _eer_scores(eer, X[lab], y[lab], c, cw, seed)
        eer_fresh.append(_rho(s, v))
    row = {
        "np train": np.nanmean([_rho(predict_np(net, xs[lab[c]], xs[lab[t]]), v) for c, t, v in train]),
        "np fresh": np.nanmean([_rho(predict_np(net, xs[lab[c]], xs[lab[t]]), v) for c, t, v in fresh]),
        "np reward": _rho(mu, v_reward),
        "np test": _rho(mu, v_test),
        "zero train": float(np.mean(np.concatenate([v for _, _, v in train]) == 0)),
        "zero pool": float(np.mean(v_reward == 0)),
        "eer fresh": np.nanmean(eer_fresh),
        "eer reward": _rho(s_eer, v_reward),
        "eer test": _rho(s_eer, v_test),
        "eerP reward": _rho(s_eerp, v_reward),
        "eerP test": _rho(s_eerp, v_test),
        "reward~test": _rho(v_reward, v_test),
    }  # fmt: skip
    return {k: float(v) for k, v in row.items()}, int(sel.indices[0])


def main(argv: list[str] | None = None) -> int:
    """Command line entry point."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--dataset", default="waveform:imbalanced-weighted")
    ap.add_argument("--seeds", type=int, default=3)
    ap.add_argument("--steps", type=int, default=1)
    ap.add_argument("--n-sim", type=int, default=300)
    ap.add_argument("--n-fresh", type=int, default=100)
    ap.add_argument("--epochs", type=int, default=100)
    ap.add_argument("--target", default="gain", choices=["gain", "log-loss"])
    ap.add_argument("--target-norm", default=None, choices=["per-problem"])
    ap.add_argument("--reward-size", type=int, default=100)
    args = ap.parse_args(argv)
    # one thread, as the bench workers: on a shared machine torch's and BLAS's
    # thread pools spin against each other and small steps get many times slower
    torch.set_num_threads(1)
    threadpool_limits(1)
    d = load(args.dataset)
    assert d.X_reward is not None and d.y_reward is not None
    X, y = d.X_train, d.y_train
    Xr, yr = d.X_reward, d.y_reward
    if args.reward_size > len(yr):  # carve the extra reward points out of the pool
        extra = np.random.default_rng(0).choice(
            len(y), args.reward_size - len(yr), replace=False
        )
        Xr, yr = np.concatenate([Xr, X[extra]]), np.concatenate([yr, y[extra]])
        keep = np.setdiff1d(np.arange(len(y)), extra)
        X, y = X[keep], y[keep]
    print(
        f"{args.dataset}: NP target {args.target}, norm {args.target_norm}, "
        f"{args.n_sim} simulations, {args.epochs} epochs; reward set {len(yr)}; "
        f"pool {len(y)}\n"
    )
    print("| seed | step | " + " | ".join(COLUMNS) + " |")
    print("|---" * (len(COLUMNS) + 2) + "|")
    rows = []
    for seed in range(args.seeds):
        init = initial_indices(len(y), 100, seed)
        state = LabelState(len(y), classes=d.classes)
        state.teach(init, y[init], round=0)
        for step in range(1, args.steps + 1):
            row, pick = _step(args, d, X, y, Xr, yr, state, seed)
            rows.append(row)
            vals = " | ".join(f"{row[c]:+.2f}" for c in COLUMNS)
            print(f"| {seed} | {step} | {vals} |", flush=True)
            state.teach([pick], [y[pick]], round=step)
    mean = " | ".join(
        f"{np.nanmean([r[c] for r in rows]):+.2f} ± "
        f"{np.nanstd([r[c] for r in rows], ddof=1) / np.sqrt(len(rows)):.2f}"
        for c in COLUMNS
    )
    print(f"| mean ± s.e. | | {mean} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
