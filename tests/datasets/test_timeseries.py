import dataclasses
import zipfile
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

import labelwise.datasets as ds
from labelwise.cli import app
from labelwise.datasets import _fetch, registry
from labelwise.datasets._fetch import PypiSource, sha256_file
from labelwise.datasets.parsers import content_hash
from labelwise.datasets.timeseries import (
    WATCH_STRIDE,
    WATCH_WINDOW,
    parse_ts,
    parse_ts_pair,
    parse_watch,
    read_ts,
    sliding_windows,
)
from labelwise.exceptions import (
    ChecksumError,
    DatasetUnavailableError,
    InvalidParameterError,
)

EQUAL = """# a comment
@problemName Toy
@timeStamps false
@univariate false
@dimensions 2
@equalLength true
@seriesLength 3
@classLabel true up down

@data
1.0,2.0,3.0:10,20,30:down
-1,-2,-3.5:0.5,0.25,0:up
"""


def test_equal_length_multivariate():
    ts = parse_ts(EQUAL)
    assert ts.name == "Toy" and ts.classes == ["up", "down"]
    assert ts.X.dtype == np.float32 and ts.X.shape == (2, 3, 2)
    assert ts.y.tolist() == [1, 0] and ts.y.dtype == np.int64
    assert ts.X[0, :, 0].tolist() == [1, 2, 3] and ts.X[0, :, 1].tolist() == [
        10,
        20,
        30,
    ]
    assert ts.X[1, :, 0].tolist() == [-1, -2, -3.5]
    assert not np.isnan(ts.X).any()


def test_variable_length_is_nan_padded_at_the_end():
    text = (
        "@PROBLEMNAME v\n@equalLength false\n@classlabel TRUE a b c\n@DATA\n"
        "1,2:3,4:c\n5,6,7,8:9,10,11,12:a\n0:1:b\n"
    )
    ts = parse_ts(text)
    assert ts.X.shape == (3, 4, 2) and ts.y.tolist() == [2, 0, 1]
    pad = np.isnan(ts.X).all(axis=2)
    assert pad.tolist() == [
        [False, False, True, True],
        [False, False, False, False],
        [False, True, True, True],
    ]
    assert ts.X[1, :, 1].tolist() == [9, 10, 11, 12]
    # padding is exactly the all-NaN steps: no partial NaN anywhere here
    assert np.array_equal(np.isnan(ts.X).any(axis=2), pad)


def test_missing_values_and_unequal_channels():
    # '?' is a missing value: NaN in one channel while the other has a value
    text = "@classLabel true x y\n@data\n1,?,3:4,5,6:x\n1,2,3:4:y\n"
    ts = parse_ts(text)
    assert np.isnan(ts.X[0, 1, 0]) and ts.X[0, 1, 1] == 5
    assert not np.isnan(ts.X[0]).all(axis=1).any()  # no step of case 0 is padding
    # a shorter channel of one case is NaN-padded on its own
    assert ts.X[1, :, 1].tolist()[0] == 4 and np.isnan(ts.X[1, 1:, 1]).all()
    assert ts.X[1, :, 0].tolist() == [1, 2, 3]


def test_univariate_and_read_from_file(tmp_path):
    text = "@univariate true\n@classLabel true 1 2\n@data\n0.5,1.5,2.5:2\n3,4,5:1\n"
    path = tmp_path / "u.ts"
    path.write_text(text)
    ts = read_ts(path)
    assert ts.X.shape == (2, 3, 1) and ts.y.tolist() == [1, 0]
    assert ts.X[:, :, 0].tolist() == [[0.5, 1.5, 2.5], [3, 4, 5]]


@pytest.mark.parametrize(
    ("text", "match"),
    [
        ("@classLabel true a\n1,2:a\n", "before @data"),
        ("@classLabel true a\n", "no @data"),
        ("@classLabel false\n@data\n1,2\n", "@classLabel true"),
        ("@data\n1,2:a\n", "@classLabel true"),
        ("@classLabel true a b\n@data\n1,2:c\n", "line 3: class label 'c'"),
        ("@timeStamps true\n@classLabel true a\n@data\n(0,1):a\n", "timeStamps"),
        ("@classLabel true a\n@data\n1,2:3,4:a\n1,2:a\n", "same number"),
        ("@dimensions 3\n@classLabel true a\n@data\n1,2:3,4:a\n", "@dimensions 3"),
        ("@univariate true\n@classLabel true a\n@data\n1:2:a\n", "@dimensions 1"),
        ("@classLabel true a\n@data\n1,x,3:a\n", "not a number"),
        # these three were parsed into (1, 0, 1) and (0, 0, 1) arrays, and a
        # ValueError of int()
        ("@classLabel true a\n@data\n1:a\n:a\n", "line 4: the case has no values"),
        ("@classLabel true a\n@data\n", "no cases after @data"),
        (
            "@dimensions two\n@classLabel true a\n@data\n1:a\n",
            "whole number; got 'two'",
        ),
    ],
)
def test_malformed_files_say_what_is_wrong(text, match):
    with pytest.raises(InvalidParameterError, match=match):
        parse_ts(text, source="f.ts")


def _loop_windows(series, length, stride):
    out = []
    start = 0
    while start + length <= len(series):
        out.append(series[start : start + length])
        start += stride
    return np.array(out).reshape(-1, length, series.shape[1])


@settings(max_examples=40, deadline=None)
@given(
    steps=st.integers(0, 30),
    channels=st.integers(1, 3),
    length=st.integers(1, 8),
    stride=st.integers(1, 8),
)
def test_sliding_windows_match_a_loop(steps, channels, length, stride):
    series = np.arange(steps * channels, dtype=np.float32).reshape(steps, channels)
    got = sliding_windows(series, length, stride)
    want = _loop_windows(series, length, stride)
    assert got.shape == want.shape and np.array_equal(got, want)


def test_sliding_windows_reject_bad_arguments():
    with pytest.raises(InvalidParameterError, match="length must be a positive int"):
        sliding_windows(np.zeros((5, 2)), 0, 1)
    with pytest.raises(InvalidParameterError, match="stride"):
        sliding_windows(np.zeros((5, 2)), 2, True)
    with pytest.raises(InvalidParameterError, match=r"shape \(5,\)"):
        sliding_windows(np.zeros(5), 2, 1)


def _ts(rows: list[str], classes="a b") -> str:
    return f"@classLabel true {classes}\n@data\n" + "\n".join(rows) + "\n"


def test_pair_keeps_the_split_and_pads_to_the_longer_part(tmp_path):
    (tmp_path / "P_TRAIN.ts").write_text(_ts(["1,2:3,4:a", "5:6:b"]))
    (tmp_path / "P_TEST.ts").write_text(_ts(["1,2,3:4,5,6:b"]))
    files = {f"pkg/P/P_{p}.ts": tmp_path / f"P_{p}.ts" for p in ("TRAIN", "TEST")}
    xtr, ytr, xte, yte = parse_ts_pair(files)
    assert xtr.shape == (2, 3, 2) and xte.shape == (1, 3, 2)
    assert ytr.tolist() == [0, 1] and yte.tolist() == [1]
    assert np.isnan(xtr[0, 2]).all() and np.isnan(xtr[1, 1:]).all()
    (tmp_path / "P_TEST.ts").write_text(_ts(["1:2:b"], classes="b a"))
    with pytest.raises(InvalidParameterError, match="declares classes"):
        parse_ts_pair(files)
    with pytest.raises(InvalidParameterError, match=r"_TRAIN\.ts and a"):
        parse_ts_pair({"P_TRAIN.ts": tmp_path / "P_TRAIN.ts"})


def test_watch_windows_split_by_participant(tmp_path):
    rng = np.random.default_rng(0)
    lengths = [250, 130, 99, 300]
    data = {
        "X": [rng.normal(size=(n, 6)) for n in lengths],
        "y": np.array([3, 0, 1, 6]),
        "subject": np.array([1, 9, 2, 10]),
        "side": np.array([0, 1, 0, 1]),
    }
    path = tmp_path / "watch_dataset.npy"
    np.save(path, np.array(data, dtype=object), allow_pickle=True)
    xtr, ytr, xte, yte = parse_watch({"seglearn/data/watch_dataset.npy": path})

    def count(n):
        return max(0, (n - WATCH_WINDOW) // WATCH_STRIDE + 1)

    assert xtr.shape == (count(250) + count(99), WATCH_WINDOW, 6)
    assert xte.shape == (count(130) + count(300), WATCH_WINDOW, 6)
    assert ytr.tolist() == [3] * count(250)  # the 99-step recording yields none
    assert yte.tolist() == [0] * count(130) + [6] * count(300)
    assert xtr.dtype == np.float32
    np.testing.assert_allclose(xtr[1], data["X"][0][WATCH_STRIDE:][:WATCH_WINDOW], 1e-6)


TOY = {
    "TRAIN": _ts(["1,2,3:4,5,6:a", "2,3:5,6:b", "0,1,2:1,1,1:a"]),
    "TEST": _ts(["3,2,1:6,5,4:b"]),
}


@pytest.fixture
def toy_basic_motions(tmp_path, monkeypatch):
    """``basic-motions`` served by a fake ``pip download`` of a toy wheel."""
    wheel = tmp_path / "toy.whl"
    files = {}
    with zipfile.ZipFile(wheel, "w") as zf:
        for part, text in TOY.items():
            member = f"aeon/datasets/data/BasicMotions/BasicMotions_{part}.ts"
            zf.writestr(member, text)
            files[member] = tmp_path / f"{part}.ts"
            files[member].write_text(text)

    def fake_run(cmd, **kw):
        target = Path(cmd[cmd.index("-d") + 1])
        (target / "aeon-1.6.0-py3-none-any.whl").write_bytes(wheel.read_bytes())
        return _fetch.subprocess.CompletedProcess(cmd, 0, "", "")

    monkeypatch.setattr(_fetch.subprocess, "run", fake_run)
    real = registry._SPECS["basic-motions"]
    source = dataclasses.replace(real.sources[0], sha256=sha256_file(wheel))
    assert set(source.members) == set(files)
    spec = dataclasses.replace(
        real,
        sources=(source,),
        content_sha256=content_hash(parse_ts_pair(files)),
        classes=("a", "b"),
    )
    monkeypatch.setitem(registry._SPECS, "basic-motions", spec)
    return spec


def test_sequence_dataset_fetched_cached_and_standardised(toy_basic_motions, tmp_path):
    root = tmp_path / "cache"
    d = ds.load("basic-motions", root=root)
    assert d.X_train.shape == (3, 3, 2) and d.X_test.shape == (1, 3, 2)
    assert d.X_train.dtype == np.float32 and d.classes == ["a", "b"]
    # padding stays NaN; each channel standardised over items and steps
    assert np.isnan(d.X_train[1, 2]).all() and not np.isnan(d.X_train[0]).any()
    np.testing.assert_allclose(np.nanmean(d.X_train, axis=(0, 1)), 0, atol=1e-6)
    np.testing.assert_allclose(np.nanstd(d.X_train, axis=(0, 1)), 1, atol=1e-5)
    assert {p.name for p in (root / "basic-motions").iterdir()} == {"raw.npz", ".lock"}
    # the cache is read back (and its content hash checked) without fetching
    assert ds.fetch_raw("basic-motions", root=root)[0].shape == (3, 3, 2)


def test_wheel_checksum_mismatch_is_refused(toy_basic_motions, tmp_path, monkeypatch):
    bad = dataclasses.replace(toy_basic_motions.sources[0], sha256="0" * 64)
    spec = dataclasses.replace(toy_basic_motions, sources=(bad,))
    monkeypatch.setitem(registry._SPECS, "basic-motions", spec)
    with pytest.raises(DatasetUnavailableError, match="does not match the pinned"):
        ds.fetch_raw("basic-motions", root=tmp_path / "c")
    with pytest.raises(ChecksumError, match="does not match the pinned"):
        bad.fetch(tmp_path)


def test_content_checksum_mismatch_is_refused(toy_basic_motions, tmp_path, monkeypatch):
    spec = dataclasses.replace(toy_basic_motions, content_sha256="1" * 64)
    monkeypatch.setitem(registry._SPECS, "basic-motions", spec)
    with pytest.raises(ChecksumError, match="content SHA-256"):
        ds.fetch_raw("basic-motions", root=tmp_path / "c")
    assert not (tmp_path / "c" / "basic-motions" / "raw.npz").exists()


def test_the_wrappers_refuse_sequences():
    for name in ("basic-motions:noisy-blank", "watch-exercises:imbalanced"):
        with pytest.raises(InvalidParameterError, match="holds sequences"):
            ds.check_name(name)
    with pytest.raises(InvalidParameterError, match="holds sequences"):
        ds.load("gun-point:noisy-class:0.4")


def test_listing_shows_shapes_and_classes():
    res = CliRunner().invoke(app, ["datasets"])
    assert res.exit_code == 0
    lines = {ln.split("\t")[0]: ln for ln in res.output.splitlines()}
    assert lines["basic-motions"].endswith(
        "sequences (n, T, C): train (40, 100, 6), test (40, 100, 6); 4 classes: "
        "Standing, Running, Walking, Badminton"
    )
    assert (
        "train (270, <=29, 12), test (370, <=29, 12); 9 classes"
        in lines["japanese-vowels"]
    )
    assert (
        "train (3675, 100, 6), test (1002, 100, 6); 7 classes"
        in lines["watch-exercises"]
    )
    for name in ("italy-power-demand", "gun-point", "arrow-head"):
        assert "sequences (n, T, C)" in lines[name]
    assert lines["digits"].endswith("10 classes")


def test_every_sequence_source_is_a_pinned_wheel():
    for name, spec in registry._SPECS.items():
        if spec.sequence is None:
            continue
        assert spec.sources and all(isinstance(s, PypiSource) for s in spec.sources)
        assert all(len(s.sha256) == 64 for s in spec.sources), name
        assert len(spec.content_sha256) == 64


def test_real_registry_fetch_basic_motions(tmp_path):
    """Fetches the pinned aeon wheel from PyPI (CI reaches it)."""
    d = ds.load("basic-motions", root=tmp_path)
    shape = registry._SPECS["basic-motions"].sequence
    assert shape is not None
    assert d.X_train.shape == (shape.n_train, shape.steps, shape.channels)
    assert d.X_test.shape == (shape.n_test, shape.steps, shape.channels)
    assert np.bincount(d.y_train).tolist() == [10, 10, 10, 10]
    assert not np.isnan(d.X_train).any()


@pytest.mark.parametrize("net", ["lstm", "tcn", "transformer"])
def test_loaded_padded_sequences_feed_the_sequence_networks(
    toy_basic_motions, tmp_path, net
):
    """The loader's NaN padding is the padding the sequence networks mask."""
    from labelwise.models.registry import make_model

    d = ds.load("basic-motions", root=tmp_path / "cache")
    assert np.isnan(d.X_train).all(axis=2).any()  # one case is padded
    model = make_model(net, device="cpu", epochs=2, hidden=8)
    model.fit(d.X_train, d.y_train, n_classes=2, rng=0)
    proba = model.predict_proba(d.X_train)
    assert proba.shape == (3, 2) and np.isfinite(proba).all()
    # the padded case predicts as its unpadded prefix
    short = d.X_train[1:2, :2]
    np.testing.assert_allclose(model.predict_proba(short), proba[1:2], atol=1e-5)
