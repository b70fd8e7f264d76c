"""Simulated active-learning experiments: the learner with an oracle of true labels.

`run_simulation` trains the round-0 model on a random initial set, then
repeats query -> label -> retrain for ``n_rounds`` rounds, evaluating each model
on a test set. Every round is committed to a `ResultStore` in one
transaction, so rerunning an interrupted run continues from its last complete
round; a finished run is skipped.
"""

from __future__ import annotations

import time
import traceback
from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np

from labelwise._validation import check_features
from labelwise.exceptions import InvalidParameterError
from labelwise.loop.learner import ActiveLearner
from labelwise.loop.oracle import SimulatedOracle
from labelwise.loop.store import ResultStore, run_id
from labelwise.metrics import (
    classification_metrics,
    clean_share,
    regression_metrics,
)
from labelwise.models.finetune import FineTune
from labelwise.pool import LabelState
from labelwise.strategies.base import Strategy

_INIT = 0


@dataclass(frozen=True)
class RunConfig:
    """Full configuration of one simulated run (its id is a hash of this).

    Attributes:
        dataset: Dataset name.
        model: Model name.
        strategy: Strategy name.
        seed: Seed of the run (initial set, training, selection).
        n_initial: Size of the random initial labeled set.
        batch_size: Labels per round.
        n_rounds: Rounds after the initial model.
        strategy_params: Strategy hyperparameters.
        extra: Other settings that change results (pool size, model options).
    """

    dataset: str
    model: str
    strategy: str
    seed: int
    n_initial: int
    batch_size: int
    n_rounds: int
    strategy_params: Mapping[str, Any] = field(default_factory=dict)
    extra: Mapping[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        for name in ("n_initial", "batch_size"):
            v = getattr(self, name)
            if not isinstance(v, int) or v < 1:
                raise InvalidParameterError(f"{name} must be an int >= 1; got {v!r}.")
        if not isinstance(self.n_rounds, int) or self.n_rounds < 0:
            raise InvalidParameterError(
                f"n_rounds must be an int >= 0; got {self.n_rounds!r}."
            )
        if not isinstance(self.seed, int) or self.seed < 0:
            raise InvalidParameterError(f"seed must be an int >= 0; got {self.seed!r}.")

    def as_dict(self) -> dict[str, Any]:
        """Plain dict (JSON-serialisable)."""
        d = asdict(self)
        d["strategy_params"] = dict(self.strategy_params)
        d["extra"] = dict(self.extra)
        return d

    @property
    def run_id(self) -> str:
        """Stable id of this configuration."""
        return run_id(self.as_dict())


def initial_indices(n_pool: int, n_initial: int, seed: int) -> np.ndarray:
    """The random initial set of a run: same for every strategy with one seed."""
    if n_initial >= n_pool:
        raise InvalidParameterError(
            f"n_initial={n_initial} must be smaller than the pool ({n_pool} items)."
        )
    rng = np.random.default_rng([seed, _INIT])
    return np.sort(rng.choice(n_pool, size=n_initial, replace=False)).astype(np.int64)


@dataclass(frozen=True)
class _SimulationData:
    """The checked arrays of one simulated run and how its rounds are scored."""

    x_pool: np.ndarray
    y_pool: np.ndarray
    x_test: np.ndarray
    y_test: np.ndarray
    classes: list[Any] | None
    noisy: np.ndarray | None
    eval_weights: Any


def _checked_data(
    X_pool: Any,
    y_pool: Any,
    X_test: Any,
    y_test: Any,
    classes: list[Any] | None,
    noisy: Any,
    eval_weights: Any,
) -> _SimulationData:
    """Check the pool and test arrays and the ``noisy`` mask's shape."""
    x_pool = check_features(X_pool, allow_padding=True)
    noisy_mask = None
    if noisy is not None:
        noisy_mask = np.asarray(noisy, dtype=bool)
        if noisy_mask.shape != (x_pool.shape[0],):
            raise InvalidParameterError(
                f"noisy must be a boolean mask of shape ({x_pool.shape[0]},); "
                f"got {noisy_mask.shape}."
            )
    return _SimulationData(
        x_pool,
        np.asarray(y_pool),
        check_features(X_test, allow_padding=True),
        np.asarray(y_test),
        classes,
        noisy_mask,
        eval_weights,
    )


def _resumed_learner(
    config: RunConfig,
    store: ResultStore,
    data: _SimulationData,
    oracle: SimulatedOracle,
    model: Any,
    strategy: Strategy,
    learner_kw: dict[str, Any],
) -> tuple[ActiveLearner, LabelState, int]:
    """A learner taught every label the store holds (the initial draw if none).

    Returns:
        The learner, its label state and the last stored round (``-1`` if none).
    """
    rid = config.run_id
    state = LabelState(data.x_pool.shape[0], classes=data.classes)
    last, idx, rounds = store.resume_point(rid)
    if idx.size == 0:
        init = initial_indices(data.x_pool.shape[0], config.n_initial, config.seed)
        store.record_initial(rid, init, oracle.label(init))
        idx, rounds = init, np.zeros(init.size, dtype=np.int64)
    for r in np.unique(rounds):
        sel = idx[rounds == r]
        state.teach(sel, oracle.label(sel), round=int(r))
    learner = ActiveLearner(
        model, strategy, data.x_pool, state=state, seed=config.seed, **learner_kw
    )
    return learner, state, last


def _fit_and_measure(
    learner: ActiveLearner, state: LabelState, data: _SimulationData, rnd: int
) -> dict[str, float]:
    """Fit round ``rnd``'s model and measure it on the test set."""
    learner.fit()
    if learner.model_round != rnd:  # pragma: no cover - store inconsistency
        raise RuntimeError(
            f"Resume mismatch: model round {learner.model_round} != {rnd}."
        )
    pred = learner.predict(data.x_test)
    metrics = (
        classification_metrics(data.y_test, pred, data.eval_weights)
        if data.classes is not None
        else regression_metrics(data.y_test, pred)
    )
    metrics["train_seconds"] = learner.last_train_seconds
    ft = learner.last_finetune
    if ft is not None:
        metrics["finetune_size"] = ft.size
        metrics["finetune_pseudo"] = ft.n_pseudo
        metrics["finetune_epochs"] = ft.epochs
        metrics["finetune_seconds"] = learner.last_finetune_seconds
    if data.noisy is not None:
        lab = state.labeled_indices()
        metrics.update(clean_share(data.noisy, lab, state.rounds(lab), rnd))
    return metrics


def run_simulation(
    config: RunConfig,
    model: Any,
    strategy: Strategy,
    X_pool: Any,
    y_pool: Any,
    X_test: Any,
    y_test: Any,
    *,
    classes: list[Any] | None,
    store: ResultStore,
    on_round: Callable[[int, dict[str, float]], None] | None = None,
    noisy: Any = None,
    finetune: FineTune | None = None,
    valid: tuple[Any, Any] | None = None,
    eval_weights: Any = None,
    class_weights: Any = None,
) -> str:
    """Run (or resume) one simulated experiment and store every round.

    Args:
        config: The run's configuration (its id keys the store).
        model: Fresh model; it is retrained from scratch every round.
        strategy: Selection strategy.
        X_pool: Pool inputs ``(n_pool, ...)``.
        y_pool: True pool labels ``(n_pool,)`` (revealed by a simulated oracle).
        X_test: Test inputs ``(n_test, ...)``.
        y_test: Test labels ``(n_test,)``.
        classes: Class names; ``None`` for regression (float targets; metrics
            of `regression_metrics` instead of accuracies).
        store: Where rounds are committed.
        on_round: Called as ``on_round(round, metrics)`` after each commit.
        noisy: Boolean mask ``(n_pool,)`` of noisy pool items (the noisy
            benchmarks); adds the metrics of `clean_share` from round 1.
        finetune: Fine-tune after every fit (adds ``finetune_size``,
            ``finetune_pseudo``, ``finetune_epochs`` and ``finetune_seconds``).
        valid: ``(X_valid, y_valid)`` for a regressor's epoch selection.
        eval_weights: Per-class weights of ``balanced_accuracy`` (imbalance
            settings).
        class_weights: Per-class training weights (imbalanced-weighted).

    Returns:
        ``"finished"``, ``"skipped"`` (it was finished before) or ``"failed"``
        (the traceback is stored with the run; no exception propagates).
    """
    rid = config.run_id
    if store.start_run(rid, config.as_dict()) == "finished":
        return "skipped"
    try:
        data = _checked_data(
            X_pool, y_pool, X_test, y_test, classes, noisy, eval_weights
        )
        oracle = SimulatedOracle(data.y_pool)
        learner_kw = dict(finetune=finetune, valid=valid, class_weights=class_weights)
        learner, state, last = _resumed_learner(
            config, store, data, oracle, model, strategy, learner_kw
        )
        for rnd in range(last + 1, config.n_rounds + 1):
            metrics = _fit_and_measure(learner, state, data, rnd)
            info: dict[str, Any] = {}
            new = None
            if rnd < config.n_rounds:
                start = time.perf_counter()
                selection = learner.query(config.batch_size)
                metrics["select_seconds"] = time.perf_counter() - start
                labels = oracle.label(selection.indices)
                info = dict(selection.info)
                new = (selection.indices, labels, rnd + 1)
            n_labeled = state.n_labeled
            store.record_round(
                rid, rnd, n_labeled, metrics, new, info, finished=rnd == config.n_rounds
            )
            if new is not None:
                learner.teach(new[0], new[1])
            if on_round is not None:
                on_round(rnd, metrics)
    except KeyboardInterrupt:
        raise
    except Exception:
        store.fail_run(rid, traceback.format_exc())
        return "failed"
    return "finished"
