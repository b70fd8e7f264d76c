import numpy as np
import pytest

from labelwise import ActiveLearner, InvalidParameterError, LabelState, NotFittedError
from labelwise.models import SklearnClassifier
from labelwise.strategies import get_strategy
from labelwise.testing import make_pool


def _truth(n=80, seed=0):
    rng = np.random.default_rng(seed)
    y = rng.integers(3, size=n)
    x = np.eye(3)[y] * 2 + rng.normal(size=(n, 3))
    return x, y


def test_ask_tell_rounds():
    x, y = _truth()
    learner = ActiveLearner(
        SklearnClassifier(), get_strategy("margin"), x, classes=["a", "b", "c"]
    )
    with pytest.raises(NotFittedError):
        learner.query(3)
    learner.teach([0, 1, 2, 3, 4, 5], y[:6])
    assert learner.round == 0
    learner.fit()
    for expected_round in (1, 2):
        sel = learner.query(5)
        learner.teach(sel.indices, y[sel.indices])
        assert learner.state.rounds(sel.indices).tolist() == [expected_round] * 5
        learner.fit()
        assert learner.model_round == expected_round
    assert learner.state.n_labeled == 16


def test_bad_teach_keeps_labels():
    x, y = _truth()
    learner = ActiveLearner(
        SklearnClassifier(), get_strategy("entropy"), x, classes=[0, 1, 2]
    )
    learner.teach([0, 1, 2], y[:3])
    before = learner.state.state_dict()
    for idx, lab in ([[2, 9], [0, 0]], [[9, 9], [0, 0]], [[9], [7]], [[200], [0]]):
        with pytest.raises(InvalidParameterError):
            learner.teach(idx, lab)
    assert np.array_equal(learner.state.state_dict()["labels"], before["labels"])
    assert np.array_equal(learner.state.state_dict()["round"], before["round"])


def test_resume_from_saved_state_gives_same_queries(tmp_path):
    x, y = _truth()

    def drive(learner, n_rounds):
        out = []
        for _ in range(n_rounds):
            learner.fit()
            sel = learner.query(4)
            learner.teach(sel.indices, y[sel.indices])
            out.append(sel.indices.tolist())
        return out

    a = ActiveLearner(
        SklearnClassifier(), get_strategy("badge"), x, classes=[0, 1, 2], seed=5
    )
    a.teach(np.arange(6), y[:6])
    full = drive(a, 4)
    b = ActiveLearner(
        SklearnClassifier(), get_strategy("badge"), x, classes=[0, 1, 2], seed=5
    )
    b.teach(np.arange(6), y[:6])
    first = drive(b, 2)
    b.save_state(tmp_path / "s.npz")
    c = ActiveLearner(
        SklearnClassifier(),
        get_strategy("badge"),
        x,
        state=LabelState.load(tmp_path / "s.npz"),
        seed=5,
    )
    assert first + drive(c, 2) == full


def test_construction_errors():
    x, _ = make_pool()
    with pytest.raises(InvalidParameterError, match="classes"):
        ActiveLearner(SklearnClassifier(), get_strategy("random"), x)
    with pytest.raises(InvalidParameterError, match="covers"):
        ActiveLearner(
            SklearnClassifier(),
            get_strategy("random"),
            x,
            state=LabelState(3, classes=[0, 1]),
        )
    learner = ActiveLearner(
        SklearnClassifier(), get_strategy("random"), x, classes=[0, 1]
    )
    with pytest.raises(InvalidParameterError, match="No labels yet"):
        learner.fit()


def test_oracles():
    from labelwise.loop import HumanOracle, Oracle, SimulatedOracle

    sim = SimulatedOracle(np.array([3, 1, 2]))
    assert sim.label([2, 0]).tolist() == [2, 3]
    with pytest.raises(InvalidParameterError, match="out of range"):
        sim.label([5])
    asked = []
    human = HumanOracle(lambda i: asked.append(i) or i % 2)
    assert human.label([4, 5]).tolist() == [0, 1] and asked == [4, 5]
    assert isinstance(sim, Oracle) and isinstance(human, Oracle)


def test_regression_learner_needs_a_regressor_and_predicts_values():
    from labelwise import UnsupportedModelError
    from labelwise.models import SklearnClassifier, SklearnRegressor
    from labelwise.pool import LabelState
    from labelwise.strategies import get_strategy

    rng = np.random.default_rng(0)
    X = rng.normal(size=(50, 3))
    y = X @ np.array([1.0, -2.0, 0.5])
    with pytest.raises(UnsupportedModelError, match="Regressor"):
        ActiveLearner(
            SklearnClassifier(), get_strategy("random"), X, state=LabelState(50)
        )
    with pytest.raises(InvalidParameterError, match="regressors only"):
        ActiveLearner(
            SklearnClassifier(), get_strategy("random"), X, classes=[0, 1], valid=(X, y)
        )
    learner = ActiveLearner(
        SklearnRegressor(), get_strategy("random"), X, state=LabelState(50)
    )
    learner.teach(np.arange(10), y[:10])
    pred = learner.fit().predict(X)
    assert pred.dtype == np.float64 and np.corrcoef(pred, y)[0, 1] > 0.95
    assert learner.query(5).indices.size == 5


def test_a_numpy_integer_seed_is_the_same_int_and_bools_are_refused():
    # seeds from np.arange(...) were refused as "not an int"; True passed as 1
    x, y = _truth()

    def picks(seed):
        learner = ActiveLearner(
            SklearnClassifier(), get_strategy("random"), x, classes=["a", "b", "c"],
            seed=seed,
        )  # fmt: skip
        learner.teach(np.arange(6), y[:6])
        return learner.fit().query(5).indices.tolist()

    assert picks(np.int64(3)) == picks(3) != picks(4)
    for bad in (True, -1, 3.0, np.random.default_rng(3)):
        with pytest.raises(InvalidParameterError, match="seed must be an int >= 0"):
            ActiveLearner(SklearnClassifier(), get_strategy("random"), x,
                          classes=["a", "b", "c"], seed=bad)  # fmt: skip
