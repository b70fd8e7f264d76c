"""Text projects: ``label init --texts`` through the CLI, the session and the API."""

from __future__ import annotations

import csv
import pickle
from pathlib import Path

import numpy as np
import pytest
from fastapi.testclient import TestClient
from typer.testing import CliRunner

from labelwise.app import LabelSession, init_project
from labelwise.app.server import create_app
from labelwise.cli import app as cli
from labelwise.exceptions import InvalidParameterError
from labelwise.features import TextVectorizer

TOKEN = "s3cret"
SPORT = "match goal team player score league coach season win".split()
MONEY = "bank rate market stock price profit loan bond fund".split()
SCRIPT = "<script>alert('x')</script> & <b>bold</b> stays text"


def _truth(i: int) -> str:
    return "sport" if i % 2 else "money"


def write_texts(path: Path, n: int = 60, labeled: int = 6, seed: int = 0) -> list[str]:
    """``id,body,tag``: n texts from two vocabularies; the first ``labeled`` tagged."""
    rng = np.random.default_rng(seed)
    texts = []
    with open(path, "w", newline="", encoding="utf-8") as fh:
        w = csv.writer(fh)
        w.writerow(["id", "body", "tag"])
        for i in range(n):
            words = SPORT if i % 2 else MONEY
            text = " ".join(rng.choice(words, size=12))
            if i == 7:
                text = SCRIPT + " " + text + " " + "filler " * 80
            texts.append(text)
            w.writerow([i, text, _truth(i) if i < labeled else ""])
    return texts


def _init(runner: CliRunner, folder: Path, csv_path: Path, *extra: str):
    args = ["label", "init", str(folder), "--texts", str(csv_path)]
    return runner.invoke(cli, [*args, "--text-column", "body", *extra])


def test_label_init_texts_end_to_end_through_the_http_api(tmp_path):
    texts = write_texts(tmp_path / "t.csv")
    write_texts(tmp_path / "h.csv", n=30, labeled=30, seed=1)
    res = _init(
        CliRunner(),
        tmp_path / "p",
        tmp_path / "t.csv",
        "--label-column",
        "tag",
        "--holdout",
        str(tmp_path / "h.csv"),
        "--batch-size",
        "4",
    )
    assert res.exit_code == 0, res.output
    assert "texts" in res.output and "(money, sport)" in res.output
    assert "model logreg" in res.output  # the default model for texts
    session = LabelSession(tmp_path / "p", background=False).start()
    c = TestClient(create_app(session, TOKEN))
    c.headers["X-Labelwise-Token"] = TOKEN
    try:
        state = c.get("/api/state").json()
        assert state["labeled"] == 6 and state["classes"] == ["money", "sport"]
        # the six labeled rows trained the first model, which chose the batch
        batch = state["batch"]
        assert len(batch) == 4 and not {q["item"] for q in batch} & set(range(6))
        for q in batch:
            assert q["display"] == {"kind": "text", "text": texts[q["item"]]}
            assert q["guess"] == _truth(q["item"]) and q["score"] is not None
        assert state["curve"][0]["metric"] == "accuracy"
        assert state["curve"][0]["value"] > 0.9
        item = batch[0]["item"]
        r = c.post("/api/label", json={"item": item, "value": _truth(item)})
        assert r.json() == {"ok": True}
        assert c.get("/api/state").json()["labeled"] == 7
        # a text item has no image: a 4xx, not a 5xx
        assert c.get(f"/api/item/{item}/image").status_code == 404
        bad = c.post("/api/label", json={"item": batch[1]["item"], "value": "art"})
        assert bad.status_code == 400
    finally:
        session.db.close()


def test_text_markup_is_data_and_the_page_never_uses_inner_html_for_it(tmp_path):
    texts = write_texts(tmp_path / "t.csv")
    init_project(
        tmp_path / "p",
        texts=tmp_path / "t.csv",
        text_column="body",
        classes=["money", "sport"],
    )
    session = LabelSession(tmp_path / "p", background=False)
    assert session.display(7) == {"kind": "text", "text": texts[7]}
    assert SCRIPT in session.display(7)["text"]  # verbatim in the JSON
    session.db.close()
    page = (
        Path(__file__).resolve().parents[2] / "src/labelwise/app/page.html"
    ).read_text()
    block = page[page.index("function textBlock") : page.index("function labelButtons")]
    assert "innerHTML" not in block  # texts go in as text nodes (el() appends)


def test_first_batch_without_labels_is_the_seeded_random_draw(tmp_path):
    write_texts(tmp_path / "t.csv", labeled=0)
    cfg = init_project(
        tmp_path / "p",
        texts=tmp_path / "t.csv",
        text_column="body",
        classes=["money", "sport"],
        batch_size=5,
    )
    s = LabelSession(tmp_path / "p", background=False).start()
    first = [q["item"] for q in s.db.queue()]
    want = np.random.default_rng([cfg.seed, 0]).choice(60, size=5, replace=False)
    assert first == want.tolist() and s.db.n_labels() == 0
    s.db.close()


def test_vectorizer_and_model_pickles_classify_new_texts(tmp_path):
    write_texts(tmp_path / "t.csv", labeled=10)
    init_project(
        tmp_path / "p",
        texts=tmp_path / "t.csv",
        text_column="body",
        label_column="tag",
        vectorizer=TextVectorizer(method="hashing", max_features=256),
    )
    s = LabelSession(tmp_path / "p", background=False).start()
    assert s.X.shape == (60, 256)
    s.db.close()
    with open(tmp_path / "p" / "vectorizer.pkl", "rb") as fh:
        vec = pickle.load(fh)
    with open(tmp_path / "p" / "model.pkl", "rb") as fh:
        model = pickle.load(fh)
    x = vec.transform(["goal team league coach", "bank loan profit"])
    assert model.predict_proba(x).argmax(1).tolist() == [1, 0]  # sport, money


def test_lsa_option_from_the_command_line(tmp_path):
    write_texts(tmp_path / "t.csv")
    res = _init(
        CliRunner(),
        tmp_path / "p",
        tmp_path / "t.csv",
        "--label-column",
        "tag",
        "--lsa",
        "8",
        "--strategy",
        "coreset",
    )
    assert res.exit_code == 0, res.output
    x = np.load(tmp_path / "p" / "features.npy")
    assert x.shape == (60, 8) and x.dtype == np.float32


def test_empty_texts_are_refused_or_dropped(tmp_path):
    path = tmp_path / "t.csv"
    path.write_text("body,tag\nfine text,a\n   ,b\nmore words,\n,\nlast one here,\n")
    runner = CliRunner()
    res = _init(runner, tmp_path / "p", path, "--label-column", "tag")
    assert res.exit_code == 2
    assert "2 row(s) have an empty 'body' (CSV lines 3, 5)" in res.output
    assert "--missing drop" in res.output
    res = _init(runner, tmp_path / "q", path, "--classes", "a,b", "--missing", "drop")
    assert res.exit_code == 0, res.output
    assert len(np.load(tmp_path / "q" / "features.npy")) == 3
    res = _init(runner, tmp_path / "r", path, "--classes", "a,b", "--missing", "mean")
    assert res.exit_code == 2 and "takes refuse or drop" in res.output


@pytest.mark.parametrize(
    ("content", "extra", "match"),
    [
        (
            b"id,text,label\n1,hello there,a\n2,more words,\n",
            ("--classes", "a,b"),
            "'body' is not a column of t.csv; its columns are 'id', 'text', 'label'",
        ),
        (
            b"body,tag\nhello there,a\nmore words,\n",
            ("--label-column", "kind"),
            "--label-column 'kind' is not a column of t.csv; its columns are 'body', "
            "'tag'",
        ),
        (
            "body\ncaf\u00e9 au lait\nsecond text\n".encode("latin-1"),
            ("--classes", "a,b"),
            "t.csv is not UTF-8: the byte b'\\xe9' at offset 8",
        ),
        (b"", ("--classes", "a,b"), "t.csv is empty"),
        (
            b"body,tag\nhello there,a\nmore words,a\nthird text,\n",
            ("--label-column", "tag"),
            "1 distinct label",
        ),
        (
            b"body,tag\nhello there,a\nmore words,b\n",
            ("--label-column", "tag"),
            "Every row already has a label",
        ),
        (
            b"body,tag\nhello there,a\nmore words,c\nthird,\n",
            ("--label-column", "tag", "--classes", "a,b"),
            "CSV line 3: the label 'c' is not among the classes",
        ),
        (
            b"body\nhello there\nmore words\n",
            ("--target", "numeric"),
            "Text projects classify",
        ),
        (
            b"body\nhello there\nmore words\n",
            ("--classes", "a,b", "--vectorizer", "bert"),
            "method must be one of tfidf, hashing",
        ),
        (b"body\nonly one\n", ("--classes", "a,b"), "has 1 row(s) with a text"),
    ],
)
def test_bad_text_csvs_get_clear_errors(tmp_path, content, extra, match):
    (tmp_path / "t.csv").write_bytes(content)
    res = _init(CliRunner(), tmp_path / "p", tmp_path / "t.csv", *extra)
    assert res.exit_code == 2, res.output
    assert match in " ".join(res.output.split()), res.output
    assert not (tmp_path / "p" / "project.json").exists()


def test_texts_must_be_a_csv_and_one_source_only(tmp_path):
    (tmp_path / "t.txt").write_text("body\nhello\nworld\n")
    with pytest.raises(InvalidParameterError, match=r"takes a \.csv file"):
        init_project(tmp_path / "p", texts=tmp_path / "t.txt", classes=["a", "b"])
    with pytest.raises(InvalidParameterError, match="exactly one of"):
        init_project(
            tmp_path / "p",
            texts=tmp_path / "t.txt",
            dataset="digits",
            classes=["a", "b"],
        )


def test_a_text_dataset_shows_text_cards(tmp_path, monkeypatch):
    """``--dataset reuters-corn`` (faked here: no download) shows its texts."""
    import labelwise.datasets as ds

    docs = [
        f"corn harvest story {i}" if i % 3 == 0 else f"bank note {i}" for i in range(30)
    ]
    x = TextVectorizer().fit_transform(docs)
    y = np.array([int(i % 3 == 0) for i in range(30)])
    fake = ds.Dataset(
        "reuters-corn",
        x[:20],
        y[:20],
        x[20:],
        y[20:],
        ["other", "corn"],
        texts_train=docs[:20],
        texts_test=docs[20:],
    )
    monkeypatch.setattr(ds, "load", lambda *a, **k: fake)
    cfg = init_project(tmp_path / "p", dataset="reuters-corn", batch_size=3)
    assert cfg.model == "logreg" and cfg.classes == ["other", "corn"]
    s = LabelSession(tmp_path / "p", background=False).start()
    item = s.db.queue()[0]["item"]
    assert s.display(item) == {"kind": "text", "text": docs[item]}
    s.db.close()


def test_text_options_without_texts_are_refused_not_ignored(tmp_path):
    runner = CliRunner()
    base = ["label", "init", str(tmp_path / "p"), "--dataset", "digits"]
    for extra, named in (
        (["--text-column", "body"], "--text-column"),
        (["--label-column", "tag"], "--label-column"),
        (["--vectorizer", "hashing"], "--vectorizer"),
        (["--lsa", "20"], "--lsa"),
    ):
        res = runner.invoke(cli, [*base, *extra])
        assert res.exit_code == 2, res.output
        assert named in res.output and "go with --texts" in res.output
        assert not (tmp_path / "p").exists()
    with pytest.raises(InvalidParameterError, match="go with --texts"):
        init_project(tmp_path / "p", dataset="digits", label_column="tag")
