"""When to stop labeling: budget, stable predictions, settled validation error.

`StoppingCriteria` holds the thresholds; `StopMonitor` follows a
learner round by round (Python loop) and the labeling app calls the same
`StoppingCriteria.reasons` with what it records per model version.

* ``budget``: stop once this many labels are collected.
* ``stable_share``: stop when the share of pool predictions that changed between
  two consecutive models is below this (classification: the predicted class;
  regression: a change larger than ``tolerance`` times the prediction spread).
* ``rmse_change``: regression with a validation set — stop when the validation
  RMSE changed by less than this fraction between consecutive models.

Examples:
    >>> StoppingCriteria(budget=100).reasons(n_labels=120)
    ['budget reached (120 of 100 labels)']
    >>> StoppingCriteria(stable_share=0.01).reasons(n_labels=5, changed=0.004)
    ['predictions stable (0.4% of the pool changed, below 1.0%)']
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from labelwise.exceptions import InvalidParameterError


@dataclass(frozen=True)
class StoppingCriteria:
    """Thresholds of the stopping rules (``None`` switches a rule off).

    Attributes:
        budget: Label budget.
        stable_share: Largest share of changed pool predictions that counts as
            stable, in ``(0, 1)``. Defaults to 0.01.
        rmse_change: Largest relative change of the validation RMSE that counts
            as settled (regression), e.g. 0.01.
        tolerance: Regression: a prediction "changed" when it moved by more
            than this times the standard deviation of the predictions.
    """

    budget: int | None = None
    stable_share: float | None = 0.01
    rmse_change: float | None = None
    tolerance: float = 0.05

    def __post_init__(self) -> None:
        if self.budget is not None and self.budget < 1:
            raise InvalidParameterError(f"budget must be >= 1; got {self.budget}.")
        for name in ("stable_share", "rmse_change"):
            v = getattr(self, name)
            if v is not None and not 0 < v < 1:
                raise InvalidParameterError(
                    f"{name} must be in (0, 1) or None; got {v!r}."
                )

    def reasons(
        self,
        *,
        n_labels: int,
        changed: float | None = None,
        rmse: tuple[float, float] | None = None,
    ) -> list[str]:
        """Which rules say stop (empty: go on).

        Args:
            n_labels: Labels collected.
            changed: Share of pool predictions that changed between the last
                two models (``None`` before there are two).
            rmse: ``(previous, latest)`` validation RMSE (regression).
        """
        out = []
        if self.budget is not None and n_labels >= self.budget:
            out.append(f"budget reached ({n_labels} of {self.budget} labels)")
        if self.stable_share is not None and changed is not None:
            if changed < self.stable_share:
                out.append(
                    f"predictions stable ({changed:.1%} of the pool changed, below "
                    f"{self.stable_share:.1%})"
                )
        if self.rmse_change is not None and rmse is not None and rmse[0] > 0:
            rel = abs(rmse[1] - rmse[0]) / rmse[0]
            if rel < self.rmse_change:
                out.append(
                    f"validation RMSE settled ({rel:.2%} change, below "
                    f"{self.rmse_change:.2%})"
                )
        return out


def changed_share(
    previous: np.ndarray, current: np.ndarray, *, regression: bool, tolerance: float
) -> float:
    """Share of items whose prediction changed between two models."""
    prev, cur = np.asarray(previous), np.asarray(current)
    if prev.shape != cur.shape:
        raise InvalidParameterError(
            f"Predictions differ in shape: {prev.shape} vs {cur.shape}."
        )
    if prev.size == 0:
        return 0.0
    if regression:
        scale = float(np.std(cur)) or 1.0
        return float(np.mean(np.abs(cur - prev) > tolerance * scale))
    return float(np.mean(prev != cur))


@dataclass
class StopMonitor:
    """Follows an `ActiveLearner` after each ``fit``.

    Examples:
        >>> from labelwise.loop import ActiveLearner
        >>> from labelwise.models import SklearnClassifier
        >>> from labelwise.strategies import Entropy
        >>> X = np.random.default_rng(0).normal(size=(60, 2))
        >>> y = (X[:, 0] > 0).astype(int)
        >>> learner = ActiveLearner(SklearnClassifier(), Entropy(), X, classes=[0, 1])
        >>> learner.teach(range(10), y[:10])
        >>> monitor = StopMonitor(StoppingCriteria(budget=12))
        >>> monitor.update(learner.fit())
        []
        >>> sel = learner.query(2)
        >>> learner.teach(sel.indices, y[sel.indices])
        >>> monitor.update(learner.fit())[0]
        'budget reached (12 of 12 labels)'
    """

    criteria: StoppingCriteria
    history: list[dict[str, Any]] = field(default_factory=list)
    _last: np.ndarray | None = None

    def update(
        self, learner: Any, X_valid: Any = None, y_valid: Any = None
    ) -> list[str]:
        """Record the freshly fitted learner; return the reasons to stop."""
        pool = np.arange(learner.state.n_samples)
        pred = learner.predict(learner.X[pool])
        regression = not learner.state.is_classification
        changed = None
        if self._last is not None:
            changed = changed_share(
                self._last,
                pred,
                regression=regression,
                tolerance=self.criteria.tolerance,
            )
        self._last = pred
        rmse = None
        if regression and X_valid is not None and y_valid is not None:
            err = learner.predict(X_valid) - np.asarray(y_valid, dtype=np.float64)
            value = float(np.sqrt(np.mean(err**2)))
            if self.history and self.history[-1]["rmse"] is not None:
                rmse = (self.history[-1]["rmse"], value)
            latest = value
        else:
            latest = None
        n = learner.state.n_labeled
        self.history.append({"n_labels": n, "changed": changed, "rmse": latest})
        return self.criteria.reasons(n_labels=n, changed=changed, rmse=rmse)
