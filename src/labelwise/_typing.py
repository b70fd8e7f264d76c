"""Type aliases shared across labelwise."""

from __future__ import annotations

from typing import TypeAlias

import numpy as np
import numpy.typing as npt

FloatArray: TypeAlias = npt.NDArray[np.floating]
"""Array of floats, e.g. features of shape ``(n_samples, n_features)``."""

IndexArray: TypeAlias = npt.NDArray[np.int64]
"""One-dimensional array of absolute pool indices (``int64``)."""

RNGLike: TypeAlias = "int | np.random.Generator | None"
"""Seed or generator; ``None`` draws fresh entropy."""
