"""Learning curves and their areas, from the tidy measurement table."""

from __future__ import annotations

import os
from typing import Any

import numpy as np
import pandas as pd

from labelwise.metrics import LOWER_IS_BETTER, normalized_auc


def curve_table(df: pd.DataFrame, metric: str = "accuracy") -> pd.DataFrame:
    """Mean, standard error and seed count per strategy and number of labels.

    Args:
        df: Tidy measurements (see ``ResultStore.measurements``).
        metric: Metric to aggregate.

    Returns:
        Columns ``dataset, model, strategy, n_labeled, mean, sem, n_seeds``.
    """
    sub = df[df["metric"] == metric]
    g = sub.groupby(["dataset", "model", "strategy", "n_labeled"])["value"]
    out = g.agg(mean="mean", std="std", n_seeds="count").reset_index()
    out["sem"] = (out["std"] / np.sqrt(out["n_seeds"])).fillna(0.0)
    return out.drop(columns="std")


def primary_metric(df: pd.DataFrame) -> str:
    """The metric to summarise ``df`` by.

    ``rmse`` for regression results; for classification ``balanced_accuracy``
    where every dataset is an imbalance setting (``NAME:imbalanced``,
    ``NAME:imbalanced-weighted``: the learning-AL paper's metric there, which
    plain accuracy on a skewed test set would hide), else ``accuracy``.
    """
    metrics = set(df["metric"])
    if "accuracy" not in metrics and "rmse" in metrics:
        return "rmse"
    datasets = set(df["dataset"]) if "dataset" in df else set()
    if (
        "balanced_accuracy" in metrics
        and datasets
        and all(":imbalanced" in str(d) for d in datasets)
    ):
        return "balanced_accuracy"
    return "accuracy"


def auc_table(df: pd.DataFrame, metric: str = "accuracy") -> pd.DataFrame:
    """Normalised area under each run's learning curve, summarised over seeds.

    Returns:
        Columns ``dataset, model, strategy, auc_mean, auc_sem, final_mean,
        n_seeds``, sorted by dataset then best ``auc_mean`` first (largest, or
        smallest for the error metrics of `LOWER_IS_BETTER`).
    """
    sub = df[df["metric"] == metric]
    rows: list[dict[str, Any]] = []
    for (ds, model, strat, seed), g in sub.groupby(
        ["dataset", "model", "strategy", "seed"]
    ):
        g = g.sort_values("n_labeled")
        rows.append(
            {
                "dataset": ds,
                "model": model,
                "strategy": strat,
                "seed": seed,
                "auc": normalized_auc(g["n_labeled"].to_numpy(), g["value"].to_numpy()),
                "final": float(g["value"].iloc[-1]),
            }
        )
    per = pd.DataFrame(rows)
    if per.empty:
        return pd.DataFrame(
            columns=[
                "dataset",
                "model",
                "strategy",
                "auc_mean",
                "auc_sem",
                "final_mean",
                "n_seeds",
            ]
        )
    agg = per.groupby(["dataset", "model", "strategy"]).agg(
        auc_mean=("auc", "mean"),
        auc_std=("auc", "std"),
        final_mean=("final", "mean"),
        n_seeds=("auc", "count"),
    )
    agg["auc_sem"] = (agg["auc_std"] / np.sqrt(agg["n_seeds"])).fillna(0.0)
    agg = agg.drop(columns="auc_std").reset_index()
    return agg.sort_values(
        ["dataset", "model", "auc_mean"],
        ascending=[True, True, metric in LOWER_IS_BETTER],
    )[
        ["dataset", "model", "strategy", "auc_mean", "auc_sem", "final_mean", "n_seeds"]
    ].reset_index(drop=True)


def format_auc_table(table: pd.DataFrame, metric: str = "accuracy") -> str:
    """Markdown table of `auc_table` output."""
    lines = [
        f"| dataset | model | strategy | AUC (mean ± s.e.) | final {metric} | seeds |",
        "|---|---|---|---|---|---|",
    ]
    for row in table.itertuples():
        # one seed has no standard error (the seeds column says 1)
        seeds: Any = row.n_seeds
        sem = f" ± {row.auc_sem:.4f}" if int(seeds) > 1 else ""
        lines.append(
            f"| {row.dataset} | {row.model} | {row.strategy} | "
            f"{row.auc_mean:.4f}{sem} | {row.final_mean:.4f} | {row.n_seeds} |"
        )
    return "\n".join(lines)


_PANELS_PER_ROW = 3


def plot_learning_curves(
    df: pd.DataFrame, path: str | os.PathLike[str], metric: str = "accuracy"
) -> None:
    """Draw mean ± standard error over seeds per strategy, one panel per dataset.

    Random sampling, when present, is drawn in black so the others compare to it.
    Each strategy keeps its colour in every panel; a variant such as
    ``lhd+finetune`` shares its base strategy's colour, dashed. Panels wrap
    after three a row; one legend for the figure, with every strategy of
    every panel, sits to the right.
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    table = curve_table(df, metric)
    groups = list(table.groupby(["dataset", "model"], sort=False))
    n = max(1, len(groups))
    bases = sorted({str(s).split("+")[0] for s in table["strategy"]} - {"random"})
    cmap = plt.get_cmap("tab10" if len(bases) <= 10 else "tab20")
    colour: dict[str, Any] = {b: cmap(i % cmap.N) for i, b in enumerate(bases)}
    colour["random"] = "black"
    cols = min(n, _PANELS_PER_ROW)
    rows = -(-n // cols)
    fig, axes = plt.subplots(
        rows, cols, figsize=(6.0 * cols + 2.2, 4.6 * rows), squeeze=False
    )
    for ax in axes.flat[n:]:
        ax.set_visible(False)
    for ax, ((ds, model), g) in zip(axes.flat, groups, strict=False):
        for strat, s in g.groupby("strategy"):
            s = s.sort_values("n_labeled")
            base, _, variant = str(strat).partition("+")
            kw: dict[str, Any] = {
                "color": colour[base],
                "ls": "--" if variant else "-",
                "lw": 2.2 if base == "random" else 1.5,
            }
            line = ax.plot(
                s["n_labeled"], s["mean"], marker="o", ms=3, label=strat, **kw
            )[0]
            ax.fill_between(
                s["n_labeled"],
                s["mean"] - s["sem"],
                s["mean"] + s["sem"],
                color=line.get_color(),
                alpha=0.18,
            )
        seeds = int(g["n_seeds"].max())
        ax.set_title(f"{ds} / {model} (mean ± s.e., {seeds} seeds)")
        ax.set_xlabel("number of labels")
        ax.set_ylabel(metric.replace("_", " "))
        ax.grid(alpha=0.3)
    # every strategy of every panel, once (a panel may lack some, or have its own)
    legend: dict[str, Any] = {}
    for ax in axes.flat[:n]:
        for handle, label in zip(*ax.get_legend_handles_labels(), strict=True):
            legend.setdefault(label, handle)
    fig.legend(
        list(legend.values()), list(legend), loc="center right", fontsize="small"
    )
    fig.tight_layout(rect=(0, 0, 1 - 2.0 / (6.0 * cols + 2.2), 1))
    fig.savefig(path, dpi=120)
    plt.close(fig)
