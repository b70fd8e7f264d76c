"""Oracles answer queries: a simulated one reads hidden labels, a human one asks."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Protocol, runtime_checkable

import numpy as np

from labelwise._validation import check_indices


@runtime_checkable
class Oracle(Protocol):
    """Anything that returns labels for absolute pool indices."""

    def label(self, indices: Any) -> np.ndarray:
        """Labels for ``indices``, shape ``(len(indices),)``."""
        ...


class SimulatedOracle:
    """Reveals ground-truth labels of a benchmark pool.

    Args:
        y: True labels of the whole pool, shape ``(n_samples,)``.
    """

    def __init__(self, y: Any):
        self.y = np.asarray(y)

    def label(self, indices: Any) -> np.ndarray:
        """The true labels of ``indices``."""
        return self.y[check_indices(indices, self.y.shape[0])]


class HumanOracle:
    """Adapts a callback ``ask(index) -> label`` (a prompt, a widget, a page)."""

    def __init__(self, ask: Callable[[int], Any]):
        self.ask = ask

    def label(self, indices: Any) -> np.ndarray:
        """Ask for each index in turn."""
        return np.asarray([self.ask(int(i)) for i in np.asarray(indices)])
