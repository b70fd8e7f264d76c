"""Model adapters and capability protocols."""

from labelwise.models.base import (
    EMAPair,
    Embedder,
    Ensemble,
    MCDropoutSampler,
    ProbabilisticClassifier,
    require,
)
from labelwise.models.pytorch import SplitNetwork, TorchClassifier, cnn, mlp
from labelwise.models.sklearn import SklearnClassifier

__all__ = [
    "EMAPair",
    "Embedder",
    "Ensemble",
    "MCDropoutSampler",
    "ProbabilisticClassifier",
    "SklearnClassifier",
    "SplitNetwork",
    "TorchClassifier",
    "cnn",
    "mlp",
    "require",
]
