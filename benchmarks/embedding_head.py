"""The embedding head against scikit-learn's logistic regression, and selection cost.

Synthetic CLIP-like embeddings: ``--classes`` Gaussian clusters in ``--dim``
dimensions (centres ``--spread`` x N(0, I), unit noise; the default 0.15 makes
the task hard enough that the models differ), every vector scaled to unit norm
(so components are ~1/sqrt(d), as CLIP's). ``--labeled`` random items are labeled; the rest of the pool is scored.
Prints, from one run: fit seconds and pool accuracy of `EmbeddingClassifier`
(linear head with the defaults, and ``hidden=128``) and of
``LogisticRegression(max_iter=1000)`` through `SklearnClassifier`, and the seconds
of one batch of margin, coreset, badge and bait through each head (BAIT's Fisher
has ``width x classes`` dimensions: ``dim x classes`` for the linear head).
torch runs on ``--threads`` threads (1 by default: on a shared machine more
threads make small steps slower, not faster).

    python benchmarks/embedding_head.py                      # ~5 min on 2 cores
    python benchmarks/embedding_head.py --pool 50000 --dim 768 --threads 4
"""

from __future__ import annotations

import argparse
import time

import numpy as np
import torch

from labelwise import LabelState, SklearnClassifier, get_strategy
from labelwise.models import EmbeddingClassifier


def make_embeddings(
    n: int, d: int, k: int, seed: int, spread: float = 0.15
) -> tuple[np.ndarray, np.ndarray]:
    """Unit-norm vectors around ``k`` random centres (``(n, d)`` float32, labels)."""
    rng = np.random.default_rng(seed)
    centres = rng.normal(size=(k, d))
    y = rng.integers(k, size=n)
    x = spread * centres[y] + rng.normal(size=(n, d))
    x /= np.linalg.norm(x, axis=1, keepdims=True)
    return x.astype(np.float32), y


def main(argv: list[str] | None = None) -> int:
    """Command line entry point."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--pool", type=int, default=20_000)
    ap.add_argument("--dim", type=int, default=512)
    ap.add_argument("--classes", type=int, default=10)
    ap.add_argument("--labeled", type=int, default=1000)
    ap.add_argument("--batch", type=int, default=100)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--spread", type=float, default=0.15)
    a = ap.parse_args(argv)
    torch.set_num_threads(a.threads)
    x, y = make_embeddings(a.pool, a.dim, a.classes, a.seed, a.spread)
    rng = np.random.default_rng(a.seed)
    lab = rng.choice(a.pool, size=a.labeled, replace=False)
    rest = np.setdiff1d(np.arange(a.pool), lab)
    rows = []
    models = {
        "embedding-head": EmbeddingClassifier(device="cpu"),
        "embedding-head hidden=128": EmbeddingClassifier(hidden=128, device="cpu"),
        "logreg (sklearn)": SklearnClassifier(),
    }
    for name, model in models.items():
        t0 = time.perf_counter()
        model.fit(x[lab], y[lab], n_classes=a.classes, rng=a.seed)
        fit_s = time.perf_counter() - t0
        acc = float(np.mean(model.predict_proba(x[rest]).argmax(1) == y[rest]))
        rows.append((name, fit_s, acc))
    print(
        f"pool {a.pool} x {a.dim}, {a.classes} classes, spread {a.spread}, "
        f"{a.labeled} labeled, {a.threads} torch thread(s) (one run)\n"
    )
    print("| model | fit s | pool accuracy |\n|---|---|---|")
    for name, fit_s, acc in rows:
        print(f"| {name} | {fit_s:.2f} | {acc:.4f} |")
    print(
        f"\nfit time ratio head / sklearn: {rows[0][1] / rows[-1][1]:.2f}; "
        f"accuracy difference: {rows[0][2] - rows[-1][2]:+.4f}\n"
    )
    state = LabelState(a.pool, classes=[str(c) for c in range(a.classes)])
    state.teach(lab, y[lab], round=0)
    heads = [n for n in models if n.startswith("embedding")]
    print(f"seconds for a batch of {a.batch}:\n")
    print("| strategy | " + " | ".join(heads) + " |\n|---|---|---|")
    for strategy in ("margin", "coreset", "badge", "bait"):
        cells = []
        for name in heads:
            t0 = time.perf_counter()
            get_strategy(strategy).select(models[name], x, state, a.batch, rng=a.seed)
            cells.append(f"{time.perf_counter() - t0:.2f}")
        print(f"| {strategy} | " + " | ".join(cells) + " |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
