"""The image study's tables from a finished grid (the learning-AL paper's §3).

Prints, for the grid of ``benchmarks/configs/image-study*.toml``:

1. the AUAC of the balanced accuracy (trapezoid over the steps) of every
   strategy in every dataset x setting cell, mean ± s.e. over seeds;
2. random against the best strategy and the average of the others per cell,
   paired by seed (the paper's Fig. 1 comparison; what
   ``labelwise table DIR --metric balanced_accuracy --auac`` prints);
3. each deep baseline against random per cell: the mean AUAC difference over
   seeds ± its standard error and the paired t-test's two-sided p, and in how
   many cells it is above random (and significantly so at p < 0.05).

    python benchmarks/image_study_tables.py runs/image-study-cpu
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import pandas as pd

from labelwise.bench.stats import (
    final_pivot,
    random_comparison,
    random_comparison_display,
    to_markdown,
    versus_group,
)
from labelwise.loop import ResultStore

DEEP = ("lloss", "vaal", "uncertain-gcn", "core-gcn", "dal")


def against_random(
    df: pd.DataFrame, strategies: tuple[str, ...], metric: str = "balanced_accuracy"
) -> pd.DataFrame:
    """Each of ``strategies`` against random per cell, paired by seed.

    Returns:
        One row per strategy and dataset: ``strategy``, ``dataset``,
        ``n_seeds``, ``diff`` (mean AUAC difference to random), ``sem`` and
        ``p_t`` (paired t-test, two-sided; NaN with fewer than two seeds).
    """
    frames = []
    for name in strategies:
        vs = versus_group(df, name, ["random"], metric)
        frames.append(vs.assign(strategy=name)[
            ["strategy", "dataset", "n_seeds", "diff", "sem", "p_t"]
        ])  # fmt: skip
    return pd.concat(frames, ignore_index=True)


def _entry(row: pd.Series) -> str:
    """``+d ± s (p P)`` for one row of `against_random`."""
    diff, sem, p = float(row["diff"]), float(row["sem"]), float(row["p_t"])
    return f"{diff:+.3f} ± {sem:.3f} (p {p:.2f})"


def _matrix(rows: pd.DataFrame) -> str:
    """``rows`` of `against_random` as strategies x cells, plus the cell counts."""
    cells = list(dict.fromkeys(rows["dataset"]))
    head = "| strategy | " + " | ".join(cells) + " | above random | significantly |"
    lines = [head, "|" + "---|" * (len(cells) + 3)]
    for name, grp in rows.groupby("strategy", sort=False):
        label = str(name)
        by = grp.set_index("dataset")
        entries = [_entry(by.loc[c]) if c in by.index else "" for c in cells]
        above = int((grp["diff"] > 0).sum())
        sig = int(((grp["diff"] > 0) & (grp["p_t"] < 0.05)).sum())
        lines.append(
            f"| {label} | " + " | ".join(entries) + f" | {above}/{len(grp)} | {sig} |"
        )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    """Command line entry point."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("directory", type=Path)
    ap.add_argument("--metric", default="balanced_accuracy")
    ap.add_argument("--strategies", default=",".join(DEEP))
    args = ap.parse_args(argv)
    df = ResultStore(args.directory / "results.sqlite").measurements()
    print(f"AUAC of {args.metric} (mean ± s.e. over seeds):\n")
    print(to_markdown(final_pivot(df, args.metric, auac=True)))
    print("\nrandom against the best strategy and the average of the others:\n")
    table = random_comparison_display(random_comparison(df, args.metric))
    print(to_markdown(table, corner="dataset"))
    names = tuple(args.strategies.split(","))
    print(
        "\nagainst random (AUAC difference, mean ± s.e. over seeds; p: paired "
        "t-test, two-sided):\n"
    )
    print(_matrix(against_random(df, names, args.metric)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
