"""Durability of the labeling app under SIGKILL, with concurrent clients.

Starts a real ``labelwise label serve`` process on a fresh table project,
lets several client threads label whatever the page offers (as fast as the
server answers, plus a short think time), and SIGKILLs the server at random
(seeded) moments, restarting it each time. While it is down, the SQLite file
is checked (integrity, queue statuses against labels, one live label event
per label); after each restart the served batch is checked (open, unlabeled,
no repeats). At the end it prints:

- requests: label requests sent (answered or cut off by a kill),
- acknowledged: answered 200,
- stored: labels in the database,
- lost: acknowledged but not stored (or stored with another value),
- duplicated: items with more than one live label event,
- rejected: answered 4xx (two clients picked the same item; the loser is told
  it is already labeled),
- cut: sent, but the answer was cut off by a kill (stored or not: both are
  fine, the client never heard back),
- unexplained: stored but neither acknowledged nor cut off by a kill,
- kills, queue_errors, server_errors (5xx answers), p95 latency of the
  acknowledged requests.

Usage::

    PYTHONPATH=src python benchmarks/durability.py             # 20 kills
    PYTHONPATH=src python benchmarks/durability.py --kills 5 --json
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import signal
import socket
import sqlite3
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

TOKEN = "durability-token"
CLASSES = ("neg", "pos")


@dataclass
class Report:
    """What one run measured (see the module docstring)."""

    requests: int = 0
    acknowledged: int = 0
    rejected: int = 0
    cut: int = 0
    stored: int = 0
    lost: int = 0
    duplicated: int = 0
    unexplained: int = 0
    kills: int = 0
    queue_errors: int = 0
    server_errors: int = 0
    double_acks: int = 0
    p95_ms: float = 0.0
    seconds: float = 0.0
    problems: list[str] = field(default_factory=list)


def make_project(folder: Path, n_items: int, batch_size: int, seed: int) -> None:
    """A two-class table project (blobs) with a fast model."""
    import pandas as pd

    from labelwise.app import init_project

    rng = np.random.default_rng(seed)
    y = rng.integers(0, 2, size=n_items)
    x = rng.normal(size=(n_items, 2)) + 3.0 * y[:, None]
    folder.mkdir(parents=True, exist_ok=True)
    pd.DataFrame({"a": x[:, 0], "b": x[:, 1]}).to_csv(folder / "t.csv", index=False)
    init_project(
        folder / "proj",
        table=folder / "t.csv",
        classes=list(CLASSES),
        model="logreg",
        strategy="entropy",
        batch_size=batch_size,
        seed=seed,
    )


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class Server:
    """A ``labelwise label serve`` subprocess that can be killed and restarted."""

    def __init__(self, folder: Path, port: int):
        self.folder, self.port = folder, port
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self, timeout: float = 120.0) -> None:
        """Start the server and wait until it answers."""
        self.proc = subprocess.Popen(
            [
                *(sys.executable, "-m", "labelwise.cli", "label", "serve"),
                *(str(self.folder), "--port", str(self.port), "--token", TOKEN),
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"the server exited with {self.proc.returncode}")
            try:
                get(self.port, "/api/state")
                return
            except OSError:
                time.sleep(0.1)
        self.kill()
        raise RuntimeError(f"the server did not answer within {timeout} s")

    def kill(self) -> None:
        """SIGKILL the server and reap it."""
        if self.proc is not None and self.proc.poll() is None:
            os.kill(self.proc.pid, signal.SIGKILL)
            self.proc.wait(timeout=30)


def get(port: int, path: str) -> Any:
    """GET JSON from the server."""
    req = urllib.request.Request(
        f"http://127.0.0.1:{port}{path}", headers={"X-Labelwise-Token": TOKEN}
    )
    with urllib.request.urlopen(req, timeout=30) as r:
        return json.loads(r.read())


def post(port: int, path: str, body: dict[str, Any]) -> int:
    """POST JSON; returns the status code (HTTP errors included)."""
    req = urllib.request.Request(
        f"http://127.0.0.1:{port}{path}",
        data=json.dumps(body).encode(),
        headers={"X-Labelwise-Token": TOKEN, "Content-Type": "application/json"},
        method="POST",
    )
    try:
        with urllib.request.urlopen(req, timeout=30) as r:
            r.read()
            return int(r.status)
    except urllib.error.HTTPError as exc:
        exc.read()
        return int(exc.code)


def _refused(exc: BaseException) -> bool:
    reason = getattr(exc, "reason", exc)
    return isinstance(reason, ConnectionRefusedError)


class Client(threading.Thread):
    """Labels a random open item of the served batch, again and again."""

    def __init__(self, port: int, seed: int, think: float, stop: threading.Event):
        super().__init__(daemon=True)
        self.port, self.think, self.stop = port, think, stop
        self.rng = np.random.default_rng(seed)
        self.acked: dict[int, str] = {}
        self.cut: set[int] = set()  # sent, but the answer was cut off by a kill
        self.latency: list[float] = []
        self.requests = self.rejected = self.server_errors = self.double_acks = 0

    def run(self) -> None:
        """Label until ``stop`` is set; a dead server is waited for."""
        while not self.stop.is_set():
            try:
                batch = [q["item"] for q in get(self.port, "/api/state")["batch"]]
            except (OSError, ValueError, http.client.HTTPException):
                time.sleep(0.05)
                continue
            if not batch:
                time.sleep(0.05)
                continue
            item = int(self.rng.choice(batch))
            value = CLASSES[int(self.rng.integers(2))]
            self._label(item, value)
            time.sleep(self.think)

    def _label(self, item: int, value: str) -> None:
        start = time.perf_counter()
        try:
            status = post(self.port, "/api/label", {"item": item, "value": value})
        except (OSError, http.client.HTTPException) as exc:
            if not _refused(exc):
                self.requests += 1
                self.cut.add(item)
            return
        self.requests += 1
        if status == 200:
            self.latency.append(time.perf_counter() - start)
            if item in self.acked:
                self.double_acks += 1
            self.acked[item] = value
        elif status >= 500:
            self.server_errors += 1
        else:
            self.rejected += 1


def check_database(path: Path) -> list[str]:
    """Problems in a (not served) labeling database; empty when consistent."""
    con = sqlite3.connect(path)
    try:
        problems = []
        if con.execute("PRAGMA integrity_check").fetchone()[0] != "ok":
            problems.append("integrity_check failed")
        labels = dict(con.execute("SELECT item, value FROM labels").fetchall())
        queue = dict(con.execute("SELECT item, status FROM queue").fetchall())
        for item in labels:
            if queue.get(item) != "done":
                problems.append(
                    f"labeled item {item} has queue status {queue.get(item)}"
                )
        live = con.execute(
            "SELECT item, value FROM events WHERE action = 'label' AND undone = 0"
        ).fetchall()
        if sorted(i for i, _ in live) != sorted(labels):
            problems.append("live label events do not match the labels")
        if any(labels.get(i) != v for i, v in live):
            problems.append("a label event's value differs from the label")
        return problems
    finally:
        con.close()


def _check_served(port: int, db: Path) -> list[str]:
    # labels are read first: an item labeled since is no longer in the batch
    con = sqlite3.connect(db)
    labeled = {r[0] for r in con.execute("SELECT item FROM labels")}
    con.close()
    batch = [q["item"] for q in get(port, "/api/state")["batch"]]
    problems = []
    if len(set(batch)) != len(batch):
        problems.append(f"the served batch repeats items: {batch}")
    if set(batch) & labeled:
        problems.append(f"the served batch holds labeled items: {set(batch) & labeled}")
    return problems


def run(
    *,
    kills: int = 20,
    clients: int = 3,
    seed: int = 0,
    min_gap: float = 0.5,
    max_gap: float = 2.0,
    n_items: int = 5000,
    batch_size: int = 10,
    think: float = 0.01,
    folder: Path | None = None,
) -> Report:
    """One durability run; see the module docstring for what is counted.

    Args:
        kills: How many times the server is SIGKILLed (then restarted).
        clients: Concurrent labeling clients.
        seed: Seeds the project, the kill moments and the clients.
        min_gap: Shortest time the server serves before a kill (seconds).
        max_gap: Longest such time.
        n_items: Pool size.
        batch_size: Items per queued batch.
        think: Pause of a client after each label (seconds).
        folder: Working folder (default: a fresh temporary one).
    """
    t0 = time.monotonic()
    tmp = None
    if folder is None:
        tmp = tempfile.TemporaryDirectory()
        folder = Path(tmp.name)
    make_project(folder, n_items, batch_size, seed)
    proj = folder / "proj"
    rng = np.random.default_rng([seed, 1])
    report = Report()
    server = Server(proj, _free_port())
    stop = threading.Event()
    workers = [Client(server.port, seed * 100 + k, think, stop) for k in range(clients)]
    try:
        server.start()
        for w in workers:
            w.start()
        for _ in range(kills):
            time.sleep(float(rng.uniform(min_gap, max_gap)))
            server.kill()
            report.kills += 1
            report.problems += check_database(proj / "labels.sqlite")
            server.start()
            report.problems += _check_served(server.port, proj / "labels.sqlite")
        stop.set()
        for w in workers:
            w.join(timeout=60)
    finally:
        stop.set()
        server.kill()
    _tally(report, workers, proj / "labels.sqlite")
    report.seconds = round(time.monotonic() - t0, 1)
    if tmp is not None:
        tmp.cleanup()
    return report


def _tally(report: Report, workers: list[Client], db: Path) -> None:
    report.problems += check_database(db)
    report.queue_errors = len(report.problems)
    acked: dict[int, str] = {}
    cut: set[int] = set()
    for w in workers:
        report.requests += w.requests
        report.server_errors += w.server_errors
        report.rejected += w.rejected
        report.cut += len(w.cut)
        report.double_acks += w.double_acks
        report.double_acks += len(set(acked) & set(w.acked))
        acked.update(w.acked)
        cut |= w.cut
    con = sqlite3.connect(db)
    labels = dict(con.execute("SELECT item, value FROM labels").fetchall())
    live = [
        r[0]
        for r in con.execute(
            "SELECT item FROM events WHERE action = 'label' AND undone = 0"
        )
    ]
    con.close()
    report.acknowledged = len(acked)
    report.stored = len(labels)
    report.lost = sum(labels.get(i) != v for i, v in acked.items())
    report.duplicated = len(live) - len(set(live))
    report.unexplained = len(set(labels) - set(acked) - cut)
    lat = [x for w in workers for x in w.latency]
    report.p95_ms = round(1000 * float(np.percentile(lat, 95)), 1) if lat else 0.0


def main() -> None:
    """Command line: run once and print the figures."""
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--kills", type=int, default=20)
    p.add_argument("--clients", type=int, default=3)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--min-gap", type=float, default=0.5)
    p.add_argument("--max-gap", type=float, default=2.0)
    p.add_argument("--items", type=int, default=5000)
    p.add_argument("--json", action="store_true", help="Print the report as JSON.")
    a = p.parse_args()
    report = run(
        kills=a.kills,
        clients=a.clients,
        seed=a.seed,
        min_gap=a.min_gap,
        max_gap=a.max_gap,
        n_items=a.items,
    )
    if a.json:
        print(json.dumps(asdict(report)))
        return
    for key, value in asdict(report).items():
        if key != "problems":
            print(f"{key:>14}: {value}")
    for line in report.problems:
        print("problem:", line)


if __name__ == "__main__":
    main()
