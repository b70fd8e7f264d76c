"""Latency of recording one label in the labeling app while a retrain runs.

Builds the Fashion-MNIST demo project (labels hidden, revealed here only to
answer), starts ``labelwise label serve`` in its own process, and answers every
queued item over HTTP as fast as it can, with ``retrain_every`` small enough
that the MLP is retraining in the background for most of the run. Each
``POST /api/label`` is timed end to end (a new connection per request, as a
browser without keep-alive would); the percentiles are split by whether a
retrain was running. The issue's target: 95th percentile under 50 ms while
training.

    python benchmarks/label_latency.py                 # ~1 min
    python benchmarks/label_latency.py --labels 400 --json
"""

from __future__ import annotations

import argparse
import json
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

import numpy as np

TOKEN = "latency-benchmark"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _call(url: str, body: dict | None = None) -> dict:
    data = None if body is None else json.dumps(body).encode()
    req = urllib.request.Request(
        url,
        data=data,
        headers={"X-Labelwise-Token": TOKEN, "Content-Type": "application/json"},
        method="GET" if body is None else "POST",
    )
    with urllib.request.urlopen(req, timeout=30) as r:
        out: dict = json.loads(r.read())
        return out


def main(argv: list[str] | None = None) -> int:
    """Command line entry point."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--labels", type=int, default=300, help="labels to record")
    ap.add_argument("--epochs", type=int, default=60, help="MLP epochs per retrain")
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args(argv)

    from labelwise.app import init_project

    tmp = Path(tempfile.mkdtemp(prefix="labelwise-latency-"))
    proj = tmp / "demo"
    init_project(
        proj,
        dataset="fashion-mnist",
        pool_size=10_000,
        model_params={"epochs": args.epochs},
        batch_size=50,
        retrain_every=10,
    )
    truth = np.load(proj / "hidden.npy")
    port = _free_port()
    exe = Path(sys.executable).with_name("labelwise")
    server = subprocess.Popen(
        [str(exe), "label", "serve", str(proj), "--port", str(port), "--token", TOKEN],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.time() + 60
        while True:
            try:
                _call(f"{base}/api/state")
                break
            except OSError:
                if time.time() > deadline:
                    raise
                time.sleep(0.2)
        busy: list[float] = []
        idle: list[float] = []
        start = time.perf_counter()
        while len(busy) + len(idle) < args.labels:
            state = _call(f"{base}/api/state")
            if not state["batch"]:
                time.sleep(0.05)
                continue
            for q in state["batch"]:
                training = _call(f"{base}/api/state")["training"]
                t0 = time.perf_counter()
                _call(
                    f"{base}/api/label", {"item": q["item"], "value": truth[q["item"]]}
                )
                (busy if training else idle).append(time.perf_counter() - t0)
                if len(busy) + len(idle) >= args.labels:
                    break
        wall = time.perf_counter() - start
        final = _call(f"{base}/api/state")
    finally:
        server.kill()
        server.wait()

    def pct(xs: list[float]) -> dict[str, float | int]:
        if not xs:
            return {"n": 0}
        a = np.asarray(xs) * 1000
        return {
            "n": len(xs),
            "p50_ms": float(np.percentile(a, 50)),
            "p95_ms": float(np.percentile(a, 95)),
            "max_ms": float(a.max()),
        }

    result = {
        "labels": len(busy) + len(idle),
        "seconds": wall,
        "model_versions": final["model_version"],
        "while_training": pct(busy),
        "idle": pct(idle),
        "hold_out_accuracy": final["curve"][-1]["value"] if final["curve"] else None,
    }
    if args.json:
        print(json.dumps(result))
        return 0
    print(
        f"{result['labels']} labels in {wall:.1f} s, {final['model_version']} model "
        "versions trained meanwhile (Fashion-MNIST demo, pool 10 000, MLP)"
    )
    print("| while | n | p50 ms | p95 ms | max ms | p95 / 50 ms target |")
    print("|---|---|---|---|---|---|")
    for name in ("while_training", "idle"):
        r = result[name]
        if r["n"]:
            print(
                f"| {name.replace('_', ' ')} | {r['n']} | {r['p50_ms']:.1f} | "
                f"{r['p95_ms']:.1f} | {r['max_ms']:.1f} | {r['p95_ms'] / 50:.2f} |"
            )
    return 0


if __name__ == "__main__":
    sys.exit(main())
