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
