"""Property-based fuzz of the labeling app's HTTP API.

Hypothesis drives a fresh project through random sequences of requests: JSON
bodies (valid, wrongly typed, malformed, oversized), query strings and CSV
uploads. A model of the expected state (labels, queue statuses, the undo
stack) predicts each answer; after every request the test checks that no
answer is a 5xx, that a request the model accepts is acknowledged and one it
rejects gets a 4xx, and that the SQLite database equals what the acknowledged
requests imply. About 1 200 requests run in all.
"""

from __future__ import annotations

import csv
import io
import json
import math
import re
import shutil
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pytest
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from labelwise.app import LabelSession, init_project
from labelwise.app.server import create_app

TOKEN = "fuzz"
CLASSES = ["neg", "pos"]
N_ITEMS = 200
STEPS = 30
EXAMPLES = 40

JUNK_ITEMS = [" 3", "3 ", "1_0", "1.0", "+1", "-1", "", "\u0663", "0x1", "1e2"]
JUNK_VALUES = [" neg", "NEG", "pos\n", "", "negpos", "\u0663"]


@dataclass
class Expected:
    """What the acknowledged requests imply for the database."""

    labels: dict[int, str] = field(default_factory=dict)
    queue: dict[int, str] = field(default_factory=dict)
    undo: list[tuple[Any, ...]] = field(default_factory=list)


@pytest.fixture(scope="module")
def base_project(tmp_path_factory):
    from conftest import write_blobs

    root = tmp_path_factory.mktemp("fuzz")
    write_blobs(root / "pool.csv", n=N_ITEMS)
    init_project(
        root / "proj",
        table=root / "pool.csv",
        classes=CLASSES,
        model="logreg",
        strategy="entropy",
        batch_size=5,
    )
    return root / "proj"


def _valid_item(item: Any) -> bool:
    return type(item) is int and 0 <= item < N_ITEMS


def _item_strategy(model: Expected) -> st.SearchStrategy[Any]:
    known = sorted(model.queue) or [0]
    return st.one_of(
        st.sampled_from(known),
        st.sampled_from(sorted(model.labels) or known),
        st.integers(-3, N_ITEMS + 3),
        st.integers(-(2**70), 2**70),
        st.floats(),
        st.sampled_from(known).map(float),  # 334.0 is not item 334
        st.sampled_from(known).map(lambda k: k + 0.9),
        st.booleans(),
        st.none(),
        st.sampled_from([str(k) for k in known] + JUNK_ITEMS),
        st.lists(st.integers(0, 5), max_size=2),
    )


VALUES = st.one_of(
    st.sampled_from(CLASSES),
    st.sampled_from(JUNK_VALUES),
    st.text(max_size=6),
    st.integers(),
    st.floats(),
    st.booleans(),
    st.none(),
)


def _body(data: st.DataObject, model: Expected, with_value: bool) -> Any:
    """A request body: mostly a JSON object, sometimes junk."""
    kind = data.draw(
        st.sampled_from(["good"] * 6 + ["object"] * 6 + ["missing", "raw", "big"])
    )
    if kind == "good":  # a request that usually succeeds
        pool = (
            sorted(model.labels) if not with_value or data.draw(st.booleans()) else []
        )
        pool = pool or sorted(i for i, s in model.queue.items() if s == "open") or [0]
        body = {"item": data.draw(st.sampled_from(pool))}
        if with_value:
            body["value"] = data.draw(st.sampled_from(CLASSES))
        return body
    if kind == "raw":
        return data.draw(st.one_of(st.binary(max_size=20), st.sampled_from([b"[]"])))
    body: dict[str, Any] = {"item": data.draw(_item_strategy(model))}
    if with_value:
        body["value"] = data.draw(VALUES)
    if kind == "missing":
        body.pop(data.draw(st.sampled_from(sorted(body))))
    if kind == "big":
        body["value"] = "x" * 70_000
    return body


def _encode(body: Any) -> bytes:
    return body if isinstance(body, bytes) else json.dumps(body).encode()


def _import_text(data: st.DataObject, model: Expected) -> tuple[str, bool, list]:
    """CSV upload text, whether the model expects it accepted, and its rows."""
    header = data.draw(
        st.sampled_from(
            [
                ["item", "label"],
                ["item", "label", "round"],
                ["label", "item"],
                ["item"],
                ["a", "b"],
            ]
        )
    )
    bom = data.draw(st.booleans())
    known = sorted(model.queue) or [0]
    item_text = st.one_of(
        st.sampled_from([str(k) for k in known]),
        st.integers(0, N_ITEMS - 1).map(str),
        st.sampled_from([*JUNK_ITEMS, str(N_ITEMS)]),
    )
    label_text = st.one_of(st.sampled_from(CLASSES), st.sampled_from(JUNK_VALUES))
    rows = data.draw(
        st.lists(st.tuples(item_text, label_text, st.booleans()), max_size=5)
    )
    buf = io.StringIO()
    w = csv.writer(buf)
    w.writerow(header)
    ok = {"item", "label"} <= set(header)
    parsed, seen = [], set()
    for item, value, short in rows:
        fields = {"item": item, "label": value, "round": "1"}
        out = [fields.get(h, "") for h in header]
        w.writerow(out[:1] if short else out)
        good_item = re.fullmatch(r"[0-9]{1,18}", item) and int(item) < N_ITEMS
        if short or not good_item or value not in CLASSES or int(item) in seen:
            ok = False
        else:
            seen.add(int(item))
            parsed.append((int(item), value))
    return ("\ufeff" if bom else "") + buf.getvalue(), ok, parsed


def _apply_undo(model: Expected) -> tuple[int, Any]:
    if not model.undo:
        return 200, {"undone": None}
    top = model.undo[-1]
    if top[0] == "import":
        return 409, None
    model.undo.pop()
    kind, item = top[0], top[1]
    if kind == "label":
        del model.labels[item]
        model.queue[item] = "open"
    elif kind == "skip":
        model.queue[item] = "open"
    else:
        model.labels[item] = top[2]
    return 200, {"undone": {"item": item, "action": kind}}


def _step(c: TestClient, data: st.DataObject, model: Expected) -> None:
    """One random request, checked against (and applied to) the model."""
    action = data.draw(
        st.sampled_from(
            ["label"] * 4
            + ["skip", "correct", "correct", "undo", "import"]
            + ["history", "image", "state"]
        )
    )
    expect: int | None = None  # 200 (acknowledged), a 4xx code, or None: any 4xx
    answer: Any = None
    if action in ("label", "skip", "correct"):
        body = _body(data, model, with_value=action != "skip")
        r = c.post(f"/api/{action}", content=_encode(body))
        fine = isinstance(body, dict) and _valid_item(body.get("item"))
        if fine and action != "skip":
            fine = body.get("value") in CLASSES and isinstance(body["value"], str)
        if isinstance(body, dict) and len(_encode(body)) > 64 * 1024:
            fine, expect = False, 413
        item = body.get("item") if isinstance(body, dict) else None
        if action == "correct":
            fine = fine and item in model.labels
        else:
            fine = fine and model.queue.get(item) == "open"
        if fine:
            expect, answer = 200, {"ok": True}
            if action == "correct":
                model.undo.append(("correct", item, model.labels[item]))
                model.labels[item] = body["value"]
            else:
                model.undo.append((action, item))
                model.queue[item] = "done" if action == "label" else "skipped"
                if action == "label":
                    model.labels[item] = body["value"]
    elif action == "undo":
        r = c.post("/api/undo")
        expect, answer = _apply_undo(model)
    elif action == "import":
        text, fine, rows = _import_text(data, model)
        r = c.post("/api/import", content=text.encode())
        if fine:
            changed = 0
            for item, value in rows:
                if model.labels.get(item) != value:
                    model.labels[item] = value
                    if item in model.queue:
                        model.queue[item] = "done"
                    changed += 1
            model.undo.append(("import",))
            expect, answer = 200, {"changed": changed}
    elif action == "history":
        limit = data.draw(
            st.one_of(st.integers(-2, 1002).map(str), st.text(max_size=6))
        )
        offset = data.draw(
            st.one_of(st.integers(-1, 10**10).map(str), st.sampled_from(["1e20", ""]))
        )
        r = c.get("/api/history", params={"limit": limit, "offset": offset})
        ok = all(
            re.fullmatch(r"[0-9]{1,9}", v) and lo <= int(v) <= hi
            for v, lo, hi in ((limit, 1, 1000), (offset, 0, 10**9))
        )
        if ok:
            expect = 200
            for row in r.json():
                assert model.labels[row["item"]] == row["value"]
    elif action == "image":
        what = data.draw(st.one_of(st.integers(-2, N_ITEMS + 2).map(str), st.text()))
        r = c.get(f"/api/item/{quote(what, safe='')}/image")
        # a table project has no images: every answer is a 4xx
    else:
        r = c.get("/api/state")
        expect = 200
        open_items = sorted(i for i, s in model.queue.items() if s == "open")
        assert sorted(q["item"] for q in r.json()["batch"]) == open_items
    assert r.status_code < 500, (action, r.status_code, r.text)
    if expect == 200:
        assert r.status_code == 200, (action, r.text)
        if answer is not None:
            assert r.json() == answer
    elif expect is not None:
        assert r.status_code == expect, (action, r.status_code, r.text)
    else:
        assert 400 <= r.status_code < 500, (action, r.status_code, r.text)
        assert r.json()["detail"]


def _check_db(session: LabelSession, model: Expected) -> None:
    """The database equals the model; rows a retrain queued join the model."""
    assert session.db.labels() == model.labels
    queue = {q["item"]: q["status"] for q in session.db.queue(status=None)}
    for item, status in queue.items():
        if item not in model.queue:  # queued by a retrain after the last batch
            assert status == "open" and item not in model.labels
            model.queue[item] = status
    assert queue == model.queue
    live = [
        e["item"]
        for e in session.db.events()
        if e["action"] == "label" and not e["undone"]
    ]
    assert len(live) == len(set(live))


@settings(
    max_examples=EXAMPLES,
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
@given(data=st.data())
def test_api_never_5xx_and_the_database_follows_acknowledged_requests(
    base_project, data
):
    folder = Path(tempfile.mkdtemp())
    try:
        for name in ("project.json", "features.npy", "items.json"):
            shutil.copy(base_project / name, folder / name)
        session = LabelSession(folder, background=False).start()
        c = TestClient(create_app(session, TOKEN))
        c.headers["X-Labelwise-Token"] = TOKEN
        model = Expected()
        _check_db(session, model)
        for _ in range(STEPS):
            _step(c, data, model)
            _check_db(session, model)
        session.db.close()
    finally:
        shutil.rmtree(folder, ignore_errors=True)


@pytest.fixture(scope="module")
def numeric_session(tmp_path_factory):
    import numpy as np
    import pandas as pd

    root = tmp_path_factory.mktemp("fuzz-numeric")
    rng = np.random.default_rng(0)
    pd.DataFrame({"a": rng.normal(size=30)}).to_csv(root / "t.csv", index=False)
    init_project(
        root / "p", table=root / "t.csv", target="numeric", model="ridge", batch_size=3
    )
    session = LabelSession(root / "p", background=False).start()
    item = session.db.queue()[0]["item"]
    session.label(item, 0.0)
    yield session, item
    session.db.close()


NUMERIC_TEXT = st.one_of(
    st.floats().map(repr),
    st.integers().map(str),
    st.sampled_from(["1e400", "-1e400", "Infinity", "NaN", "true", '" 3 "'])
    | st.sampled_from(['"1_000"', '"\u0663"', "null", "[1]", '"1.5"', "1E5", "-0"]),
)


def _finite_number(value: Any) -> bool:
    if type(value) not in (int, float):
        return False
    try:
        return math.isfinite(float(value))
    except OverflowError:
        return False


@settings(max_examples=150, deadline=None, derandomize=True, database=None)
@given(raw=NUMERIC_TEXT)
def test_numeric_targets_accept_exactly_finite_json_numbers(numeric_session, raw):
    session, item = numeric_session
    c = TestClient(create_app(session, TOKEN))
    body = b'{"item": %d, "value": %s}' % (item, raw.encode())
    before = session.db.labels()
    r = c.post("/api/correct", content=body, headers={"X-Labelwise-Token": TOKEN})
    assert r.status_code < 500, r.text
    try:
        value = json.loads(raw, parse_constant=lambda name: None)
    except ValueError:
        value = None
    if _finite_number(value):
        assert r.status_code == 200, r.text
        assert session.db.labels()[item] == repr(float(value))
    else:
        assert 400 <= r.status_code < 500 and r.json()["detail"]
        assert session.db.labels() == before
