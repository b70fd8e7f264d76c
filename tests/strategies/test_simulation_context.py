"""The one hook for simulation-only data: ``Strategy.prepare_simulation``."""

from __future__ import annotations

import numpy as np
import pytest

from labelwise.exceptions import InvalidParameterError
from labelwise.pool import LabelState
from labelwise.strategies import (
    Bait,
    ExpectedErrorReduction,
    NeuralProcess,
    Oracle,
    RandomSampling,
    Selection,
    SimulationContext,
    Strategy,
    get_strategy,
)
from labelwise.testing import MockModel, check_strategy, make_pool


def test_the_default_hook_takes_a_context_and_changes_nothing():
    s = RandomSampling()
    before = s.get_params()
    s.prepare_simulation(SimulationContext(y_pool=np.zeros(3)))
    assert s.get_params() == before
    with pytest.raises(InvalidParameterError, match="SimulationContext"):
        s.prepare_simulation({"y_pool": np.zeros(3)})  # type: ignore[arg-type]


def test_the_oracle_without_the_truth_says_what_is_missing():
    with pytest.raises(InvalidParameterError, match="y_pool, X_eval, y_eval missing"):
        Oracle().prepare_simulation(SimulationContext())
    with pytest.raises(InvalidParameterError, match="y_eval missing"):
        Oracle().prepare_simulation(
            SimulationContext(y_pool=np.zeros(4), X_eval=np.zeros((2, 2)))
        )


def test_the_oracle_setter_is_the_hook():
    X, state = make_pool()
    truth = np.argmax(X[:, : state.n_classes], axis=1)
    by_hook, by_setter = Oracle(max_candidates=6), Oracle(max_candidates=6)
    by_hook.prepare_simulation(
        SimulationContext(y_pool=truth, X_eval=X[:20], y_eval=truth[:20])
    )
    by_setter.set_simulation(truth, X[:20], truth[:20])
    from sklearn.linear_model import LogisticRegression

    from labelwise.models import SklearnClassifier

    model = SklearnClassifier(LogisticRegression())
    lab = state.labeled_indices()
    model.fit(X[lab], state.labels(lab), n_classes=state.n_classes, rng=0)
    a = by_hook.select(model, X, state, 3, rng=0).indices
    b = by_setter.select(model, X, state, 3, rng=0).indices
    assert np.array_equal(a, b)


def test_the_np_needs_a_reward_set_unless_pretrained():
    with pytest.raises(InvalidParameterError, match="needs a labeled reward set"):
        NeuralProcess().prepare_simulation(SimulationContext(dataset="digits"))
    with pytest.raises(InvalidParameterError, match="dataset digits has none"):
        NeuralProcess().prepare_simulation(SimulationContext(dataset="digits"))


def test_eer_takes_a_reward_set_through_the_hook_and_checks_it():
    s = ExpectedErrorReduction()
    s.prepare_simulation(SimulationContext())  # none: evaluates on the pool
    assert s._reward is None
    with pytest.raises(InvalidParameterError, match="reward set"):
        s.prepare_simulation(
            SimulationContext(X_reward=np.zeros((4, 2)), y_reward=np.zeros(3))
        )
    s.prepare_simulation(
        SimulationContext(X_reward=np.zeros((4, 2)), y_reward=np.arange(4) % 2)
    )
    assert s._reward is not None and s._reward["y"].tolist() == [0, 1, 0, 1]


def test_agbal_takes_auxiliary_data_through_the_hook():
    s = get_strategy("agbal-lcmd")
    with pytest.raises(InvalidParameterError, match="friedman1:aux"):
        s.prepare_simulation(SimulationContext(dataset="friedman1"))
    aux = (np.zeros((5, 3)), np.ones(5))
    s.prepare_simulation(SimulationContext(auxiliary=aux))
    assert s.auxiliary is not None and s.auxiliary[1].tolist() == [1.0] * 5
    # a BMDAL method without grad-aux needs nothing and takes nothing
    plain = get_strategy("lcmd")
    plain.prepare_simulation(SimulationContext())
    assert plain.auxiliary is None


class _NeedsTruth(Strategy):
    """Picks the lowest-index unlabeled items whose true label is 0 first."""

    def __init__(self) -> None:
        self.calls: list[SimulationContext] = []

    def prepare_simulation(self, context: SimulationContext) -> None:
        if context.y_pool is None:
            raise InvalidParameterError("needs y_pool")
        self.calls.append(context)

    def _select(self, model, X, state, batch_size, rng):  # type: ignore[no-untyped-def]
        truth = np.asarray(self.calls[-1].y_pool)
        pool = state.unlabeled_indices()
        order = np.argsort(truth[pool], kind="stable")[:batch_size]
        return Selection(indices=pool[order])


def test_the_conformance_suite_gives_the_truth_through_the_hook():
    s = _NeedsTruth()
    check_strategy(s)
    assert len(s.calls) == 2  # the pool, then the shrunk pool
    assert all(c.y_pool is not None and c.X_reward is not None for c in s.calls)


def test_bait_keeps_per_pick_gains_out_of_the_recorded_info():
    X, state = make_pool()
    sel = Bait().select(MockModel(), X, state, 4, rng=0)
    assert "forward_gains" in sel.details and "forward_gains" not in sel.info
    assert len(sel.details["forward_gains"]) >= 4


def test_the_bench_runner_calls_the_hook_with_the_dataset(tmp_path, monkeypatch):
    from labelwise.bench import parse_grid
    from labelwise.bench.runner import execute_run

    seen: list[SimulationContext] = []
    monkeypatch.setattr(
        Strategy, "prepare_simulation", lambda self, context: seen.append(context)
    )
    grid = parse_grid(
        {
            "name": "hook",
            "datasets": ["digits"],
            "models": ["logreg"],
            "strategies": ["random"],
            "settings": {"initial": 10, "batch_size": 5, "rounds": 1, "seeds": 1},
        }
    )
    run = next(iter(grid.runs()))
    _, status = execute_run(run.as_dict(), str(tmp_path))
    assert status == "finished"
    (c,) = seen
    assert c.dataset == "digits" and c.y_pool is not None and c.X_eval is not None
    assert c.X_reward is None and c.auxiliary is None


def _binary_problem():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(30, 3))
    y = (X[:, 0] > 0).astype(np.int64)
    state = LabelState(30, classes=["a", "b"])
    state.teach(np.arange(8), y[:8], round=0)
    from sklearn.linear_model import LogisticRegression

    from labelwise.models import SklearnClassifier

    model = SklearnClassifier(LogisticRegression()).fit(X[:8], y[:8], n_classes=2)
    return X, y, state, model


# each was taken as given: a label -1 indexed the last class, 0.5 became 0, a
# weight per class too many was ignored; the others failed deep in NumPy
BAD_SETS = [
    ({"y": lambda y: y - 1}, r"y_(reward|eval) holds \[-1\], outside the classes"),
    ({"y": lambda y: y + 3}, r"y_(reward|eval) holds \[3, 4\], outside"),
    ({"y": lambda y: y + 0.5}, "must hold class indices.*non-integer"),
    ({"y": lambda y: np.array(["a", "b"])[y]}, "must hold class indices"),
    ({"X": lambda X: X[:, :2]}, r"items of shape \(2,\), but the pool's are \(3,\)"),
    ({"X": lambda X: np.where(X > 1, np.nan, X)}, "X_(reward|eval) contains NaN"),
    ({"w": [1.0, 2.0, 3.0]}, r"eval_weights must be 2 finite non-negative.*3\.0\]"),
    ({"cw": [-1.0, 2.0]}, r"class_weights must be positive finite numbers"),
    (
        {"cw": [1.0, 2.0, 3.0]},
        r"class_weights must be positive finite numbers \(2, one",
    ),
]


@pytest.mark.parametrize(("edit", "match"), BAD_SETS)
@pytest.mark.parametrize("name", ["eer", "oracle", "np"])
def test_reward_and_eval_sets_are_checked_against_pool_and_classes(name, edit, match):
    X, y, state, model = _binary_problem()
    X_r = edit.get("X", lambda a: a)(X[8:20])
    y_r = edit.get("y", lambda a: a)(y[8:20])
    weights = {"eval_weights": edit.get("w"), "class_weights": edit.get("cw")}
    # refused when given (weights that are wrong whatever the classes) or at select
    with pytest.raises(InvalidParameterError, match=match):
        if name == "oracle":
            s: Strategy = Oracle()
            s.set_simulation(y, X_r, y_r, **weights)
        else:
            s = get_strategy(
                name, **({"n_sim": 2, "epochs": 1} if name == "np" else {})
            )
            s.set_reward(X_r, y_r, **weights)  # type: ignore[attr-defined]
        s.select(model, X, state, 3, rng=0)


def test_the_oracle_refuses_pool_labels_that_are_not_classes():
    X, y, state, model = _binary_problem()
    s = Oracle()
    s.set_simulation(np.where(np.arange(30) == 20, 7, y), X[:10], y[:10])
    with pytest.raises(InvalidParameterError, match=r"y_pool holds \[7\]"):
        s.select(model, X, state, 3, rng=0)


@pytest.mark.parametrize("name", ["eer", "oracle"])
def test_refits_need_a_labeled_item(name):
    # with nothing labeled they failed with "indices is empty"
    X, y, _, model = _binary_problem()
    s = get_strategy(name)
    if name == "oracle":
        s.set_simulation(y, X[:10], y[:10])  # type: ignore[attr-defined]
    with pytest.raises(InvalidParameterError, match="nothing is labeled yet"):
        s.select(model, X, LabelState(30, classes=["a", "b"]), 3, rng=0)


@pytest.mark.parametrize(
    ("name", "params"),
    [
        ("eer", {}),
        ("eer", {"loss": "log"}),
        ("oracle", {}),
        ("np", {"n_sim": 2, "epochs": 1, "target": "log-loss"}),
    ],
)
def test_unconverged_batched_fits_fall_back_to_refits(name, params):
    # a feature on a scale like 1e12 (sums of money, byte counts) made the batched
    # logistic fits fail ("Singular matrix", "did not fit a problem") though
    # scikit-learn fits the model; now the refits serve, with a warning
    from sklearn.linear_model import LogisticRegression

    from labelwise.exceptions import ConvergenceError, FallbackWarning
    from labelwise.models import SklearnClassifier

    X = np.random.default_rng(0).normal(size=(20, 3)) * np.array([1.0, 1e12, 1.0])
    y = (X[:, 0] + X[:, 1] / 1e12 > 0).astype(np.int64)
    state = LabelState(20, classes=["a", "b"])
    state.teach(np.arange(8), y[:8], round=0)
    model = SklearnClassifier(LogisticRegression()).fit(X[:8], y[:8], n_classes=2)

    def pick(**kw):
        s = get_strategy(name, **params, **kw)
        if name == "oracle":
            s.set_simulation(y, X[10:], y[10:])  # type: ignore[attr-defined]
        else:
            s.set_reward(X[10:], y[10:])  # type: ignore[attr-defined]
        return s.select(model, X, state, 3, rng=0)

    with pytest.warns(FallbackWarning, match="batched logistic fits did not converge"):
        sel = pick()
    assert "standardise them" in sel.info["warnings"][0]
    assert sel.indices.tolist() == pick(batched=False).indices.tolist()
    with pytest.raises(ConvergenceError, match="standardise them"):
        pick(batched=True)
