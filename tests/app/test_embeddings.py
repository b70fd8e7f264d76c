"""Labeling projects whose model learns from precomputed embeddings."""

from __future__ import annotations

import pickle

import numpy as np
import pandas as pd
import pytest
from fastapi.testclient import TestClient
from typer.testing import CliRunner

from labelwise import InvalidParameterError, LabelwiseWarning, SklearnClassifier
from labelwise.app import LabelSession, init_project, load_config
from labelwise.app.server import create_app
from labelwise.cli import app as cli
from labelwise.models import EmbeddingClassifier

TOKEN = "t0ken"
N = 40


def noise_images(tmp_path):
    """40 images of the same noise for both classes: pixels cannot tell them apart.

    Item ``i`` (files sort as img00..img39) is ``even`` or ``odd`` by ``i``.
    """
    from PIL import Image

    rng = np.random.default_rng(0)
    folder = tmp_path / "imgs"
    folder.mkdir()
    for i in range(N):
        arr = rng.integers(0, 256, (16, 16)).astype(np.uint8)
        Image.fromarray(arr).save(folder / f"img{i:02d}.png")
    truth = np.asarray(["even", "odd"] * (N // 2))
    return folder, truth


def separable_embeddings(truth, d=8, seed=1):
    """Small-scale vectors (as CLIP's) whose first dimension carries the class."""
    rng = np.random.default_rng(seed)
    e = 0.05 * rng.normal(size=(len(truth), d))
    e[:, 0] += np.where(truth == "odd", 0.3, -0.3)
    return e.astype(np.float32)


def test_embeddings_project_end_to_end_over_http(tmp_path):
    folder, truth = noise_images(tmp_path)
    emb = separable_embeddings(truth)
    np.save(tmp_path / "emb.npy", emb)
    proj = tmp_path / "proj"
    res = CliRunner().invoke(
        cli,
        ["label", "init", str(proj), "--images", str(folder), "--classes",
         "even,odd", "--strategy", "badge", "--batch-size", "6",
         "--embeddings", str(tmp_path / "emb.npy")],
    )  # fmt: skip
    assert res.exit_code == 0, res.output
    assert "model embedding-head" in res.output
    assert "learns from the embeddings" in res.output
    cfg = load_config(proj)
    assert cfg.embeddings == str((tmp_path / "emb.npy").resolve())
    assert np.array_equal(np.load(proj / "embeddings.npy"), emb)
    assert np.load(proj / "features.npy").shape == (N, 32 * 32)  # the page's pixels

    session = LabelSession(proj, background=False, device="cpu").start()
    c = TestClient(create_app(session, TOKEN))
    c.headers["X-Labelwise-Token"] = TOKEN
    first = [q["item"] for q in c.get("/api/state").json()["batch"]]
    r = c.get(f"/api/item/{first[0]}/image")  # the page still shows the image
    assert r.status_code == 200 and r.headers["content-type"] == "image/png"
    assert r.content == (folder / f"img{first[0]:02d}.png").read_bytes()
    for item in first:
        assert c.post(
            "/api/label", json={"item": item, "value": truth[item]}
        ).is_success
    state = c.get("/api/state").json()
    assert state["model_version"] == 1 and state["model"] == "embedding-head"
    nxt = state["batch"]
    assert len(nxt) == 6 and not {q["item"] for q in nxt} & set(first)
    # the model learned from the embeddings: every guess is right
    assert [q["guess"] for q in nxt] == [truth[q["item"]] for q in nxt]
    model = pickle.loads(c.get("/api/model.pkl").content)
    assert isinstance(model, EmbeddingClassifier)
    assert model.members_[0].head.in_features == emb.shape[1]
    assert np.array_equal(model.predict_proba(emb).argmax(1), truth == "odd")
    # while the pixels of the same labeled items do not separate the rest
    pixels = np.load(proj / "features.npy")
    rest = np.setdiff1d(np.arange(N), first)
    by_pixels = SklearnClassifier().fit(
        pixels[first], truth[first] == "odd", n_classes=2, rng=0
    )
    assert (
        np.mean(
            by_pixels.predict_proba(pixels[rest]).argmax(1) == (truth[rest] == "odd")
        )
        < 0.7
    )
    session.close()
    # a restart learns from the stored embeddings again
    again = LabelSession(proj, background=False, device="cpu")
    assert again.X_model.shape == emb.shape
    again.retrain_and_select()
    model = pickle.loads((proj / "model.pkl").read_bytes())
    assert model.members_[0].head.in_features == emb.shape[1]
    again.close()


def test_dataset_project_keeps_its_images_and_needs_holdout_embeddings(tmp_path):
    from labelwise.datasets import load

    d = load("digits", pool_size=60, test_size=1000)
    n_test = len(d.y_test)
    rng = np.random.default_rng(0)
    np.save(tmp_path / "e.npy", rng.normal(size=(60, 5)))
    np.save(tmp_path / "h.npy", rng.normal(size=(n_test, 5)))
    with pytest.warns(LabelwiseWarning, match="hold-out is left out"):
        init_project(tmp_path / "a", dataset="digits", pool_size=60,
                     embeddings=tmp_path / "e.npy")  # fmt: skip
    assert not (tmp_path / "a" / "holdout_X.npy").exists()
    session = LabelSession(tmp_path / "a", background=False, device="cpu")
    img, kind = session.image_bytes(0)  # drawn from the 8 x 8 pixels, not the vectors
    assert kind == "image/png" and img.startswith(b"\x89PNG")
    assert session.X.shape == (60, 64) and session.X_model.shape == (60, 5)
    session.close()
    init_project(tmp_path / "b", dataset="digits", pool_size=60,
                 embeddings=tmp_path / "e.npy", holdout_embeddings=tmp_path / "h.npy")  # fmt: skip
    assert np.load(tmp_path / "b" / "holdout_X.npy").shape == (n_test, 5)
    np.save(tmp_path / "h4.npy", rng.normal(size=(n_test, 4)))
    with pytest.raises(InvalidParameterError, match="4 dimensions, --embeddings 5"):
        init_project(tmp_path / "c", dataset="digits", pool_size=60,
                     embeddings=tmp_path / "e.npy", holdout_embeddings=tmp_path / "h4.npy")  # fmt: skip
    with pytest.raises(
        InvalidParameterError, match=f"have 60 rows, but there are {n_test}"
    ):
        init_project(tmp_path / "c", dataset="digits", pool_size=60,
                     embeddings=tmp_path / "e.npy", holdout_embeddings=tmp_path / "e.npy")  # fmt: skip


def test_table_with_a_numeric_target_and_parquet_embeddings(tmp_path):
    rng = np.random.default_rng(0)
    pd.DataFrame(
        {"name": [f"r{i}" for i in range(30)], "size": rng.normal(size=30)}
    ).to_csv(tmp_path / "t.csv", index=False)
    target = rng.normal(size=30)
    pd.DataFrame(
        {"id": range(30), "vec": list(np.c_[target, rng.normal(size=(30, 3))])}
    ).to_parquet(tmp_path / "e.parquet")
    cfg = init_project(tmp_path / "p", table=tmp_path / "t.csv", target="numeric",
                       batch_size=4, embeddings=tmp_path / "e.parquet")  # fmt: skip
    assert cfg.model == "embedding-regressor" and cfg.strategy == "lcmd"
    session = LabelSession(tmp_path / "p", background=False, device="cpu").start()
    for q in session.db.queue():
        session.label(q["item"], float(target[q["item"]]))
    assert session.db.model_version() == 1 and session.last_error is None
    assert len(session.db.queue()) == 4
    assert session.display(0)["row"]["name"] == "r0"  # the page shows the table row
    session.close()


def test_a_table_without_numeric_columns_is_enough_with_embeddings(tmp_path):
    # item ids and captions beside embeddings: init refused the table for
    # having "no numeric columns to learn from" though the model learns from
    # the embeddings
    truth = np.asarray(["even", "odd"] * (N // 2))
    pd.DataFrame(
        {"id": [f"item-{i}" for i in range(N)], "caption": ["a photo"] * N}
    ).to_csv(tmp_path / "t.csv", index=False)
    pd.DataFrame({"caption": ["a photo"] * 6, "label": truth[:6]}).to_csv(
        tmp_path / "h.csv", index=False
    )
    emb = separable_embeddings(truth)
    np.save(tmp_path / "e.npy", emb)
    np.save(tmp_path / "he.npy", emb[:6])
    init_project(tmp_path / "p", table=tmp_path / "t.csv", classes=["even", "odd"],
                 batch_size=4, embeddings=tmp_path / "e.npy",
                 holdout=tmp_path / "h.csv", holdout_embeddings=tmp_path / "he.npy")  # fmt: skip
    session = LabelSession(tmp_path / "p", background=False, device="cpu").start()
    assert session.display(3)["row"] == {"id": "item-3", "caption": "a photo"}
    for q in session.db.queue():
        session.label(q["item"], str(truth[q["item"]]))
    assert session.db.model_version() == 1 and session.last_error is None
    guesses = [q["guess"] for q in session.db.queue()]
    assert guesses == [truth[q["item"]] for q in session.db.queue()]
    session.close()
    with pytest.raises(InvalidParameterError, match="numeric columns, or --embeddings"):
        init_project(tmp_path / "q", table=tmp_path / "t.csv", classes=["even", "odd"])


@pytest.mark.parametrize(
    ("extra", "match"),
    [
        (["--embeddings", "{short}"], "have 39 rows, but there are 40 items"),
        (["--holdout-embeddings", "{ok}"], "go with --embeddings"),
        (["--embeddings", "{ok}", "--holdout-embeddings", "{ok}"], "needs a hold-out"),
        (["--embeddings", "{ok}", "--embedding-column", "vec"], "applies to Parquet"),
        (["--embeddings", "{bad}"], "NaN or infinite values in 1 row"),
    ],
)
def test_init_errors_exit_2_and_write_nothing(tmp_path, extra, match):
    folder, truth = noise_images(tmp_path)
    emb = separable_embeddings(truth)
    files = {
        "ok": tmp_path / "ok.npy",
        "short": tmp_path / "s.npy",
        "bad": tmp_path / "b.npy",
    }
    np.save(files["ok"], emb)
    np.save(files["short"], emb[:-1])
    emb[3, 2] = np.nan
    np.save(files["bad"], emb)
    args = [a.format(**{k: str(v) for k, v in files.items()}) for a in extra]
    res = CliRunner().invoke(
        cli,
        ["label", "init", str(tmp_path / "p"), "--images", str(folder),
         "--classes", "even,odd", *args],
    )  # fmt: skip
    assert res.exit_code == 2, res.output
    assert match in " ".join(res.output.split())
    assert not (tmp_path / "p" / "project.json").exists()
