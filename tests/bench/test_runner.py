import contextlib
import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest
from typer.testing import CliRunner

from labelwise.bench import parse_grid, run_grid
from labelwise.cli import _normalise_argv, app

ROOT = Path(__file__).parents[2]
SMALL = {
    "name": "small",
    "datasets": ["digits"],
    "models": ["logreg"],
    "strategies": ["random", "margin", "coreset"],
    "settings": {"initial": 10, "batch_size": 10, "rounds": 3, "seeds": 2},
}


def _accuracies(folder):
    con = sqlite3.connect(Path(folder) / "results.sqlite")
    return con.execute(
        "SELECT r.strategy, r.seed, m.round, m.value FROM measurements m "
        "JOIN runs r USING (run_id) WHERE m.metric LIKE '%accuracy' ORDER BY 1, 2, 3, m.metric"
    ).fetchall()


def _check_complete(folder, grid):
    con = sqlite3.connect(Path(folder) / "results.sqlite")
    runs = con.execute("SELECT run_id, status FROM runs").fetchall()
    expected = {r.run_id for r in grid.runs()}
    assert {r for r, _ in runs} == expected and len(runs) == len(expected)
    assert {s for _, s in runs} == {"finished"}
    s = grid.settings
    for rid in expected:
        rounds = [
            r for (r,) in con.execute("SELECT round FROM rounds WHERE run_id=?", (rid,))
        ]
        assert sorted(rounds) == list(range(s.rounds + 1))
        n, distinct = con.execute(
            "SELECT COUNT(*), COUNT(DISTINCT idx) FROM labels WHERE run_id=?", (rid,)
        ).fetchone()
        assert n == distinct == s.initial + s.rounds * s.batch_size
        dup = con.execute(
            "SELECT COUNT(*) FROM (SELECT round, metric, COUNT(*) c FROM measurements "
            "WHERE run_id=? GROUP BY round, metric HAVING c > 1)",
            (rid,),
        ).fetchone()[0]
        assert dup == 0


def test_pool_and_inline_give_the_same_numbers_and_resume(tmp_path):
    grid = parse_grid(SMALL)
    seen = []
    counts = run_grid(
        grid,
        tmp_path / "a",
        workers=1,
        progress=False,
        on_progress=lambda d, t: seen.append((d, t)),
    )
    assert counts == {"finished": 6, "skipped": 0, "failed": 0}
    assert seen[-1] == (24, 24)
    run_grid(grid, tmp_path / "b", workers=2, progress=False)
    assert _accuracies(tmp_path / "a") == _accuracies(tmp_path / "b")
    _check_complete(tmp_path / "b", grid)
    again = run_grid(grid, tmp_path / "b", workers=2, progress=False)
    assert again["skipped"] == 6
    assert len(list((tmp_path / "a" / "logs").glob("*.log"))) == 6


def test_ray_gives_the_same_numbers(tmp_path):
    grid = parse_grid({**SMALL, "strategies": ["random", "margin"]})
    run_grid(grid, tmp_path / "pool", workers=2, progress=False)
    run_grid(grid, tmp_path / "ray", workers=2, ray_address="local", progress=False)
    assert _accuracies(tmp_path / "pool") == _accuracies(tmp_path / "ray")


def test_failed_run_is_recorded_and_the_rest_go_on(tmp_path):
    grid = parse_grid({**SMALL, "strategies": ["random", "variation-ratio"]})
    counts = run_grid(grid, tmp_path, progress=False)
    assert counts["failed"] == 2 and counts["finished"] == 2
    con = sqlite3.connect(tmp_path / "results.sqlite")
    errors = [e for (e,) in con.execute("SELECT error FROM runs WHERE status='failed'")]
    assert all("UnsupportedModelError" in e for e in errors)


def test_sigkill_then_resume(tmp_path):
    """Kill the whole process group mid-run with SIGKILL, start again, nothing lost."""
    config = tmp_path / "fault.toml"
    config.write_text(
        'name = "fault"\ndatasets = ["digits"]\nmodels = ["logreg"]\n'
        'strategies = ["random", "margin", "badge"]\n'
        "[settings]\ninitial = 10\nbatch_size = 5\nrounds = 25\nseeds = 2\n"
    )
    out = tmp_path / "out"
    cmd = [
        sys.executable,
        "-m",
        "labelwise.cli",
        "bench",
        str(config),
        "--out",
        str(out),
        "--workers",
        "2",
        "--no-report",
    ]
    proc = subprocess.Popen(
        cmd,
        start_new_session=True,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        env=os.environ.copy(),
    )
    db = out / "results.sqlite"
    deadline = time.time() + 120
    done = 0
    while time.time() < deadline:
        time.sleep(0.2)
        if db.exists():
            try:
                done = (
                    sqlite3.connect(db)
                    .execute("SELECT COUNT(*) FROM rounds")
                    .fetchone()[0]
                )
            except sqlite3.OperationalError:
                continue
            if done >= 20:
                break
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()
    assert 20 <= done < 6 * 26, done  # killed mid-run
    res = subprocess.run(cmd, capture_output=True, text=True, timeout=300)
    assert res.returncode == 0, res.stderr
    assert "already done" in res.stdout
    from labelwise.bench import load_grid

    _check_complete(out, load_grid(config))


def toml_seeds(path):
    import tomllib

    return tomllib.loads(path.read_text())["settings"]["seeds"]


def test_cli_quick_grid_end_to_end(tmp_path):
    """CI exercises the shipped quick grid through the command line, report included."""
    res = CliRunner().invoke(
        app,
        [
            "bench",
            str(ROOT / "benchmarks/configs/quick.toml"),
            "--out",
            str(tmp_path),
            "--workers",
            "2",
        ],
    )
    assert res.exit_code == 0, res.output
    html = (tmp_path / "report.html").read_text()
    for section in (
        "Learning curves",
        "Normalised area",
        "Average rank",
        "Pairwise penalty matrix",
        "Seconds per round",
    ):
        assert section in html
    assert html.count("data:image/png;base64,") >= 4
    from scipy import stats

    seeds = min(int(toml_seeds(ROOT / "benchmarks/configs/quick.toml")), 5)
    assert (
        f"|t| &gt; {stats.t.ppf(0.975, seeds - 1):.3f} for these {seeds} seeds" in html
    )
    for png in ("curves_accuracy.png", "penalty_matrix.png", "timings.png"):
        assert (tmp_path / png).read_bytes()[:4] == b"\x89PNG"
    res = CliRunner().invoke(
        app, ["export", str(tmp_path), "--csv", str(tmp_path / "x.csv")]
    )
    assert res.exit_code == 0
    res = CliRunner().invoke(app, ["report", str(tmp_path)])
    assert res.exit_code == 0 and "report.html" in res.output


@pytest.mark.parametrize(
    ("argv", "expected"),
    [
        (["bench", "g.toml", "--ray"], ["bench", "g.toml", "--ray", "local"]),
        (["bench", "--ray", "g.toml"], ["bench", "--ray", "local", "g.toml"]),
        (["bench", "g.toml", "--ray", "auto"], ["bench", "g.toml", "--ray", "auto"]),
        (
            ["bench", "g.toml", "--ray", "--workers", "2"],
            ["bench", "g.toml", "--ray", "local", "--workers", "2"],
        ),
    ],
)
def test_ray_flag_takes_an_optional_address(argv, expected):
    assert _normalise_argv(argv) == expected


def test_workers_die_with_a_killed_bench(tmp_path):
    """SIGKILL of ``labelwise bench`` takes its worker processes with it."""
    import os
    import signal
    import subprocess
    import sys
    import time
    from pathlib import Path

    grid = tmp_path / "g.toml"
    grid.write_text(
        'datasets = ["digits"]\nstrategies = ["random", "entropy"]\n'
        '[[models]]\nname = "mlp"\nparams = { epochs = 400 }\n'
        "[settings]\ninitial = 100\nbatch_size = 50\nrounds = 20\nseeds = 2\n"
    )
    exe = Path(sys.executable).with_name("labelwise")
    out = tmp_path / "out"
    proc = subprocess.Popen(
        [str(exe), "bench", str(grid), "--out", str(out), "--workers", "2"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )

    def children() -> list[int]:
        found = []
        for status in Path("/proc").glob("[0-9]*/status"):
            try:
                text = status.read_text()
            except OSError:
                continue
            fields = dict(
                line.split(":\t", 1) for line in text.splitlines() if ":\t" in line
            )
            if fields.get("PPid", "").strip() == str(proc.pid):
                found.append(int(status.parent.name))
        return found

    def alive(pid: int) -> bool:
        try:
            state = Path(f"/proc/{pid}/status").read_text()
        except OSError:
            return False
        return "State:\tZ" not in state

    deadline = time.time() + 60
    while time.time() < deadline:  # wait until both workers run a run
        logs = list((out / "logs").glob("*.log")) if (out / "logs").exists() else []
        if len(logs) >= 2:
            break
        time.sleep(0.2)
    workers = children()
    assert len(workers) >= 2
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    deadline = time.time() + 15
    while any(alive(p) for p in workers) and time.time() < deadline:
        time.sleep(0.2)
    assert not any(alive(p) for p in workers)


def _group_members(pgid):
    """Live (non-zombie) processes of process group ``pgid``."""
    found = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except (OSError, IndexError):
            continue
        if int(fields[2]) == pgid and fields[0] != "Z":
            found.append(int(stat.parent.name))
    return found


def _rounds_stored(db):
    try:
        con = sqlite3.connect(db)
        try:
            return con.execute("SELECT COUNT(*) FROM rounds").fetchone()[0]
        finally:
            con.close()
    except sqlite3.OperationalError:
        return 0


def _start_two_worker_bench(tmp_path):
    """A 2-worker bench in its own process group (as a terminal's job).

    Returns ``(config, out, cmd, log, proc)``; stderr goes to the file ``log``
    (a full pipe would stall the progress bar).
    """
    config = tmp_path / "sigint.toml"
    config.write_text(
        'name = "sigint"\ndatasets = ["digits"]\nmodels = ["logreg"]\n'
        'strategies = ["random", "margin"]\n'
        "[settings]\ninitial = 10\nbatch_size = 5\nrounds = 20\nseeds = 2\n"
    )
    out = tmp_path / "out"
    cmd = [sys.executable, "-m", "labelwise.cli", "bench", str(config)]
    cmd += ["--out", str(out), "--workers", "2", "--no-report"]
    log = tmp_path / "stderr.txt"
    proc = subprocess.Popen(
        cmd,
        start_new_session=True,
        stdout=subprocess.DEVNULL,
        stderr=log.open("w"),
    )
    return config, out, cmd, log, proc


def _spawned_workers(pgid):
    """Members of ``pgid`` started by multiprocessing's spawn (the workers)."""
    found = []
    for pid in _group_members(pgid):
        try:
            cmdline = Path(f"/proc/{pid}/cmdline").read_bytes()
        except OSError:
            continue
        if b"spawn_main" in cmdline:
            found.append(pid)
    return found


@pytest.mark.skipif(not hasattr(signal, "pthread_sigmask"), reason="POSIX signal masks")
@pytest.mark.parametrize("held", [True, False])
def test_a_ctrl_c_before_the_worker_initializer_is_held_then_dropped(held):
    """A process started inside `_sigint_held` keeps a Ctrl-C pending until
    `_init_worker` ignores it; started outside, the same Ctrl-C raises."""
    from labelwise.bench.runner import _sigint_held

    child = (
        "import os, signal, time\n"
        "os.kill(os.getpid(), signal.SIGINT)\n"  # a Ctrl-C during start-up
        "time.sleep(0.2)\n"
        "from labelwise.bench.runner import _init_worker\n"
        "_init_worker(None)\n"
        "assert signal.SIGINT not in signal.pthread_sigmask(signal.SIG_BLOCK, [])\n"
        "assert signal.getsignal(signal.SIGINT) == signal.SIG_IGN\n"
        "os.kill(os.getpid(), signal.SIGINT)\n"  # one after: ignored
        "time.sleep(0.2)\n"
        "print('survived')\n"
    )
    context = _sigint_held() if held else contextlib.nullcontext()
    with context:
        proc = subprocess.Popen(
            [sys.executable, "-c", child],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
        )
    out, err = proc.communicate(timeout=60)
    if held:
        assert proc.returncode == 0 and out.strip() == b"survived", err.decode()
        assert signal.getsignal(signal.SIGINT) is signal.default_int_handler
        assert signal.SIGINT not in signal.pthread_sigmask(signal.SIG_BLOCK, [])
    else:
        assert proc.returncode != 0 and b"KeyboardInterrupt" in err


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc")
def test_ctrl_c_while_workers_are_still_starting_leaves_no_traceback(tmp_path):
    """A Ctrl-C that reaches a worker before its initializer ran is held, not raised.

    CI caught this once by chance: a worker still importing got the group's
    SIGINT and printed a KeyboardInterrupt traceback from ``spawn_main``.
    """
    _, _, _, log, proc = _start_two_worker_bench(tmp_path)
    deadline = time.time() + 120
    while len(_spawned_workers(proc.pid)) < 2 and time.time() < deadline:
        time.sleep(0.01)
    assert len(_spawned_workers(proc.pid)) == 2, log.read_text()
    time.sleep(0.3)  # past Python's start-up, before the imports end
    sent = time.monotonic()
    os.killpg(proc.pid, signal.SIGINT)  # the workers are importing labelwise now
    proc.wait(timeout=30)
    err = log.read_text()
    while _group_members(proc.pid) and time.monotonic() - sent < 2.0:
        time.sleep(0.05)
    assert proc.returncode == 130, err
    assert not _group_members(proc.pid), "a worker outlived the interrupt by 2 s"
    assert "Traceback" not in err and "KeyboardInterrupt" not in err, err


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc")
def test_ctrl_c_stops_every_worker_within_2s_and_the_rerun_resumes(tmp_path):
    """Issue 15, defect 4: Ctrl-C (SIGINT to the process group) on a 2-worker bench."""
    config, out, cmd, log, proc = _start_two_worker_bench(tmp_path)
    db = out / "results.sqlite"
    deadline = time.time() + 180
    while _rounds_stored(db) < 3 and time.time() < deadline:
        time.sleep(0.1)
    members = _group_members(proc.pid)
    assert len(members) >= 3, members  # the bench and its two workers
    sent = time.monotonic()
    os.killpg(proc.pid, signal.SIGINT)
    proc.wait(timeout=30)
    exited = time.monotonic() - sent
    err = log.read_text()
    while _group_members(proc.pid) and time.monotonic() - sent < 2.0:
        time.sleep(0.05)
    assert proc.returncode == 130, err
    assert exited < 2.0, f"exit took {exited:.2f} s"
    assert not _group_members(proc.pid), "a worker outlived the interrupt by 2 s"
    assert "Traceback" not in err and "Rerun the same command" in err, err
    stored = _rounds_stored(db)
    assert 3 <= stored < 4 * 21, stored  # stopped mid-grid
    time.sleep(1.0)
    assert _rounds_stored(db) == stored, "runs went on after the interrupt"
    con = sqlite3.connect(db)
    status = dict(con.execute("SELECT status, COUNT(*) FROM runs GROUP BY status"))
    con.close()
    assert "running" not in status and status.get("interrupted", 0) >= 1, status
    res = subprocess.run(cmd, capture_output=True, text=True, timeout=300)
    assert res.returncode == 0, res.stderr
    from labelwise.bench import load_grid

    _check_complete(out, load_grid(config))


def test_a_worker_killed_by_a_signal_is_one_clear_error_and_the_grid_resumes(
    tmp_path,
):
    # a worker ended by SIGKILL (the out-of-memory killer's signal) used to
    # surface as a BrokenProcessPool traceback, leaving runs marked 'running'
    import multiprocessing
    import threading

    from labelwise.exceptions import WorkerLostError

    grid = parse_grid(SMALL)
    # children an earlier test left behind are not this grid's workers
    before = {p.pid for p in multiprocessing.active_children()}

    def kill_first_worker():
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            workers = [
                p
                for p in multiprocessing.active_children()
                if "Process" in p.name and p.pid not in before
            ]
            if workers:
                os.kill(workers[0].pid, signal.SIGKILL)
                return
            time.sleep(0.05)

    killer = threading.Thread(target=kill_first_worker, daemon=True)
    killer.start()
    with pytest.raises(WorkerLostError, match="Rerun the same command"):
        run_grid(grid, tmp_path, workers=2, progress=False)
    killer.join()
    statuses = {
        s
        for (s,) in sqlite3.connect(tmp_path / "results.sqlite").execute(
            "SELECT status FROM runs"
        )
    }
    assert "running" not in statuses
    run_grid(grid, tmp_path, workers=1, progress=False)
    _check_complete(tmp_path, grid)


@pytest.mark.skipif(sys.platform == "win32", reason="flock is POSIX")
def test_a_second_bench_on_the_same_folder_is_refused_while_the_first_runs(tmp_path):
    # two benches on one folder raced: runs ended 'failed' with
    # "sqlite3.IntegrityError: UNIQUE constraint failed: measurements..."
    import fcntl

    from labelwise import InvalidParameterError

    grid = parse_grid(SMALL)
    tmp_path.mkdir(exist_ok=True)
    with open(tmp_path / ".lock", "a") as held:
        fcntl.flock(held, fcntl.LOCK_EX | fcntl.LOCK_NB)  # a bench running there
        with pytest.raises(InvalidParameterError, match="Another labelwise bench"):
            run_grid(grid, tmp_path, workers=1, progress=False)
        assert not (tmp_path / "results.sqlite").exists()
    run_grid(grid, tmp_path, workers=1, progress=False)  # released: it runs
    _check_complete(tmp_path, grid)
