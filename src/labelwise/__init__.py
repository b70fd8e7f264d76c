"""labelwise: deep batch active learning for classification and regression.

The layers, bottom to top: pure array functions (`labelwise.scores`,
`labelwise.kernels`), models and strategies (`labelwise.models`,
`labelwise.strategies`), the loop (`labelwise.loop`), datasets and the
command line.
"""

from labelwise.exceptions import (
    BatchSizeWarning,
    FallbackWarning,
    InvalidParameterError,
    LabelwiseError,
    LabelwiseWarning,
    NotFittedError,
    UnsupportedModelError,
)
from labelwise.loop import ActiveLearner, ResultStore, RunConfig, run_simulation
from labelwise.models import (
    EmbeddingClassifier,
    SklearnClassifier,
    TorchClassifier,
    cnn,
    mlp,
)
from labelwise.pool import LabelState
from labelwise.strategies import Selection, Strategy, available_strategies, get_strategy

__version__ = "0.1.0"

__all__ = [
    "ActiveLearner",
    "BatchSizeWarning",
    "EmbeddingClassifier",
    "FallbackWarning",
    "InvalidParameterError",
    "LabelState",
    "LabelwiseError",
    "LabelwiseWarning",
    "NotFittedError",
    "ResultStore",
    "RunConfig",
    "Selection",
    "SklearnClassifier",
    "Strategy",
    "TorchClassifier",
    "UnsupportedModelError",
    "available_strategies",
    "cnn",
    "get_strategy",
    "mlp",
    "run_simulation",
]
