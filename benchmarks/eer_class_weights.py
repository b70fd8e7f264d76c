"""Why eer's log-loss scores run against the oracle under class weights.

Expected error reduction scores a candidate ``x`` by the reward set's loss
after a refit on ``L + (x, y)``, averaged over the unknown label with the
model's ``p_L(y|x)``; the myopic oracle measures the same refit with the true
label. In the imbalanced-weighted setting the refits weigh a class-``y`` point
by ``w_y`` (here 1.82 for the rare class, 0.18 for the common one). To first
order a refit moves the parameters by ``∝ w_y ∇ℓ(x, y)``, and the two labels
push in opposite directions; only when the label's distribution matches the
weights (``E_y[w_y ∇ℓ(x, y)] = 0``, i.e. ``y ~ p_L(y|x) / w_y``) do these
first-order moves cancel in the expectation. With the model's own ``p_L`` a
pool point predicted common (9 in 10 of the pool) is scored mostly by the
ten-times heavier refit with the *rare* label, whose effect on the log loss
has the opposite sign of the likely true label's: its expected reduction
runs against the oracle's value.

For every dataset and seed (100 random start labels, one step, the whole
pool as candidates) this prints Spearman correlations of eer's log-loss
scores with the oracle's values (the reward set's log-loss fall with the true
label), over the whole pool and over the points predicted rare / common,
and the same for ``posterior="unweighted"`` (averaging over
``p_L(y|x) / w_y``); the last column correlates each with the test-set
balanced-accuracy gain the benchmark scores. Logistic regression, one thread,
a few seconds a row.

    python benchmarks/eer_class_weights.py [--dataset waveform:imbalanced-weighted ...] [--seeds 3]
"""

from __future__ import annotations

import argparse
import sys
from typing import Any

import numpy as np
from scipy.stats import spearmanr
from threadpoolctl import threadpool_limits

from labelwise.datasets import load
from labelwise.loop.experiment import initial_indices
from labelwise.strategies import get_strategy
from labelwise.strategies.lookahead import myopic_improvements
from labelwise.strategies.neural_process import myopic_log_loss_gains
from np_diagnostic import _eer_scores, _fit

DATASETS = ["waveform:imbalanced-weighted", "waveform:imbalanced", "waveform:balanced"]


def _rho(a: np.ndarray, b: np.ndarray) -> float:
    return float(spearmanr(a, b).statistic) if a.size > 2 else float("nan")


def _row(d: Any, seed: int) -> list[float]:
    X, y, cw = d.X_train, d.y_train, d.class_weights
    lab = initial_indices(len(y), 100, seed)
    pool = np.setdiff1d(np.arange(len(y)), lab)
    model = _fit(X, y, lab, cw, seed)  # as np_diagnostic.py fits it
    kw: dict[str, Any] = {
        "n_classes": 2,
        "weights": d.eval_weights,
        "sample_weight": cw,
    }
    v = myopic_log_loss_gains(
        model, X, lab, y[lab], pool, y[pool], d.X_reward, d.y_reward, **kw
    )
    v_test = myopic_improvements(
        model, X, lab, y[lab], pool, y[pool], d.X_test, d.y_test, **kw
    )
    pred = np.asarray(model.predict_proba(X[pool])).argmax(axis=1)
    rare = pred == int(np.argmin(np.bincount(y, minlength=2)))
    out = [float(rare.mean())]
    for posterior in ("model", "unweighted"):
        eer = get_strategy("eer", loss="log", posterior=posterior)
        eer.set_reward(
            d.X_reward, d.y_reward, eval_weights=d.eval_weights, class_weights=cw
        )
        _, s = _eer_scores(eer, X, y, lab, cw, seed)  # rows in pool order
        out += [_rho(s, v), _rho(s[rare], v[rare]), _rho(s[~rare], v[~rare])]
        out.append(_rho(s, v_test))
    return out


COLUMNS = [
    "pool predicted rare",
    "eer ~ oracle",
    "… predicted rare",
    "… predicted common",
    "eer ~ test gain",
    "unweighted ~ oracle",
    "… predicted rare",
    "… predicted common",
    "unweighted ~ test gain",
]


def main(argv: list[str] | None = None) -> int:
    """Command line entry point."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--dataset", action="append", default=None)
    ap.add_argument("--seeds", type=int, default=3)
    args = ap.parse_args(argv)
    threadpool_limits(1)
    print("| dataset | class weights | seed | " + " | ".join(COLUMNS) + " |")
    print("|---" * (len(COLUMNS) + 3) + "|")
    for name in args.dataset or DATASETS:
        d = load(name)
        if d.X_reward is None or d.y_reward is None:
            raise SystemExit(f"{name} has no reward set; use NAME:imbalanced-weighted.")
        cw = (
            "none" if d.class_weights is None else np.round(d.class_weights, 2).tolist()
        )
        rows = [_row(d, seed) for seed in range(args.seeds)]
        for seed, row in enumerate(rows):
            vals = " | ".join(f"{x:+.2f}" for x in row)
            print(f"| {name} | {cw} | {seed} | {vals} |", flush=True)
        mean = " | ".join(f"{np.nanmean(c):+.2f}" for c in zip(*rows, strict=True))
        print(f"| {name} | {cw} | mean | {mean} |", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
