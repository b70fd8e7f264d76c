"""AGBAL's AUC against the shift ζ and the auxiliary size N_aux (slides, Figs 2-3).

Runs one BMDAL method and its AGBAL counterpart on the ``shifted`` task for a
range of ζ (N_aux = 1 000) and of N_aux (ζ = 8) through the bench runner
(resumable: results go to ``--out``), then draws the area under the MSE curve
against each. The BMDAL method does not use the auxiliary data, so its curve is
flat up to the noise of the runs.

    python benchmarks/agbal_shift_curve.py --out runs/agbal-curve            # ~6 min
    python benchmarks/agbal_shift_curve.py --method maxdet --seeds 3
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import pandas as pd

from labelwise.bench import parse_grid, run_grid
from labelwise.loop import ResultStore, auc_table

ZETAS = [0, 8, 16, 32, 64]
N_AUX = [100, 300, 1000, 3000]
MODEL = {"hidden": 128, "layers": 2, "epochs": 64, "batch": 128, "lr": 0.2}
SETTINGS = {
    "initial": 100,
    "batch_size": 100,
    "rounds": 8,
    "pool_size": 4000,
    "test_size": 2000,
}


def main(argv: list[str] | None = None) -> int:
    """Command line entry point."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument(
        "--method", default="maxdiag", help="BMDAL preset (default maxdiag)"
    )
    ap.add_argument("--seeds", type=int, default=2)
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--out", type=Path, default=Path("runs/agbal-curve"))
    args = ap.parse_args(argv)
    base = "bmdal-bait" if args.method == "bait" else args.method
    agbal = f"agbal-{args.method}"
    datasets = [f"shifted:{z}:1000" for z in ZETAS] + [
        f"shifted:8:{n}" for n in N_AUX if n != 1000
    ]
    grid = parse_grid(
        {
            "name": "agbal-curve",
            "datasets": datasets,
            "models": [{"name": "bmdal-mlp", "params": MODEL}],
            "strategies": [base, agbal],
            "settings": {**SETTINGS, "seeds": args.seeds},
        }
    )
    run_grid(grid, args.out, workers=args.workers)
    table = auc_table(ResultStore(args.out / "results.sqlite").measurements(), "mse")
    table = table[table["strategy"].isin([base, agbal])]
    parsed = table["dataset"].str.split(":", expand=True)
    table = table.assign(zeta=parsed[1].astype(float), n_aux=parsed[2].astype(int))
    plot(table, base, agbal, args.out / "agbal_shift_curve.png")
    for key, fixed, value in (("zeta", "n_aux", 1000), ("n_aux", "zeta", 8.0)):
        sub = table[table[fixed] == value]
        pivot = sub.pivot_table(index=key, columns="strategy", values="auc_mean")
        print(f"\nAUC of MSE against {key} ({fixed} = {value}):")
        print(pivot.round(4).to_string())
    print(f"\nfigure: {args.out / 'agbal_shift_curve.png'}")
    return 0


def plot(table: pd.DataFrame, base: str, agbal: str, path: Path) -> None:
    """Two panels: AUC of MSE against ζ and against N_aux (mean ± s.e.)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 2, figsize=(10, 4))
    for ax, (key, fixed, value) in zip(
        axes, (("zeta", "n_aux", 1000), ("n_aux", "zeta", 8.0)), strict=True
    ):
        sub = table[table[fixed] == value]
        for strat, colour in ((base, "C0"), (agbal, "C3")):
            s = sub[sub["strategy"] == strat].sort_values(key)
            ax.errorbar(
                s[key],
                s["auc_mean"],
                yerr=s["auc_sem"],
                marker="o",
                ms=4,
                color=colour,
                label=strat,
                capsize=3,
            )
        ax.set_xlabel("shift ζ" if key == "zeta" else "auxiliary points N_aux")
        if key == "n_aux":
            ax.set_xscale("log")
        ax.set_ylabel("area under the MSE curve (lower is better)")
        ax.set_title(f"{fixed} = {value:g}")
        ax.grid(alpha=0.3)
        ax.legend()
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)
    plt.close(fig)


if __name__ == "__main__":
    sys.exit(main())
