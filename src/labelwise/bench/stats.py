"""Statistics over runs: ranks of learning-curve areas and the pairwise penalty matrix.

References:
    Ash, J. et al. Deep Batch Active Learning by Diverse, Uncertain Gradient Lower
    Bounds (ICLR 2020), §5 and ``scripts/agg_results.py`` of their repository; the
    same protocol in Ash et al., Gone Fishing (NeurIPS 2021), §6.2.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
from scipy import stats as sps

from labelwise.loop.report import auc_table
from labelwise.metrics import LOWER_IS_BETTER
from labelwise.metrics import auac as unit_step_area

EXPERIMENT = ["dataset", "model", "batch_size"]


def auc_ranks(df: pd.DataFrame, metric: str = "accuracy") -> pd.DataFrame:
    """AUC table with the rank of each strategy per dataset and model (1 = best).

    Returns:
        `auc_table` columns plus ``rank``.
    """
    table = auc_table(df, metric)
    table["rank"] = table.groupby(["dataset", "model"])["auc_mean"].rank(
        ascending=metric in LOWER_IS_BETTER, method="average"
    )
    return table


def average_ranks(ranks: pd.DataFrame) -> pd.Series:
    """Mean rank of each strategy over datasets and models (lower is better)."""
    return ranks.groupby("strategy")["rank"].mean().sort_values()


def checkpoints(
    budgets: np.ndarray, random_mean: np.ndarray, n_initial: int, batch_size: int
) -> list[int]:
    """Budgets at which strategies are compared (Ash et al., ICLR 2020, §5).

    ``L_0 = n_initial`` and ``L_k = n_initial + 2^(k-1) B``, kept while they were
    measured and at most the largest budget; the list stops after the first budget
    at which random sampling's mean reaches 99 % of its final mean.

    Args:
        budgets: Measured numbers of labels, ascending.
        random_mean: Random sampling's mean metric at ``budgets``.
        n_initial: Initial labels.
        batch_size: Labels per round.
    """
    final = float(random_mean[-1])
    at = dict(zip(budgets.tolist(), random_mean.tolist(), strict=True))
    out: list[int] = []
    k = 0
    while True:
        budget = n_initial if k == 0 else n_initial + 2 ** (k - 1) * batch_size
        if budget > budgets[-1]:
            break
        if budget in at:
            out.append(budget)
            if at[budget] >= 0.99 * final:
                break
        k += 1
    return out


PENALTY_MAX_SEEDS = 5
"""Seeds per comparison in `penalty_matrix` (the BADGE and BAIT papers' 5)."""


def t_threshold(n: int, alpha: float = 0.05) -> float:
    """Two-sided critical ``|t|`` of a paired t-test over ``n >= 2`` seeds.

    Examples:
        >>> round(t_threshold(5), 3)
        2.776
    """
    return float(sps.t.ppf(1 - alpha / 2, n - 1))


def paired_t(diff: np.ndarray) -> float:
    """The paired t statistic ``√n · mean / sd`` of per-seed differences ``(n,)``.

    With ``sd = 0`` it is ``±inf`` for a non-zero mean (every seed differs by
    the same amount: the difference is certain) and 0 for a zero mean; it needs
    ``n >= 2``.
    """
    d = np.asarray(diff, dtype=float)
    mean, sd = float(d.mean()), float(d.std(ddof=1))
    if sd == 0:
        return float(np.sign(mean) * np.inf) if mean != 0 else 0.0
    return float(np.sqrt(d.size) * mean / sd)


def penalty_matrix(
    df: pd.DataFrame,
    runs: pd.DataFrame,
    metric: str = "accuracy",
    max_seeds: int = PENALTY_MAX_SEEDS,
    alpha: float = 0.05,
) -> tuple[list[str], np.ndarray, int]:
    """Pairwise penalty matrix of the BADGE/BAIT papers.

    For each experiment (dataset x model x batch size) and each checkpoint budget,
    each ordered pair of strategies ``(i, j)`` is compared by a paired two-sided
    t-test over the first ``N = min(N_i, N_j, max_seeds)`` common seeds (paired by
    seed, so both used the same initial set); when ``i`` is significantly better,
    ``P[i, j]`` grows by ``1/z`` (``z`` = the experiment's number of checkpoints).
    With 5 seeds the threshold is ``|t| > 2.776`` (`t_threshold`). Experiments
    without random sampling, or with fewer than 2 common seeds, add nothing.

    Args:
        df: Tidy measurements.
        runs: The runs table (for ``n_initial`` and ``batch_size``).
        metric: Metric compared (higher is better).
        max_seeds: Seeds used per comparison. Defaults to 5 (the papers).
        alpha: Two-sided significance level. Defaults to 0.05.

    Returns:
        ``(strategies, P, n_experiments)``; ``P[i, j]`` counts how often row ``i``
        beat column ``j``; column means say how often a strategy is beaten.
    """
    import json

    cfg = runs.assign(
        batch_size=[json.loads(c)["batch_size"] for c in runs["config"]],
        n_initial=[json.loads(c)["n_initial"] for c in runs["config"]],
    )[["dataset", "model", "strategy", "seed", "batch_size", "n_initial"]]
    sub = df[df["metric"] == metric].merge(
        cfg, on=["dataset", "model", "strategy", "seed"]
    )
    strategies = sorted(sub["strategy"].unique())
    index = {s: i for i, s in enumerate(strategies)}
    pen = np.zeros((len(strategies), len(strategies)))
    n_exp = 0
    for (_, _, batch), exp in sub.groupby(EXPERIMENT):
        rand = exp[exp["strategy"] == "random"]
        if rand.empty:
            continue
        curve = rand.groupby("n_labeled")["value"].mean().sort_index()
        cps = checkpoints(
            curve.index.to_numpy(),
            curve.to_numpy(),
            int(exp["n_initial"].iloc[0]),
            int(str(batch)),
        )
        if not cps:
            continue
        n_exp += 1
        table = exp.pivot_table(
            index=["strategy", "seed"], columns="n_labeled", values="value"
        )
        for budget in cps:
            for si in strategies:
                for sj in strategies:
                    if si == sj:
                        continue
                    diff = _paired(table, si, sj, budget, max_seeds)
                    if diff is None:
                        continue
                    t = paired_t(diff)
                    if abs(t) > t_threshold(diff.size, alpha) and t > 0:
                        pen[index[si], index[sj]] += 1.0 / len(cps)
    return strategies, pen, n_exp


def _paired(
    table: pd.DataFrame, si: str, sj: str, budget: int, max_seeds: int
) -> np.ndarray | None:
    if budget not in table.columns:
        return None
    try:
        a = table.loc[si][budget].dropna()
        b = table.loc[sj][budget].dropna()
    except KeyError:
        return None
    seeds = sorted(set(a.index) & set(b.index))[:max_seeds]
    if len(seeds) <= 1:
        return None
    return np.asarray(a.loc[seeds].to_numpy() - b.loc[seeds].to_numpy(), dtype=float)


def _complete_runs(sub: pd.DataFrame) -> pd.DataFrame:
    """Rows of the runs that reach the last round of their dataset and model.

    Areas and per-seed ranks compare runs over the same steps; a run still
    going (or one that failed) would otherwise count with a shorter curve.
    """
    if sub.empty:
        return sub
    keys = ["dataset", "model", "strategy", "seed"]
    last = sub.groupby(keys)["round"].transform("max")
    target = sub.groupby(["dataset", "model"])["round"].transform("max")
    return sub[last == target]


def final_table(
    df: pd.DataFrame,
    metric: str = "accuracy",
    round: int | None = None,
    log_mean: bool = False,
    auac: bool = False,
) -> pd.DataFrame:
    """Each run's value at its last round, as mean and standard error over seeds.

    Args:
        df: Tidy measurements.
        metric: Metric.
        round: Take this round instead of each run's last (runs without it are
            left out), e.g. AGBAL's RMSE at step 10.
        log_mean: Instead, each run's mean over rounds 1.. of ``log(metric)``
            (BMDAL's aggregate of RMSE, MAE and the error quantiles).
        auac: Instead, each run's area under the metric-vs-step curve by the
            trapezoid rule with unit steps over rounds 0.. (the learning-AL
            paper's AUAC: 10 steps of accuracies near 0.9 give about 9); only
            runs that reach their dataset's last round count.

    Returns:
        Columns ``dataset, model, strategy, mean, sem, n_seeds, n_labeled``
        (``n_labeled`` at that round; its largest value over seeds).
    """
    sub = df[df["metric"] == metric]
    if round is not None:
        sub = sub[sub["round"] == round]
    if log_mean:
        # BMDAL's aggregate: per run, the mean over steps (round >= 1) of log(metric)
        sub = sub[sub["round"] >= 1].assign(value=lambda d: np.log(d["value"]))
        keys = ["dataset", "model", "strategy", "seed"]
        sub = sub.groupby(keys, as_index=False).agg(
            value=("value", "mean"),
            round=("round", "max"),
            n_labeled=("n_labeled", "max"),
        )
    if auac:
        sub = _per_run(sub, metric, auac=True)
    if sub.empty:
        return pd.DataFrame(
            columns=[
                "dataset",
                "model",
                "strategy",
                "mean",
                "sem",
                "n_seeds",
                "n_labeled",
            ]
        )
    last = sub.loc[
        sub.groupby(["dataset", "model", "strategy", "seed"])["round"].idxmax()
    ]
    g = last.groupby(["dataset", "model", "strategy"])
    out = g.agg(
        mean=("value", "mean"),
        std=("value", "std"),
        n_seeds=("value", "count"),
        n_labeled=("n_labeled", "max"),
    ).reset_index()
    out["sem"] = (out["std"] / np.sqrt(out["n_seeds"])).fillna(0.0)
    return out[["dataset", "model", "strategy", "mean", "sem", "n_seeds", "n_labeled"]]


def final_pivot(
    df: pd.DataFrame,
    metric: str = "accuracy",
    round: int | None = None,
    log_mean: bool = False,
    auac: bool = False,
) -> pd.DataFrame:
    """`final_table` as strategies x datasets cells ``"mean ± sem"``.

    Rows and columns keep the order in which strategies and datasets first
    appear in ``df``; with several models, columns are ``dataset / model``.
    """
    table = final_table(df, metric, round, log_mean, auac)
    if table.empty:
        return pd.DataFrame()
    several = table["model"].nunique() > 1
    table["column"] = (
        table["dataset"] + " / " + table["model"] if several else table["dataset"]
    )
    table["cell"] = [  # one seed has no standard error: its cell says so
        f"{m:.3f} ± {e:.3f}" if n > 1 else f"{m:.3f} (1 seed)"
        for m, e, n in zip(table["mean"], table["sem"], table["n_seeds"], strict=True)
    ]
    order = list(dict.fromkeys(df["strategy"]))
    ds_rank = {d: i for i, d in enumerate(dict.fromkeys(df["dataset"]))}
    cols = list(
        dict.fromkeys(
            table.sort_values("dataset", key=lambda s: s.map(ds_rank), kind="stable")[
                "column"
            ]
        )
    )
    pivot = table.pivot(index="strategy", columns="column", values="cell")
    pivot = pivot.reindex(index=[s for s in order if s in pivot.index], columns=cols)
    pivot.columns.name = None
    return pivot.fillna("")


def to_markdown(pivot: pd.DataFrame, corner: str = "strategy") -> str:
    """A pivot table as a Markdown table (index in the first column)."""
    cols = [str(c) for c in pivot.columns]
    lines = [
        "| " + " | ".join([corner, *cols]) + " |",
        "|" + "---|" * (len(cols) + 1),
    ]
    for idx, row in pivot.iterrows():
        lines.append("| " + " | ".join([str(idx), *map(str, row.tolist())]) + " |")
    return "\n".join(lines)


def agbal_table(df: pd.DataFrame, metric: str = "mse") -> pd.DataFrame:
    """The AGBAL paper's Table 1: each BMDAL method and its AGBAL counterpart.

    Cells are the normalised area under the ``metric`` curve (mean over seeds;
    lower is better), one column per dataset; ``avg impro %`` is the mean over
    datasets of ``(AUC_bmdal - AUC_agbal) / AUC_bmdal`` in percent, on the AGBAL
    rows. Pairs are ``X`` / ``agbal-X`` (``bmdal-bait`` / ``agbal-bait``);
    ``random`` is listed first when present.
    """
    table = auc_table(df, metric)
    auc = table.pivot_table(index="strategy", columns="dataset", values="auc_mean")
    ds_order = [d for d in dict.fromkeys(df["dataset"]) if d in auc.columns]
    auc = auc[ds_order]
    rows: list[tuple[str, list[float], float | None]] = []
    if "random" in auc.index:
        rows.append(("random", np.asarray(auc.loc["random"], float).tolist(), None))
    for base in dict.fromkeys(df["strategy"]):
        if base.startswith("agbal-") or base == "random":
            continue
        name = "agbal-bait" if base == "bmdal-bait" else f"agbal-{base}"
        if base not in auc.index or name not in auc.index:
            continue
        b = np.asarray(auc.loc[base], dtype=float)
        a = np.asarray(auc.loc[name], dtype=float)
        impro = float(((b - a) / b).mean() * 100)
        rows.append((base, b.tolist(), None))
        rows.append((name, a.tolist(), impro))
    out = pd.DataFrame(
        [[n, *v, "" if i is None else f"{i:+.1f}"] for n, v, i in rows],
        columns=["strategy", *ds_order, "avg impro %"],
    )
    return out.set_index("strategy")


def aux_setting(dataset: str) -> tuple[str, float, int] | None:
    """``(base, ζ, N_aux)`` of a dataset with auxiliary data, else ``None``.

    Examples:
        >>> aux_setting("shifted:64")
        ('shifted', 64.0, 1000)
        >>> aux_setting("diamonds:aux:8:300")
        ('diamonds', 8.0, 300)
        >>> aux_setting("diamonds") is None
        True
    """
    from labelwise.datasets.auxiliary import parse_aux
    from labelwise.datasets.shifted import NAME, parse_shifted

    try:
        shifted = parse_shifted(dataset)
        if shifted is not None:
            return NAME, shifted[0], shifted[1]
        aux = parse_aux(dataset)
    except ValueError:
        return None
    if aux is None:
        return None
    return aux[0], aux[1].zeta, aux[1].n_aux


def agbal_shift_table(df: pd.DataFrame, metric: str = "mse") -> pd.DataFrame:
    """AUC of ``metric`` per run setting with the dataset's ζ and ``N_aux``.

    Returns:
        `auc_table` rows of datasets with auxiliary data (``shifted...``,
        ``NAME:aux...``) plus columns ``base``, ``zeta`` and ``n_aux``; empty
        when there are none.
    """
    table = auc_table(df, metric)
    settings = [aux_setting(str(d)) for d in table["dataset"]]
    keep = np.array([s is not None for s in settings], dtype=bool)
    table = table[keep].copy()
    picked = [s for s in settings if s is not None]
    table["base"] = [s[0] for s in picked]
    table["zeta"] = [s[1] for s in picked]
    table["n_aux"] = [s[2] for s in picked]
    return table


def _per_run(df: pd.DataFrame, metric: str, auac: bool) -> pd.DataFrame:
    """Each complete run's AUAC of ``metric`` (or its last value), one row per run.

    Columns ``dataset, model, strategy, seed, value, round`` (the last) and
    ``n_labeled`` (at the last round).
    """
    keys = ["dataset", "model", "strategy", "seed"]
    sub = _complete_runs(df[df["metric"] == metric])
    rows = []
    for key, grp in sub.groupby(keys):
        run = grp.sort_values("round")
        v = run["value"].to_numpy(dtype=np.float64)
        rows.append(
            dict(zip(keys, key, strict=True))
            | {
                "value": unit_step_area(v) if auac else float(v[-1]),
                "round": int(run["round"].max()),
                "n_labeled": int(run["n_labeled"].max()),
            }
        )
    return pd.DataFrame(rows, columns=[*keys, "value", "round", "n_labeled"])


def paired_summary(own: np.ndarray, other: np.ndarray) -> dict[str, float]:
    """Per-seed values ``own`` against ``other`` (same seeds, same order).

    Args:
        own: One value per seed ``(n,)``, e.g. a strategy's AUAC.
        other: The paired values ``(n,)``, e.g. random's, or a group mean.

    Returns:
        ``n_seeds``; ``strategy`` and ``group``: the means of ``own`` and
        ``other``; ``diff``: the mean of ``own - other``, ``sem`` its standard
        error; ``wins``: seeds with ``own >= other``; ``p_value``: the Wilcoxon
        signed-rank test (two-sided, exact for small samples; with 3 seeds it
        cannot fall below 0.25); ``p_t``: the paired t-test of `penalty_matrix`
        (two-sided; 0 when every difference is the same non-zero number). Both p
        are NaN with fewer than two seeds or all differences 0.
    """
    from scipy.stats import wilcoxon

    d = np.asarray(own, dtype=float) - np.asarray(other, dtype=float)
    n = d.size
    p = p_t = float("nan")
    if n >= 2 and np.any(d != 0):
        p = float(wilcoxon(own, other).pvalue)
        p_t = float(2 * sps.t.sf(abs(paired_t(d)), n - 1))
    return {
        "n_seeds": n,
        "strategy": float(np.mean(own)) if n else float("nan"),
        "group": float(np.mean(other)) if n else float("nan"),
        "diff": float(d.mean()) if n else float("nan"),
        "sem": float(d.std(ddof=1) / np.sqrt(n)) if n > 1 else 0.0,
        "wins": int(np.sum(d >= 0)),
        "p_value": p,
        "p_t": p_t,
    }


def _per_seed(df: pd.DataFrame, metric: str, auac: bool) -> list[tuple[Any, ...]]:
    """``(dataset, model, seeds x strategies table)`` per dataset and model."""
    per = _per_run(df, metric, auac)
    return [
        (
            dataset,
            model,
            grp.pivot_table(index="seed", columns="strategy", values="value"),
        )
        for (dataset, model), grp in per.groupby(["dataset", "model"], sort=False)
    ]


def versus_group(
    df: pd.DataFrame,
    strategy: str,
    group: list[str],
    metric: str = "balanced_accuracy",
    auac: bool = True,
) -> pd.DataFrame:
    """``strategy`` against the mean of ``group``, paired by seed, per dataset.

    For every dataset, model and seed where ``strategy`` and all of ``group``
    ran, ``diff = value(strategy) - mean(value(group))`` with value = the run's
    AUAC of ``metric`` (``auac=False``: its last value), summarised by
    `paired_summary`.

    Returns:
        One row per dataset and model: ``n_seeds``, ``strategy`` and ``group``
        (means), ``diff`` (mean), ``sem``, ``wins`` (seeds with diff >= 0),
        ``p_value`` (Wilcoxon signed-rank) and ``p_t`` (paired t-test).
    """
    cols = ["dataset", "model", "n_seeds", "strategy", "group", "diff", "sem",
            "wins", "p_value", "p_t"]  # fmt: skip
    rows = []
    for dataset, model, wide in _per_seed(df, metric, auac):
        if strategy not in wide.columns or not set(group) <= set(wide.columns):
            continue
        wide = wide[[strategy, *group]].dropna()
        if wide.empty:
            continue
        own = wide[strategy].to_numpy()
        summary = paired_summary(own, wide[group].to_numpy().mean(axis=1))
        rows.append({"dataset": dataset, "model": model, **summary})
    return pd.DataFrame(rows, columns=cols)


RANDOM_COMPARISON_COLUMNS = [
    "dataset", "model", "n_seeds", "n_strategies", "random", "best", "best_value",
    "best_diff", "best_sem", "best_p", "best_p_t", "average", "average_diff",
    "average_sem", "average_p", "average_p_t",
]  # fmt: skip
"""Columns of `random_comparison`."""


def random_comparison(
    df: pd.DataFrame,
    metric: str = "balanced_accuracy",
    auac: bool = True,
    baseline: str = "random",
) -> pd.DataFrame:
    """Random vs the best strategy vs the average of the others, per dataset.

    The comparison of the learning-AL paper's Fig. 1 and §3 (Bakker et al.,
    ECML PKDD 2023). Per dataset and model, over the seeds where ``baseline``
    and every other strategy finished, each run's value is its AUAC of
    ``metric`` (``auac=False``: its last value). The best strategy is the one
    with the best mean over those seeds (highest, or lowest for a loss); the
    average is, per seed, the mean over all strategies but ``baseline``. Both
    are compared with ``baseline`` paired by seed (`paired_summary`). The best
    is picked on the same seeds it is tested on (as in the paper), so its p
    values flatter it.

    Returns:
        One row per dataset and model with `RANDOM_COMPARISON_COLUMNS`:
        ``n_seeds``, ``n_strategies`` (besides ``baseline``), ``random`` (its
        mean), ``best`` (the name) and ``best_value``, ``best_diff`` (best minus
        random, mean over seeds), ``best_sem``, ``best_p`` (Wilcoxon) and
        ``best_p_t`` (paired t-test), and the same for ``average``. Datasets
        without ``baseline``, without another strategy or without a seed on
        which all finished are left out.
    """
    rows = []
    for dataset, model, wide in _per_seed(df, metric, auac):
        others = [c for c in wide.columns if c != baseline]
        if baseline not in wide.columns or not others:
            continue
        wide = wide.dropna()
        if wide.empty:
            continue
        means = wide[others].mean()
        best = str(means.idxmin() if metric in LOWER_IS_BETTER else means.idxmax())
        base = wide[baseline].to_numpy()
        top = paired_summary(wide[best].to_numpy(), base)
        avg = paired_summary(wide[others].to_numpy().mean(axis=1), base)
        rows.append(
            [dataset, model, top["n_seeds"], len(others), top["group"], best]
            + [top[k] for k in ("strategy", "diff", "sem", "p_value", "p_t")]
            + [avg[k] for k in ("strategy", "diff", "sem", "p_value", "p_t")]
        )
    return pd.DataFrame(rows, columns=RANDOM_COMPARISON_COLUMNS)


def seed_ranks(
    df: pd.DataFrame, metric: str = "balanced_accuracy", auac: bool = True
) -> pd.DataFrame:
    """Average rank of each strategy per dataset (the learning-AL paper's Fig. 4).

    Per dataset, model and seed, strategies are ranked by each run's AUAC of
    ``metric`` (``auac=False``: its last value); rank 1 is best (ties share the
    mean rank), then ranks are averaged over seeds.

    Returns:
        Columns ``dataset, strategy, rank`` (mean), ``sem`` and ``n_seeds``.
    """
    per = _per_run(df, metric, auac)
    if per.empty:
        return pd.DataFrame(columns=["dataset", "strategy", "rank", "sem", "n_seeds"])
    better_low = metric in LOWER_IS_BETTER
    per["rank"] = per.groupby(["dataset", "model", "seed"])["value"].rank(
        ascending=better_low, method="average"
    )
    g = per.groupby(["dataset", "strategy"], sort=False)["rank"]
    out = g.agg(["mean", "std", "count"]).reset_index()
    out["sem"] = out["std"].fillna(0.0) / np.sqrt(out["count"])
    return out.rename(columns={"mean": "rank", "count": "n_seeds"})[
        ["dataset", "strategy", "rank", "sem", "n_seeds"]
    ]


TIMINGS = ["select_seconds", "train_seconds", "finetune_seconds"]


def timing_table(df: pd.DataFrame) -> pd.DataFrame:
    """Mean selection, training and fine-tuning seconds per round and strategy.

    Fine-tuning seconds appear only where fine-tuning ran.
    """
    sub = df[df["metric"].isin(TIMINGS)]
    out = sub.pivot_table(
        index=["dataset", "model", "strategy"],
        columns="metric",
        values="value",
        aggfunc="mean",
    ).reset_index()
    out.columns.name = None
    return out


def random_comparison_display(table: pd.DataFrame) -> pd.DataFrame:
    """`random_comparison` as text cells, one row per dataset (model when several).

    Columns: ``seeds``, ``random``, ``best`` (name), ``best − random``
    (``mean ± s.e.``), ``p (t)`` and ``p (Wilcoxon)``, then the same for the
    average of the ``n`` other strategies; the index is the dataset.
    """

    def p(v: Any) -> str:
        return "" if v != v else f"{float(v):.3f}"

    def d(m: Any, e: Any, n: Any) -> str:
        if int(n) < 2:  # one seed: no standard error (and no test: empty p)
            return f"{float(m):+.3f}"
        return f"{float(m):+.3f} ± {float(e):.3f}"

    several = table["model"].nunique() > 1
    rows = {}
    for r in table.itertuples():
        key = f"{r.dataset} / {r.model}" if several else str(r.dataset)
        rows[key] = {
            "seeds": str(r.n_seeds),
            "random": f"{r.random:.3f}",
            "best": f"{r.best} ({r.best_value:.3f})",
            "best − random": d(r.best_diff, r.best_sem, r.n_seeds),
            "p (t), best": p(r.best_p_t),
            "p (Wilcoxon), best": p(r.best_p),
            "average": f"{r.average:.3f} (of {r.n_strategies})",
            "average − random": d(r.average_diff, r.average_sem, r.n_seeds),
            "p (t), average": p(r.average_p_t),
            "p (Wilcoxon), average": p(r.average_p),
        }
    return pd.DataFrame.from_dict(rows, orient="index")


def random_comparison_curves(
    df: pd.DataFrame,
    table: pd.DataFrame,
    metric: str = "balanced_accuracy",
    baseline: str = "random",
) -> pd.DataFrame:
    """The measurements of the Fig. 1 curves: random, the best, the average.

    Per dataset and model of ``table`` (`random_comparison`): the rows of
    ``metric`` of ``baseline``, those of the best strategy renamed ``best: NAME``, and
    per seed and round the mean over the other strategies named ``average``;
    `labelwise.loop.report.plot_learning_curves` draws
    them as any measurements.
    """
    sub = df[df["metric"] == metric]
    parts = []
    for r in table.itertuples():
        cell = sub[(sub["dataset"] == r.dataset) & (sub["model"] == r.model)]
        parts.append(cell[cell["strategy"] == baseline])
        best = cell[cell["strategy"] == r.best]
        parts.append(best.assign(strategy=f"best: {r.best}"))
        others = cell[cell["strategy"] != baseline]
        keys = ["dataset", "model", "seed", "round", "n_labeled", "metric"]
        avg = others.groupby(keys, as_index=False)["value"].mean()
        parts.append(avg.assign(strategy="average"))
    if not parts:
        return sub.iloc[:0]
    return pd.concat(parts, ignore_index=True)[list(sub.columns)]
