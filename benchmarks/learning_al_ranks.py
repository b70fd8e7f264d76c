"""The learning-AL paper's tables and Fig. 4 from a finished grid.

Prints, per dataset/setting, the AUAC of the balanced accuracy (trapezoid over
the 10 steps) and the final balanced accuracy (mean ± s.e. over seeds), then
the average rank of each strategy (by AUAC, per seed) and draws them, then the
learned strategy against the mean of the hand-made ones, paired by seed (the
issue's criterion in the imbalanced-weighted setting; Wilcoxon signed-rank).

    python benchmarks/learning_al_ranks.py runs/learning-al-reduced [--out FIG.png]
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from labelwise.bench.report import plot_seed_ranks
from labelwise.bench.stats import final_pivot, seed_ranks, to_markdown, versus_group
from labelwise.loop import ResultStore


def main(argv: list[str] | None = None) -> int:
    """Command line entry point."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("directory", type=Path)
    ap.add_argument("--out", type=Path, default=None)
    ap.add_argument("--metric", default="balanced_accuracy")
    ap.add_argument("--learned", default="np", help="the learned strategy's label")
    ap.add_argument(
        "--handmade",
        default="cbal,hal-gaussian,hal-uniform,kcenter,uncertainty",
        help="comma-separated labels of the hand-made strategies",
    )
    args = ap.parse_args(argv)
    df = ResultStore(args.directory / "results.sqlite").measurements()
    print(f"AUAC of {args.metric} (mean ± s.e. over seeds):\n")
    print(to_markdown(final_pivot(df, args.metric, auac=True)))
    print(f"\nfinal {args.metric}:\n")
    print(to_markdown(final_pivot(df, args.metric)))
    ranks = seed_ranks(df, args.metric)
    pivot = ranks.pivot_table(index="strategy", columns="dataset", values="rank")
    pivot = pivot[list(dict.fromkeys(ranks["dataset"]))]
    pivot["mean"] = pivot.mean(axis=1)
    pivot = pivot.sort_values("mean")
    print("\naverage rank by AUAC (1 = best):\n")
    print(to_markdown(pivot.map(lambda v: f"{v:.2f}")))
    group = args.handmade.split(",")
    vs = versus_group(df, args.learned, group, args.metric)
    print(
        f"\n{args.learned} against the mean of {', '.join(group)} (AUAC, paired by "
        "seed; p: Wilcoxon signed-rank, two-sided):\n"
    )
    print("| dataset | seeds | " + args.learned + " | hand-made mean | difference | "
          "seeds not worse | p |")  # fmt: skip
    print("|---|---|---|---|---|---|---|")
    for r in vs.itertuples():
        print(
            f"| {r.dataset} | {r.n_seeds} | {r.strategy:.3f} | {r.group:.3f} | "
            f"{r.diff:+.3f} ± {r.sem:.3f} | {r.wins}/{r.n_seeds} | {r.p_value:.2f} |"
        )
    out = args.out or args.directory / "ranks.png"
    plot_seed_ranks(ranks, out)
    print(f"\nfigure: {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
