"""The HTTP API: tokens, clear 4xx answers that change nothing, upload limits."""

from __future__ import annotations

import json
from unittest import mock

import pytest
from fastapi.testclient import TestClient
from typer.testing import CliRunner

import labelwise.strategies
from labelwise.app import LabelSession
from labelwise.app.server import MAX_UPLOAD_BYTES, create_app, is_loopback
from labelwise.cli import app as cli

TOKEN = "s3cret"


@pytest.fixture
def client(blobs_project):
    folder, truth = blobs_project
    session = LabelSession(folder, background=False).start()
    c = TestClient(create_app(session, TOKEN))
    c.headers["X-Labelwise-Token"] = TOKEN
    yield c, session, truth
    session.db.close()


def test_every_api_request_needs_the_token(client):
    c, session, _ = client
    item = session.db.queue()[0]["item"]
    bare = TestClient(c.app)
    for method, path in [
        ("get", "/api/state"),
        ("get", f"/api/item/{item}/image"),
        ("get", "/api/export.csv"),
        ("post", "/api/undo"),
    ]:
        r = getattr(bare, method)(path)
        assert r.status_code == 401 and "session token" in r.json()["detail"]
    r = bare.post(
        "/api/label",
        json={"item": item, "value": "neg"},
        headers={"X-Labelwise-Token": "wrong"},
    )
    assert r.status_code == 401 and session.db.labels() == {}
    assert bare.get(f"/api/state?token={TOKEN}").status_code == 200
    assert bare.get("/").status_code == 200  # the page itself; it asks for the token


def test_label_skip_undo_correct_history_through_the_api(client):
    c, session, truth = client
    batch = c.get("/api/state").json()["batch"]
    a, b = batch[0]["item"], batch[1]["item"]
    assert c.post("/api/label", json={"item": a, "value": truth[a]}).json() == {
        "ok": True
    }
    assert c.post("/api/skip", json={"item": b}).status_code == 200
    assert c.post("/api/undo").json() == {"undone": {"item": b, "action": "skip"}}
    other = "pos" if truth[a] == "neg" else "neg"
    assert c.post("/api/correct", json={"item": a, "value": other}).status_code == 200
    hist = c.get("/api/history").json()
    assert [(h["item"], h["value"]) for h in hist] == [(a, other)]
    assert c.get("/api/export.csv").text.splitlines()[1] == f"{a},{other},1"
    r = c.get("/api/model.pkl")
    assert r.status_code == 404 and "No model yet" in r.json()["detail"]
    for q in session.db.queue():  # finish the batch: a model is trained
        c.post("/api/label", json={"item": q["item"], "value": truth[q["item"]]})
    r = c.get("/api/model.pkl")
    assert r.status_code == 200 and len(r.content) > 100
    page = c.get("/api/history?limit=2&offset=1").json()
    assert len(page) == 2 and page[0]["item"] == c.get("/api/history").json()[1]["item"]


@pytest.mark.parametrize(
    ("path", "body", "match"),
    [
        ("/api/label", {"item": 0, "value": "neg"}, "not in the queue"),
        ("/api/label", {"value": "neg"}, "item"),
        ("/api/label", {"item": "first"}, "value"),
        ("/api/label", {"item": 10**6, "value": "neg"}, "out of range"),
        ("/api/correct", {"item": 1, "value": "neg"}, "no label to correct"),
        ("/api/skip", {"item": "../../etc/passwd"}, "integer"),
    ],
)
def test_bad_requests_get_4xx_and_change_nothing(client, path, body, match):
    c, session, _ = client
    queued = {q["item"] for q in session.db.queue()}
    if body.get("item") == 0 and 0 in queued:
        body = {**body, "item": next(i for i in range(200) if i not in queued)}
    before = (session.db.labels(), session.db.queue(status=None), session.db.events())
    r = c.post(path, json=body)
    assert 400 <= r.status_code < 500 and match in r.json()["detail"]
    assert (
        session.db.labels(),
        session.db.queue(status=None),
        session.db.events(),
    ) == before


def test_images_only_by_item_number(client):
    c, _, _ = client
    assert c.get("/api/item/..%2F..%2Fetc%2Fpasswd/image").status_code in (404, 422)
    assert c.get("/api/item/-1/image").status_code == 404
    # a table project has no images: a clear 404, not a server error
    r = c.get("/api/item/3/image")
    assert r.status_code == 404 and "not an image" in r.json()["detail"]


def test_import_size_limit_and_validation(client):
    c, session, truth = client
    item = session.db.queue()[0]["item"]
    r = c.post("/api/import", content=f"item,label\n{item},{truth[item]}\n".encode())
    assert r.json() == {"changed": 1} and session.db.labels() == {item: truth[item]}
    r = c.post("/api/import", content=b"x" * (MAX_UPLOAD_BYTES + 1))
    assert r.status_code == 413
    r = c.post("/api/import", content=b"a,b\n1,2\n")
    assert r.status_code == 400 and "item,label" in r.json()["detail"]
    r = c.post("/api/import", content=b"\xff\xfe")
    assert r.status_code == 400 and "UTF-8" in r.json()["detail"]


def test_serving_off_loopback_needs_a_token(blobs_project):
    folder, _ = blobs_project
    assert is_loopback("127.0.0.1") and not is_loopback("0.0.0.0")
    res = CliRunner().invoke(cli, ["label", "serve", str(folder), "--host", "0.0.0.0"])
    assert res.exit_code == 2 and "needs --token" in res.output


def test_cli_init_export_import(tmp_path, blobs_writer):
    blobs_writer(tmp_path / "t.csv")
    runner = CliRunner()
    res = runner.invoke(
        cli,
        [
            "label",
            "init",
            str(tmp_path / "p"),
            "--table",
            str(tmp_path / "t.csv"),
            "--classes",
            "neg,pos",
            "--model",
            "logreg",
            "--batch-size",
            "4",
        ],
    )
    assert res.exit_code == 0, res.output
    assert "serve it with: labelwise label serve" in res.output
    res = runner.invoke(
        cli,
        [
            "label",
            "init",
            str(tmp_path / "q"),
            "--table",
            str(tmp_path / "t.csv"),
            "--classes",
            "neg",
        ],
    )
    assert res.exit_code == 2 and "two distinct names" in res.output
    session = LabelSession(tmp_path / "p", background=False).start()
    item = session.db.queue()[0]["item"]
    session.db.close()
    (tmp_path / "in.csv").write_text(f"item,label\n{item},pos\n")
    res = runner.invoke(
        cli, ["label", "import", str(tmp_path / "p"), str(tmp_path / "in.csv")]
    )
    assert res.exit_code == 0 and "1 labels changed" in res.output
    res = runner.invoke(
        cli,
        ["label", "export", str(tmp_path / "p"), "--out", str(tmp_path / "out.csv")],
    )
    assert res.exit_code == 0
    assert (tmp_path / "out.csv").read_text().splitlines()[1] == f"{item},pos,1"


def test_label_init_takes_strategy_parameters_as_run_does(tmp_path, blobs_writer):
    # NAME:KEY=VALUE,... is stored as given and the session builds the strategy
    # with those parameters; a bad one is refused at init (exit 2, no project)
    blobs_writer(tmp_path / "t.csv")
    base = ["label", "init", "--table", str(tmp_path / "t.csv")]
    base += ["--classes", "neg,pos", "--model", "logreg", "--batch-size", "4"]
    runner = CliRunner()
    res = runner.invoke(
        cli, [*base[:2], str(tmp_path / "p"), *base[2:], "--strategy", "cbal:lam=0.25"]
    )
    assert res.exit_code == 0, res.output
    cfg = json.loads((tmp_path / "p" / "project.json").read_text())
    assert cfg["strategy"] == "cbal:lam=0.25"
    built = []
    real = labelwise.strategies.get_strategy

    def spy(name, **params):
        built.append((name, params))
        return real(name, **params)

    session = LabelSession(tmp_path / "p", background=False).start()
    with mock.patch("labelwise.strategies.get_strategy", spy):
        for n, row in enumerate(session.db.queue()[:4]):
            session.label(row["item"], ("neg", "pos")[n % 2])
        session.retrain_and_select()
    session.db.close()
    assert ("cbal", {"lam": 0.25}) in built
    res = runner.invoke(
        cli, [*base[:2], str(tmp_path / "q"), *base[2:], "--strategy", "cbal:lam=-1"]
    )
    assert res.exit_code == 2 and "lam" in res.output
    assert not (tmp_path / "q" / "project.json").exists()
