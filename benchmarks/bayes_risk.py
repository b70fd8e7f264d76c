"""The BAIT paper's Bayesian linear-regression experiment (Ash et al. 2021, §5, Fig. 3).

For ``d = 100`` and a pool ``U`` of ``n`` points, the exact Bayes risk of the MAP
estimate after labeling ``S`` is ``σ² tr(Λ_S⁻¹ Σ)`` with ``Λ_S = Σ_{x∈S} x xᵀ +
λσ² I`` and ``Σ`` the pool's second moment (Lemma 1). Two pools with the same,
poorly conditioned covariance ``Σ_ii ∝ 1/i²``:

(a) Gaussian inputs ``x ~ N(0, diag(1/i²))``;
(b) inputs on the standard basis, ``x = c e_i`` with ``P(e_i) ∝ 1/i²`` (``c`` makes
    the covariance equal to (a)'s).

For each batch size B it compares BAIT (greedy trace minimisation with the
Fisher ``Σ``, forward to 2B and back to B: ``greedy_a_optimal_rank_one``) with
greedy log-determinant maximisation (``select_bmdal(method="maxdet")`` with
``σ_det² = λσ²``, which maximises ``det Λ_S``) and a random subset. Expected: a tie
on (a), BAIT clearly lower on (b), where log-det cycles through the coordinates.

    python benchmarks/bayes_risk.py                 # figure + table (about 1 min)
    python benchmarks/bayes_risk.py --quick --json  # small version, JSON (tests)
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np
import torch

from labelwise.kernels import greedy_a_optimal_rank_one, select_bmdal

D = 100
SIGMA = 1.0
LAM = 1.0


def make_pool(kind: str, n: int, rng: np.random.Generator) -> np.ndarray:
    """``n`` points of pool (a) ``"gaussian"`` or (b) ``"basis"``, shape ``(n, D)``."""
    scale = 1.0 / np.arange(1, D + 1)
    if kind == "gaussian":
        return rng.normal(size=(n, D)) * scale
    p = scale**2 / (scale**2).sum()
    coord = rng.choice(D, size=n, p=p)
    x = np.zeros((n, D))
    x[np.arange(n), coord] = np.sqrt((scale**2).sum())
    return x


def bayes_risk(x: np.ndarray, chosen: np.ndarray) -> float:
    """``σ² tr(Λ_S⁻¹ Σ)`` with the pool's second moment ``Σ``."""
    sigma_pool = x.T @ x / len(x)
    xs = x[chosen]
    lam_s = xs.T @ xs + LAM * SIGMA**2 * np.eye(D)
    return float(SIGMA**2 * np.trace(np.linalg.solve(lam_s, sigma_pool)))


def select(method: str, x: np.ndarray, b: int, rng: np.random.Generator) -> np.ndarray:
    """Indices of ``b`` pool points chosen by ``bait``, ``logdet`` or ``random``."""
    if method == "random":
        return rng.choice(len(x), size=b, replace=False)
    if method == "logdet":
        res = select_bmdal(
            x, None, b, method="maxdet", mode="p", sigma=np.sqrt(LAM) * SIGMA, rng=rng
        )
        return res.indices
    idx, _ = greedy_a_optimal_rank_one(
        torch.as_tensor(x),
        b,
        fisher=torch.as_tensor(x.T @ x / len(x)),
        precision=LAM * SIGMA**2 * torch.eye(D, dtype=torch.float64),
    )
    return idx


def run(
    n: int, batch_sizes: list[int], seeds: int
) -> dict[str, dict[str, list[float]]]:
    """Mean Bayes risk per pool kind, method and batch size (over ``seeds`` pools)."""
    out: dict[str, dict[str, list[float]]] = {}
    for kind in ("gaussian", "basis"):
        risks = {m: np.zeros(len(batch_sizes)) for m in ("bait", "logdet", "random")}
        for seed in range(seeds):
            rng = np.random.default_rng([seed, 0 if kind == "gaussian" else 1])
            x = make_pool(kind, n, rng)
            for j, b in enumerate(batch_sizes):
                for m in risks:
                    risks[m][j] += bayes_risk(x, select(m, x, b, rng)) / seeds
        out[kind] = {m: r.tolist() for m, r in risks.items()}
    return out


def plot(
    result: dict[str, dict[str, list[float]]], sizes: list[int], path: Path
) -> None:
    """Two panels, Bayes risk against batch size (log scale)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 2, figsize=(10, 4))
    titles = {
        "gaussian": "(a) Gaussian, Σ_ii ∝ 1/i²",
        "basis": "(b) standard basis, P(e_i) ∝ 1/i²",
    }
    styles = {
        "bait": ("Trace + Fisher (BAIT)", "C0"),
        "logdet": ("Log-det", "C1"),
        "random": ("random", "black"),
    }
    for ax, kind in zip(axes, ("gaussian", "basis"), strict=True):
        for m, (label, col) in styles.items():
            ax.plot(sizes, result[kind][m], marker="o", ms=3, label=label, color=col)
        ax.set_yscale("log")
        ax.set_xlabel("batch size B")
        ax.set_ylabel("Bayes risk σ² tr(Λ_S⁻¹ Σ)")
        ax.set_title(titles[kind])
        ax.grid(alpha=0.3)
        ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def main(argv: list[str] | None = None) -> int:
    """Command line entry point."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="small pools, 2 seeds")
    ap.add_argument("--json", action="store_true", help="print the result as JSON")
    ap.add_argument("--out", type=Path, default=Path("runs/bayes_risk.png"))
    args = ap.parse_args(argv)
    torch.set_num_threads(1)
    if args.quick:
        n, sizes, seeds = 1000, [20, 60, 150], 2
    else:
        n, sizes, seeds = 5000, [10, 20, 50, 100, 150, 200, 300, 400], 5
    result = run(n, sizes, seeds)
    if args.json:
        print(json.dumps({"batch_sizes": sizes, "n": n, "seeds": seeds, **result}))
        return 0
    args.out.parent.mkdir(parents=True, exist_ok=True)
    plot(result, sizes, args.out)
    print(
        f"pool n = {n}, d = {D}, λ = σ = 1, {seeds} pools per setting; figure: {args.out}"
    )
    for kind in ("gaussian", "basis"):
        print(f"\n{kind}: Bayes risk (mean over pools)")
        print("| B | BAIT | log-det | random | log-det / BAIT |")
        print("|---|---|---|---|---|")
        for j, b in enumerate(sizes):
            r = {m: result[kind][m][j] for m in ("bait", "logdet", "random")}
            print(
                f"| {b} | {r['bait']:.4g} | {r['logdet']:.4g} | {r['random']:.4g} | "
                f"{r['logdet'] / r['bait']:.2f} |"
            )
    return 0


if __name__ == "__main__":
    sys.exit(main())
