"""One-step lookahead: the myopic oracle and its fitting helpers.

The oracle scores every pool point by the change of the evaluation score when a
fresh model is trained on the labeled set plus that point with its *true* label
(`myopic_improvements`). The same helpers give the neural process its
training targets and expected error reduction its batched logistic fits.

References:
    Bakker, T., van Hoof, H., Welling, M. Learning Objective-Specific Active
    Learning Strategies with Attentive Neural Processes (ECML-PKDD 2023).
"""

from __future__ import annotations

import copy
import warnings
from collections.abc import Callable
from typing import Any

import numpy as np

from labelwise._validation import (
    check_class_labels,
    check_class_weights,
    check_features,
    check_positive,
    child_seed,
)
from labelwise.exceptions import (
    ConvergenceError,
    FallbackWarning,
    InvalidParameterError,
)
from labelwise.kernels import fit_logistic_plus_one
from labelwise.metrics import weighted_accuracy
from labelwise.pool import LabelState
from labelwise.strategies._registry import register
from labelwise.strategies.base import (
    Selection,
    SimulationContext,
    Strategy,
    check_context,
    flat_rows,
)


def check_n_jobs(n_jobs: int) -> int:
    """Validate a joblib ``n_jobs`` (-1 or >= 1)."""
    if not isinstance(n_jobs, int) or n_jobs == 0 or n_jobs < -1:
        raise InvalidParameterError(f"n_jobs must be -1 or >= 1; got {n_jobs!r}.")
    return n_jobs


def context_weights(c: SimulationContext) -> dict[str, np.ndarray | None]:
    """A simulation's per-class weights as arrays (``None`` when not given).

    ``weights``: evaluation weights (``eval_weights``, the weighted score);
    ``class_weights``: training weights of the refits.
    """
    return {
        "weights": None if c.eval_weights is None else np.asarray(c.eval_weights),
        "class_weights": None
        if c.class_weights is None
        else np.asarray(c.class_weights),
    }


def checked_eval_set(
    X_eval: Any, y_eval: Any, X_pool: np.ndarray, n_classes: int, *, name: str
) -> tuple[np.ndarray, np.ndarray]:
    """A labeled evaluation set checked against the pool and the classes.

    Args:
        X_eval: Inputs ``(n_eval, ...)``, items shaped as the pool's.
        y_eval: Class indices ``(n_eval,)`` in ``[0, n_classes)``.
        X_pool: The pool ``(n, ...)``.
        n_classes: Number of classes.
        name: ``"reward"`` or ``"eval"``: the fields are ``X_<name>`` and
            ``y_<name>`` in errors.

    Returns:
        ``(X_eval, y_eval)``, the labels as int64.

    Raises:
        InvalidParameterError: Non-numeric or non-finite inputs, items of another
            shape than the pool's, or labels that are not class indices.
    """
    x = check_features(X_eval, name=f"X_{name}", ndim_min=2)
    if x.shape[1:] != X_pool.shape[1:]:
        raise InvalidParameterError(
            f"X_{name} has items of shape {x.shape[1:]}, but the pool's are "
            f"{X_pool.shape[1:]}; give the {name} set the pool's features."
        )
    y = check_class_labels(y_eval, x.shape[0], n_classes, name=f"y_{name}")
    return x, y


def require_labeled(state: LabelState, name: str) -> None:
    """Refuse a pool without labels: the refits start from the labeled set."""
    if state.n_labeled == 0:
        raise InvalidParameterError(
            f"{name} refits the model on the labeled set plus each candidate, and "
            "nothing is labeled yet. Label a first batch (e.g. with random) first."
        )


def checked_eval_weights(weights: Any, n_classes: int, name: str) -> np.ndarray | None:
    """Per-class weights of a score ``(n_classes,)``, finite and non-negative.

    A class weighted 0 is left out of the score. Training weights are
    positive (`labelwise._validation.check_class_weights`).
    """
    if weights is None:
        return None
    w = np.asarray(weights, dtype=np.float64)
    if w.shape != (n_classes,) or not (np.isfinite(w).all() and (w >= 0).all()):
        raise InvalidParameterError(
            f"{name} must be {n_classes} finite non-negative numbers, one per "
            f"class; got {w.tolist()}."
        )
    return w


class RewardSetStrategy(Strategy):
    """A strategy scored on a labeled reward set given by `prepare_simulation`."""

    def set_reward(
        self,
        X_reward: Any,
        y_reward: Any,
        *,
        eval_weights: Any = None,
        class_weights: Any = None,
    ) -> None:
        """The labeled reward set, its per-class weights and the training weights.

        A convenience for `prepare_simulation` with these fields.
        """
        self.prepare_simulation(
            SimulationContext(
                X_reward=X_reward,
                y_reward=y_reward,
                eval_weights=eval_weights,
                class_weights=class_weights,
            )
        )

    @staticmethod
    def checked_reward(
        reward: dict[str, Any], X: np.ndarray, n_classes: int
    ) -> dict[str, Any]:
        """The stored reward set and weights, checked against the pool and classes.

        Args:
            reward: ``{"X", "y", "weights", "class_weights"}`` as stored by
                `prepare_simulation`.
            X: The pool ``(n, ...)``.
            n_classes: Number of classes.

        Returns:
            The same keys: inputs, int64 labels, float64 weights (or ``None``).
        """
        x, y = checked_eval_set(reward["X"], reward["y"], X, n_classes, name="reward")
        return {
            "X": x,
            "y": y,
            "weights": checked_eval_weights(
                reward["weights"], n_classes, "eval_weights"
            ),
            "class_weights": check_class_weights(reward["class_weights"], n_classes),
        }


def check_batched(batched: bool | None) -> bool | None:
    """Validate a ``batched`` switch (``None``, ``True`` or ``False``)."""
    if batched not in (None, True, False):
        raise InvalidParameterError(
            f"batched must be None, True or False; got {batched!r}."
        )
    return batched


def _score(y_true: np.ndarray, y_pred: np.ndarray, weights: np.ndarray | None) -> float:
    if weights is None:
        return float(np.mean(y_true == y_pred))
    return weighted_accuracy(y_true, y_pred, weights)


def fit_and_score(
    model: Any,
    X: np.ndarray,
    y: np.ndarray,
    X_eval: np.ndarray,
    y_eval: np.ndarray,
    *,
    n_classes: int,
    seed: int = 0,
    weights: np.ndarray | None = None,
    sample_weight: np.ndarray | None = None,
) -> float:
    """Score of a fresh copy of ``model`` fit on ``(X, y)``, on the eval set.

    The score is accuracy or, with per-class ``weights``, the weighted
    (balanced) accuracy; ``sample_weight`` holds per-class training weights.
    """
    m = copy.deepcopy(model)
    extra = {} if sample_weight is None else {"sample_weight": sample_weight[y]}
    m.fit(X, y, n_classes=n_classes, rng=seed, **extra)
    return _score(y_eval, np.asarray(m.predict_proba(X_eval)).argmax(1), weights)


def logistic_C(model: Any) -> float | None:
    """``C`` when ``model`` is an L2 logistic regression the batched fits can solve.

    That is a `SklearnClassifier` around a
    ``LogisticRegression`` with penalty ``l2`` (scikit-learn's default), an
    intercept, no ``class_weight`` and a solver that leaves the intercept
    unpenalised (``lbfgs``, ``newton-cg``, ``newton-cholesky``); ``None``
    otherwise.
    """
    from sklearn.linear_model import LogisticRegression

    est = getattr(model, "estimator", None)
    if not isinstance(est, LogisticRegression) or type(est) is not LogisticRegression:
        return None
    p = est.get_params()
    l2 = p.get("penalty", "l2") in ("l2", "deprecated") and p.get("l1_ratio") in (
        None,
        0,
        0.0,
    )
    ok = (
        l2
        and p["fit_intercept"]
        and p["class_weight"] is None
        and p["solver"] in ("lbfgs", "newton-cg", "newton-cholesky")
    )
    return float(p["C"]) if ok else None


def batched_C(
    model: Any, n_classes: int, y_labeled: np.ndarray, batched: bool | None
) -> float | None:
    """``C`` of the batched logistic fits, or ``None`` to refit copies of ``model``.

    The batched fits serve a binary L2 logistic regression (`logistic_C`)
    whose labeled set holds both classes; ``batched=False`` never uses them and
    ``batched=True`` requires them (an error says why they cannot be used).
    """
    if batched is False:
        return None
    C = logistic_C(model)
    classes = np.unique(y_labeled)
    if C is None or n_classes != 2 or classes.size != 2:
        if batched:
            raise InvalidParameterError(
                "batched=True needs a binary L2 logistic regression (labelwise's "
                f"logreg) and a labeled set with both classes; got "
                f"{type(model).__name__} with {n_classes} classes and labeled "
                f"classes {classes.tolist()}. Use batched=None to refit otherwise."
            )
        return None
    return C


def _batched_scores(
    C: float,
    X_base: np.ndarray,
    y_base: np.ndarray,
    X_cand: np.ndarray,
    y_cand: np.ndarray,
    X_eval: np.ndarray,
    y_eval: np.ndarray,
    weights: np.ndarray | None,
    sample_weight: np.ndarray | None,
) -> tuple[float, np.ndarray]:
    """Eval scores of the base fit and of every "base + one candidate" fit."""
    sw = None if sample_weight is None else sample_weight[y_base]
    nw = None if sample_weight is None else sample_weight[y_cand]
    theta0, thetas = fit_logistic_plus_one(
        flat_rows(X_base), y_base, flat_rows(X_cand), y_cand, sw, nw, C=C
    )
    xe = flat_rows(X_eval).astype(np.float64)
    w = np.ones(len(y_eval)) if weights is None else np.asarray(weights)[y_eval]
    every = np.vstack([theta0, thetas])  # row 0: the base fit
    out = np.empty(len(every))
    for start in range(0, len(every), 4096):
        t = every[start : start + 4096]
        right = ((xe @ t[:, :-1].T + t[:, -1]) > 0) == (y_eval == 1)[:, None]
        out[start : start + 4096] = (w @ right) / w.sum()
    return float(out[0]), out[1:]


def myopic_improvements(
    model: Any,
    X: np.ndarray,
    labeled: np.ndarray,
    y_labeled: np.ndarray,
    candidates: np.ndarray,
    y_candidates: np.ndarray,
    X_eval: np.ndarray,
    y_eval: np.ndarray,
    *,
    n_classes: int,
    weights: np.ndarray | None = None,
    seed: int = 0,
    n_jobs: int = 1,
    sample_weight: np.ndarray | None = None,
    batched: bool | None = None,
) -> np.ndarray:
    """Score change on ``(X_eval, y_eval)`` from adding each candidate's true label.

    ``v(x) = score(fit(L ∪ {(x, y)})) - score(fit(L))`` with a fresh copy of
    ``model`` per fit (seeded identically), score = accuracy or, with
    ``weights``, the weighted (balanced) accuracy. Cost: ``len(candidates) + 1``
    fits.

    Two ways to fit. For a binary L2 logistic regression (`logistic_C`;
    labelwise's ``logreg``) whose labeled set holds both classes, all fits are
    solved together to a gradient of 1e-8
    (`fit_logistic_plus_one`): the same models as
    scikit-learn's up to its solver tolerance (``tol=1e-4``), 10-50x faster.
    Otherwise, or with ``batched=False``, every fit is a fresh copy of
    ``model``, parallel over candidates with joblib (``n_jobs``).

    Args:
        model: An unfitted or fitted model (copied, never changed).
        X: All inputs ``(n, ...)``; ``labeled`` and ``candidates`` index it.
        labeled: Labeled rows.
        y_labeled: Their class indices.
        candidates: Rows to try.
        y_candidates: Their true class indices.
        X_eval: Evaluation inputs.
        y_eval: Their classes.
        n_classes: Number of classes.
        weights: Per-class weights of the score (``None``: accuracy).
        seed: Seed of every fit.
        n_jobs: joblib workers (-1: all cores).
        sample_weight: Per-class training weights ``(n_classes,)`` or ``None``.
        batched: ``None`` (default): batched fits where possible; ``True``:
            require them (error otherwise); ``False``: refit copies of
            ``model``.

    Returns:
        ``(len(candidates),)`` improvements.
    """
    y_labeled = np.asarray(y_labeled, dtype=np.int64)
    y_candidates = np.asarray(y_candidates, dtype=np.int64)
    y_eval = np.asarray(y_eval, dtype=np.int64)
    C = batched_C(model, n_classes, y_labeled, batched)

    def fast() -> np.ndarray:
        assert C is not None
        base_score, cand = _batched_scores(
            C, X[labeled], y_labeled, X[candidates], y_candidates, X_eval, y_eval,
            None if weights is None else np.asarray(weights, dtype=np.float64),
            None if sample_weight is None else np.asarray(sample_weight, float),
        )  # fmt: skip
        out: np.ndarray = cand - base_score
        return out

    def slow() -> np.ndarray:
        return _refit_improvements(
            model, X, labeled, y_labeled, candidates, y_candidates, X_eval, y_eval,
            n_classes=n_classes, weights=weights, seed=seed, n_jobs=n_jobs,
            sample_weight=sample_weight,
        )  # fmt: skip

    return slow() if C is None else batched_or_refit(batched, fast, slow)


def batched_or_refit(
    batched: bool | None,
    fast: Callable[[], np.ndarray],
    slow: Callable[[], np.ndarray],
) -> np.ndarray:
    """The batched logistic fits, or the refits when they do not converge.

    With ``batched=None`` a `ConvergenceError` of the batched fits (features on
    very different scales, say) falls back to refitting copies of the model,
    with a `FallbackWarning`; with ``batched=True`` it is raised.
    """
    try:
        return fast()
    except ConvergenceError as exc:
        if batched:
            raise
        warnings.warn(
            f"The batched logistic fits did not converge ({exc}); refitting "
            "copies of the model one by one instead (slower).",
            FallbackWarning,
            stacklevel=3,
        )
        return slow()


def _refit_improvements(
    model: Any,
    X: np.ndarray,
    labeled: np.ndarray,
    y_labeled: np.ndarray,
    candidates: np.ndarray,
    y_candidates: np.ndarray,
    X_eval: np.ndarray,
    y_eval: np.ndarray,
    *,
    n_classes: int,
    weights: np.ndarray | None,
    seed: int,
    n_jobs: int,
    sample_weight: np.ndarray | None,
) -> np.ndarray:
    """`myopic_improvements` by one fresh copy of ``model`` per fit (joblib)."""
    from joblib import Parallel, delayed

    def fit_score(rows: np.ndarray, ys: np.ndarray) -> float:
        return fit_and_score(
            model, X[rows], ys, X_eval, y_eval, n_classes=n_classes, seed=seed,
            weights=weights, sample_weight=sample_weight,
        )  # fmt: skip

    base = fit_score(labeled, y_labeled)

    def one(chunk: np.ndarray, ys: np.ndarray) -> list[float]:
        return [
            fit_score(np.append(labeled, c), np.append(y_labeled, y)) - base
            for c, y in zip(chunk, ys, strict=True)
        ]

    parts = max(1, min(len(candidates), 8 * max(n_jobs, 1)))
    chunks = np.array_split(np.arange(len(candidates)), parts)
    out = Parallel(n_jobs=n_jobs)(
        delayed(one)(candidates[c], y_candidates[c]) for c in chunks if c.size
    )
    return np.asarray([v for part in out for v in part], dtype=np.float64)


@register("oracle")
class Oracle(Strategy):
    """The myopic oracle: the pool points whose *true* label helps most.

    For every unlabeled point, a fresh model is trained on the labeled set plus
    that point with its true label, and the change of the evaluation score is
    measured; the top ``batch_size`` are selected (ties: the highest index, as
    ``argsort`` puts it last in the reference). It uses labels no real strategy
    has — an upper-bound baseline for simulations only. It needs the truth:
    `prepare_simulation` (the benchmark harness calls it with the pool
    labels and the test set, as the paper's ORACLE baseline does) or its
    convenience `set_simulation`.

    Cost: ``n_unlabeled + 1`` model fits per step. With a binary logistic
    regression (``logreg``) they are solved together
    (`myopic_improvements`; 0.1-0.3 s for a 3 000-point pool with 21
    features); other models are refit one by one, parallel over candidates
    (``n_jobs``). ``max_candidates`` scores a random subset instead.

    Args:
        n_jobs: joblib workers of the one-by-one fits. Defaults to 1.
        max_candidates: Score at most this many random pool points (``None``:
            all).
        batched: ``None`` (default): batched logistic fits where possible;
            ``False``: always refit copies of the model (scikit-learn's own
            solver and tolerance); ``True``: require the batched fits.
    """

    def __init__(
        self,
        *,
        n_jobs: int = 1,
        max_candidates: int | None = None,
        batched: bool | None = None,
    ):
        check_n_jobs(n_jobs)
        if max_candidates is not None:
            check_positive(max_candidates, "max_candidates", integer=True)
        self.n_jobs = n_jobs
        self.max_candidates = max_candidates
        self.batched = check_batched(batched)
        self._truth: dict[str, Any] | None = None

    def prepare_simulation(self, context: SimulationContext) -> None:
        """Take the true pool labels and the evaluation set (required).

        Reads ``y_pool``, ``X_eval``, ``y_eval`` and, when given,
        ``eval_weights`` (weighted score) and ``class_weights`` (training
        weights of the refits).

        Raises:
            InvalidParameterError: ``y_pool``, ``X_eval`` or ``y_eval`` is
                missing.
        """
        c = check_context(context)
        needed = {"y_pool": c.y_pool, "X_eval": c.X_eval, "y_eval": c.y_eval}
        missing = [name for name, value in needed.items() if value is None]
        if missing:
            raise InvalidParameterError(
                "The oracle uses the true labels: its SimulationContext needs "
                f"y_pool, X_eval and y_eval; {', '.join(missing)} missing."
            )
        assert c.y_pool is not None and c.X_eval is not None  # for mypy
        self._truth = {  # checked against the pool and classes in select
            "y_pool": np.asarray(c.y_pool),
            "X_eval": np.asarray(c.X_eval),
            "y_eval": np.asarray(c.y_eval),
            **context_weights(c),
        }

    def set_simulation(
        self,
        y_pool: Any,
        X_eval: Any,
        y_eval: Any,
        *,
        eval_weights: Any = None,
        class_weights: Any = None,
    ) -> None:
        """Give the oracle the true pool labels and its evaluation set.

        A convenience for `prepare_simulation` with these fields.
        """
        self.prepare_simulation(
            SimulationContext(
                y_pool=y_pool,
                X_eval=X_eval,
                y_eval=y_eval,
                eval_weights=eval_weights,
                class_weights=class_weights,
            )
        )

    def _select(
        self,
        model: Any,
        X: np.ndarray,
        state: LabelState,
        batch_size: int,
        rng: np.random.Generator,
    ) -> Selection:
        t = self._truth
        if t is None:
            raise InvalidParameterError(
                "The oracle uses the true labels: call prepare_simulation("
                "SimulationContext(y_pool=..., X_eval=..., y_eval=...)) or "
                "set_simulation(y_pool, X_eval, y_eval) first (the benchmark "
                "harness does this for you)."
            )
        if t["y_pool"].shape != (state.n_samples,):
            raise InvalidParameterError(
                f"The oracle got {t['y_pool'].shape[0]} pool labels; the pool has "
                f"{state.n_samples} items."
            )
        require_labeled(state, "The oracle")
        k = state.n_classes
        y_pool = check_class_labels(t["y_pool"], state.n_samples, k, name="y_pool")
        X_eval, y_eval = checked_eval_set(t["X_eval"], t["y_eval"], X, k, name="eval")
        pool = state.unlabeled_indices()
        if self.max_candidates is not None and pool.size > self.max_candidates:
            pool = np.sort(rng.choice(pool, size=self.max_candidates, replace=False))
        labeled = state.labeled_indices()
        values = myopic_improvements(
            model,
            X,
            labeled,
            np.asarray(state.labels(labeled), dtype=np.int64),
            pool,
            y_pool[pool],
            X_eval,
            y_eval,
            n_classes=k,
            weights=checked_eval_weights(t["weights"], k, "eval_weights"),
            seed=child_seed(rng),
            n_jobs=self.n_jobs,
            sample_weight=check_class_weights(t["class_weights"], k),
            batched=self.batched,
        )
        order = np.argsort(values, kind="stable")[::-1][: min(batch_size, pool.size)]
        if order.size < batch_size:  # max_candidates < batch: fill at random
            rest = np.setdiff1d(state.unlabeled_indices(), pool[order])
            extra = rng.choice(rest, size=batch_size - order.size, replace=False)
            return Selection(
                indices=np.concatenate([pool[order], extra]),
                info={"fits": int(pool.size + 1)},
            )
        return Selection(
            indices=pool[order], scores=values[order], info={"fits": int(pool.size + 1)}
        )


__all__ = [
    "Oracle",
    "batched_C",
    "check_batched",
    "check_n_jobs",
    "fit_and_score",
    "logistic_C",
    "myopic_improvements",
]
