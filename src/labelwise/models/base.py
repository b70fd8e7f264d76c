"""Model capabilities as runtime-checkable protocols.

A strategy declares the capabilities it needs; `require` checks them once,
before any work, and raises `UnsupportedModelError` naming what is missing
and how to get it. Models may implement only some capabilities.
"""

from __future__ import annotations

from typing import Any, Literal, Protocol, runtime_checkable

import torch

from labelwise._typing import FloatArray, RNGLike
from labelwise.exceptions import UnsupportedModelError


@runtime_checkable
class ProbabilisticClassifier(Protocol):
    """A classifier trained from scratch by ``fit`` that predicts probabilities."""

    def fit(
        self, X: Any, y: Any, *, n_classes: int, rng: RNGLike = None
    ) -> ProbabilisticClassifier:
        """Train on ``X`` ``(n, ...)`` and class indices ``y`` ``(n,)``."""
        ...

    def predict_proba(self, X: Any) -> FloatArray:
        """Class probabilities of shape ``(n_samples, n_classes)``."""
        ...


@runtime_checkable
class Embedder(Protocol):
    """A model exposing the input of its last linear layer (penultimate features)."""

    def embed(self, X: Any) -> FloatArray:
        """Embeddings of shape ``(n_samples, n_embedding)``."""
        ...


@runtime_checkable
class MCDropoutSampler(Protocol):
    """A model that draws stochastic predictions with dropout active."""

    def predict_proba_samples(
        self, X: Any, n_samples: int, *, rng: RNGLike = None
    ) -> FloatArray:
        """Probabilities of ``n_samples`` passes, shape ``(T, n, n_classes)``."""
        ...


@runtime_checkable
class Ensemble(Protocol):
    """A model made of several independently trained members."""

    def predict_proba_members(self, X: Any) -> FloatArray:
        """Probabilities per member, shape ``(n_members, n, n_classes)``."""
        ...


@runtime_checkable
class EMAPair(Protocol):
    """A model that tracks an EMA of its weights and captures both networks (LHD)."""

    def ema_outputs(
        self, X: Any
    ) -> tuple[FloatArray, FloatArray, FloatArray, FloatArray]:
        """``(h_main, h_ema, p_main, p_ema)`` of the captured networks."""
        ...


@runtime_checkable
class Regressor(Protocol):
    """A regressor trained from scratch by ``fit`` that predicts real values."""

    def fit(self, X: Any, y: Any, *, rng: RNGLike = None) -> Regressor:
        """Train on ``X`` ``(n, ...)`` and targets ``y`` ``(n,)``."""
        ...

    def predict(self, X: Any) -> FloatArray:
        """Predictions of shape ``(n_samples,)``."""
        ...


@runtime_checkable
class GradientFeatures(Protocol):
    """A network exposing the finite-width NTK features of BMDAL's grad kernel."""

    def grad_features(
        self,
        X: Any,
        *,
        last_layers: int | None = None,
        sketch_dim: int | None = None,
        rng: RNGLike = None,
    ) -> FloatArray:
        """Per-layer gradient features ``(n, p)`` (sketched when asked)."""
        ...


@runtime_checkable
class FineTunable(Protocol):
    """A model that can be fine-tuned on confident pool samples after ``fit``."""

    def finetune(
        self,
        X_labeled: Any,
        y_labeled: Any,
        X_unlabeled: Any,
        *,
        config: Any = None,
        rng: RNGLike = None,
    ) -> Any:
        """Train further on labeled + confidently pseudo-labeled pool items."""
        ...


TensorOutput = Literal["proba", "embed", "proba_samples", "proba_members"]


@runtime_checkable
class TensorOutputs(Protocol):
    """A torch model that hands its outputs over as tensors on its own device.

    Strategies ask for these instead of the NumPy methods when the model lives on a
    GPU, so that probabilities and embeddings reach the selection kernels (which run
    on the device of their input) without a round trip through host memory.
    """

    @property
    def device(self) -> torch.device:
        """The device the model computes on."""
        ...

    def tensor_outputs(
        self,
        X: Any,
        what: TensorOutput,
        *,
        n_samples: int | None = None,
        rng: RNGLike = None,
    ) -> torch.Tensor:
        """The output ``what`` of ``X`` as a float32 tensor on `device`.

        Args:
            X: Inputs of shape ``(n_samples, ...)`` (array or tensor, any device).
            what: ``"proba"`` ``(n, n_classes)`` as ``predict_proba``; ``"embed"``
                ``(n, n_embedding)`` as ``embed``; ``"proba_samples"``
                ``(T, n, n_classes)`` as ``predict_proba_samples`` (needs
                ``n_samples`` = T and takes ``rng``); ``"proba_members"``
                ``(n_members, n, n_classes)`` as ``predict_proba_members``.
            n_samples: Number of stochastic passes for ``"proba_samples"``.
            rng: Seed or generator for ``"proba_samples"``.
        """
        ...


@runtime_checkable
class GradientFeatureTensors(Protocol):
    """A `GradientFeatures` model that also hands its features over on its device.

    BMDAL's strategies ask for these when the model lives on a GPU, so the
    (pool-sized) gradient features are built on the device and never copied
    through host memory.
    """

    @property
    def device(self) -> torch.device:
        """The device the model computes on."""
        ...

    def grad_feature_tensor(
        self,
        X: Any,
        *,
        last_layers: int | None = None,
        sketch_dim: int | None = None,
        rng: RNGLike = None,
    ) -> torch.Tensor:
        """``grad_features(X, ...)`` as an ``(n, p)`` tensor on `device`."""
        ...


@runtime_checkable
class EMAPairTensors(Protocol):
    """An `EMAPair` model that also hands the four outputs over on its device."""

    @property
    def device(self) -> torch.device:
        """The device the model computes on."""
        ...

    def ema_tensor_outputs(
        self, X: Any
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
        """``ema_outputs(X)`` as float32 tensors on `device`."""
        ...


_HINTS: dict[type, str] = {
    ProbabilisticClassifier: "implement fit(X, y, *, n_classes, rng) and "
    "predict_proba(X), or wrap an estimator in SklearnClassifier",
    Embedder: "use TorchClassifier (penultimate layer) or SklearnClassifier (input "
    "features), or implement embed(X)",
    MCDropoutSampler: "use a network with dropout, e.g. --dropout 0.2 on the "
    "command line or mlp(dropout=0.2)",
    Ensemble: "use TorchClassifier(n_members=5) (--members 5 on the command line)",
    EMAPair: "use TorchClassifier(ema_alpha=0.999) (--ema 0.999 on the command line)",
    Regressor: "implement fit(X, y, *, rng) and predict(X), or wrap an estimator "
    "in SklearnRegressor",
    GradientFeatures: "use TorchRegressor (BMDAL network), or the 'linear' base "
    "kernel for other regressors",
    FineTunable: "use a TorchClassifier (mlp or cnn); scikit-learn models are not "
    "fine-tuned",
    TensorOutputs: "use TorchClassifier, whose outputs can stay on its device",
}


def require(model: Any, capability: type, strategy: str) -> None:
    """Raise ``UnsupportedModelError`` unless ``model`` has ``capability``.

    Besides the protocol's methods, a model may report a capability as absent
    through ``has_capability(name) -> bool`` (e.g. a network without dropout).

    Args:
        model: The model to check.
        capability: One of the protocols of this module.
        strategy: Name of the strategy asking, for the message.
    """
    ok = isinstance(model, capability)
    if ok and hasattr(model, "has_capability"):
        ok = bool(model.has_capability(capability.__name__))
    if not ok:
        raise UnsupportedModelError(
            f"Strategy '{strategy}' needs a model with capability "
            f"{capability.__name__}; got {type(model).__name__}"
            f"{_describe(model)}. To fix: {_HINTS.get(capability, '')}."
        )


def _describe(model: Any) -> str:
    desc = getattr(model, "describe", None)
    return f" ({desc()})" if callable(desc) else ""


@runtime_checkable
class LossPredictor(Protocol):
    """A model trained jointly with a module that predicts its own per-sample loss.

    The learning-loss capability of Yoo & Kweon (CVPR 2019): see
    `labelwise.models.loss_prediction.LossPredictionClassifier`.
    """

    def predict_loss(self, X: Any) -> FloatArray:
        """Predicted losses ``(n_samples,)``; only their ranking is meaningful."""
        ...


_HINTS[LossPredictor] = (
    "wrap the network in LossPredictionClassifier (labelwise.models.loss_prediction)"
)
