"""What does the learned strategy learn? Its scores against the oracle's values.

At the first acquisition step of several seeds (100 random labels, logistic
regression, class weights in the weighted setting) this computes, for every
pool point, the myopic oracle's value on the reward set (what the NP is trained
to predict) and on the test set (what the benchmark scores), trains the NP as
the ``np`` strategy does, and prints:

* the Spearman correlation of the NP's μ with the reward-set values, on the
  real pool and on 100 fresh simulated problems of the same step (how well
  the NP learned what it was trained on);
* the test-set value of the point each strategy picks (mean over seeds), with
  the pool mean (what a random pick gets on average) and the pool maximum (the
  oracle's pick on the test set).

    python benchmarks/np_diagnostic.py [--dataset waveform:imbalanced-weighted] [--seeds 3] [--epochs 100]
"""

from __future__ import annotations

import argparse
import sys

import numpy as np
from scipy.stats import spearmanr

from labelwise.datasets import load
from labelwise.loop.experiment import initial_indices
from labelwise.models.registry import make_model
from labelwise.pool import LabelState
from labelwise.strategies import get_strategy
from labelwise.strategies.imbalance import myopic_improvements
from labelwise.strategies.neural_process import predict_np, simulate

HANDMADE = ["uncertainty", "kcenter", "hal-uniform", "hal-gaussian", "cbal"]


def main(argv: list[str] | None = None) -> int:
    """Command line entry point."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--dataset", default="waveform:imbalanced-weighted")
    ap.add_argument("--seeds", type=int, default=3)
    ap.add_argument("--n-sim", type=int, default=300)
    ap.add_argument("--epochs", type=int, default=100)
    args = ap.parse_args(argv)
    d = load(args.dataset)
    X, y = d.X_train, d.y_train
    picks: dict[str, list[float]] = {s: [] for s in ["np", *HANDMADE]}
    rho, rho_sim, pool_mean, pool_max = [], [], [], []
    for seed in range(args.seeds):
        init = initial_indices(len(y), 100, seed)
        state = LabelState(len(y), classes=d.classes)
        state.teach(init, y[init], round=0)
        cw = d.class_weights
        model = make_model("logreg").fit(
            X[init], y[init], n_classes=2, rng=seed,
            sample_weight=None if cw is None else cw[y[init]],
        )  # fmt: skip
        pool = state.unlabeled_indices()

        assert d.X_reward is not None and d.y_reward is not None
        args_ = (model, X, init, y[init], pool, y[pool])
        kw = {"n_classes": 2, "weights": d.eval_weights, "sample_weight": cw}
        v_reward = myopic_improvements(*args_, d.X_reward, d.y_reward, **kw)
        v_test = myopic_improvements(*args_, d.X_test, d.y_test, **kw)
        where = {int(j): k for k, j in enumerate(pool)}
        learned = get_strategy(
            "np", n_sim=args.n_sim, epochs=args.epochs, progress=False
        )
        learned.set_reward(
            d.X_reward, d.y_reward, eval_weights=d.eval_weights, class_weights=cw
        )
        sel = learned.select(model, X, state, 1, rng=seed)
        x = np.asarray(X, dtype=np.float32).reshape(len(X), -1)
        xs = x / float(np.abs(x).max())
        net = learned.net_
        assert net is not None
        mu = predict_np(net, xs[init], xs[pool])
        rho.append(float(spearmanr(mu, v_reward).statistic))
        fresh = simulate(
            model, X, init, y[init], d.X_reward, d.y_reward, n_classes=2,
            n_sim=100, rng=np.random.default_rng([seed, 99]),
            weights=d.eval_weights, sample_weight=cw,
        )  # fmt: skip
        rho_sim.append(
            float(
                np.nanmean(
                    [
                        spearmanr(
                            predict_np(net, xs[init[c]], xs[init[t]]), v
                        ).statistic
                        for c, t, v in fresh
                        if np.ptp(v) > 0
                    ]
                )
            )
        )
        picks["np"].append(float(v_test[where[int(sel.indices[0])]]))
        for name in HANDMADE:
            s = get_strategy(name).select(model, X, state, 1, rng=seed)
            picks[name].append(float(v_test[where[int(s.indices[0])]]))
        pool_mean.append(float(v_test.mean()))
        pool_max.append(float(v_test.max()))
        print(
            f"seed {seed}: Spearman(μ, reward-set value) pool {rho[-1]:+.3f}, "
            f"simulated problems {rho_sim[-1]:+.3f}",
            flush=True,
        )

    def mean_se(v: list[float]) -> str:
        return f"{np.mean(v):+.3f} ± {np.std(v, ddof=1) / np.sqrt(len(v)):.3f}"

    print(
        f"\n{args.dataset}, first step, {args.seeds} seeds, NP {args.epochs} epochs: "
        f"Spearman(μ, oracle value on the reward set) on the pool {mean_se(rho)}, "
        f"on fresh simulated problems {mean_se(rho_sim)}\n"
    )
    print("| pick | test-set value of the picked point (mean over seeds) |")
    print("|---|---|")
    print(f"| pool maximum (oracle) | {np.mean(pool_max):+.4f} |")
    for name, v in picks.items():
        print(f"| {name} | {np.mean(v):+.4f} |")
    print(f"| pool mean (random, expected) | {np.mean(pool_mean):+.4f} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
