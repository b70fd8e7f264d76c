"""labelwise: deep batch active learning for classification and regression.

The layers, bottom to top: pure array functions (`labelwise.scores`,
`labelwise.kernels`), models and strategies (`labelwise.models`,
`labelwise.strategies`), the loop (`labelwise.loop`), datasets and the
command line.
"""

import importlib
from typing import TYPE_CHECKING, Any

from labelwise.exceptions import (
    BatchSizeWarning,
    FallbackWarning,
    InvalidParameterError,
    LabelwiseError,
    LabelwiseWarning,
    NotFittedError,
    UnsupportedModelError,
)

if TYPE_CHECKING:
    from labelwise.loop import ActiveLearner, ResultStore, RunConfig, run_simulation
    from labelwise.models import (
        EmbeddingClassifier,
        SklearnClassifier,
        TorchClassifier,
        cnn,
        mlp,
    )
    from labelwise.pool import LabelState
    from labelwise.strategies import (
        Selection,
        Strategy,
        available_strategies,
        get_strategy,
    )

# Imported on first use (PEP 562), so that ``import labelwise`` and the command
# line's ``--help`` do not pay for torch and scikit-learn.
_LAZY = {
    "ActiveLearner": "labelwise.loop",
    "ResultStore": "labelwise.loop",
    "RunConfig": "labelwise.loop",
    "run_simulation": "labelwise.loop",
    "EmbeddingClassifier": "labelwise.models",
    "SklearnClassifier": "labelwise.models",
    "TorchClassifier": "labelwise.models",
    "cnn": "labelwise.models",
    "mlp": "labelwise.models",
    "LabelState": "labelwise.pool",
    "Selection": "labelwise.strategies",
    "Strategy": "labelwise.strategies",
    "available_strategies": "labelwise.strategies",
    "get_strategy": "labelwise.strategies",
}
_SUBPACKAGES = frozenset(
    {
        "app", "bench", "cli", "datasets", "features", "kernels", "loop", "metrics",
        "models", "pool", "scores", "strategies", "testing",
    }
)  # fmt: skip


def __getattr__(name: str) -> Any:
    """The public names and subpackages, imported when first asked for."""
    if name in _LAZY:
        value = getattr(importlib.import_module(_LAZY[name]), name)
    elif name in _SUBPACKAGES:
        value = importlib.import_module(f"labelwise.{name}")
    else:
        raise AttributeError(f"module 'labelwise' has no attribute {name!r}")
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_LAZY) | _SUBPACKAGES)


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
