"""AGBAL's AUC against the shift ζ and the auxiliary size N_aux (Min et al., NeurIPS 2025, Figs 2-3).

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

from labelwise.bench import parse_grid, run_grid
from labelwise.bench.report import plot_agbal_shift
from labelwise.bench.stats import agbal_shift_table
from labelwise.loop import ResultStore

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
    df = ResultStore(args.out / "results.sqlite").measurements()
    table = agbal_shift_table(df, "mse")
    table = table[table["strategy"].isin([base, agbal])]
    png = args.out / "agbal_shift_curve.png"
    plot_agbal_shift(table, [(base, agbal)], png)
    for key, fixed, value in (("zeta", "n_aux", 1000), ("n_aux", "zeta", 8.0)):
        sub = table[table[fixed] == value]
        pivot = sub.pivot_table(index=key, columns="strategy", values="auc_mean")
        print(f"\nAUC of MSE against {key} ({fixed} = {value}):")
        print(pivot.round(4).to_string())
    print(f"\nfigure: {png} (labelwise report {args.out} draws it too)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
