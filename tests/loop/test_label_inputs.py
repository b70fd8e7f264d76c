"""Labels a person or a script may hand to the label state by mistake."""

from __future__ import annotations

import numpy as np
import pytest

from labelwise import LabelState
from labelwise.exceptions import InvalidParameterError, LabelError


@pytest.mark.parametrize("labels", [[1 + 2j], np.array([0.5 + 0j])], ids=str)
def test_complex_regression_labels_are_refused_and_nothing_is_stored(labels):
    # they were cast to float64, dropping the imaginary part without a word
    state = LabelState(4)
    state.teach([0], [1.5], round=0)
    with pytest.raises(LabelError, match="real numbers; got dtype complex"):
        state.teach([1], labels, round=0)
    with pytest.raises(LabelError, match="real numbers"):
        state.relabel([0], labels)
    assert state.labeled_indices().tolist() == [0]
    assert state.labels().tolist() == [1.5]


def _learner(**kw):
    from labelwise import ActiveLearner
    from labelwise.models import SklearnClassifier
    from labelwise.strategies import get_strategy

    x = np.random.default_rng(0).normal(size=(40, 3))
    kw.setdefault("classes", ["a", "b"])
    return ActiveLearner(SklearnClassifier(), get_strategy("random"), x, **kw)


def test_labels_taught_after_resuming_keep_the_state_round(tmp_path):
    # they were recorded as round 0, as if they were initial labels
    learner = _learner(seed=1)
    learner.teach(np.arange(6), np.arange(6) % 2)
    for _ in range(2):
        sel = learner.fit().query(3)
        learner.teach(sel.indices, np.zeros(3, dtype=int))
    learner.save_state(tmp_path / "s.npz")
    assert learner.round == 2
    resumed = _learner(state=LabelState.load(tmp_path / "s.npz"), seed=1)
    assert resumed.round == 2
    extra = resumed.state.unlabeled_indices()[:2]
    resumed.teach(extra, [1, 0])
    learner.teach(extra, [1, 0])  # the learner that saved the state
    assert resumed.state.rounds(extra).tolist() == [2, 2]
    assert np.array_equal(resumed.state.rounds(), learner.state.rounds())
    assert _learner().round == 0  # a fresh state starts at round 0


def test_learner_seed_takes_numpy_ints_but_not_bools():
    from labelwise import InvalidParameterError

    assert _learner(seed=np.int64(3)).seed == 3
    with pytest.raises(InvalidParameterError, match="seed must be an int"):
        _learner(seed=True)


def test_predict_proba_of_a_regression_learner_says_to_use_predict():
    from labelwise import ActiveLearner, InvalidParameterError
    from labelwise.models import SklearnRegressor
    from labelwise.strategies import get_strategy

    x = np.random.default_rng(0).normal(size=(20, 2))
    learner = ActiveLearner(
        SklearnRegressor(), get_strategy("random"), x, state=LabelState(20)
    )
    learner.teach([0, 1, 2], [0.5, 1.0, 2.0])
    learner.fit()
    with pytest.raises(InvalidParameterError, match=r"regression.*Use predict"):
        learner.predict_proba(x)  # was an AttributeError on SklearnRegressor
    assert learner.predict(x).shape == (20,)


@pytest.mark.parametrize(
    ("index", "shown"),
    [
        (np.array([2**64 - 1], dtype=np.uint64), "18446744073709551615"),
        (np.array([1e30]), "1000000000000000019884624838656"),
        (np.array([np.inf]), "inf"),
        (np.array([-3]), "-3"),
    ],
    ids=["uint64-max", "huge-float", "inf", "negative"],
)
def test_out_of_range_indices_are_named_as_given(index, shown):
    # 2**64 - 1 was reported as -1, after the cast to int64 wrapped it
    state = LabelState(5, classes=["a", "b"])
    with pytest.raises(InvalidParameterError, match=rf"got \[{shown}\] out of range"):
        state.teach(index, [1], round=0)
    assert state.n_labeled == 0


def test_a_state_with_fractional_rounds_is_refused_not_truncated():
    # round 0.7 was cast to 0 without a word
    state = {
        "n_samples": 3,
        "classes": ["a", "b"],
        "labels": np.array([1, 0, 0]),
        "round": np.array([0.7, -1, -1]),
    }
    with pytest.raises(InvalidParameterError, match="rounds must be integers"):
        LabelState.from_state_dict(state)
    state["round"] = np.array([None, -1, -1], dtype=object)
    with pytest.raises(InvalidParameterError, match="rounds must be integers"):
        LabelState.from_state_dict(state)  # was a TypeError from NumPy
    state.update(round=np.array([2.0, -1, -1]), labels=np.array([1.0, np.nan, 7]))
    loaded = LabelState.from_state_dict(state)
    assert loaded.rounds().tolist() == [2, -1, -1]
    assert loaded.state_dict()["labels"].tolist() == [1, 0, 0]


def test_teach_given_a_selection_says_to_pass_its_indices():
    learner = _learner()
    learner.teach([0, 1], [0, 1])
    selection = learner.fit().query(2)
    with pytest.raises(InvalidParameterError, match=r"pass selection\.indices"):
        learner.teach(selection, [0, 1])  # was "indices must be integers"
    assert learner.state.n_labeled == 2


def test_fine_tuning_learner_fits_once_the_whole_pool_is_labeled():
    # the empty unlabeled pool was refused as "X is empty" by finetune
    from labelwise import ActiveLearner
    from labelwise.models import TorchClassifier, mlp
    from labelwise.models.finetune import FineTune
    from labelwise.strategies import get_strategy

    x = np.random.default_rng(0).normal(size=(12, 3)).astype(np.float32)
    learner = ActiveLearner(
        TorchClassifier(mlp, max_epochs=1, device="cpu"),
        get_strategy("entropy"),
        x,
        classes=["a", "b"],
        finetune=FineTune(max_epochs=1, min_size=1),
    )
    learner.teach(np.arange(12), np.arange(12) % 2)
    learner.fit()
    assert learner.last_finetune is not None
    assert (learner.last_finetune.size, learner.last_finetune.n_pseudo) == (12, 0)
