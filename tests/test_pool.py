import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from labelwise import InvalidParameterError, LabelState
from labelwise.exceptions import LabelError


def test_teach_and_views():
    s = LabelState(6, classes=["a", "b", "c"])
    s.teach([4, 1], [2, 0], round=0)
    assert s.labeled_indices().tolist() == [1, 4]
    assert s.unlabeled_indices().tolist() == [0, 2, 3, 5]
    assert s.labels().tolist() == [0, 2]
    assert s.rounds([1, 4, 0]).tolist() == [0, 0, -1]
    s.teach([0], [1], round=3)
    assert s.last_round == 3 and s.n_labeled == 3 and s.n_unlabeled == 3


@pytest.mark.parametrize(
    ("indices", "labels", "match"),
    [
        ([1, 1], [0, 0], "duplicates"),
        ([9], [0], r"\[0, 5\]"),
        ([-1], [0], "out of range"),
        ([0], [3], "outside the known classes"),
        ([0, 2], [0], "Expected 2 labels"),
        ([0], [0.5], "class indices"),
        ([2], [1], "labeled already"),
        ([[0, 1]], [0, 1], "one-dimensional"),
    ],
)
def test_bad_teach_stores_nothing(indices, labels, match):
    s = LabelState(6, classes=["a", "b", "c"])
    s.teach([2, 3], [1, 2], round=0)
    before = s.state_dict()
    with pytest.raises(InvalidParameterError, match=match):
        s.teach(indices, labels, round=1)
    after = s.state_dict()
    assert np.array_equal(before["labels"], after["labels"])
    assert np.array_equal(before["round"], after["round"])


def test_regression_labels_and_errors():
    s = LabelState(3)
    s.teach([0], [1.5], round=0)
    assert s.labels().tolist() == [1.5]
    with pytest.raises(LabelError, match="finite"):
        s.teach([1], [np.nan], round=0)
    with pytest.raises(InvalidParameterError, match="undefined for regression"):
        _ = s.n_classes


def test_constructor_errors():
    with pytest.raises(InvalidParameterError, match="empty"):
        LabelState(0, classes=["a", "b"])
    with pytest.raises(InvalidParameterError, match="two distinct"):
        LabelState(3, classes=["a", "a"])


def test_relabel_and_unlabel():
    s = LabelState(4, classes=["a", "b"])
    s.teach([1, 2], [0, 0], round=0)
    s.relabel([2], [1])
    assert s.labels().tolist() == [0, 1]
    with pytest.raises(LabelError, match="not labeled"):
        s.relabel([3], [1])
    s.unlabel([1])
    assert s.labeled_indices().tolist() == [2]
    with pytest.raises(LabelError, match="not labeled"):
        s.unlabel([1])


def test_save_load_roundtrip(tmp_path):
    s = LabelState(5, classes=["x", "y"])
    s.teach([0, 3], [1, 0], round=0)
    s.teach([4], [1], round=1)
    s.save(tmp_path / "state.npz")
    t = LabelState.load(tmp_path / "state.npz")
    assert t.classes == ["x", "y"]
    assert np.array_equal(t.rounds(), s.rounds())
    assert np.array_equal(t.labels(), s.labels())
    assert not list(tmp_path.glob("*.tmp*"))


def test_from_state_dict_validates():
    s = LabelState(3, classes=["x", "y"])
    d = s.state_dict()
    d["labels"] = np.array([0, 5, 0])
    d["round"] = np.array([0, 0, -1])
    with pytest.raises(LabelError, match="outside"):
        LabelState.from_state_dict(d)
    with pytest.raises(InvalidParameterError, match="missing key"):
        LabelState.from_state_dict({"n_samples": 3})


@settings(max_examples=60, deadline=None)
@given(
    st.lists(
        st.tuples(
            st.lists(st.integers(-2, 12), min_size=0, max_size=5),
            st.lists(st.integers(-1, 3), min_size=0, max_size=5),
        ),
        max_size=12,
    )
)
def test_no_sequence_of_calls_loses_labels(calls):
    """Whatever mix of valid and invalid teach calls, stored labels only grow."""
    s = LabelState(10, classes=["a", "b", "c"])
    truth: dict[int, int] = {}
    for r, (idx, lab) in enumerate(calls):
        try:
            s.teach(idx, lab, round=r)
        except InvalidParameterError:
            pass
        else:
            truth.update(zip(idx, lab, strict=True))
        got = dict(zip(s.labeled_indices().tolist(), s.labels().tolist(), strict=True))
        assert got == truth


# --- issue 15, defect 9: saved state round-trips exactly; bad files say why ---

CLASS_LISTS = st.one_of(
    st.lists(st.text(max_size=6), min_size=2, max_size=5),
    st.lists(st.integers(-(2**40), 2**40), min_size=2, max_size=5),
    st.lists(st.floats(allow_nan=False, width=64), min_size=2, max_size=5),
    st.sampled_from([np.int8, np.int32, np.int64, np.uint8, np.uint64]).flatmap(
        lambda t: st.lists(
            st.integers(0, 100).map(t),
            min_size=2,
            max_size=5,
        )
    ),
    st.lists(st.floats(-1e6, 1e6).map(np.float32), min_size=2, max_size=5),
    st.lists(st.text(max_size=4).map(np.str_), min_size=2, max_size=5),
    st.just([False, True]),
    st.just([np.bool_(False), np.bool_(True)]),
)


def _distinct(classes):
    return len(set(map(str, classes))) == len(classes)


@settings(max_examples=80, deadline=None)
@given(classes=CLASS_LISTS, data=st.data())
def test_save_load_round_trips_class_types_exactly(tmp_path_factory, classes, data):
    if not _distinct(classes):
        return  # the constructor refuses names equal as strings
    n = data.draw(st.integers(1, 12))
    s = LabelState(n, classes=classes)
    idx = data.draw(st.lists(st.integers(0, n - 1), unique=True, max_size=n))
    if idx:
        labels = data.draw(
            st.lists(
                st.integers(0, len(classes) - 1), min_size=len(idx), max_size=len(idx)
            )
        )
        s.teach(idx, labels, round=data.draw(st.integers(0, 5)))
    path = tmp_path_factory.mktemp("state") / "s.npz"
    s.save(path)
    t = LabelState.load(path)
    assert [type(c) for c in t.classes] == [type(c) for c in classes]
    assert [repr(c) for c in t.classes] == [repr(c) for c in classes]
    assert np.array_equal(t.rounds(), s.rounds())
    assert np.array_equal(t.labels(), s.labels())


@settings(max_examples=40, deadline=None)
@given(
    labels=st.lists(
        st.floats(allow_nan=False, allow_infinity=False), min_size=1, max_size=10
    )
)
def test_save_load_round_trips_regression_labels_exactly(tmp_path_factory, labels):
    s = LabelState(len(labels) + 2)
    s.teach(np.arange(len(labels)), labels, round=3)
    path = tmp_path_factory.mktemp("state") / "r.npz"
    s.save(path)
    t = LabelState.load(path)
    assert t.classes is None
    assert t.labels().tolist() == s.labels().tolist()
    assert np.array_equal(t.rounds(), s.rounds())


def test_numpy_int_classes_stay_numpy_ints(tmp_path):
    s = LabelState(4, classes=np.array([3, 7]))
    s.save(tmp_path / "s.npz")
    t = LabelState.load(tmp_path / "s.npz")
    assert t.classes == [3, 7] and all(type(c) is np.int64 for c in t.classes)


def test_saving_a_class_name_of_another_type_is_refused(tmp_path):
    s = LabelState(4, classes=[(1, 2), (3, 4)])
    with pytest.raises(LabelError, match="str, int, float, bool or numpy"):
        s.save(tmp_path / "s.npz")
    assert not (tmp_path / "s.npz").exists()


def _saved(tmp_path):
    s = LabelState(50, classes=["a", "b"])
    s.teach(np.arange(20), np.arange(20) % 2, round=0)
    path = tmp_path / "state.npz"
    s.save(path)
    return path


@pytest.mark.parametrize(
    "damage, match",
    [
        (lambda b: b[: len(b) // 2], "truncated or corrupt"),
        (lambda b: b[:10], "truncated or corrupt"),
        (lambda b: b"", "empty"),
        (lambda b: b"item,label\n1,cat\n", "not an .npz archive"),
        (lambda b: b"\x93NUMPY" + b"\x00" * 40, "not an .npz archive"),
    ],
    ids=["half", "ten-bytes", "empty", "csv", "npy"],
)
def test_loading_a_damaged_or_foreign_file_names_the_file_and_problem(
    tmp_path, damage, match
):
    path = _saved(tmp_path)
    path.write_bytes(damage(path.read_bytes()))
    with pytest.raises(LabelError, match=match) as err:
        LabelState.load(path)
    assert str(path) in str(err.value)


def test_loading_a_foreign_npz_names_what_is_missing(tmp_path):
    np.savez(tmp_path / "other.npz", weights=np.zeros(3))
    with pytest.raises(LabelError, match="lacks labels, meta, round"):
        LabelState.load(tmp_path / "other.npz")
    np.savez(
        tmp_path / "obj.npz",
        meta=np.array([{"a": 1}], dtype=object),
        labels=np.zeros(2),
        round=np.zeros(2),
    )
    with pytest.raises(LabelError, match="pickled Python objects"):
        LabelState.load(tmp_path / "obj.npz")
    np.savez(
        tmp_path / "bad.npz",
        meta=np.array("{not json"),
        labels=np.zeros(2),
        round=np.zeros(2),
    )
    with pytest.raises(LabelError, match="not a valid label state"):
        LabelState.load(tmp_path / "bad.npz")


def test_loading_a_missing_file_or_a_folder_names_it(tmp_path):
    with pytest.raises(LabelError, match="No such file") as err:
        LabelState.load(tmp_path / "nope.npz")
    assert "nope.npz" in str(err.value)
    with pytest.raises(LabelError, match="folder"):
        LabelState.load(tmp_path)


def test_saving_into_a_missing_folder_creates_it(tmp_path):
    s = LabelState(3, classes=["a", "b"])
    s.save(tmp_path / "new" / "deeper" / "s.npz")
    assert LabelState.load(tmp_path / "new" / "deeper" / "s.npz").classes == ["a", "b"]


def test_saving_under_a_file_says_the_folder_cannot_be_made(tmp_path):
    (tmp_path / "afile").write_text("x")
    with pytest.raises(LabelError, match="cannot create or write its folder"):
        LabelState(3).save(tmp_path / "afile" / "s.npz")


def test_state_files_of_format_version_1_still_load(tmp_path):
    meta = '{"n_samples": 3, "classes": ["3", "7"]}'
    np.savez(
        tmp_path / "v1.npz",
        meta=np.array(meta),
        labels=np.array([1, 0, 0]),
        round=np.array([0, -1, -1]),
    )
    t = LabelState.load(tmp_path / "v1.npz")
    assert t.classes == ["3", "7"] and t.labels().tolist() == [1]
