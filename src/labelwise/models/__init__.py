"""Model adapters and capability protocols."""

from labelwise.models.augment import ImageAugment, TabularAugment
from labelwise.models.base import (
    EMAPair,
    Embedder,
    Ensemble,
    FineTunable,
    MCDropoutSampler,
    ProbabilisticClassifier,
    require,
)
from labelwise.models.finetune import FineTune, FineTuneResult
from labelwise.models.pytorch import SplitNetwork, TorchClassifier, cnn, mlp
from labelwise.models.sklearn import SklearnClassifier

__all__ = [
    "EMAPair",
    "Embedder",
    "Ensemble",
    "FineTunable",
    "FineTune",
    "FineTuneResult",
    "ImageAugment",
    "MCDropoutSampler",
    "ProbabilisticClassifier",
    "SklearnClassifier",
    "SplitNetwork",
    "TabularAugment",
    "TorchClassifier",
    "cnn",
    "mlp",
    "require",
]
