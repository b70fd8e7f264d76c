"""scikit-learn classifier adapter.

Wraps any estimator with ``predict_proba``. Its embedding is the input features,
so Core-Set, BADGE and BAIT also run on convex models, as in the BAIT paper's
§6.1 (for a linear model the last-layer gradient is ``(onehot - p) ⊗ x``).
"""

from __future__ import annotations

import warnings
from typing import Any

import numpy as np
from sklearn.base import clone
from sklearn.linear_model import LogisticRegression

from labelwise._typing import FloatArray, RNGLike
from labelwise._validation import (
    check_class_labels,
    check_features,
    check_rng,
    check_sample_weight,
    child_seed,
)
from labelwise.exceptions import FallbackWarning, InvalidParameterError, NotFittedError


class SklearnClassifier:
    """Adapter for a scikit-learn estimator with ``predict_proba``.

    ``fit`` clones the estimator (a fresh model every round) and sets its
    ``random_state`` parameters from ``rng``, those of nested estimators (in a
    pipeline or a calibrated classifier) included. Probabilities are returned
    for all ``n_classes`` classes, with 0 for classes absent from the labels.

    Args:
        estimator: Unfitted estimator. Defaults to
            ``LogisticRegression(max_iter=1000)``.

    Examples:
        >>> clf = SklearnClassifier()
        >>> X = np.array([[0.0], [1.0], [2.0], [3.0]])
        >>> clf.fit(X, [0, 0, 2, 2], n_classes=3).predict_proba(X).shape
        (4, 3)
    """

    def __init__(self, estimator: Any = None):
        est = LogisticRegression(max_iter=1000) if estimator is None else estimator
        _check_estimator_instance(est)
        if not hasattr(est, "predict_proba") or not hasattr(est, "fit"):
            raise InvalidParameterError(
                f"estimator must implement fit and predict_proba; got "
                f"{type(est).__name__}. Wrap a margin classifier such as SVC in "
                "sklearn.calibration.CalibratedClassifierCV."
            )
        self.estimator = est
        self.estimator_: Any = None
        self.n_classes_: int | None = None
        self.constant_class_: int | None = None

    def describe(self) -> str:
        """One line describing the estimator."""
        return type(self.estimator).__name__

    @staticmethod
    def _flat(X: Any) -> np.ndarray:
        x = check_features(X, ndim_min=2)
        return x.reshape(x.shape[0], -1)

    def fit(
        self,
        X: Any,
        y: Any,
        *,
        n_classes: int,
        rng: RNGLike = None,
        sample_weight: Any = None,
    ) -> SklearnClassifier:
        """Fit a fresh clone on ``X`` ``(n, ...)`` and class indices ``y``.

        ``sample_weight`` ``(n,)`` (finite, ``>= 0``, not all zero) is passed
        to the estimator's ``fit`` (the imbalanced-weighted setting).
        """
        x = self._flat(X)
        yy = check_class_labels(y, x.shape[0], n_classes)
        w = check_sample_weight(sample_weight, x.shape[0])
        self.n_classes_ = int(n_classes)
        present = np.unique(yy)
        if present.size < 2:
            warnings.warn(
                f"Only class {present.tolist()} is labeled; predicting it with "
                "probability 1 until a second class is labeled.",
                FallbackWarning,
                stacklevel=2,
            )
            self.constant_class_ = int(present[0])
            self.estimator_ = None
            return self
        self.constant_class_ = None
        est = _calibration_folds(clone(self.estimator), yy)
        _seed_estimator(est, check_rng(rng), 2**32)
        if w is None:
            self.estimator_ = est.fit(x, yy)
        else:
            _check_takes_weights(est)
            self.estimator_ = est.fit(x, yy, sample_weight=w)
        return self

    def decision_function(self, X: Any) -> FloatArray:
        """The estimator's margin ``(n,)`` (binary) or ``(n, k)``; 0 if constant.

        Raises:
            UnsupportedModelError: if the estimator has no ``decision_function``.
        """
        from labelwise.exceptions import UnsupportedModelError

        if self.n_classes_ is None:
            raise NotFittedError("SklearnClassifier is not fitted; call fit first.")
        inner = self.estimator
        if hasattr(inner, "estimator") and not hasattr(inner, "decision_function"):
            inner = inner.estimator  # e.g. CalibratedClassifierCV(SVC())
        if not hasattr(inner, "decision_function"):
            raise UnsupportedModelError(
                f"{type(self.estimator).__name__} has no decision_function; fscore "
                "needs a margin classifier such as SVC (model 'svm')."
            )
        x = self._flat(X)
        if self.constant_class_ is not None:
            return np.zeros(x.shape[0])
        est = self.estimator_
        if not hasattr(est, "decision_function"):
            # calibrated with ensemble=False: one margin classifier fit on all data
            est = est.calibrated_classifiers_[0].estimator
        out: FloatArray = np.asarray(est.decision_function(x))
        return out

    def predict_proba(self, X: Any) -> FloatArray:
        """Probabilities of shape ``(n, n_classes)``."""
        if self.n_classes_ is None:
            raise NotFittedError("SklearnClassifier is not fitted; call fit first.")
        x = self._flat(X)
        out = np.zeros((x.shape[0], self.n_classes_))
        if self.constant_class_ is not None:
            out[:, self.constant_class_] = 1.0
            return out
        out[:, self.estimator_.classes_] = self.estimator_.predict_proba(x)
        return out

    def embed(self, X: Any) -> FloatArray:
        """The input features, flattened to ``(n, n_features)``."""
        return self._flat(X).astype(np.float32)


def _check_estimator_instance(est: Any) -> None:
    """Refuse an estimator class where an instance belongs (``LogisticRegression``)."""
    if isinstance(est, type):
        raise InvalidParameterError(
            f"estimator must be an estimator instance; got the class "
            f"{est.__name__}. Call it: {est.__name__}()."
        )


def _seed_estimator(est: Any, rng: np.random.Generator, modulus: int) -> None:
    """Set every ``random_state`` of ``est`` from ``rng``, nested ones included.

    The estimator's own ``random_state`` takes the first draw; those of nested
    estimators (``randomforestclassifier__random_state`` in a pipeline,
    ``estimator__random_state`` in a calibrated classifier) one draw each, in
    name order. Without them a pipeline around a random forest drew from
    fresh entropy, so a fixed seed did not fix its predictions.

    Args:
        est: An unfitted scikit-learn estimator (changed in place).
        rng: Generator of the seeds.
        modulus: Seeds are drawn modulo this (scikit-learn wants < 2**32).
    """
    params = est.get_params()
    keys = ["random_state"] if "random_state" in params else []
    keys += sorted(k for k in params if k.endswith("__random_state"))
    if keys:
        est.set_params(**{k: child_seed(rng) % modulus for k in keys})


def _check_takes_weights(est: Any) -> None:
    """Refuse an estimator whose ``fit`` cannot take ``sample_weight``.

    A ``fit(X, y, **kwargs)`` (a wrapper around another estimator) may pass
    them on, so only a `Pipeline` (which wants ``step__sample_weight``) and a
    ``fit`` with neither parameter are refused.
    """
    import inspect

    from sklearn.pipeline import Pipeline

    params = inspect.signature(est.fit).parameters.values()
    takes = any(p.name == "sample_weight" for p in params) or (
        not isinstance(est, Pipeline)
        and any(p.kind is inspect.Parameter.VAR_KEYWORD for p in params)
    )
    if not takes:
        raise InvalidParameterError(
            f"{type(est).__name__}.fit takes no sample_weight, so sample weights "
            "(class weights) cannot be used with it; leave them out, or use an "
            "estimator that takes them (e.g. LogisticRegression, SVC)."
        )


def _calibration_folds(est: Any, y: np.ndarray) -> Any:
    """``est`` with fewer calibration folds where a class has too few labels.

    A `CalibratedClassifierCV` with ``cv=K`` (the ``svm`` model: ``K = 3``)
    refuses labels where a class has fewer than ``K`` items, which is common in
    the first rounds of an imbalanced pool. With ``2 <= m < K`` items in the
    smallest class it is calibrated on ``m`` folds; with one, on the margin
    classifier's own training data (one split whose training and calibration
    sets are all the labels: overconfident) until that class has two. Both
    with a `FallbackWarning`.
    """
    from sklearn.calibration import CalibratedClassifierCV

    cv = getattr(est, "cv", None)
    if not isinstance(est, CalibratedClassifierCV) or isinstance(cv, bool):
        return est
    if not isinstance(cv, int | np.integer):
        return est
    least = int(np.bincount(y)[np.unique(y)].min())
    if least >= cv:
        return est
    name = type(est.estimator).__name__
    if least >= 2:
        warnings.warn(
            f"A class has only {least} labels, fewer than the {cv} calibration "
            f"folds of {name}; calibrating its probabilities on {least} folds.",
            FallbackWarning,
            stacklevel=3,
        )
        return est.set_params(cv=least)
    warnings.warn(
        f"A class has a single label, too few for {name}'s {cv} calibration "
        "folds; its probabilities are calibrated on its own training data "
        "(overconfident) until every class has two labels.",
        FallbackWarning,
        stacklevel=3,
    )
    every = np.arange(y.shape[0])
    return est.set_params(cv=[(every, every)])
