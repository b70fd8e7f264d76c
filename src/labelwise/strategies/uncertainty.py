"""Uncertainty sampling: top-k of a per-sample score of the model's predictions.

References:
    Settles, B. Active Learning Literature Survey (2009). Gal, Y., Islam, R.,
    Ghahramani, Z. Deep Bayesian Active Learning with Image Data (ICML 2017).
    Beluch, W. et al. The power of ensembles for active learning in image
    classification (CVPR 2018).
"""

from __future__ import annotations

from abc import abstractmethod
from typing import Any

import numpy as np

from labelwise import scores
from labelwise._validation import check_positive, child_seed
from labelwise.models.base import (
    Ensemble,
    MCDropoutSampler,
    ProbabilisticClassifier,
)
from labelwise.pool import LabelState
from labelwise.strategies._registry import register
from labelwise.strategies.base import (
    Selection,
    Strategy,
    model_outputs,
    to_host,
    top_k,
)


class TopKStrategy(Strategy):
    """Select the unlabeled items with the highest score; ties to lower index.

    A model on a GPU (`on_accelerator`) hands
    its probabilities over as tensors, which are scored there; only the ``n``
    scores come back to host memory for the top-k.
    """

    accepts_padding = True

    @abstractmethod
    def _scores(
        self, model: Any, X: np.ndarray, rng: np.random.Generator
    ) -> tuple[np.ndarray, tuple[np.ndarray, ...]]:
        """Scores ``(n,)`` of the rows of ``X`` and optional tie-break keys."""

    def _select(
        self,
        model: Any,
        X: np.ndarray,
        state: LabelState,
        batch_size: int,
        rng: np.random.Generator,
    ) -> Selection:
        pool = state.unlabeled_indices()
        s, ties = self._scores(model, X[pool], rng)
        best = top_k(s, batch_size, *ties)
        return Selection(indices=pool[best], scores=s[best])


@register("least-confidence")
class LeastConfidence(TopKStrategy):
    """Highest ``1 - max_c p(c|x)``."""

    def __init__(self) -> None:
        pass

    def _scores(
        self, model: Any, X: np.ndarray, rng: np.random.Generator
    ) -> tuple[np.ndarray, tuple[np.ndarray, ...]]:
        p = model_outputs(model, X, "proba")
        return to_host(scores.least_confidence(p)), ()


@register("margin")
class Margin(TopKStrategy):
    """Smallest gap between the two most probable classes."""

    def __init__(self) -> None:
        pass

    def _scores(
        self, model: Any, X: np.ndarray, rng: np.random.Generator
    ) -> tuple[np.ndarray, tuple[np.ndarray, ...]]:
        return to_host(scores.margin(model_outputs(model, X, "proba"))), ()


@register("entropy")
class Entropy(TopKStrategy):
    """Highest predictive entropy."""

    def __init__(self) -> None:
        pass

    def _scores(
        self, model: Any, X: np.ndarray, rng: np.random.Generator
    ) -> tuple[np.ndarray, tuple[np.ndarray, ...]]:
        return to_host(scores.entropy(model_outputs(model, X, "proba"))), ()


@register("bald")
class BALD(TopKStrategy):
    """BALD with MC dropout: top-k mutual information over ``n_mc_samples`` passes.

    Only dropout layers are active during the passes (the reference code puts the
    whole network in training mode). The model needs dropout layers.

    Args:
        n_mc_samples: Number of stochastic passes T. Defaults to 10 (reference).
    """

    requires = (ProbabilisticClassifier, MCDropoutSampler)

    def __init__(self, *, n_mc_samples: int = 10):
        check_positive(n_mc_samples, "n_mc_samples", integer=True)
        self.n_mc_samples = n_mc_samples

    def _scores(
        self, model: Any, X: np.ndarray, rng: np.random.Generator
    ) -> tuple[np.ndarray, tuple[np.ndarray, ...]]:
        samples = model_outputs(
            model,
            X,
            "proba_samples",
            n_samples=self.n_mc_samples,
            rng=child_seed(rng),
        )
        return to_host(scores.bald(samples)), ()


@register("variation-ratio")
class VariationRatio(TopKStrategy):
    """Variation ratio over ensemble members: share not voting for the mode.

    Ties, which are frequent, are broken by the entropy of the mean prediction,
    then by index. Needs an ensemble model (e.g. ``TorchClassifier(n_members=5)``).
    """

    requires = (ProbabilisticClassifier, Ensemble)

    def __init__(self) -> None:
        pass

    def _scores(
        self, model: Any, X: np.ndarray, rng: np.random.Generator
    ) -> tuple[np.ndarray, tuple[np.ndarray, ...]]:
        members = model_outputs(model, X, "proba_members")
        ties = to_host(scores.entropy(members.mean(0)))
        return to_host(scores.variation_ratio(members)), (ties,)


@register("uncertainty")
class Uncertainty(Entropy):
    """Uncertainty sampling as ``UncSamp`` of Bakker et al. (2023): highest entropy.

    For binary problems entropy, margin and least confidence pick the same
    items (all are monotone in ``|p - 1/2|``); with more classes this is entropy.
    """
