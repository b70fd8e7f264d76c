"""Stopping criteria: budget, stable predictions, settled validation RMSE."""

from __future__ import annotations

import numpy as np
import pytest

from labelwise import InvalidParameterError
from labelwise.loop import ActiveLearner, StopMonitor, StoppingCriteria, changed_share
from labelwise.models import SklearnRegressor
from labelwise.pool import LabelState
from labelwise.strategies import get_strategy


def test_each_rule_and_its_threshold():
    c = StoppingCriteria(budget=10, stable_share=0.05, rmse_change=0.02)
    assert c.reasons(n_labels=9) == []
    assert c.reasons(n_labels=10)[0].startswith("budget reached")
    assert c.reasons(n_labels=1, changed=0.06) == []
    assert "predictions stable" in c.reasons(n_labels=1, changed=0.04)[0]
    assert c.reasons(n_labels=1, rmse=(1.0, 0.97)) == []
    assert "RMSE settled" in c.reasons(n_labels=1, rmse=(1.0, 0.99))[0]
    with pytest.raises(InvalidParameterError, match="stable_share"):
        StoppingCriteria(stable_share=1.5)
    with pytest.raises(InvalidParameterError, match="budget"):
        StoppingCriteria(budget=0)


def test_changed_share_counts_classes_and_moved_values():
    assert (
        changed_share(
            np.array([0, 1, 2, 3]),
            np.array([0, 1, 1, 3]),
            regression=False,
            tolerance=0,
        )
        == 0.25
    )
    prev = np.array([0.0, 1.0, 2.0, 3.0])
    cur = prev + np.array([0.0, 0.01, 0.5, 0.0])
    # spread of cur ~ 1.2: 0.5 moved more than 0.1 x spread, 0.01 did not
    assert changed_share(prev, cur, regression=True, tolerance=0.1) == 0.25
    with pytest.raises(InvalidParameterError, match="shape"):
        changed_share(prev, cur[:2], regression=True, tolerance=0.1)


def test_monitor_follows_a_regression_loop_to_a_settled_rmse():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(300, 3))
    y = X @ np.array([1.0, -2.0, 0.5]) + 0.1 * rng.normal(size=300)
    Xv = rng.normal(size=(100, 3))
    yv = Xv @ np.array([1.0, -2.0, 0.5])
    learner = ActiveLearner(
        SklearnRegressor(),
        get_strategy("bmdal", base_kernel="linear", transforms=[]),
        X,
        state=LabelState(300),
    )
    learner.teach(range(10), y[:10])
    monitor = StopMonitor(StoppingCriteria(stable_share=None, rmse_change=0.1))
    reasons = monitor.update(learner.fit(), Xv, yv)
    assert reasons == [] and monitor.history[0]["rmse"] is not None
    for _ in range(6):
        sel = learner.query(20)
        learner.teach(sel.indices, y[sel.indices])
        reasons = monitor.update(learner.fit(), Xv, yv)
        if reasons:
            break
    # a linear target: after a few batches the ridge fit stops improving
    assert reasons and "RMSE settled" in reasons[0]
    assert monitor.history[-1]["n_labels"] < 130  # before the loop ran out
    assert all(h["changed"] is not None for h in monitor.history[1:])
