"""Model adapters and capability protocols."""

from labelwise.models.augment import ImageAugment, TabularAugment
from labelwise.models.base import (
    EMAPair,
    EMAPairTensors,
    Embedder,
    Ensemble,
    FineTunable,
    GradientFeatures,
    GradientFeatureTensors,
    MCDropoutSampler,
    ProbabilisticClassifier,
    Regressor,
    TensorOutputs,
    require,
)
from labelwise.models.finetune import FineTune, FineTuneResult
from labelwise.models.pytorch import SplitNetwork, TorchClassifier, cnn, mlp
from labelwise.models.regression import (
    NTKLinear,
    SklearnRegressor,
    TorchRegressor,
    bmdal_mlp,
)
from labelwise.models.resnet import resnet18
from labelwise.models.sklearn import SklearnClassifier

__all__ = [
    "EMAPair",
    "EMAPairTensors",
    "Embedder",
    "Ensemble",
    "FineTunable",
    "FineTune",
    "FineTuneResult",
    "GradientFeatureTensors",
    "GradientFeatures",
    "ImageAugment",
    "MCDropoutSampler",
    "NTKLinear",
    "ProbabilisticClassifier",
    "Regressor",
    "SklearnClassifier",
    "SklearnRegressor",
    "SplitNetwork",
    "TabularAugment",
    "TensorOutputs",
    "TorchClassifier",
    "TorchRegressor",
    "bmdal_mlp",
    "cnn",
    "mlp",
    "require",
    "resnet18",
]
