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
from labelwise.models.embedding import (
    EmbeddingClassifier,
    EmbeddingRegressor,
    Standardize,
    check_embeddings,
    embedding_head,
    embedding_regression_head,
    load_embeddings,
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
from labelwise.models.sequence import (
    SequenceNetwork,
    gru,
    lstm,
    pad_sequences,
    tcn,
    transformer,
)
from labelwise.models.sklearn import SklearnClassifier

__all__ = [
    "EMAPair",
    "EMAPairTensors",
    "Embedder",
    "EmbeddingClassifier",
    "EmbeddingRegressor",
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
    "SequenceNetwork",
    "SklearnClassifier",
    "SklearnRegressor",
    "SplitNetwork",
    "Standardize",
    "TabularAugment",
    "TensorOutputs",
    "TorchClassifier",
    "TorchRegressor",
    "bmdal_mlp",
    "check_embeddings",
    "cnn",
    "embedding_head",
    "embedding_regression_head",
    "gru",
    "load_embeddings",
    "lstm",
    "mlp",
    "pad_sequences",
    "require",
    "resnet18",
    "tcn",
    "transformer",
]
