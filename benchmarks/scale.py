"""One query of each strategy on a synthetic pool of N items: seconds and peak memory.

Cases: entropy, margin, bald (T = 10 MC-dropout passes), coreset, badge, bait and
lhd for classification (a TorchClassifier MLP: 64 inputs, a 128-d embedding,
k = 10 classes) and lcmd, maxdet for regression (a TorchRegressor 512-512 network,
grad -> rp(512) features); B = 100, 1 000 labeled items. Each case runs in a fresh
subprocess: the model is fitted on the labeled items (not timed), a small query
warms the kernels up, then one full-size query (``strategy.select``, including the
model's forward pass) is timed.

Printed per case: seconds, peak extra host memory (the resident-set high-water
mark during the query above the resident set before it, reset through
/proc/self/clear_refs; a sampling thread where that is unavailable), on a GPU the
peak extra CUDA memory (``torch.cuda.max_memory_allocated`` above the allocation
before the query), the embedding's size (N x 128 float32; for lcmd/maxdet the
N x 512 sketched gradient features) and the ratio of the two.

Usage: python benchmarks/scale.py [--device D] [--n N] [--json] [--cases a,b]
       [--bait-n N]

Defaults: N = 10⁶ everywhere; bait runs at N = 10 000 on the CPU (its cost is
O(N k² d) per step; the row says which N it used) and at N on a GPU.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import threading
import time
from typing import Any

from selection_speed import _reset_peak, _status_mb  # the same /proc readings

CLASSIFICATION = ["entropy", "margin", "bald", "coreset", "badge", "bait", "lhd"]
REGRESSION = ["lcmd", "maxdet"]
D_IN, D_EMB, K, B, N_LABELED = 64, 128, 10, 100, 1000
CPU_BAIT_N = 10_000
MB = 2**20


# ----------------------------------------------------------------- memory
def _rss_mb() -> float:
    rss = _status_mb("VmRSS")
    if rss is not None:
        return rss
    import psutil  # only where /proc is missing

    return float(psutil.Process().memory_info().rss) / MB


def _measure(call: Any, device: Any) -> tuple[float, float, float | None]:
    """``(seconds, peak extra host MB, peak extra CUDA MB or None)`` of ``call()``."""
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
    t0 = time.perf_counter()
    call()
    if cuda:
        torch.cuda.synchronize(device)
    seconds = time.perf_counter() - t0
    if sampler:
        stop.set()
        sampler.join()
    host = ((_status_mb("VmHWM") or before) if exact else peak[0]) - before
    cuda_mb = None
    if cuda:
        cuda_mb = (torch.cuda.max_memory_allocated(device) - cuda_before) / MB
    return seconds, host, cuda_mb


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


def _run_case(case: str, n: int, device_name: str) -> dict[str, Any]:
    """Runs inside the subprocess."""
    from labelwise._device import resolve_device
    from labelwise.pool import LabelState

    device = resolve_device(device_name)
    strategy, model, X, state, emb_mb = _setup(case, n, device)
    # warm-up on a small pool (first-call costs: allocator, BLAS, CUDA handles)
    m = min(n, 5000)
    small = LabelState(m, classes=state.classes)
    lab = state.labeled_indices()
    lab = lab[lab < m][:50]
    small.teach(lab, state.labels(lab), round=0)
    strategy.select(model, X[:m], small, 10, rng=0)
    seconds, host_mb, cuda_mb = _measure(
        lambda: strategy.select(model, X, state, B, rng=0), device
    )
    model_device = str(getattr(model, "device", "cpu"))
    return {
        "case": case,
        "n": n,
        "d": D_EMB if case not in REGRESSION else 512,
        "batch_size": B,
        "device": str(device),
        "model_device": model_device,
        "seconds": seconds,
        "peak_extra_mb": host_mb,
        "cuda_peak_extra_mb": cuda_mb,
        "embedding_mb": emb_mb,
        "peak_over_embedding": host_mb / emb_mb,
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--device", default="auto", help="auto, cpu, cuda, cuda:N")
    parser.add_argument("--n", type=int, default=1_000_000, help="Pool size N.")
    parser.add_argument("--bait-n", type=int, default=None, help="N for bait.")
    parser.add_argument("--json", action="store_true", help="One JSON object a line.")
    parser.add_argument(
        "--cases", default=",".join(CLASSIFICATION + REGRESSION), help="Subset."
    )
    parser.add_argument("--_case", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args._case:
        case, n = args._case.split(":")
        print(json.dumps(_run_case(case, int(n), args.device)))
        return 0
    from labelwise._device import resolve_device

    device = resolve_device(args.device)
    bait_n = args.bait_n or (args.n if device.type == "cuda" else CPU_BAIT_N)
    bait_n = min(bait_n, args.n)
    rows = []
    for case in [c for c in args.cases.split(",") if c]:
        if case not in CLASSIFICATION + REGRESSION:
            parser.error(f"unknown case {case!r}")
        n = bait_n if case == "bait" else args.n
        out = subprocess.run(
            [
                sys.executable,
                __file__,
                "--_case",
                f"{case}:{n}",
                "--device",
                str(device),
            ],
            capture_output=True,
            text=True,
        )
        if out.returncode != 0:
            tail = (out.stderr.strip().splitlines() or ["?"])[-1]
            row = {"case": case, "n": n, "device": str(device), "error": tail}
        else:
            row = json.loads(out.stdout.strip().splitlines()[-1])
        rows.append(row)
        if args.json:
            print(json.dumps(row), flush=True)
    if not args.json:
        _table(rows)
    return 0


def _table(rows: list[dict[str, Any]]) -> None:
    print(
        "| case | n | d | B | device (model) | seconds | peak extra MB | "
        "CUDA peak MB | embedding MB | peak / embedding |"
    )
    print("|---|---|---|---|---|---|---|---|---|---|")
    for r in rows:
        if "error" in r:
            print(
                f"| {r['case']} | {r['n']} | | | {r['device']} | error: {r['error']} |"
            )
            continue
        cuda = r["cuda_peak_extra_mb"]
        print(
            f"| {r['case']} | {r['n']} | {r['d']} | {r['batch_size']} | "
            f"{r['device']} ({r['model_device']}) | {r['seconds']:.2f} | "
            f"{r['peak_extra_mb']:.0f} | {'' if cuda is None else f'{cuda:.0f}'} | "
            f"{r['embedding_mb']:.0f} | {r['peak_over_embedding']:.2f} |"
        )


if __name__ == "__main__":
    raise SystemExit(main())
