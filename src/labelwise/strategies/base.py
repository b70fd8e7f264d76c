"""Strategy base class and the `Selection` result.

A strategy stores keyword-only hyperparameters in ``__init__`` and has one public
method, `Strategy.select`, a final template that validates the inputs,
checks the model's capabilities, calls ``_select`` and checks its result.
Subclasses override ``_select``, not ``select``. Strategies hold no state between
calls, so one instance serves every round.

Randomness policy: ``select`` is a pure function of its arguments when ``rng`` is
an int (the same seed gives the same batch); a passed ``Generator`` is advanced.
"""

from __future__ import annotations

import inspect
import math
import time
import warnings
from abc import ABC, abstractmethod
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, ClassVar, final

import numpy as np
import torch

from labelwise._typing import FloatArray, IndexArray, RNGLike
from labelwise._validation import (
    check_batch_size,
    check_class_weights,
    check_features,
    check_rng,
)
from labelwise.exceptions import InvalidParameterError, LabelwiseWarning
from labelwise.models.base import (
    ProbabilisticClassifier,
    TensorOutput,
    TensorOutputs,
    require,
)
from labelwise.pool import LabelState


@dataclass(frozen=True)
class Selection:
    """The batch a strategy asks to label.

    Attributes:
        indices: Absolute pool indices, unique and unlabeled, shape ``(b,)``.
        scores: Optional per-index score (higher = more informative), ``(b,)``.
        info: Timings (``seconds``), warnings raised and any fallback used:
            small values the experiment loop records with every round.
        details: Per-pick or bulky diagnostics (e.g. BAIT's ``forward_gains``),
            kept on the selection for the caller and never recorded by the loop.
    """

    indices: IndexArray
    scores: FloatArray | None = None
    info: Mapping[str, Any] = field(default_factory=dict)
    details: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class SimulationContext:
    """Simulation-only data, handed to `Strategy.prepare_simulation`.

    A real labeling run has none of this; the benchmark runner (``labelwise
    bench``) fills every field its dataset has and the
    conformance suite (`labelwise.testing.check_strategy`) fills all of
    them. Every field is optional; a strategy reads the ones it needs.

    Attributes:
        y_pool: The true labels of the whole pool ``(n_samples,)`` (simulation
            only: the myopic oracle).
        X_eval: Evaluation inputs ``(n_eval, ...)`` (the test set).
        y_eval: Their labels ``(n_eval,)``.
        X_reward: A held-out labeled reward set ``(n_reward, ...)`` (the
            learning-AL imbalance settings hold 100 rows).
        y_reward: Its labels ``(n_reward,)``.
        auxiliary: Auxiliary labeled data ``(X_aux, y_aux)`` from a shifted or
            noisier distribution (AGBAL's ``grad-aux`` kernel).
        eval_weights: Per-class weights of the evaluation score ``(n_classes,)``
            (``None``: plain accuracy).
        class_weights: Per-class training weights ``(n_classes,)`` the model is
            trained with (``None``: unweighted).
        dataset: The dataset's name, for error messages (``""``: unknown).
    """

    y_pool: np.ndarray | None = None
    X_eval: np.ndarray | None = None
    y_eval: np.ndarray | None = None
    X_reward: np.ndarray | None = None
    y_reward: np.ndarray | None = None
    auxiliary: tuple[np.ndarray, np.ndarray] | None = None
    eval_weights: np.ndarray | None = None
    class_weights: np.ndarray | None = None
    dataset: str = ""

    def __post_init__(self) -> None:
        """Refuse class weights that are not positive finite numbers."""
        check_class_weights(self.class_weights)


class Strategy(ABC):
    """Base class of all selection strategies.

    Shared arguments of `select`:

    * ``model``: a fitted model with the capabilities listed in ``requires``.
    * ``X``: the whole pool, shape ``(n_samples, ...)``, in the index space of
      ``state``.
    * ``state``: the `LabelState` of the pool.
    * ``batch_size``: number of items to select; shrunk with a
      `BatchSizeWarning` when the unlabeled pool is
      smaller.
    * ``rng``: seed or generator; ``None`` draws fresh entropy.
    """

    name: ClassVar[str] = ""
    requires: ClassVar[tuple[type, ...]] = (ProbabilisticClassifier,)
    accepts_padding: ClassVar[bool] = False
    """Whether the pool may hold NaN-padded sequences (see
    `labelwise.models.pad_sequences`). True for strategies that see the inputs
    only through the model, whose sequence networks mask the padding; False
    (the default) for those that also compute on the raw inputs."""

    def check_model(self, model: Any) -> None:
        """Raise ``UnsupportedModelError`` if ``model`` lacks a needed capability."""
        for cap in self.requires:
            require(model, cap, self.name or type(self).__name__)

    @final
    def select(
        self,
        model: Any,
        X: Any,
        state: LabelState,
        batch_size: int,
        *,
        rng: RNGLike = None,
    ) -> Selection:
        """Select up to ``batch_size`` unlabeled pool items to label next.

        Args:
            model: Fitted model (see the class docstring).
            X: Pool inputs of shape ``(n_samples, ...)``.
            state: Label state of the pool.
            batch_size: Number of items to select.
            rng: Seed or generator. Defaults to ``None``.

        Returns:
            A `Selection` with ``min(batch_size, n_unlabeled)`` indices.
        """
        if not isinstance(state, LabelState):
            raise InvalidParameterError(
                f"state must be a LabelState; got {type(state).__name__}."
            )
        x = self._check_pool(X)
        if x.shape[0] != state.n_samples:
            raise InvalidParameterError(
                f"X has {x.shape[0]} rows but the label state covers "
                f"{state.n_samples} pool items; pass the whole pool."
            )
        n_unlabeled = state.n_unlabeled
        batch = check_batch_size(batch_size, n_unlabeled, stacklevel=3)
        self.check_model(model)
        gen = check_rng(rng)
        start = time.perf_counter()
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            sel = self._select(model, x, state, batch, gen)
        for w in caught:
            warnings.warn_explicit(
                w.message, w.category, w.filename, w.lineno, source=w.source
            )
        info = dict(sel.info)
        info["seconds"] = time.perf_counter() - start
        info["warnings"] = [
            str(w.message) for w in caught if issubclass(w.category, LabelwiseWarning)
        ]
        idx = np.asarray(sel.indices, dtype=np.int64)
        self._check_result(idx, state, batch)
        return Selection(indices=idx, scores=sel.scores, info=info, details=sel.details)

    def _check_pool(self, X: Any) -> np.ndarray:
        """The pool, checked; NaN padding only where `accepts_padding`."""
        if self.accepts_padding:
            return check_features(X, ndim_min=2, allow_padding=True)
        try:
            return check_features(X, ndim_min=2)
        except InvalidParameterError:
            check_features(X, ndim_min=2, allow_padding=True)  # not padding: re-raise
            raise InvalidParameterError(
                f"Strategy '{self.name or type(self).__name__}' computes on the raw "
                "inputs and cannot use NaN-padded sequences. Strategies that see "
                "the pool only through the model accept them (e.g. random, "
                "entropy, margin, coreset, badge, bait, lhd)."
            ) from None

    def _check_result(self, idx: IndexArray, state: LabelState, batch: int) -> None:
        ok = (
            idx.ndim == 1
            and idx.size == batch
            and np.unique(idx).size == idx.size
            and (idx >= 0).all()
            and (idx < state.n_samples).all()
        )
        if not ok or state.labeled_mask[idx].any():
            raise RuntimeError(  # a bug in the strategy, not in the user's input
                f"{type(self).__name__}._select returned invalid indices "
                f"(size {idx.size}, expected {batch}, unique, unlabeled)."
            )

    @abstractmethod
    def _select(
        self,
        model: Any,
        X: np.ndarray,
        state: LabelState,
        batch_size: int,
        rng: np.random.Generator,
    ) -> Selection:
        """Select exactly ``batch_size`` unlabeled indices (inputs are validated)."""

    def prepare_simulation(self, context: SimulationContext) -> None:
        """Take what a simulation gives beyond the pool (default: nothing).

        The one hook through which the benchmark runner and the conformance
        suite hand a strategy simulation-only data, before the first
        `select`. Strategies that need some of it override this method,
        say in their docstring which fields they read, and raise
        `InvalidParameterError` when a field they
        need is missing.

        Args:
            context: The simulation's data (`SimulationContext`).

        Raises:
            InvalidParameterError: ``context`` is not a
                `SimulationContext`, or lacks a field the strategy needs.
        """
        check_context(context)

    def get_params(self) -> dict[str, Any]:
        """Hyperparameters as passed to ``__init__``."""
        sig = inspect.signature(type(self).__init__)
        return {
            p: getattr(self, p)
            for p in sig.parameters
            if p != "self" and sig.parameters[p].kind == inspect.Parameter.KEYWORD_ONLY
        }

    def __repr__(self) -> str:
        params = ", ".join(f"{k}={_brief(v)}" for k, v in self.get_params().items())
        return f"{type(self).__name__}({params})"


def _brief(value: Any) -> str:
    """``repr(value)``, with arrays of more than 8 entries as their shape and dtype.

    A strategy holding data (AGBAL's ``auxiliary=(X, y)``) printed every row.
    """
    if isinstance(value, np.ndarray | torch.Tensor) and math.prod(value.shape) > 8:
        kind = "array" if isinstance(value, np.ndarray) else "tensor"
        return f"<{kind} shape={tuple(value.shape)} dtype={value.dtype}>"
    if isinstance(value, tuple | list):
        inner = ", ".join(_brief(v) for v in value)
        if isinstance(value, tuple):
            return f"({inner}{',' if len(value) == 1 else ''})"
        return f"[{inner}]"
    return repr(value)


def check_context(context: Any) -> SimulationContext:
    """Return ``context`` if it is a `SimulationContext`, else raise."""
    if not isinstance(context, SimulationContext):
        raise InvalidParameterError(
            "prepare_simulation takes a labelwise.strategies.SimulationContext; "
            f"got {type(context).__name__}. Build one with SimulationContext("
            "y_pool=..., X_eval=..., ...)."
        )
    return context


def flat_rows(X: np.ndarray) -> np.ndarray:
    """``X`` as float32 rows, shape ``(n, prod(X.shape[1:]))`` (images flattened)."""
    return np.asarray(X, dtype=np.float32).reshape(X.shape[0], -1)


def top_k(scores: np.ndarray, k: int, *tiebreaks: np.ndarray) -> IndexArray:
    """Positions of the ``k`` largest scores; ties by ``tiebreaks``, then position.

    Args:
        scores: Array of shape ``(n,)``.
        k: Number of positions, ``<= n``.
        *tiebreaks: Secondary keys of shape ``(n,)``, larger first.

    Returns:
        Positions of shape ``(k,)``, best first.
    """
    if not np.isfinite(scores).all():
        raise InvalidParameterError("Scores contain NaN or infinite values.")
    keys = [np.arange(scores.size)] + [-t for t in reversed(tiebreaks)] + [-scores]
    return np.lexsort(keys)[:k].astype(np.int64)


def on_accelerator(model: Any) -> bool:
    """Whether ``model`` hands its outputs over as tensors on a non-CPU device.

    True for a `TensorOutputs` model whose
    ``device`` is not the CPU; strategies then keep probabilities and embeddings
    on that device and the kernels run there. Everything else (and every model
    on the CPU) takes the NumPy path, unchanged.
    """
    return isinstance(model, TensorOutputs) and model.device.type != "cpu"


def model_outputs(
    model: Any,
    X: Any,
    what: TensorOutput,
    *,
    n_samples: int | None = None,
    rng: RNGLike = None,
) -> np.ndarray | torch.Tensor:
    """One output of ``model`` on ``X``, on the model's device when that is a GPU.

    Asks ``model.tensor_outputs(X, what, ...)`` when `on_accelerator`
    holds, else the NumPy method (``predict_proba``, ``embed``,
    ``predict_proba_samples``, ``predict_proba_members``).

    Args:
        model: The fitted model.
        X: Inputs ``(n, ...)``.
        what: ``"proba"``, ``"embed"``, ``"proba_samples"`` or ``"proba_members"``.
        n_samples: T for ``"proba_samples"``.
        rng: Seed or generator for ``"proba_samples"``.

    Returns:
        A tensor on the model's device, or the NumPy method's array.
    """
    if on_accelerator(model):
        out: torch.Tensor = model.tensor_outputs(X, what, n_samples=n_samples, rng=rng)
        return out
    if what == "proba":
        return np.asarray(model.predict_proba(X))
    if what == "embed":
        return np.asarray(model.embed(X))
    if what == "proba_samples":
        return np.asarray(model.predict_proba_samples(X, n_samples, rng=rng))
    if what == "proba_members":
        return np.asarray(model.predict_proba_members(X))
    raise InvalidParameterError(
        f"what must be 'proba', 'embed', 'proba_samples' or 'proba_members'; "
        f"got {what!r}."
    )


def to_host(x: np.ndarray | torch.Tensor) -> np.ndarray:
    """A NumPy array of ``x`` (a device tensor is copied to host memory)."""
    if isinstance(x, torch.Tensor):
        return x.detach().cpu().numpy()
    return x
