"""One self-contained HTML report (plus PNGs) for a bench or run directory."""

from __future__ import annotations

import base64
import html
import json
import os
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from labelwise.bench.stats import (
    PENALTY_MAX_SEEDS,
    TIMINGS,
    agbal_shift_table,
    agbal_table,
    auc_ranks,
    average_ranks,
    final_pivot,
    penalty_matrix,
    random_comparison,
    random_comparison_curves,
    random_comparison_display,
    t_threshold,
    timing_table,
)
from labelwise.loop.report import (
    curve_table,
    plot_learning_curves,
    primary_metric,
)
from labelwise.loop.store import open_results
from labelwise.metrics import LOWER_IS_BETTER

TIMING_METRICS = set(TIMINGS)
FINAL_METRICS = ("accuracy", "rmse", "clean_share", "clean_share_round")
CSS = """
body{font-family:system-ui,sans-serif;margin:2em auto;max-width:1200px;color:#222}
table{border-collapse:collapse;margin:1em 0;font-size:0.9em}
td,th{border:1px solid #ccc;padding:3px 8px;text-align:right}
th{background:#f3f3f3} img{max-width:100%} h2{margin-top:2em}
details pre{background:#f8f8f8;padding:1em;overflow:auto}
"""


def _plt() -> Any:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def plot_penalty(
    strategies: list[str], pen: np.ndarray, n_exp: int, path: str | os.PathLike[str]
) -> None:
    """Heat map of the penalty matrix with its column averages as a last row."""
    plt = _plt()
    k = len(strategies)
    col_mean = pen.mean(axis=0) if k else pen
    data = np.vstack([pen, col_mean[None, :]]) if k else pen
    fig, ax = plt.subplots(figsize=(1.1 * k + 3, 0.9 * k + 2.5))
    im = ax.imshow(data, cmap="viridis")
    ax.set_xticks(range(k), strategies, rotation=45, ha="right")
    ax.set_yticks(range(k + 1), [*strategies, "column mean"])
    for i in range(data.shape[0]):
        for j in range(k):
            ax.text(j, i, f"{data[i, j]:.2f}", ha="center", va="center", color="w")
    ax.axhline(k - 0.5, color="white", lw=2)
    ax.set_title(
        f"row beats column (sum over {n_exp} experiments);\n"
        "column mean: how often it is beaten (lower is better)"
    )
    fig.colorbar(im, ax=ax, shrink=0.7)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def plot_timings(times: pd.DataFrame, path: str | os.PathLike[str]) -> None:
    """Bar chart of mean selection and training seconds per round per strategy."""
    plt = _plt()
    cols = [c for c in TIMINGS if c in times.columns]
    agg = times.groupby("strategy")[cols].mean()
    fig, ax = plt.subplots(figsize=(max(5.0, 0.9 * len(agg) + 2), 3.8))
    x = np.arange(len(agg))
    width = 0.8 / len(cols)
    for i, col in enumerate(cols):
        ax.bar(
            x + (i - (len(cols) - 1) / 2) * width,
            agg[col].fillna(0),
            width,
            label=col.replace("_seconds", "").replace("select", "selection"),
        )
    ax.set_xticks(x, agg.index, rotation=30, ha="right")
    ax.set_ylabel("seconds per round (mean)")
    ax.set_yscale("log")
    ax.legend()
    ax.grid(alpha=0.3, axis="y")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def agbal_pairs(strategies: Any) -> list[tuple[str, str]]:
    """``(bmdal, agbal)`` strategy pairs present, e.g. ``("lcmd", "agbal-lcmd")``."""
    names = set(strategies)
    pairs = []
    for name in sorted(names):
        if name.startswith("agbal-"):
            method = name.removeprefix("agbal-")
            base = "bmdal-bait" if method == "bait" else method
            if base in names:
                pairs.append((base, name))
    return pairs


def shift_keys(table: pd.DataFrame) -> list[tuple[str, str, str, float]]:
    """The panels worth drawing: ``(base, x, fixed, value)`` where ``x`` varies.

    ``x`` is ``"zeta"`` (at the most common ``N_aux``) or ``"n_aux"`` (at the
    most common ζ), kept when the base dataset has at least two values of it.
    """
    keys = []
    for base, sub in table.groupby("base", sort=True):
        for x, fixed in (("zeta", "n_aux"), ("n_aux", "zeta")):
            value = sub[fixed].mode().iloc[0]
            if sub[sub[fixed] == value][x].nunique() >= 2:
                keys.append((str(base), x, fixed, float(value)))
    return keys


def plot_agbal_shift(
    table: pd.DataFrame,
    pairs: list[tuple[str, str]],
    path: str | os.PathLike[str],
    metric: str = "mse",
) -> bool:
    """AUC against the shift ζ and the auxiliary size ``N_aux`` (AGBAL paper, Figs 2-3).

    One panel per varying setting of each base dataset (see `shift_keys`);
    each BMDAL method dashed, its AGBAL counterpart solid in the same colour,
    mean ± standard error over seeds.

    Args:
        table: `agbal_shift_table` output.
        pairs: ``(bmdal, agbal)`` strategy pairs to draw.
        path: PNG path.
        metric: The metric's name for the axis label.

    Returns:
        Whether a figure was written (``False`` when nothing varies).
    """
    keys = shift_keys(table)
    if not keys or not pairs:
        return False
    plt = _plt()
    fig, axes = plt.subplots(1, len(keys), figsize=(5.2 * len(keys), 4), squeeze=False)
    for ax, (base, x, fixed, value) in zip(axes[0], keys, strict=True):
        sub = table[(table["base"] == base) & (table[fixed] == value)]
        for i, pair in enumerate(pairs):
            for strat, style in zip(pair, ("--", "-"), strict=True):
                s = sub[sub["strategy"] == strat].sort_values(x)
                if s.empty:
                    continue
                ax.errorbar(
                    s[x],
                    s["auc_mean"],
                    yerr=s["auc_sem"].fillna(0.0),
                    ls=style,
                    marker="o",
                    ms=4,
                    color=f"C{i % 10}",
                    label=strat,
                    capsize=3,
                )
        ax.set_xlabel("shift ζ" if x == "zeta" else "auxiliary points N_aux")
        if x == "n_aux":
            ax.set_xscale("log")
        ax.set_ylabel(f"area under the {metric} curve (lower is better)")
        ax.set_title(f"{base}, {'N_aux' if fixed == 'n_aux' else 'ζ'} = {value:g}")
        ax.grid(alpha=0.3)
    handles, labels = axes[0][0].get_legend_handles_labels()
    fig.legend(handles, labels, loc="center left", bbox_to_anchor=(1.0, 0.5))
    fig.tight_layout()
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110, bbox_inches="tight")
    plt.close(fig)
    return True


def plot_seed_ranks(ranks: pd.DataFrame, path: str | os.PathLike[str]) -> None:
    """Average rank per strategy (dots) for each dataset (columns), best on top.

    Args:
        ranks: `seed_ranks` output.
        path: PNG path.
    """
    plt = _plt()
    datasets = list(dict.fromkeys(ranks["dataset"]))
    overall = ranks.groupby("strategy")["rank"].mean().sort_values()
    order = list(overall.index)
    width = max(6.0, 2.4 + 1.6 * len(datasets))
    fig, ax = plt.subplots(figsize=(width, 0.45 * len(order) + 1.8))
    for i, ds in enumerate(datasets):
        sub = ranks[ranks["dataset"] == ds].set_index("strategy")
        for j, strat in enumerate(order):
            if strat in sub.index:
                r, e = float(sub.loc[strat, "rank"]), float(sub.loc[strat, "sem"])
                ax.errorbar(i, j, xerr=None, yerr=None, fmt="o", color=f"C{j % 10}")
                ax.annotate(f"{r:.1f}±{e:.1f}", (i, j), textcoords="offset points",
                            xytext=(8, -3), fontsize=8)  # fmt: skip
    ax.set_xticks(range(len(datasets)), datasets, rotation=20, ha="right")
    labels = [f"{s} ({overall[s]:.2f})" for s in order]
    ax.set_yticks(range(len(order)), labels)
    ax.invert_yaxis()
    ax.set_xlim(-0.5, len(datasets) - 0.2)
    ax.set_title(
        "Average rank by AUAC (1 = best), mean ± s.e. over seeds;\n"
        "in brackets: mean over datasets",
        fontsize=9,
    )
    ax.grid(alpha=0.3)
    fig.tight_layout()
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)
    plt.close(fig)


def _img(path: Path) -> str:
    data = base64.b64encode(path.read_bytes()).decode()
    return f'<img src="data:image/png;base64,{data}" alt="{html.escape(path.stem)}">'


def _table(df: pd.DataFrame, floats: str = "{:.4f}") -> str:
    """``df`` as HTML; a standard error over one seed is left empty (none exists)."""
    if "n_seeds" in df:
        one = df["n_seeds"] < 2
        sems = [c for c in df.columns if c == "sem" or str(c).endswith("_sem")]
        df = df.assign(**{c: df[c].mask(one) for c in sems})
    return df.to_html(index=False, float_format=floats.format, border=0, na_rep="")


def _device_note(folder: Path) -> str:
    """``"; torch models on cuda:0"`` from ``grid.json``, or ``""``."""
    try:
        device = json.loads((folder / "grid.json").read_text()).get("device")
    except (OSError, ValueError):
        return ""
    return f"; torch models on {html.escape(str(device))}" if device else ""


def build_report(directory: str | os.PathLike[str]) -> Path:
    """Write ``report.html`` and its PNGs into ``directory`` (which holds results).

    Sections: learning curves per dataset for every curve metric recorded (mean
    ± standard error over seeds, random drawn in black), normalised areas with
    ranks per dataset and on average, the pairwise penalty matrix, the last
    round's accuracy and clean shares (strategies by datasets), random against
    the best strategy and the average of the others (the learning-AL paper's
    Fig. 1, by the AUAC of the balanced accuracy when recorded), AGBAL against
    BMDAL (the AGBAL paper's Table 1 and, when the grid varies ζ or ``N_aux``, the
    area against them), mean selection,
    training and fine-tuning seconds per round, and failed runs with their
    tracebacks.

    Returns:
        The path of ``report.html``.
    """
    folder = Path(directory)
    db = folder / "results.sqlite"
    if not db.exists():
        raise FileNotFoundError(f"No results.sqlite in {folder}; run a bench first.")
    store = open_results(db)
    df = store.measurements()
    runs = store.runs()
    main, curve_metrics = _curve_metrics(df)
    parts = _header(folder, df, runs)
    parts += _curves_section(df, folder, curve_metrics)
    if main in curve_metrics:
        parts += _ranks_section(df, main)
    if "accuracy" in curve_metrics:  # classification, imbalance settings included
        parts += _penalty_section(df, runs, folder)
    parts += _random_section(df, folder, curve_metrics)
    parts += _finals_section(df, curve_metrics)
    if "mse" in curve_metrics:
        parts += _agbal_section(df, folder)
    parts += _timings_section(df, folder)
    parts += _failed_section(runs)
    parts.append("</body></html>")
    out = folder / "report.html"
    out.write_text("\n".join(parts))
    return out


def _curve_metrics(df: pd.DataFrame) -> tuple[str, list[str]]:
    """The primary metric and every curve metric recorded, the primary first."""
    curve_metrics = [
        m for m in sorted(df["metric"].unique()) if m not in TIMING_METRICS
    ]
    main = primary_metric(df)
    if main in curve_metrics:
        curve_metrics.remove(main)
        curve_metrics.insert(0, main)
    return main, curve_metrics


def _header(folder: Path, df: pd.DataFrame, runs: pd.DataFrame) -> list[str]:
    """The page head, title and the count of runs, datasets and strategies."""
    return [
        f"<!doctype html><html><head><meta charset='utf-8'><title>labelwise report"
        f"</title><style>{CSS}</style></head><body><h1>labelwise report: "
        f"{html.escape(str(folder.name))}</h1>",
        f"<p>{len(runs)} runs ({(runs['status'] == 'finished').sum()} finished, "
        f"{(runs['status'] == 'failed').sum()} failed, "
        f"{(~runs['status'].isin(['finished', 'failed'])).sum()} unfinished); "
        f"{df['dataset'].nunique()} datasets, {df['strategy'].nunique()} strategies, "
        f"{df['seed'].nunique()} seeds{_device_note(folder)}.</p>",
    ]


def _curves_section(
    df: pd.DataFrame, folder: Path, curve_metrics: list[str]
) -> list[str]:
    """One learning-curve plot and value table per curve metric."""
    parts = ["<h2>Learning curves</h2>"]
    for metric in curve_metrics:
        png = folder / f"curves_{metric}.png"
        plot_learning_curves(df, png, metric=metric)
        parts.append(f"<h3>{html.escape(metric)}</h3>{_img(png)}")
        table = curve_table(df, metric)
        parts.append(f"<details><summary>values</summary>{_table(table)}</details>")
    return parts


def _ranks_section(df: pd.DataFrame, main: str) -> list[str]:
    """Normalised areas under the ``main`` curve, ranks and average ranks."""
    ranks = auc_ranks(df, main)
    better = "lower" if main in LOWER_IS_BETTER else "higher"
    avg = average_ranks(ranks).reset_index().rename(columns={"rank": "mean rank"})
    return [
        f"<h2>Normalised area under the {main} curve</h2><p>Trapezoidal area "
        f"over the number of labels divided by its width (mean {main} over the "
        f"budget; {better} is better); rank 1 is best within a dataset and "
        "model.</p>",
        _table(ranks),
        "<h3>Average rank</h3>" + _table(avg, "{:.2f}"),
    ]


def _penalty_section(df: pd.DataFrame, runs: pd.DataFrame, folder: Path) -> list[str]:
    """The pairwise penalty matrix of accuracy (plot and table)."""
    strategies, pen, n_exp = penalty_matrix(df, runs, "accuracy")
    seeds = min(int(df["seed"].nunique()), PENALTY_MAX_SEEDS)
    threshold = (
        f"|t| &gt; {t_threshold(seeds):.3f} for these {seeds} seeds"
        if seeds >= 2
        else "at the 95% level"
    )
    parts = [
        "<h2>Pairwise penalty matrix</h2><p>BADGE/BAIT protocol: at checkpoint "
        "budgets n₀ + 2^k·B (until random reaches 99% of its final accuracy), a "
        f"paired two-sided t-test over seeds ({threshold}); each win "
        "of the row over the column adds 1/z, z = checkpoints of the experiment."
        "</p>"
    ]
    if not n_exp:
        return [*parts, "<p>(needs random sampling and at least 2 seeds)</p>"]
    png = folder / "penalty_matrix.png"
    plot_penalty(strategies, pen, n_exp, png)
    pm = pd.DataFrame(pen, columns=strategies)
    pm.insert(0, "row beats column", strategies)
    return [*parts, _img(png), _table(pm, "{:.2f}")]


def _random_section(
    df: pd.DataFrame, folder: Path, curve_metrics: list[str]
) -> list[str]:
    """Random vs the best vs the average strategy (table and curves), if any."""
    metric = next(
        (m for m in ("balanced_accuracy", "accuracy") if m in curve_metrics), None
    )
    if metric is None:
        return []
    table = random_comparison(df, metric)
    if table.empty:
        return []
    png = folder / "random_comparison.png"
    plot_learning_curves(random_comparison_curves(df, table, metric), png, metric)
    return [
        "<h2>Random, the best strategy and the average of the others</h2>"
        f"<p>As the learning-AL paper's Fig. 1: per dataset, the area under the "
        f"{metric} curve (AUAC, trapezoid over unit steps) of random sampling, of "
        "the strategy with the best mean AUAC and of the per-seed mean of all "
        "strategies but random, over the seeds on which every strategy finished. "
        "Differences are paired by seed; p (t) is the two-sided paired t-test, "
        "p (Wilcoxon) the signed-rank test (with 3 seeds it cannot fall below "
        "0.25; with one seed there is no test and the p cells are empty). The "
        "best is chosen on the seeds it is tested on, which flatters its p.</p>",
        _table(random_comparison_display(table).rename_axis("dataset").reset_index()),
        _img(png),
    ]


def _finals_section(df: pd.DataFrame, curve_metrics: list[str]) -> list[str]:
    """Last-round values, strategies by datasets, for each final metric."""
    finals = [m for m in FINAL_METRICS if m in curve_metrics]
    if not finals:
        return []
    parts = [
        "<h2>Values at the last round</h2><p>Mean ± standard error over seeds "
        "(the LHD paper's Tables 1-4 layout: strategies by datasets).</p>"
    ]
    for metric in finals:
        pivot = final_pivot(df, metric).reset_index()
        parts.append(f"<h3>{html.escape(metric)}</h3>" + _table(pivot))
    return parts


def _agbal_section(df: pd.DataFrame, folder: Path) -> list[str]:
    """AGBAL against its BMDAL counterparts (empty without such pairs)."""
    pairs = agbal_pairs(df["strategy"].unique())
    if not pairs:
        return []
    parts = [
        "<h2>AGBAL against BMDAL</h2><p>The AGBAL paper's Table 1: normalised "
        "area under the mse curve (mean over seeds; lower is better) of each "
        "BMDAL method and its AGBAL counterpart per dataset; avg impro % is the "
        "mean over datasets of (AUC<sub>BMDAL</sub> − AUC<sub>AGBAL</sub>) / "
        "AUC<sub>BMDAL</sub>.</p>",
        agbal_table(df, "mse").reset_index().to_html(index=False, border=0),
    ]
    png = folder / "agbal_shift.png"
    if plot_agbal_shift(agbal_shift_table(df, "mse"), pairs, png):
        parts.append(
            "<h3>Area against the shift ζ and the auxiliary size N_aux</h3>" + _img(png)
        )
    return parts


def _timings_section(df: pd.DataFrame, folder: Path) -> list[str]:
    """Mean seconds per round (selection, training, fine-tuning)."""
    times = timing_table(df)
    if times.empty:
        return []
    png = folder / "timings.png"
    plot_timings(times, png)
    return ["<h2>Seconds per round</h2>" + _img(png) + _table(times, "{:.3f}")]


def _failed_section(runs: pd.DataFrame) -> list[str]:
    """Each failed run with its traceback."""
    failed = runs[runs["status"] == "failed"]
    if failed.empty:
        return []
    return ["<h2>Failed runs</h2>"] + [
        f"<details><summary>{html.escape(str(row.dataset))} / "
        f"{html.escape(str(row.strategy))} / seed {row.seed}</summary><pre>"
        f"{html.escape(str(row.error))}</pre></details>"
        for row in failed.itertuples()
    ]
