"""Selection strategies, each registered under a name."""

from labelwise.strategies._registry import (
    available_strategies,
    get_strategy,
    parse_strategy_spec,
    register,
    strategy_class,
)
from labelwise.strategies.adversarial import DAL, VAAL
from labelwise.strategies.base import (
    Selection,
    SimulationContext,
    Strategy,
    top_k,
)
from labelwise.strategies.design import Bait
from labelwise.strategies.diversity import Badge, CoreSet
from labelwise.strategies.error_reduction import ExpectedErrorReduction
from labelwise.strategies.graph import CoreGCN, UncertainGCN
from labelwise.strategies.learning_al_baselines import (
    CBAL,
    FScore,
    HALGaussian,
    HALUniform,
    KCenter,
)
from labelwise.strategies.lookahead import Oracle
from labelwise.strategies.loss_prediction import LLOSS
from labelwise.strategies.neural_process import NeuralProcess
from labelwise.strategies.noise import LHD
from labelwise.strategies.random import RandomSampling
from labelwise.strategies.regression import BMDAL
from labelwise.strategies.uncertainty import (
    BALD,
    Entropy,
    LeastConfidence,
    Margin,
    TopKStrategy,
    Uncertainty,
    VariationRatio,
)

__all__ = [
    "BALD",
    "BMDAL",
    "CBAL",
    "DAL",
    "LHD",
    "LLOSS",
    "VAAL",
    "Badge",
    "Bait",
    "CoreGCN",
    "CoreSet",
    "Entropy",
    "ExpectedErrorReduction",
    "FScore",
    "HALGaussian",
    "HALUniform",
    "KCenter",
    "LeastConfidence",
    "Margin",
    "NeuralProcess",
    "Oracle",
    "RandomSampling",
    "Selection",
    "SimulationContext",
    "Strategy",
    "TopKStrategy",
    "UncertainGCN",
    "Uncertainty",
    "VariationRatio",
    "available_strategies",
    "get_strategy",
    "parse_strategy_spec",
    "register",
    "strategy_class",
    "top_k",
]
