"""Selection strategies, each registered under a name."""

from labelwise.strategies._registry import (
    available_strategies,
    get_strategy,
    register,
    strategy_class,
)
from labelwise.strategies.base import Selection, Strategy, top_k
from labelwise.strategies.design import Bait
from labelwise.strategies.diversity import Badge, CoreSet
from labelwise.strategies.noise import LHD
from labelwise.strategies.random import RandomSampling
from labelwise.strategies.regression import BMDAL
from labelwise.strategies.uncertainty import (
    BALD,
    Entropy,
    LeastConfidence,
    Margin,
    TopKStrategy,
    VariationRatio,
)

__all__ = [
    "BALD",
    "BMDAL",
    "LHD",
    "Badge",
    "Bait",
    "CoreSet",
    "Entropy",
    "LeastConfidence",
    "Margin",
    "RandomSampling",
    "Selection",
    "Strategy",
    "TopKStrategy",
    "VariationRatio",
    "available_strategies",
    "get_strategy",
    "register",
    "strategy_class",
    "top_k",
]
