"""Command line: ``labelwise strategies|datasets|run|bench|report|table|export``.

``labelwise label init|serve|export|import`` runs the labeling app.
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path
from typing import Annotated, Any, NoReturn

import typer

from labelwise.exceptions import InvalidParameterError, LabelwiseError

app = typer.Typer(
    add_completion=False,
    no_args_is_help=True,
    help="labelwise: deep batch active learning for classification and regression.",
)


def _print_version(value: bool) -> None:
    if value:
        import platform

        import torch

        from labelwise import __version__

        typer.echo(
            f"labelwise {__version__} (Python {platform.python_version()}, "
            f"torch {torch.__version__}, CUDA "
            f"{'available' if torch.cuda.is_available() else 'not available'})"
        )
        raise typer.Exit()


@app.callback()
def _main(
    version: Annotated[
        bool,
        typer.Option(
            "--version",
            callback=_print_version,
            is_eager=True,
            help="Print labelwise's version (and torch's, and whether CUDA is "
            "available) and exit.",
        ),
    ] = False,
) -> None:
    """labelwise: deep batch active learning for classification and regression."""


INTERRUPTED = 130  # exit status after Ctrl-C (128 + SIGINT), as shells use


def _fail(exc: Exception) -> NoReturn:
    typer.secho(f"error: {exc}", fg=typer.colors.RED, err=True)
    raise typer.Exit(code=2)


def _run_grid_or_exit(grid: Any, out: Path, **kwargs: Any) -> dict[str, int]:
    """``run_grid``: one line and exit 2 on a bad setup, exit 130 on Ctrl-C."""
    from labelwise.bench import run_grid

    try:
        return run_grid(grid, out, **kwargs)
    except LabelwiseError as exc:
        _fail(exc)
    except KeyboardInterrupt:
        typer.secho(
            f"\ninterrupted: every worker stopped; unfinished runs are marked "
            f"'interrupted' in {out / 'results.sqlite'}. Rerun the same command "
            "to resume them.",
            fg=typer.colors.YELLOW,
            err=True,
        )
        raise typer.Exit(code=INTERRUPTED) from None


DEVICE_HELP = "Torch models compute on: auto (CUDA if available), cpu, cuda, cuda:N."
PRECISION_HELP = "Torch models: fp32, or bf16 (bfloat16 autocast, CUDA only)."


def _device_name(device: str) -> str:
    from labelwise._device import resolve_device

    return str(resolve_device(device))


@app.command()
def strategies() -> None:
    """List the registered strategy names, one per line."""
    from labelwise.strategies import available_strategies

    for name in available_strategies():
        typer.echo(name)


@app.command()
def datasets(
    fetch: Annotated[
        list[str] | None,
        typer.Option("--fetch", help="Fetch (and verify) this dataset; repeatable."),
    ] = None,
    fetch_all: Annotated[
        bool, typer.Option("--all", help="Fetch every dataset.")
    ] = False,
) -> None:
    """List the datasets (and whether they are cached), or fetch some."""
    from labelwise.datasets import (
        available_datasets,
        cache_dir,
        check_name,
        describe,
        fetch_raw,
        is_text,
    )
    from labelwise.datasets.shifted import NAME as SHIFTED

    names = available_datasets() if fetch_all else (fetch or [])
    try:
        # every name is checked before anything is fetched; wrappers fetch their base
        bases = [check_name(name) for name in names]
        for name, base in zip(names, bases, strict=True):
            if base == SHIFTED:
                typer.echo(f"{name}: generated on load (nothing to fetch)")
                continue
            raw = fetch_raw(base)
            if is_text(base):
                typer.echo(f"{name}: ok, train {len(raw[1])} texts, test {len(raw[3])}")
                continue
            typer.echo(f"{name}: ok, train {raw[0].shape}, test {raw[2].shape}")
    except LabelwiseError as exc:
        _fail(exc)
    if not names:
        import zipfile

        root = cache_dir()
        for name in available_datasets():
            raw_file = root / name / "raw.npz"
            state = "not fetched"
            if raw_file.exists():  # a cut file has no zip directory (cheap to read)
                state = (
                    "cached"
                    if zipfile.is_zipfile(raw_file)
                    else f"damaged: delete {raw_file} and fetch it again"
                )
            if name == SHIFTED:
                state = "generated on load"
            typer.echo(f"{name}\t{state}\t{describe(name)}")
        typer.echo(f"(cache: {root}; fetch with: labelwise datasets --fetch NAME)")
        typer.echo(
            "Wrappers: CLASSIFICATION:balanced|imbalanced|imbalanced-weighted "
            "(imbalance settings); "
            "CLASSIFICATION:noisy-blank|noisy-diverse|noisy-class[:SHARE]; "
            "REGRESSION:aux[:ZETA[:NAUX]] (auxiliary data for AGBAL)."
        )


DatasetOption = Annotated[
    str,
    typer.Option(
        help="Dataset name (labelwise datasets), optionally with an imbalance "
        "setting: NAME:balanced|imbalanced|imbalanced-weighted, e.g. "
        "mnist:imbalanced-weighted; a noise "
        "benchmark: NAME:noisy-blank|noisy-diverse|noisy-class[:SHARE], e.g. "
        "fashion-mnist:noisy-blank:0.8; regression sets with auxiliary data "
        "for AGBAL: NAME:aux[:ZETA[:NAUX]], e.g. diamonds:aux."
    ),
]
ModelOption = Annotated[
    str,
    typer.Option(
        help="mlp, cnn, resnet18, logreg, svm or embedding-head; lstm, gru, tcn or "
        "transformer for sequences (n, T, C); bmdal-mlp, ridge or "
        "embedding-regressor for regression."
    ),
]
EpochsOption = Annotated[
    int | None, typer.Option(help="Max training epochs (torch; 200, bmdal-mlp 256).")
]
LrOption = Annotated[
    float | None,
    typer.Option(help="Adam learning rate (torch; 1e-3, bmdal-mlp 0.375)."),
]
FinetuneOption = Annotated[
    bool,
    typer.Option(
        help="Fine-tune on confident pool samples after every fit (any strategy)."
    ),
]


def _model_options(model: str, given: dict[str, Any]) -> dict[str, Any]:
    """The model options given on the command line; exit 2 on one it does not take."""
    from labelwise.models.registry import MODEL_PARAMS

    valid_params = MODEL_PARAMS.get(model, {})
    ignored = [k for k, v in given.items() if v is not None and k not in valid_params]
    if ignored and model in MODEL_PARAMS:
        _fail(
            InvalidParameterError(
                f"Model {model!r} takes no option(s) {', '.join(ignored)}; its "
                f"options: {', '.join(sorted(valid_params)) or 'none'}."
            )
        )
    return {k: v for k, v in given.items() if v is not None and k in valid_params}


def _strategy_entry(spec: str, finetune: bool) -> dict[str, Any]:
    """``NAME`` or ``NAME:KEY=VALUE[,KEY=VALUE...]`` as a grid's strategy entry.

    Parsed by `labelwise.strategies.parse_strategy_spec`; the whole spec is the
    strategy's label.

    Raises:
        InvalidParameterError: A parameter is not ``KEY=VALUE``.
    """
    from labelwise.strategies import parse_strategy_spec

    name, params = parse_strategy_spec(spec)
    if not params:
        return {"name": name, "finetune": finetune}
    return {"name": name, "label": spec, "params": params, "finetune": finetune}


def _checked_run_grid(
    dataset: str,
    strategy: list[str],
    model: str,
    model_kw: dict[str, Any],
    settings: dict[str, Any],
    finetune: bool,
    tuning: dict[str, Any],
) -> Any:
    """The one-dataset grid of ``labelwise run``, checked and its data fetched.

    Fails (exit 2) at once on a bad setting, a strategy the model cannot serve,
    ``--finetune`` with a model that cannot fine-tune, or data that cannot be
    fetched.
    """
    from labelwise.bench import parse_grid
    from labelwise.datasets import is_padded, prefetch
    from labelwise.models.base import FineTunable, require
    from labelwise.models.registry import check_padding_support, make_model
    from labelwise.strategies import get_strategy

    try:
        grid = parse_grid(
            {
                "name": "run",
                "datasets": [dataset],
                "models": [{"name": model, "params": model_kw}],
                "strategies": [_strategy_entry(spec, finetune) for spec in strategy],
                "finetune": tuning,
                "settings": settings,
            },
            "command line",
        )
        for s in grid.strategies:  # fail at once on a missing capability
            chosen = get_strategy(s.name, **s.params)
            chosen.check_model(make_model(model, **model_kw))
            if is_padded(dataset):
                check_padding_support(dataset, model, s.label, chosen.accepts_padding)
        if finetune:
            require(make_model(model, **model_kw), FineTunable, "--finetune")
        prefetch(dataset)
    except LabelwiseError as exc:
        _fail(exc)
    return grid


def _report_run(grid: Any, out: Path, counts: dict[str, int]) -> None:
    """Plot and print the learning curves of ``grid``'s runs; exit 1 if one failed."""
    from labelwise.loop import (
        ResultStore,
        auc_table,
        format_auc_table,
        plot_learning_curves,
    )
    from labelwise.loop.report import primary_metric
    from labelwise.metrics import LOWER_IS_BETTER

    ids = {r.run_id for r in grid.runs()}
    store = ResultStore(out / "results.sqlite")
    runs = store.runs()
    mine = runs[runs["run_id"].isin(ids)]
    df = store.measurements().merge(
        mine[["dataset", "model", "strategy", "seed"]],
        on=["dataset", "model", "strategy", "seed"],
    )
    metric = primary_metric(df)
    plot_learning_curves(df, out / "learning_curve.png", metric=metric)
    typer.echo(
        f"\nNormalised area under the {metric} curve (mean {metric} over the budget"
        + ("; lower is better" if metric in LOWER_IS_BETTER else "")
        + "):"
    )
    typer.echo(format_auc_table(auc_table(df, metric), metric))
    typer.echo(
        f"\nresults: {out / 'results.sqlite'}\nplot:    {out / 'learning_curve.png'}"
    )
    if counts["failed"]:
        for row in mine[mine["status"] == "failed"].itertuples():
            typer.secho(f"run {row.run_id} failed:\n{row.error!s}", fg="red", err=True)
        raise typer.Exit(code=1)


@app.command()
def run(
    dataset: DatasetOption,
    strategy: Annotated[
        list[str],
        typer.Option(
            help="Strategy name, or NAME:KEY=VALUE[,KEY=VALUE] to set its "
            "parameters (e.g. eer:loss=log); repeat to compare several."
        ),
    ],
    out: Annotated[Path, typer.Option(help="Output folder.")],
    model: ModelOption = "mlp",
    initial: Annotated[int, typer.Option(help="Initial random labels.")] = 100,
    batch_size: Annotated[int, typer.Option(help="Labels per round.")] = 100,
    rounds: Annotated[int, typer.Option(help="Rounds after the initial model.")] = 10,
    seeds: Annotated[int, typer.Option(help="Seeds 0..K-1 per strategy.")] = 3,
    pool_size: Annotated[
        int | None, typer.Option(help="Random subsample of the training set (seed 0).")
    ] = None,
    test_size: Annotated[
        int | None, typer.Option(help="Random subsample of the test set (seed 0).")
    ] = None,
    epochs: EpochsOption = None,
    lr: LrOption = None,
    hidden: Annotated[
        int | None,
        typer.Option(help="Hidden width (torch 128, sequences 64, bmdal-mlp 512)."),
    ] = None,
    dropout: Annotated[
        float | None, typer.Option(help="Dropout rate (needed by bald).")
    ] = None,
    members: Annotated[
        int | None, typer.Option(help="Ensemble members (variation-ratio needs >= 2).")
    ] = None,
    layers: Annotated[
        int | None,
        typer.Option(help="Layers (mlp 1, tcn 4, transformer 2, bmdal-mlp 2)."),
    ] = None,
    train_batch: Annotated[
        int | None, typer.Option(help="Training mini-batch (torch; 64, bmdal-mlp 256).")
    ] = None,
    ema: Annotated[
        float | None, typer.Option(help="EMA alpha for LHD, e.g. 0.999 (0 = off).")
    ] = None,
    bidirectional: Annotated[
        bool | None,
        typer.Option(
            "--bidirectional/--unidirectional", help="lstm and gru: read both ways."
        ),
    ] = None,
    finetune: FinetuneOption = False,
    finetune_epochs: Annotated[
        int, typer.Option(help="Fine-tuning epoch limit.")
    ] = 500,
    finetune_lr_factor: Annotated[
        float, typer.Option(help="Fine-tuning learning rate = this x --lr.")
    ] = 100.0,
    finetune_min_size: Annotated[
        int, typer.Option(help="Skip fine-tuning below this set size.")
    ] = 1000,
    workers: Annotated[int, typer.Option(help="Worker processes.")] = 1,
    device: Annotated[str, typer.Option(help=DEVICE_HELP)] = "auto",
    precision: Annotated[str, typer.Option(help=PRECISION_HELP)] = "fp32",
) -> None:
    """Run a simulated active-learning experiment and draw its learning curves.

    Writes DIR/results.sqlite (rerunning resumes it) and DIR/learning_curve.png,
    and prints the normalised area under each learning curve. It is a one-dataset
    grid of ``labelwise bench``.
    """
    given = dict(epochs=epochs, lr=lr, dropout=dropout, members=members)
    given |= dict(hidden=hidden, ema=ema, batch=train_batch, layers=layers)
    given |= dict(bidirectional=bidirectional)
    model_kw = _model_options(model, given)
    settings: dict[str, Any] = dict(initial=initial, batch_size=batch_size)
    settings |= dict(rounds=rounds, seeds=seeds, device=device, precision=precision)
    settings |= {
        k: v
        for k, v in (("pool_size", pool_size), ("test_size", test_size))
        if v is not None
    }
    tuning = dict(
        max_epochs=finetune_epochs,
        lr_factor=finetune_lr_factor,
        min_size=finetune_min_size,
    )
    grid = _checked_run_grid(
        dataset, strategy, model, model_kw, settings, finetune, tuning
    )
    typer.echo(
        f"{dataset}: model {model} on {_device_name(device)}; "
        f"{len(grid.strategies)} strategies x {seeds} seeds "
        f"x {rounds} rounds -> {out}"
    )
    counts = _run_grid_or_exit(grid, out, workers=workers)
    _report_run(grid, out, counts)


@app.command()
def bench(
    config: Annotated[Path, typer.Argument(help="Grid file (TOML).")],
    out: Annotated[Path, typer.Option(help="Output folder (results, logs, report).")],
    workers: Annotated[
        int | None,
        typer.Option(help="Local worker processes (default: one per CPU core)."),
    ] = None,
    ray: Annotated[
        str | None,
        typer.Option(
            help="Run on Ray: '--ray' alone starts a local instance; '--ray ADDRESS' "
            "joins a cluster (e.g. auto or HOST:6379). DIR must be shared."
        ),
    ] = None,
    report: Annotated[bool, typer.Option(help="Write the report at the end.")] = True,
    device: Annotated[
        str | None, typer.Option(help=DEVICE_HELP + " Overrides the grid's.")
    ] = None,
    precision: Annotated[
        str | None, typer.Option(help=PRECISION_HELP + " Overrides the grid's.")
    ] = None,
) -> None:
    """Run an experiment grid; rerunning the same command resumes it.

    Writes DIR/results.sqlite (one transaction per round), DIR/logs/RUN_ID.log and,
    at the end, DIR/report.html.
    """
    from labelwise.bench import build_report, load_grid
    from labelwise.bench.config import with_placement

    try:
        grid = with_placement(load_grid(config), device, precision)
    except LabelwiseError as exc:
        _fail(exc)
        return
    if workers is None:
        workers = os.cpu_count() or 1
    if workers < 1:
        _fail(ValueError(f"--workers must be >= 1; got {workers}."))
    n_runs = len(grid.runs())
    typer.echo(
        f"grid '{grid.name}': {n_runs} runs ({len(grid.datasets)} datasets x "
        f"{len(grid.models)} models x {len(grid.strategies)} strategies x "
        f"{len(grid.settings.seeds)} seeds) on {_device_name(grid.settings.device)} "
        f"-> {out}"
    )
    counts = _run_grid_or_exit(grid, out, workers=workers, ray_address=ray)
    typer.echo(
        f"finished {counts['finished']}, already done {counts['skipped']}, "
        f"failed {counts['failed']} (tracebacks in {out / 'logs'})"
    )
    if report:
        typer.echo(f"report: {build_report(out)}")
    if counts["failed"]:
        raise typer.Exit(code=1)


@app.command("report")
def report_cmd(
    directory: Annotated[Path, typer.Argument(help="A bench or run output folder.")],
) -> None:
    """Write DIR/report.html (self-contained) and its PNGs."""
    from labelwise.bench import build_report

    try:
        typer.echo(f"report: {build_report(directory)}")
    except (FileNotFoundError, LabelwiseError) as exc:
        _fail(exc)


def _warn_unfinished(runs: Any) -> None:
    """One line on stderr when some runs did not finish: their values stop early."""
    if runs.empty:
        return
    left = runs[runs["status"] != "finished"]
    if left.empty:
        return
    kinds = ", ".join(f"{n} {k}" for k, n in left["status"].value_counts().items())
    typer.echo(
        f"note: {len(left)} of {len(runs)} runs did not finish ({kinds}); their "
        "values are those of the last round they reached. Rerun the command that "
        "wrote them (labelwise bench or labelwise run) to resume them.",
        err=True,
    )


@app.command()
def table(
    directory: Annotated[Path, typer.Argument(help="Folder holding results.sqlite.")],
    metric: Annotated[
        str,
        typer.Option(help="accuracy, clean_share, clean_share_round, or any metric."),
    ] = "accuracy",
    timings: Annotated[
        bool,
        typer.Option(
            "--timings", help="Print mean seconds per round instead (per strategy)."
        ),
    ] = False,
    round_: Annotated[
        int | None,
        typer.Option("--round", help="Values at this round instead of the last."),
    ] = None,
    log_mean: Annotated[
        bool,
        typer.Option(
            "--log-mean",
            help="BMDAL's aggregate: mean over steps (rounds >= 1) of log(metric).",
        ),
    ] = False,
    auac: Annotated[
        bool,
        typer.Option(
            "--auac",
            help="Area under the --metric-vs-step curve (trapezoid, unit steps; "
            "the learning-AL paper's AUAC); not with --round, --log-mean or "
            "--agbal.",
        ),
    ] = False,
    agbal: Annotated[
        bool,
        typer.Option(
            "--agbal",
            help="AGBAL Table 1: area under the --metric curve (default mse) of "
            "each method and its agbal- counterpart, with the mean relative "
            "improvement.",
        ),
    ] = False,
) -> None:
    """Print a Markdown table: strategies x datasets at the last round (mean ± s.e.).

    --round R takes round R instead; --log-mean the mean over steps of log(metric)
    (BMDAL); --auac the area under the metric-vs-step curve, followed (when
    random ran) by random against the best strategy and the average of the others
    per dataset, paired by seed (the learning-AL paper's Fig. 1); --agbal the
    AGBAL paper's Table 1 (area under the MSE curve of each method and its agbal-
    counterpart).

    With --timings: mean selection, training and fine-tuning seconds per round for
    each strategy, over all datasets.
    """
    from labelwise.bench.stats import (
        TIMINGS,
        agbal_table,
        final_pivot,
        timing_table,
        to_markdown,
    )
    from labelwise.loop.store import open_results

    if auac:
        _refuse_with_auac(round_=round_ is not None, log_mean=log_mean, agbal=agbal)
    db = directory / "results.sqlite"
    if not db.exists():
        _fail(
            FileNotFoundError(f"No results.sqlite in {directory}; run a bench first.")
        )
    try:
        store = open_results(db)
        df = store.measurements()
        _warn_unfinished(store.runs())
    except LabelwiseError as exc:
        _fail(exc)
    grid_file = directory / "grid.json"
    if grid_file.exists():  # rows and columns in the grid's order
        runs = json.loads(grid_file.read_text())["runs"]
        for col in ("dataset", "strategy"):
            rank = {v: i for i, v in enumerate(dict.fromkeys(r[col] for r in runs))}
            df = df.sort_values(col, key=lambda s, rk=rank: s.map(rk), kind="stable")
    if timings:
        times = timing_table(df)
        cols = [c for c in TIMINGS if c in times.columns]
        agg = times.groupby("strategy", sort=False)[cols].mean()
        agg = agg.reindex([s for s in dict.fromkeys(df["strategy"]) if s in agg.index])
        typer.echo(to_markdown(agg.map(lambda v: f"{v:.2f}" if v == v else "")))
        return
    if agbal and metric == "accuracy":
        metric = "mse"
    known = sorted(df["metric"].unique())
    if metric not in known:
        _fail(
            InvalidParameterError(
                f"No metric {metric!r} in {db}; recorded metrics: {', '.join(known)}."
            )
        )
    if agbal:
        table = agbal_table(df, metric)
        if table.empty or not table.index.str.startswith("agbal-").any():
            _fail(InvalidParameterError(f"No agbal- strategies with a pair in {db}."))
        typer.echo(
            to_markdown(table.map(lambda v: f"{v:.4f}" if isinstance(v, float) else v))
        )
        return
    pivot = final_pivot(df, metric, round_, log_mean, auac)
    if pivot.empty:
        _fail(InvalidParameterError(f"No {metric!r} values at round {round_} in {db}."))
    typer.echo(to_markdown(pivot))
    if auac and round_ is None and not log_mean:
        _echo_random_comparison(df, metric)


def _refuse_with_auac(**given: bool) -> None:
    """One error line when ``table --auac`` comes with an option it cannot honour."""
    clash = [f"--{k.rstrip('_').replace('_', '-')}" for k, on in given.items() if on]
    if clash:
        _fail(
            InvalidParameterError(
                f"--auac is the area over every round of each run; it cannot be "
                f"combined with {', '.join(clash)}. Drop one of them."
            )
        )


def _echo_random_comparison(df: Any, metric: str) -> None:
    """Print random vs the best vs the average strategy (AUAC), when random ran."""
    from labelwise.bench.stats import (
        random_comparison,
        random_comparison_display,
        to_markdown,
    )

    table = random_comparison(df, metric)
    if table.empty:
        return
    typer.echo(
        "\nRandom against the best strategy and the average of the others (AUAC; "
        "the learning-AL paper's Fig. 1): differences paired by seed over the "
        "seeds on which every strategy finished; p (t) paired t-test, p "
        "(Wilcoxon) signed-rank, both two-sided.\n"
    )
    typer.echo(to_markdown(random_comparison_display(table), corner="dataset"))


@app.command()
def export(
    directory: Annotated[Path, typer.Argument(help="Folder holding results.sqlite.")],
    csv: Annotated[Path, typer.Option("--csv", help="CSV file to write.")],
) -> None:
    """Export every measurement as one tidy CSV row.

    Columns: dataset, model, strategy, seed, round, n_labeled, metric, value.
    """
    from labelwise.loop.store import open_results

    db = directory / "results.sqlite"
    if not db.exists():
        _fail(
            FileNotFoundError(
                f"No results.sqlite in {directory}; run an experiment first."
            )
        )
    try:
        n = open_results(db).export_csv(csv)
    except LabelwiseError as exc:
        _fail(exc)
    typer.echo(f"wrote {n} rows to {csv}")


label_app = typer.Typer(
    no_args_is_help=True,
    help="The labeling app: a web page where a person labels what labelwise asks for.",
)
app.add_typer(label_app, name="label")


@label_app.command("init")
def label_init(
    directory: Annotated[Path, typer.Argument(help="New project folder.")],
    images: Annotated[
        Path | None, typer.Option(help="Folder of images (PNG, JPEG, BMP, GIF).")
    ] = None,
    table: Annotated[
        Path | None, typer.Option(help="CSV or Parquet table, one item per row.")
    ] = None,
    dataset: Annotated[
        str | None,
        typer.Option(help="Registered dataset (a demo: its labels stay hidden)."),
    ] = None,
    classes: Annotated[
        str | None, typer.Option(help="Class names, comma-separated: a,b,c.")
    ] = None,
    target: Annotated[
        str | None, typer.Option(help="'numeric' for a real-valued target.")
    ] = None,
    strategy: Annotated[
        str | None,
        typer.Option(
            help="Strategy (entropy; lcmd for numeric), optionally with "
            "parameters NAME:KEY=VALUE,... as in run."
        ),
    ] = None,
    model: Annotated[
        str | None,
        typer.Option(
            help="Model (mlp; bmdal-mlp for numeric; embedding-head or "
            "embedding-regressor with --embeddings)."
        ),
    ] = None,
    batch_size: Annotated[int, typer.Option(help="Items per batch.")] = 10,
    budget: Annotated[int | None, typer.Option(help="Label budget.")] = None,
    retrain_every: Annotated[
        int | None,
        typer.Option(help="Also retrain after this many labels within a batch."),
    ] = None,
    holdout: Annotated[
        Path | None,
        typer.Option(help="Labeled hold-out table (with a 'label' column)."),
    ] = None,
    pool_size: Annotated[
        int | None, typer.Option(help="--dataset: random subset of this size.")
    ] = None,
    epochs: Annotated[int | None, typer.Option(help="Model training epochs.")] = None,
    seed: Annotated[int, typer.Option(help="Seed.")] = 0,
    missing: Annotated[
        str,
        typer.Option(
            help="--table: empty numeric cells: refuse (stop, naming the cell), "
            "drop (leave those rows out) or mean (fill with the column mean). "
            "--texts: empty texts: refuse or drop."
        ),
    ] = "refuse",
    texts: Annotated[
        Path | None, typer.Option(help="UTF-8 CSV of texts, one item per row.")
    ] = None,
    text_column: Annotated[
        str, typer.Option(help="--texts: the column holding the texts.")
    ] = "text",
    label_column: Annotated[
        str | None,
        typer.Option(
            help="--texts: a column of known labels (filled cells are labeled at "
            "once; their values are the classes unless --classes is given)."
        ),
    ] = None,
    vectorizer: Annotated[
        str, typer.Option(help="--texts: features by tfidf or hashing.")
    ] = "tfidf",
    max_features: Annotated[
        int,
        typer.Option(help="--texts: vocabulary size (tfidf) or hash buckets."),
    ] = 2000,
    lsa: Annotated[
        int | None,
        typer.Option(help="--texts: reduce to this many columns (truncated SVD)."),
    ] = None,
    embeddings: Annotated[
        Path | None,
        typer.Option(
            help="Precomputed embeddings (.npy or .parquet), one row per item in "
            "the items' order: the model learns from them; the page still shows "
            "the items."
        ),
    ] = None,
    embedding_column: Annotated[
        str | None,
        typer.Option(help="--embeddings .parquet: the list column to read."),
    ] = None,
    holdout_embeddings: Annotated[
        Path | None,
        typer.Option(help="With --embeddings: the hold-out items' embeddings."),
    ] = None,
) -> None:
    """Create a labeling project from images, a table, texts or a dataset."""
    from labelwise.app import init_project

    params = {} if epochs is None else {"epochs": epochs}
    try:
        text_options = _text_options(texts, vectorizer, max_features, lsa)
        cfg = init_project(
            directory,
            images=images,
            table=table,
            dataset=dataset,
            classes=None if classes is None else classes.split(","),
            target=target,
            strategy=strategy,
            model=model,
            model_params=params,
            batch_size=batch_size,
            budget=budget,
            retrain_every=retrain_every,
            holdout=holdout,
            pool_size=pool_size,
            seed=seed,
            missing=missing,
            **text_options,
            text_column=text_column,
            label_column=label_column,
            embeddings=embeddings,
            embedding_column=embedding_column,
            holdout_embeddings=holdout_embeddings,
        )
    except LabelwiseError as exc:
        _fail(exc)
    what = ", ".join(cfg.classes) if cfg.classes else "numeric target"
    typer.echo(
        f"project {directory}: {cfg.kind} {cfg.source} ({what}); strategy "
        f"{cfg.strategy}, model {cfg.model}, batches of {cfg.batch_size}"
    )
    if cfg.embeddings is not None:
        typer.echo(f"the model learns from the embeddings in {cfg.embeddings}")
    typer.echo(f"serve it with: labelwise label serve {directory}")


def _text_options(
    texts: Path | None, method: str, max_features: int, lsa: int | None
) -> dict[str, Any]:
    """``init_project``'s text arguments: the CSV and a `TextVectorizer`."""
    if texts is None:
        if method != "tfidf" or max_features != 2000 or lsa is not None:
            raise InvalidParameterError(
                "--vectorizer, --max-features and --lsa go with --texts FILE.csv; "
                f"got --vectorizer {method} --max-features {max_features} "
                f"--lsa {lsa} without it."
            )
        return {}
    from labelwise.features.text import TextVectorizer

    vec = TextVectorizer(method=method, max_features=max_features, lsa=lsa)
    return {"texts": texts, "vectorizer": vec}


@label_app.command("serve")
def label_serve(
    directory: Annotated[Path, typer.Argument(help="Project folder.")],
    host: Annotated[str, typer.Option(help="Address to bind.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port.")] = 8000,
    token: Annotated[
        str | None,
        typer.Option(help="Session token (required off loopback; else random)."),
    ] = None,
    device: Annotated[str, typer.Option(help=DEVICE_HELP)] = "auto",
    precision: Annotated[str, typer.Option(help=PRECISION_HELP)] = "fp32",
) -> None:
    """Serve the labeling page; prints the URL with its session token.

    The address is bound before the project is opened: a busy port, a bad
    port or host stops here and leaves the project untouched.
    """
    import uvicorn

    from labelwise.app import LabelSession
    from labelwise.app.server import (
        bind_socket,
        create_app,
        is_loopback,
        new_token,
        resolve_address,
    )

    try:
        resolve_address(host, port)
    except LabelwiseError as exc:
        _fail(exc)
    if not is_loopback(host) and not token:
        _fail(
            InvalidParameterError(
                f"Serving on {host} (not loopback) needs --token SECRET, so that "
                "only people who know it can change labels."
            )
        )
    token = token or new_token()
    try:
        sock = bind_socket(host, port)
    except LabelwiseError as exc:
        _fail(exc)
    try:
        session = LabelSession(directory, device=device, precision=precision).start()
    except LabelwiseError as exc:
        sock.close()
        _fail(exc)
    shown = "127.0.0.1" if host in ("0.0.0.0", "::") else host
    typer.echo(
        f"labelwise labeling app: http://{shown}:{port}/?token={token}", err=True
    )
    config = uvicorn.Config(create_app(session, token), log_level="warning")
    try:
        uvicorn.Server(config).run(sockets=[sock])
    finally:
        session.close()
        sock.close()


@label_app.command("export")
def label_export(
    directory: Annotated[Path, typer.Argument(help="Project folder.")],
    out: Annotated[Path, typer.Option("--out", help="CSV file to write.")],
) -> None:
    """Write the current labels as item,label,round CSV."""
    from labelwise.app import LabelDB, load_config

    try:
        load_config(directory)
    except LabelwiseError as exc:
        _fail(exc)
    db = LabelDB(directory / "labels.sqlite")
    text = db.export_csv()
    db.close()
    out.write_text(text)
    typer.echo(f"wrote {text.count(chr(10)) - 1} labels to {out}")


@label_app.command("import")
def label_import(
    directory: Annotated[Path, typer.Argument(help="Project folder.")],
    csv: Annotated[Path, typer.Argument(help="CSV with columns item,label.")],
) -> None:
    """Set labels from a CSV (all rows valid, or nothing changes)."""
    from labelwise.app import LabelSession

    try:
        text = csv.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        _fail(InvalidParameterError(f"Cannot read {csv} as UTF-8 CSV text: {exc}"))
    try:
        session = LabelSession(directory, background=False)
        n = session.import_csv(text)
    except LabelwiseError as exc:
        _fail(exc)
    session.db.close()
    typer.echo(f"imported: {n} labels changed")


def _normalise_argv(argv: list[str]) -> list[str]:
    """Let ``--ray`` stand alone: ``--ray`` -> ``--ray local``."""
    out = []
    for i, arg in enumerate(argv):
        out.append(arg)
        if arg == "--ray":
            nxt = argv[i + 1] if i + 1 < len(argv) else None
            if nxt is None or nxt.startswith("-") or nxt.endswith(".toml"):
                out.append("local")
    return out


def main() -> None:
    """Entry point of the ``labelwise`` command."""
    try:
        app(args=_normalise_argv(sys.argv[1:]), prog_name="labelwise")
    except SystemExit as exc:
        if exc.code == INTERRUPTED:
            _exit_now()
        raise


def _exit_now() -> NoReturn:
    """Exit 130 at once after Ctrl-C, skipping the interpreter's teardown.

    The workers are stopped and the runs marked already; tearing down torch
    and co. would take seconds more.
    """
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(INTERRUPTED)


if __name__ == "__main__":  # pragma: no cover
    main()
