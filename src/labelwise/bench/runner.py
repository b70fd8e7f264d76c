"""Run an experiment grid: resumable, on a local process pool or a Ray cluster.

Every run writes its rounds into ``DIR/results.sqlite`` as it goes (one
transaction per round) and its log into ``DIR/logs/RUN_ID.log``. Rerunning the same
grid skips finished runs and continues unfinished ones from their last complete
round. Workers use one torch thread each, so a run gives the same numbers
whichever executor runs it.

Ctrl-C (``KeyboardInterrupt``) stops the grid at once: queued runs are
cancelled, worker processes are terminated (workers ignore SIGINT themselves, so
the terminal's Ctrl-C reaches only this process's handler), the runs left
unfinished are marked ``interrupted`` and the interrupt is re-raised. A round
is committed in one transaction, so a run stopped mid-round loses only that
round, and rerunning the grid resumes every interrupted run.
"""

from __future__ import annotations

import concurrent.futures as cf
import contextlib
import functools
import json
import multiprocessing
import os
import signal
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from labelwise._device import resolve_device
from labelwise.bench.config import GridConfig
from labelwise.exceptions import InvalidParameterError, WorkerLostError
from labelwise.loop.experiment import RunConfig, run_simulation
from labelwise.loop.store import ResultStore, open_results

RESULTS = "results.sqlite"


@functools.lru_cache(maxsize=4)
def _data(name: str, pool_size: int | None, test_size: int | None) -> Any:
    from labelwise.datasets import load

    return load(name, pool_size=pool_size, test_size=test_size)


def execute_run(run: dict[str, Any], out: str) -> tuple[str, str]:
    """Run one grid cell (a `RunConfig` as a dict) into ``out``.

    Args:
        run: ``RunConfig.as_dict()`` of the run.
        out: The grid's output folder.

    Returns:
        ``(run_id, status)`` with status ``finished``, ``skipped`` or ``failed``.
    """
    import torch

    from labelwise.models.finetune import FineTune
    from labelwise.models.registry import make_model
    from labelwise.strategies import get_strategy

    torch.set_num_threads(1)
    cfg = RunConfig(**run)
    extra = cfg.extra
    folder = Path(out)
    (folder / "logs").mkdir(parents=True, exist_ok=True)
    log_path = folder / "logs" / f"{cfg.run_id}.log"
    with open(log_path, "a", buffering=1) as log:
        log.write(f"{time.strftime('%F %T')} start {json.dumps(run, default=str)}\n")
        store = ResultStore(folder / RESULTS)
        try:
            d = _data(cfg.dataset, extra.get("pool_size"), extra.get("test_size"))
            valid = (d.X_valid, d.y_valid) if d.X_valid is not None else None
            aux = (d.X_aux, d.y_aux) if d.X_aux is not None else None
            model = make_model(
                cfg.model,
                device=extra.get("device", "auto"),
                precision=extra.get("precision", "fp32"),
                **extra.get("model_params", {}),
            )
            log.write(f"{time.strftime('%F %T')} model on {_device_of(model)}\n")
            strategy = get_strategy(
                extra.get("strategy_name", cfg.strategy), **cfg.strategy_params
            )
            strategy.prepare_simulation(_simulation_context(d, aux, cfg.dataset))
            ft = extra.get("finetune")
            finetune = FineTune(**ft) if ft is not None else None
        except Exception as exc:
            store.start_run(cfg.run_id, cfg.as_dict())
            store.fail_run(cfg.run_id, f"{type(exc).__name__}: {exc}")
            log.write(f"{time.strftime('%F %T')} failed before start: {exc}\n")
            return cfg.run_id, "failed"

        def on_round(rnd: int, metrics: dict[str, float]) -> None:
            vals = " ".join(f"{k}={v:.4g}" for k, v in metrics.items())
            log.write(f"{time.strftime('%F %T')} round {rnd} {vals}\n")

        status = run_simulation(
            cfg,
            model,
            strategy,
            d.X_train,
            d.y_train,
            d.X_test,
            d.y_test,
            classes=d.classes,
            store=store,
            on_round=on_round,
            noisy=d.noisy,
            finetune=finetune,
            valid=valid,
            eval_weights=d.eval_weights,
            class_weights=d.class_weights,
        )
        if status == "failed":
            err = store.runs().set_index("run_id").loc[cfg.run_id, "error"]
            log.write(f"{time.strftime('%F %T')} failed:\n{err!s}\n")
        log.write(f"{time.strftime('%F %T')} {status}\n")
    return cfg.run_id, status


def _device_of(model: Any) -> str:
    """Where a model computes: its torch device, or the CPU (scikit-learn)."""
    from labelwise.models import TorchClassifier, TorchRegressor

    if isinstance(model, TorchClassifier | TorchRegressor):
        return str(model.device)
    return "cpu"


def _simulation_context(d: Any, aux: Any, name: str) -> Any:
    """What the run's dataset gives a strategy beyond the pool.

    The truth (pool labels and the test set, on which the myopic oracle scores,
    as the paper's ORACLE does), the reward set, the auxiliary data and the
    class weights, whichever the dataset has.
    """
    from labelwise.strategies import SimulationContext

    return SimulationContext(
        y_pool=d.y_train,
        X_eval=d.X_test,
        y_eval=d.y_test,
        X_reward=d.X_reward,
        y_reward=d.y_reward,
        auxiliary=aux,
        eval_weights=d.eval_weights,
        class_weights=d.class_weights,
        dataset=name,
    )


def _die_with_parent() -> None:
    """Linux: SIGTERM this worker when the bench process dies (even by SIGKILL).

    Without it, killing ``labelwise bench`` leaves its workers running their
    current runs, and a restarted bench would run the same runs beside them.
    """
    import ctypes
    import sys

    if not sys.platform.startswith("linux"):
        return
    parent = os.getppid()
    try:
        libc = ctypes.CDLL("libc.so.6", use_errno=True)
        libc.prctl(1, int(signal.SIGTERM))  # PR_SET_PDEATHSIG
    except OSError:
        return
    if os.getppid() != parent:  # the parent died before prctl took effect
        os._exit(1)


@contextlib.contextmanager
def _sigint_held() -> Iterator[None]:
    """Hold SIGINT back from this thread, and from the processes it starts.

    Workers are spawned (fork and exec) inside this block, and a signal mask
    survives both: a Ctrl-C that arrives while a worker is still importing
    stays pending in that worker until `_init_worker` ignores it, instead of
    ending it with a KeyboardInterrupt traceback. In this process the Ctrl-C
    is delivered when the block ends, so none is lost. No-op where the
    platform has no ``pthread_sigmask`` (Windows).
    """
    if not hasattr(signal, "pthread_sigmask"):
        yield
        return
    old = signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGINT})
    try:
        yield
    finally:
        signal.pthread_sigmask(signal.SIG_SETMASK, old)


def _init_worker(cache: str | None) -> None:
    from threadpoolctl import threadpool_limits

    _die_with_parent()
    # Ctrl-C goes to the whole process group: the parent stops the workers,
    # so a worker must not turn it into a KeyboardInterrupt of its own (the
    # executor would report it as the run's result and go on with the next).
    # Ignoring a pending signal discards it; the worker was started with
    # SIGINT blocked (`_sigint_held`), so a Ctrl-C during its start-up is
    # dropped here rather than raised while it imported.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    if hasattr(signal, "pthread_sigmask"):
        signal.pthread_sigmask(signal.SIG_UNBLOCK, {signal.SIGINT})
    # one BLAS thread per worker (torch is set to one in execute_run): with
    # several workers, BLAS threads spinning on shared cores made small
    # scikit-learn fits 15x slower (83 ms instead of 5.6 ms a logistic fit)
    threadpool_limits(1)
    if cache:
        os.environ["LABELWISE_DATA"] = cache


def check_pool_sizes(runs: list[RunConfig]) -> None:
    """Refuse, before any run starts, a budget that labels the whole pool.

    The initial set, and the labels bought before the last query
    (``initial + (rounds - 1) x batch_size``), must leave at least one pool item
    unlabeled: the last query would otherwise find none and fail the run. (A
    batch larger than what is left is fine: it shrinks.) Loads each distinct
    ``(dataset, pool_size, test_size)`` once (from the cache ``prefetch``
    fills).

    Raises:
        InvalidParameterError: Naming the dataset, its pool size and the fix.
    """
    for run in runs:
        pool_size, test_size = run.extra.get("pool_size"), run.extra.get("test_size")
        n_pool = len(_data(run.dataset, pool_size, test_size).y_train)
        given = f" (pool_size = {pool_size})" if pool_size else ""
        if run.n_initial >= n_pool:
            raise InvalidParameterError(
                f"initial = {run.n_initial} labels need a larger pool: {run.dataset} "
                f"has {n_pool} pool items{given}, and at least one must stay "
                f"unlabeled. Lower initial (--initial) below {n_pool}"
                + (" or raise pool_size (--pool-size)." if pool_size else ".")
            )
        before_last = run.n_initial + max(run.n_rounds - 1, 0) * run.batch_size
        if run.n_rounds >= 1 and before_last >= n_pool:
            raise InvalidParameterError(
                f"initial + (rounds - 1) x batch_size = {run.n_initial} + "
                f"{run.n_rounds - 1} x {run.batch_size} = {before_last} labels "
                f"before the last query, but {run.dataset} has {n_pool} pool "
                f"items{given}: that query would find none unlabeled. Lower rounds "
                "(--rounds), batch_size (--batch-size) or initial (--initial)"
                + (", or raise pool_size (--pool-size)." if pool_size else ".")
            )


def _rounds_done(store: ResultStore, ids: set[str]) -> int:
    con = store._connect()
    try:
        rows = con.execute("SELECT run_id, COUNT(*) FROM rounds GROUP BY run_id")
        return sum(n for rid, n in rows if rid in ids)
    finally:
        con.close()


def run_grid(
    grid: GridConfig,
    out: str | os.PathLike[str],
    *,
    workers: int = 1,
    ray_address: str | None = None,
    progress: bool = True,
    on_progress: Callable[[int, int], None] | None = None,
) -> dict[str, int]:
    """Run every cell of ``grid`` into ``out`` (resuming what is there).

    Args:
        grid: The validated grid.
        out: Output folder (``results.sqlite``, ``logs/``, ``grid.json``).
        workers: Local worker processes; 1 runs in this process.
        ray_address: Run on Ray instead: ``"local"`` starts a local instance,
            anything else is passed to ``ray.init(address=...)`` (``"auto"``
            joins a running cluster). The folder must be shared with the workers.
        progress: Show one overall progress bar (rounds, with ETA).
        on_progress: Called as ``on_progress(done_rounds, total_rounds)``.

    Returns:
        Counts of runs per status: ``finished``, ``skipped``, ``failed``.

    Raises:
        InvalidParameterError: Before any run starts: a dataset's pool has no
            more items than the initial set, ``out`` is not a folder, or its
            ``results.sqlite`` is damaged, or another bench is writing to
            ``out`` (a lock file ``out/.lock``).
        KeyboardInterrupt: Ctrl-C; unfinished runs are marked ``interrupted``
            first (see the module docstring).
        WorkerLostError: A worker process died abruptly (e.g. killed for
            memory); unfinished runs are marked ``interrupted`` first.
    """
    runs = grid.runs()
    check_pool_sizes(runs)
    if ray_address is not None or workers > 1:
        _data.cache_clear()  # the workers load their own copies
    folder = Path(out)
    if folder.exists() and not folder.is_dir():
        raise InvalidParameterError(
            f"The output folder {str(folder)!r} is a file; pass a folder path "
            "(it is created if missing)."
        )
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise InvalidParameterError(
            f"Cannot create the output folder {str(folder)!r} "
            f"({exc.strerror or exc}); pass a folder path you can write to."
        ) from None
    with _folder_lock(folder):
        return _run_in(folder, grid, runs, workers, ray_address, progress, on_progress)


@contextlib.contextmanager
def _folder_lock(folder: Path) -> Iterator[None]:
    """Hold ``folder/.lock`` while a grid writes there; refuse a second holder.

    An ``flock``: the system drops it when the holding process ends, however it
    ends (``kill -9`` included), so a rerun after a crash is never refused. No
    lock where ``fcntl`` does not exist (Windows).

    Raises:
        InvalidParameterError: Another process holds the lock.
    """
    try:
        import fcntl
    except ImportError:
        yield
        return
    with open(folder / ".lock", "a") as fh:
        try:
            fcntl.flock(fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise InvalidParameterError(
                f"Another labelwise bench (or run) is writing to {str(folder)!r}; "
                "two at once would race on the same runs. Wait for it to end (a "
                "rerun then resumes), or pass another output folder."
            ) from None
        try:
            yield
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)


def _run_in(
    folder: Path,
    grid: GridConfig,
    runs: list[RunConfig],
    workers: int,
    ray_address: str | None,
    progress: bool,
    on_progress: Callable[[int, int], None] | None,
) -> dict[str, int]:
    """The body of `run_grid` once ``folder`` exists and is locked."""
    from tqdm import tqdm

    store = open_results(folder / RESULTS)
    device = str(resolve_device(grid.settings.device))
    (folder / "grid.json").write_text(
        json.dumps(
            {"name": grid.name, "device": device, "runs": [r.as_dict() for r in runs]},
            indent=1,
        )
    )
    ids = {r.run_id for r in runs}
    total = sum(r.n_rounds + 1 for r in runs)
    counts = {"finished": 0, "skipped": 0, "failed": 0}
    jobs = [r.as_dict() for r in runs]
    bar = tqdm(
        total=total,
        initial=_rounds_done(store, ids),
        unit="round",
        desc=f"rounds on {device}",
        disable=not progress,
        dynamic_ncols=True,
    )

    def refresh() -> None:
        done = _rounds_done(store, ids)
        bar.update(done - bar.n)
        if on_progress is not None:
            on_progress(done, total)

    try:
        if ray_address is not None:
            results = _run_ray(jobs, str(folder), ray_address, workers, refresh)
        elif workers <= 1:
            results = []
            for job in jobs:
                results.append(execute_run(job, str(folder)))
                refresh()
        else:
            results = _run_pool(jobs, str(folder), workers, refresh)
        refresh()
    except KeyboardInterrupt:
        mark_interrupted(store, ids)
        raise
    except cf.process.BrokenProcessPool:
        n = mark_interrupted(store, ids)
        raise WorkerLostError(
            f"A worker process died abruptly (ended by a signal; the out-of-memory "
            f"killer sends SIGKILL) with {n} run(s) unfinished; every finished "
            "round is kept. Rerun the same command to resume (with fewer workers "
            "if memory ran out)."
        ) from None
    finally:
        bar.close()
    for _, status in results:
        counts[status] += 1
    return counts


def mark_interrupted(store: ResultStore, ids: set[str]) -> int:
    """Mark the runs of ``ids`` still ``running`` as ``interrupted``.

    Rerunning the grid resumes them like any unfinished run.

    Returns:
        The number of runs marked.
    """
    with store.transaction() as con:
        cur = con.executemany(
            "UPDATE runs SET status='interrupted', updated=? "
            "WHERE run_id=? AND status='running'",
            [(time.time(), rid) for rid in sorted(ids)],
        )
        return int(cur.rowcount)


def _run_pool(
    jobs: list[dict[str, Any]], out: str, workers: int, refresh: Callable[[], None]
) -> list[tuple[str, str]]:
    ctx = multiprocessing.get_context("spawn")
    pool = cf.ProcessPoolExecutor(
        max_workers=workers,
        mp_context=ctx,
        initializer=_init_worker,
        initargs=(os.environ.get("LABELWISE_DATA"),),
    )
    try:
        with _sigint_held():  # submit spawns the workers
            pending = {pool.submit(execute_run, job, out) for job in jobs}
        results: list[tuple[str, str]] = []
        while pending:
            done, pending = cf.wait(pending, timeout=0.5)
            results.extend(f.result() for f in done)
            refresh()
    except BaseException:  # Ctrl-C or a broken pool: no run goes on
        _stop_pool(pool)
        # the traceback keeps this frame: without the pool in it, the pool's
        # queues are freed now and release their semaphores
        del pool
        raise
    pool.shutdown()
    return results


def _stop_pool(pool: cf.ProcessPoolExecutor, grace: float = 0.5) -> None:
    """Cancel queued runs and end every worker now (SIGTERM, then SIGKILL).

    ``ProcessPoolExecutor.shutdown`` only stops handing out work; it waits for
    the running ones, which take minutes. The workers' processes are the
    executor's ``_processes`` (Python 3.14 adds ``terminate_workers`` for this).
    """
    procs = list((pool._processes or {}).values())
    pool.shutdown(wait=False, cancel_futures=True)
    for proc in procs:
        proc.terminate()
    deadline = time.monotonic() + grace
    for proc in procs:
        proc.join(max(0.0, deadline - time.monotonic()))
    for proc in procs:
        if proc.is_alive():
            proc.kill()
            proc.join(1.0)
    pool.shutdown(wait=True)  # its manager thread ends and lets the queues go


def _run_ray(
    jobs: list[dict[str, Any]],
    out: str,
    address: str,
    workers: int,
    refresh: Callable[[], None],
) -> list[tuple[str, str]]:
    import ray

    env = {k: v for k, v in os.environ.items() if k == "LABELWISE_DATA"}
    kwargs: dict[str, Any] = {
        "ignore_reinit_error": True,
        "include_dashboard": False,
        "log_to_driver": False,
        "runtime_env": {"env_vars": env} if env else None,
    }
    if address == "local":
        kwargs["num_cpus"] = max(1, workers)
    else:
        kwargs["address"] = address
    started_here = not ray.is_initialized()
    ray.init(**kwargs)
    try:
        task = ray.remote(num_cpus=1)(execute_run)
        pending = [task.remote(job, out) for job in jobs]
        results: list[tuple[str, str]] = []
        try:
            while pending:
                done, pending = ray.wait(pending, num_returns=len(pending), timeout=0.5)
                results.extend(ray.get(done))
                refresh()
        except KeyboardInterrupt:
            for ref in pending:
                ray.cancel(ref, force=True)
            raise
        return results
    finally:
        if started_here:
            ray.shutdown()
