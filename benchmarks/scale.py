"""One query of each strategy on a synthetic pool of N items: seconds and peak memory.

Cases: entropy, margin, bald (T = 10 MC-dropout passes), coreset, badge, bait and
lhd for classification (a TorchClassifier MLP: 64 inputs, a 128-d embedding,
k = 10 classes) and lcmd, maxdet for regression (a TorchRegressor 512-512 network,
grad -> rp(512) features); B = 100 (``--batch-size``), 1 000 labeled items. Each
case runs in a fresh subprocess: the model is fitted on the labeled items (not
timed), a small query warms the kernels up, then one full-size query
(``strategy.select``, including the model's forward pass) is timed.

Printed per case: seconds, split into the time spent inside the model's output
methods (``forward s``: ``predict_proba``, ``embed``, ``tensor_outputs``,
``grad_features``, ``ema_outputs``, ...; on a GPU each call is synchronised before
its clock stops) and the rest (``selection s``: the strategy's own work and its
kernels, on the outputs already on the device), peak extra host memory (the resident-set high-water
mark during the query above the resident set before it, reset through
/proc/self/clear_refs; a sampling thread where that is unavailable), on a GPU the
peak extra CUDA memory (``torch.cuda.max_memory_allocated`` above the allocation
before the query), the embedding's size (N x 128 float32; for lcmd/maxdet the
N x 512 sketched gradient features) and the ratio of the two.

Usage: python benchmarks/scale.py [--device D] [--n N] [--json] [--cases a,b]
       [--bait-n N] [--batch-size B] [--compare-ref GITREF] [--threads T]

``--threads T`` limits each case to T torch/BLAS threads; every row also gives the
query's CPU seconds (user + system, all threads), which a loaded machine inflates
less than the wall-clock seconds.

``--compare-ref GITREF`` runs every case also on the library at ``GITREF`` (a
``git archive`` checkout of its ``src``, see ``selection_speed.py``), just before
the working tree's run of the same case, and adds ``ref s``, ``ref peak MB``,
``new / ref`` and ``same picks`` (whether both selected the same indices in the
same order; ``--json`` rows carry ``picks``, a hash of the selected indices).

Defaults: N = 10⁶ everywhere; bait runs at N = 10 000 on the CPU (its cost is
O(N k² d) per step; the row says which N it used) and at N on a GPU.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import subprocess
import sys
import threading
import time
from typing import Any

from selection_speed import (  # the same /proc readings and reference checkout
    _reset_peak,
    _status_mb,
    library_env,
    ref_checkout,
)

CLASSIFICATION = ["entropy", "margin", "bald", "coreset", "badge", "bait", "lhd"]
REGRESSION = ["lcmd", "maxdet"]
D_IN, D_EMB, K, B, N_LABELED = 64, 128, 10, 100, 1000
CPU_BAIT_N = 10_000
MB = 2**20
OUTPUT_METHODS = (
    "predict_proba",
    "predict_proba_samples",
    "predict_proba_members",
    "embed",
    "tensor_outputs",
    "ema_outputs",
    "ema_tensor_outputs",
    "predict",
    "predict_loss",
    "grad_features",
    "grad_feature_tensor",
)


def _time_outputs(model: Any, device: Any) -> list[float]:
    """Shadow the model's output methods on the instance with timed wrappers.

    Returns a one-element list the wrappers add their seconds to (outermost calls
    only, so a method calling another is counted once).
    """
    import torch

    spent = [0.0]
    depth = [0]

    def timed(fn: Any) -> Any:
        def call(*args: Any, **kwargs: Any) -> Any:
            depth[0] += 1
            t0 = time.perf_counter()
            try:
                return fn(*args, **kwargs)
            finally:
                depth[0] -= 1
                if depth[0] == 0:
                    if device.type == "cuda":
                        torch.cuda.synchronize(device)
                    spent[0] += time.perf_counter() - t0

        return call

    for name in OUTPUT_METHODS:
        if callable(getattr(type(model), name, None)):
            setattr(model, name, timed(getattr(model, name)))
    return spent


# ----------------------------------------------------------------- memory
def _rss_mb() -> float:
    rss = _status_mb("VmRSS")
    if rss is not None:
        return rss
    import psutil  # only where /proc is missing

    return float(psutil.Process().memory_info().rss) / MB


def _measure(call: Any, device: Any) -> tuple[float, float, float | None, float]:
    """``(seconds, peak extra host MB, peak extra CUDA MB or None, CPU seconds)``.

    CPU seconds: the process's user + system time during ``call()``, all threads.
    """
    import torch

    cuda = device.type == "cuda"
    if cuda:
        torch.cuda.synchronize(device)
        torch.cuda.reset_peak_memory_stats(device)
        cuda_before = torch.cuda.memory_allocated(device)
    before = _rss_mb()
    exact = _reset_peak()
    peak = [before]
    stop = threading.Event()

    def sample() -> None:
        while not stop.wait(0.005):
            peak[0] = max(peak[0], _rss_mb())

    sampler = None if exact else threading.Thread(target=sample, daemon=True)
    if sampler:
        sampler.start()
    t0, c0 = time.perf_counter(), time.process_time()
    call()
    if cuda:
        torch.cuda.synchronize(device)
    seconds = time.perf_counter() - t0
    cpu_seconds = time.process_time() - c0
    if sampler:
        stop.set()
        sampler.join()
    host = ((_status_mb("VmHWM") or before) if exact else peak[0]) - before
    cuda_mb = None
    if cuda:
        cuda_mb = (torch.cuda.max_memory_allocated(device) - cuda_before) / MB
    return seconds, host, cuda_mb, cpu_seconds


# ------------------------------------------------------------------ data
def _pool(n: int, seed: int = 0):
    import numpy as np

    rng = np.random.default_rng(seed)
    centers = rng.normal(scale=2.0, size=(40, D_IN)).astype(np.float32)
    comp = rng.integers(40, size=n)
    x = centers[comp]
    x += rng.normal(size=(n, D_IN)).astype(np.float32)
    return x, comp % K, x[:, 0] + np.sin(x[:, 1])


def _model_kwargs(cls: Any, device: Any) -> dict[str, Any]:
    """``device=`` for the model, so its forward passes run where the kernels do."""
    return {"device": str(device)}


def _setup(case: str, n: int, device: Any):
    """``(strategy, model, X, state, embedding_mb)`` for one case."""
    from functools import partial

    import numpy as np

    from labelwise.models.pytorch import TorchClassifier, mlp
    from labelwise.models.regression import TorchRegressor
    from labelwise.pool import LabelState
    from labelwise.strategies import get_strategy

    X, y, target = _pool(n)
    lab = np.random.default_rng(1).choice(n, N_LABELED, replace=False)
    regression = case in REGRESSION
    state = LabelState(n, classes=None if regression else list(range(K)))
    state.teach(lab, (target if regression else y)[lab], round=0)
    if regression:
        model: Any = TorchRegressor(
            max_epochs=4, **_model_kwargs(TorchRegressor, device)
        )
        model.fit(X[lab], target[lab], rng=0)
        return get_strategy(case), model, X, state, n * 512 * 4 / MB
    net = partial(mlp, hidden=D_EMB, dropout=0.2 if case == "bald" else 0.0)
    kw: dict[str, Any] = {"network": net, "max_epochs": 20}
    if case == "lhd":
        kw.update(ema_alpha=0.99, ema_stop_accuracy=0.0)
    model = TorchClassifier(**kw, **_model_kwargs(TorchClassifier, device))
    model.fit(X[lab], y[lab], n_classes=K, rng=0)
    strategy = get_strategy(case, n_mc_samples=10) if case == "bald" else None
    return strategy or get_strategy(case), model, X, state, n * D_EMB * 4 / MB


def _run_case(
    case: str, n: int, device_name: str, threads: int | None, batch_size: int = B
) -> dict[str, Any]:
    """Runs inside the subprocess."""
    import numpy as np
    import torch

    from labelwise._device import resolve_device
    from labelwise.pool import LabelState

    if threads is not None:
        from threadpoolctl import threadpool_limits

        torch.set_num_threads(threads)
        threadpool_limits(threads)
    device = resolve_device(device_name)
    strategy, model, X, state, emb_mb = _setup(case, n, device)
    # warm-up on a small pool (first-call costs: allocator, BLAS, CUDA handles)
    m = min(n, 5000)
    small = LabelState(m, classes=state.classes)
    lab = state.labeled_indices()
    lab = lab[lab < m][:50]
    small.teach(lab, state.labels(lab), round=0)
    strategy.select(model, X[:m], small, 10, rng=0)
    spent = _time_outputs(model, device)
    picked: list[Any] = []
    seconds, host_mb, cuda_mb, cpu_s = _measure(
        lambda: picked.append(strategy.select(model, X, state, batch_size, rng=0)),
        device,
    )
    indices = np.asarray(picked[0].indices, dtype=np.int64)
    model_device = str(getattr(model, "device", "cpu"))
    return {
        "case": case,
        "n": n,
        "d": D_EMB if case not in REGRESSION else 512,
        "batch_size": batch_size,
        "device": str(device),
        "model_device": model_device,
        "seconds": seconds,
        "forward_seconds": spent[0],
        "selection_seconds": seconds - spent[0],
        "cpu_seconds": cpu_s,
        "threads": torch.get_num_threads(),
        "peak_extra_mb": host_mb,
        "cuda_peak_extra_mb": cuda_mb,
        "embedding_mb": emb_mb,
        "peak_over_embedding": host_mb / emb_mb,
        "picks": hashlib.sha1(indices.tobytes()).hexdigest()[:12],
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--device", default="auto", help="auto, cpu, cuda, cuda:N")
    parser.add_argument("--n", type=int, default=1_000_000, help="Pool size N.")
    parser.add_argument("--bait-n", type=int, default=None, help="N for bait.")
    parser.add_argument(
        "--batch-size", type=int, default=B, help=f"B of each query (default {B})."
    )
    parser.add_argument("--json", action="store_true", help="One JSON object a line.")
    parser.add_argument(
        "--cases", default=",".join(CLASSIFICATION + REGRESSION), help="Subset."
    )
    parser.add_argument(
        "--compare-ref",
        metavar="GITREF",
        help="Also run every case on the library at this git revision, side by side.",
    )
    parser.add_argument(
        "--threads",
        type=int,
        default=None,
        help="torch and BLAS threads of each case (default: the libraries' own).",
    )
    parser.add_argument("--_case", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args._case:
        case, n, b = args._case.split(":")
        print(json.dumps(_run_case(case, int(n), args.device, args.threads, int(b))))
        return 0
    from labelwise._device import resolve_device

    device = resolve_device(args.device)
    bait_n = args.bait_n or (args.n if device.type == "cuda" else CPU_BAIT_N)
    bait_n = min(bait_n, args.n)
    if not 1 <= args.batch_size <= min(bait_n, args.n) - N_LABELED:
        parser.error(
            f"--batch-size must be in [1, N - {N_LABELED}] (the unlabeled pool); "
            f"got {args.batch_size} for N = {min(bait_n, args.n)}."
        )
    ref_src = ref_checkout(args.compare_ref) if args.compare_ref else None
    rows = []
    for case in [c for c in args.cases.split(",") if c]:
        if case not in CLASSIFICATION + REGRESSION:
            parser.error(f"unknown case {case!r}")
        n = bait_n if case == "bait" else args.n
        got = {
            src: _subprocess_case(case, n, device, src, args.threads, args.batch_size)
            for src in ([ref_src] if ref_src else []) + [None]
        }
        row = got[None]
        if ref_src and "error" not in row:
            ref = got[ref_src]
            row["ref"] = args.compare_ref
            row["ref_seconds"] = ref.get("seconds")
            row["ref_selection_seconds"] = ref.get("selection_seconds")
            row["ref_cpu_seconds"] = ref.get("cpu_seconds")
            row["ref_peak_extra_mb"] = ref.get("peak_extra_mb")
            if "seconds" in ref:
                row["new_over_ref"] = row["seconds"] / ref["seconds"]
                row["same_picks"] = row["picks"] == ref["picks"]
        rows.append(row)
        if args.json:
            print(json.dumps(row), flush=True)
    if not args.json:
        _table(rows)
    return 0


def _subprocess_case(
    case: str,
    n: int,
    device: Any,
    src: str | None,
    threads: int | None = None,
    batch_size: int = B,
) -> dict:
    """One case in a fresh interpreter (on the library at ``src`` if given)."""
    cmd = [sys.executable, __file__, "--_case", f"{case}:{n}:{batch_size}"]
    cmd += ["--device", str(device)]
    if threads is not None:
        cmd += ["--threads", str(threads)]
    out = subprocess.run(cmd, capture_output=True, text=True, env=library_env(src))
    if out.returncode != 0:
        tail = (out.stderr.strip().splitlines() or ["?"])[-1]
        return {"case": case, "n": n, "device": str(device), "error": tail}
    row: dict[str, Any] = json.loads(out.stdout.strip().splitlines()[-1])
    return row


def _table(rows: list[dict[str, Any]]) -> None:
    ref = any("ref" in r for r in rows)
    extra = (
        " ref s | ref selection s | ref CPU s | ref peak MB | new / ref | same picks |"
        if ref
        else ""
    )
    print(
        "| case | n | d | B | device (model) | threads | seconds | forward s | "
        "selection s | CPU s | "
        f"peak extra MB | CUDA peak MB | embedding MB | peak / embedding |{extra}"
    )
    print("|---" * (14 + 6 * ref) + "|")
    for r in rows:
        if "error" in r:
            print(
                f"| {r['case']} | {r['n']} | | | {r['device']} | error: {r['error']} |"
            )
            continue
        cuda = r["cuda_peak_extra_mb"]
        more = ""
        if ref:
            more = (
                f" {_num(r.get('ref_seconds'))} | {_num(r.get('ref_selection_seconds'))} "
                f"| {_num(r.get('ref_cpu_seconds'))} "
                f"| {_num(r.get('ref_peak_extra_mb'), 0)} | "
                f"{_num(r.get('new_over_ref'))} | "
                f"{ {True: 'yes', False: 'NO'}.get(r.get('same_picks'), '') } |"
            )
        print(
            f"| {r['case']} | {r['n']} | {r['d']} | {r['batch_size']} | "
            f"{r['device']} ({r['model_device']}) | {r.get('threads', '')} | "
            f"{r['seconds']:.2f} | "
            f"{r['forward_seconds']:.2f} | {r['selection_seconds']:.2f} | "
            f"{_num(r.get('cpu_seconds'))} | "
            f"{r['peak_extra_mb']:.0f} | {'' if cuda is None else f'{cuda:.0f}'} | "
            f"{r['embedding_mb']:.0f} | {r['peak_over_embedding']:.2f} |{more}"
        )


def _num(x: float | None, digits: int = 2) -> str:
    return "" if x is None else f"{x:.{digits}f}"


if __name__ == "__main__":
    raise SystemExit(main())
