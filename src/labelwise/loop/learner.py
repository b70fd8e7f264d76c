"""Ask/tell active learner: ``query`` -> (someone labels) -> ``teach`` -> ``fit``.

The learner never blocks inside library code: a notebook, a command line or a web
page sits between `ActiveLearner.query` and `ActiveLearner.teach`.

Rounds: labels taught before the first ``fit`` belong to round 0 (with a
resumed `LabelState`, to its last round); labels taught while the model of
round ``r`` is current belong to round ``r + 1``. Randomness is
derived from ``(seed, round, purpose)``, so a learner rebuilt from a saved
`LabelState` continues exactly as the original would.
"""

from __future__ import annotations

import os
import time
from collections.abc import Sequence
from typing import Any

import numpy as np

from labelwise._validation import check_class_weights, check_features
from labelwise.exceptions import (
    InvalidParameterError,
    NotFittedError,
    UnsupportedModelError,
)
from labelwise.models.base import FineTunable, Regressor, require
from labelwise.models.finetune import FineTune, FineTuneResult
from labelwise.pool import LabelState
from labelwise.strategies.base import Selection, Strategy

_FIT, _QUERY, _FINETUNE = 1, 2, 3


class ActiveLearner:
    """Pool-based batch active learner driven by a person or a simulated oracle.

    Args:
        model: Model with ``fit(X, y, *, n_classes, rng)`` and the capabilities
            the strategy needs.
        strategy: Selection strategy.
        X: The pool, shape ``(n_samples, ...)``; indices are rows of ``X``.
        classes: Class names (classification). Ignored when ``state`` is given.
        state: Label state to resume from. Defaults to a fresh one.
        seed: Seed of every random choice. Defaults to 0.
        finetune: Fine-tune the model on confident pool samples after every
            ``fit`` (see `labelwise.models.finetune`); works with every
            strategy. ``None`` (default) does not fine-tune.
        valid: ``(X_valid, y_valid)`` passed to a regressor's ``fit`` (epoch
            selection of `TorchRegressor`).
        class_weights: Per-class training weights ``(n_classes,)``, positive
            and finite, passed as ``sample_weight`` to the model's ``fit`` (the
            model must take it, e.g. `SklearnClassifier` or
            `TorchClassifier`) and as ``class_weights``
            to its ``finetune``. Strategies that train models of their own
            take them as a parameter, e.g. ``LLOSS(class_weights=...)``.

    Regression: give ``classes=None`` through a ``LabelState(n)`` (float labels);
    the model then needs ``fit(X, y, *, rng)`` and ``predict(X)``.

    Examples:
        >>> from labelwise.models import SklearnClassifier
        >>> from labelwise.strategies import Entropy
        >>> X = np.random.default_rng(0).normal(size=(50, 2))
        >>> learner = ActiveLearner(SklearnClassifier(), Entropy(), X, classes=[0, 1])
        >>> learner.teach([0, 1, 2, 3], [0, 1, 0, 1])
        >>> selection = learner.fit().query(5)
        >>> len(selection.indices)
        5
    """

    def __init__(
        self,
        model: Any,
        strategy: Strategy,
        X: Any,
        *,
        classes: Sequence[Any] | None = None,
        state: LabelState | None = None,
        seed: int = 0,
        finetune: FineTune | None = None,
        valid: tuple[Any, Any] | None = None,
        class_weights: Any = None,
    ):
        self.X = check_features(X, ndim_min=2, allow_padding=True)
        if state is None:
            if classes is None:
                raise InvalidParameterError(
                    "Pass classes=[...] (the class names) or a LabelState."
                )
            state = LabelState(self.X.shape[0], classes=classes)
        if state.n_samples != self.X.shape[0]:
            raise InvalidParameterError(
                f"The label state covers {state.n_samples} items but X has "
                f"{self.X.shape[0]} rows."
            )
        if isinstance(seed, bool) or not isinstance(seed, int | np.integer) or seed < 0:
            raise InvalidParameterError(
                f"seed must be an int >= 0 (a NumPy integer is fine); got {seed!r}. "
                "A generator cannot serve: every round's randomness is derived "
                "from (seed, round), so that a rebuilt learner repeats it."
            )
        strategy.check_model(model)
        if not state.is_classification:
            require(model, Regressor, "regression")
        if valid is not None and state.is_classification:
            raise InvalidParameterError(
                "valid=(X, y) is used by regressors only (epoch selection)."
            )
        self.valid = valid
        if class_weights is not None:
            import inspect

            if not state.is_classification:
                raise InvalidParameterError("class_weights are for classification.")
            class_weights = check_class_weights(class_weights, state.n_classes)
            if "sample_weight" not in inspect.signature(model.fit).parameters:
                raise UnsupportedModelError(
                    f"{type(model).__name__}.fit takes no sample_weight, so class "
                    "weights cannot be used; use a model whose fit takes sample_weight "
                    "(logreg, svm, mlp, cnn, resnet18)."
                )
        self.class_weights = class_weights
        if finetune is not None:
            require(model, FineTunable, "fine-tuning")
        self.finetune = finetune
        self.last_finetune: FineTuneResult | None = None
        self.last_finetune_seconds = 0.0
        self.model = model
        self.strategy = strategy
        self.state = state
        self.seed = int(seed)
        self.model_round: int | None = None
        self.last_train_seconds = 0.0

    def rng(self, purpose: int, round: int) -> np.random.Generator:
        """Generator for one ``purpose`` in one ``round`` (deterministic)."""
        return np.random.default_rng([self.seed, round, purpose])

    @property
    def round(self) -> int:
        """The round that labels taught now belong to.

        Before the first `fit` that is round 0, or the last round of a resumed
        state: labels taught then join the newest labels' round (where the
        learner that saved the state right after a `teach` put them too), not
        the initial labels'.
        """
        if self.model_round is None:
            return max(self.state.last_round, 0)
        return self.model_round + 1

    def fit(self) -> ActiveLearner:
        """Retrain the model from scratch on all labels collected so far.

        With ``finetune`` set, the model is then fine-tuned on the labeled items
        plus the unlabeled ones it is confident about (``last_finetune`` says
        what was done).
        """
        idx = self.state.labeled_indices()
        if idx.size == 0:
            raise InvalidParameterError(
                "No labels yet: teach() some labels before fit()."
            )
        model_round = max(self.state.last_round, 0)
        start = time.perf_counter()
        if self.state.is_classification:
            y = self.state.labels(idx)
            weights = {}
            if self.class_weights is not None:
                weights = {"sample_weight": self.class_weights[np.asarray(y, int)]}
            self.model.fit(
                self.X[idx],
                y,
                n_classes=self.state.n_classes,
                rng=self.rng(_FIT, model_round),
                **weights,
            )
        else:
            extra = {}
            if self.valid is not None:
                extra = {"X_valid": self.valid[0], "y_valid": self.valid[1]}
            self.model.fit(
                self.X[idx],
                self.state.labels(idx),
                rng=self.rng(_FIT, model_round),
                **extra,
            )
        self.last_train_seconds = time.perf_counter() - start
        self.model_round = model_round
        if self.finetune is not None:
            start = time.perf_counter()
            pool = self.state.unlabeled_indices()
            self.last_finetune = self.model.finetune(
                self.X[idx],
                self.state.labels(idx),
                self.X[pool],
                config=self.finetune,
                rng=self.rng(_FINETUNE, model_round),
                **(
                    {}
                    if self.class_weights is None
                    else {"class_weights": self.class_weights}
                ),
            )
            self.last_finetune_seconds = time.perf_counter() - start
        return self

    def query(self, batch_size: int) -> Selection:
        """Ask the strategy which unlabeled items to label next."""
        if self.model_round is None:
            raise NotFittedError("Call fit() before query().")
        return self.strategy.select(
            self.model,
            self.X,
            self.state,
            batch_size,
            rng=self.rng(_QUERY, self.round),
        )

    def teach(self, indices: Any, labels: Any) -> None:
        """Store labels (atomic; bad input raises and stores nothing)."""
        if isinstance(indices, Selection):
            raise InvalidParameterError(
                "teach() takes the indices of a selection, not the Selection: "
                "pass selection.indices (and one label per index)."
            )
        self.state.teach(indices, labels, round=self.round)

    def predict_proba(self, X: Any) -> np.ndarray:
        """Probabilities of the current model (classification)."""
        if not self.state.is_classification:
            raise InvalidParameterError(
                "predict_proba() is for classification; this learner does "
                "regression (its label state has no classes). Use predict()."
            )
        if self.model_round is None:
            raise NotFittedError("Call fit() before predict_proba().")
        return np.asarray(self.model.predict_proba(X))

    def predict(self, X: Any) -> np.ndarray:
        """Predicted class indices (classification) or values (regression)."""
        if self.model_round is None:
            raise NotFittedError("Call fit() before predict().")
        if self.state.is_classification:
            labels: np.ndarray = np.asarray(self.model.predict_proba(X)).argmax(1)
            return labels
        return np.asarray(self.model.predict(X), dtype=np.float64)

    def save_state(self, path: str | os.PathLike[str]) -> None:
        """Save the label state atomically (see `LabelState.save`)."""
        self.state.save(path)
