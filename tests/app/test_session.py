"""The labeling engine: first batch, retraining, stale marks, stop, resume."""

from __future__ import annotations

import time

import numpy as np
import pytest

from labelwise import InvalidParameterError
from labelwise.app import LabelSession, init_project, load_config


def _label_open(session, truth, n=None):
    for q in session.db.queue()[:n]:
        session.label(q["item"], truth[q["item"]])


def test_first_batch_is_seeded_random_then_the_strategy_takes_over(blobs_project):
    folder, truth = blobs_project
    s = LabelSession(folder, background=False).start()
    first = [q["item"] for q in s.db.queue()]
    assert len(first) == 5 and all(q["score"] is None for q in s.db.queue())
    again = LabelSession(folder, background=False)
    assert [q["item"] for q in again.db.queue()] == first  # same seed, stored
    _label_open(s, truth)
    # the batch is done: retrained synchronously and the next batch queued
    assert s.db.model_version() == 1
    import pickle

    with open(folder / "model.pkl", "rb") as fh:  # the trained model, usable
        model = pickle.load(fh)
    assert model.predict_proba(s.X[:3]).shape == (3, 2)
    nxt = s.db.queue()
    assert len(nxt) == 5 and not set(q["item"] for q in nxt) & set(first)
    assert all(q["score"] is not None and q["guess"] in ("neg", "pos") for q in nxt)
    snap = s.snapshot()
    assert snap["curve"][0]["metric"] == "accuracy" and snap["curve"][0]["value"] > 0.8
    assert snap["batch"][0]["display"] == {
        "kind": "row",
        "row": snap["batch"][0]["display"]["row"],
    }
    assert set(snap["batch"][0]["display"]["row"]) == {"a", "b", "name"}


def test_mid_batch_retrain_tops_up_the_queue_and_marks_stale(tmp_path, blobs_writer):
    truth = blobs_writer(tmp_path / "t.csv")
    folder = tmp_path / "p"
    init_project(
        folder,
        table=tmp_path / "t.csv",
        classes=["neg", "pos"],
        model="logreg",
        batch_size=6,
        retrain_every=2,
    )
    s = LabelSession(folder, background=False).start()
    _label_open(s, truth, 2)  # 2 labels: retrain, top the queue up to 6
    snap = s.snapshot()
    assert snap["model_version"] == 1 and len(snap["batch"]) == 6
    stale = [q["stale"] for q in snap["batch"]]
    assert stale == [True] * 4 + [False] * 2  # the first batch came from "model 0"


def test_labels_are_checked_and_bad_ones_change_nothing(blobs_project):
    folder, _ = blobs_project
    s = LabelSession(folder, background=False).start()
    item = s.db.queue()[0]["item"]
    with pytest.raises(InvalidParameterError, match="Unknown class 'cat'"):
        s.label(item, "cat")
    with pytest.raises(InvalidParameterError, match="out of range"):
        s.label(10_000, "neg")
    with pytest.raises(InvalidParameterError, match="integer"):
        s.skip("../etc/passwd")
    assert s.db.labels() == {} and s.db.events() == []
    with pytest.raises(InvalidParameterError, match="line 3"):
        s.import_csv(f"item,label\n{item},neg\n{item},dog\n")
    assert s.db.labels() == {}  # all rows valid or none set


def test_budget_stops_and_background_retraining_does_not_block(blobs_project):
    folder, truth = blobs_project
    s = LabelSession(folder).start()  # background thread
    try:
        for _ in range(4):
            deadline = time.time() + 30
            while not s.db.queue() and time.time() < deadline:
                time.sleep(0.05)
            _label_open(s, truth)
        deadline = time.time() + 30
        while s.training and time.time() < deadline:
            time.sleep(0.05)
        assert s.db.n_labels() == 20 and s.last_error is None
        assert any("budget reached (20 of 20" in r for r in s.stop_reasons())
    finally:
        s.close()


def test_restart_resumes_queue_and_labels(blobs_project):
    folder, truth = blobs_project
    s = LabelSession(folder, background=False).start()
    _label_open(s, truth, 3)
    queue, labels = s.db.queue(), s.db.labels()
    s.db.close()
    t = LabelSession(folder, background=False).start()  # retrains: has labels
    assert t.db.labels() == labels
    assert [q["item"] for q in t.db.queue()][: len(queue)] == [q["item"] for q in queue]
    assert t.db.model_version() == 1


def test_numeric_target_and_image_folder_projects(tmp_path):
    from PIL import Image

    imgs = tmp_path / "imgs"
    (imgs / "sub").mkdir(parents=True)
    rng = np.random.default_rng(0)
    for i in range(12):
        arr = (rng.random((8, 8)) * 255).astype(np.uint8)
        Image.fromarray(arr).save(imgs / ("sub" if i % 2 else ".") / f"{i}.png")
    (imgs / "notes.txt").write_text("not an image")
    init_project(
        tmp_path / "p",
        images=imgs,
        target="numeric",
        model="ridge",
        strategy="random",
        batch_size=3,
    )
    cfg = load_config(tmp_path / "p")
    assert cfg.regression and cfg.kind == "images"
    s = LabelSession(tmp_path / "p", background=False).start()
    item = s.db.queue()[0]["item"]
    data, media = s.image_bytes(item)
    assert media == "image/png" and data[:4] == b"\x89PNG"
    with pytest.raises(InvalidParameterError, match="numeric target"):
        s.label(item, "big")
    for q in s.db.queue():
        s.label(q["item"], 1.5)
    assert s.db.labels()[item] == "1.5" and s.db.model_version() == 1
    with pytest.raises(InvalidParameterError, match="already holds"):
        init_project(tmp_path / "p", images=imgs, target="numeric")
    with pytest.raises(InvalidParameterError, match="exactly one"):
        init_project(
            tmp_path / "q", images=imgs, table=tmp_path / "x.csv", target="numeric"
        )
    with pytest.raises(InvalidParameterError, match="either --classes"):
        init_project(tmp_path / "q", images=imgs)


def test_parquet_tables_work_like_csv(tmp_path, blobs_writer):
    import pandas as pd

    blobs_writer(tmp_path / "t.csv")
    pd.read_csv(tmp_path / "t.csv").to_parquet(tmp_path / "t.parquet")
    init_project(tmp_path / "p", table=tmp_path / "t.parquet", classes=["neg", "pos"],
                 model="logreg", batch_size=3)  # fmt: skip
    s = LabelSession(tmp_path / "p", background=False).start()
    row = s.snapshot()["batch"][0]["display"]["row"]
    assert set(row) == {"a", "b", "name"} and s.X.shape == (200, 2)
    with pytest.raises(InvalidParameterError, match=r"\.csv or \.parquet"):
        init_project(tmp_path / "q", table=tmp_path / "t.txt", classes=["neg", "pos"])
