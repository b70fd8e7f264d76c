"""Uniform random sampling, the baseline every strategy must beat."""

from __future__ import annotations

from typing import Any

import numpy as np

from labelwise.pool import LabelState
from labelwise.strategies._registry import register
from labelwise.strategies.base import Selection, Strategy


@register("random")
class RandomSampling(Strategy):
    """Select unlabeled items uniformly at random, without replacement.

    Needs no model capability (``model`` may be ``None``).
    """

    requires = ()
    accepts_padding = True

    def __init__(self) -> None:
        pass

    def _select(
        self,
        model: Any,
        X: np.ndarray,
        state: LabelState,
        batch_size: int,
        rng: np.random.Generator,
    ) -> Selection:
        pool = state.unlabeled_indices()
        return Selection(indices=rng.choice(pool, size=batch_size, replace=False))
