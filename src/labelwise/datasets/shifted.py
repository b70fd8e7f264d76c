"""An AGBAL-style synthetic regression task with shifted auxiliary data (ours).

The AGBAL paper evaluates on two synthetic tasks S1 and S2 whose definitions are
not available; this is labelwise's own construction in their spirit, named
``shifted`` to avoid claiming to be either:

* target: ``X ~ N(0, I_8)``, ``Y = g(X) + ε`` with ``g(x) = Σ_j sin(x_j) + x_0 x_1 / 2``
  and ``ε ~ N(0, 0.1²)``; 20 000 points (16 000 train, 4 000 test, seed 0);
* auxiliary: ``N_aux`` points ``X' ~ N(μ_ζ, I_8)`` with ``μ_ζ = (ζ / 32) 1 / sqrt(8)``
  (a mean shift of length ``ζ / 32``), ``Y' = g(X') + (ζ / 64)(1 + x'_0) / 2 + ε'``
  (a label bias growing with ζ) and ``ε' ~ N(0, (0.1 (1 + ζ / 16))²)`` (noisier).

Names: ``shifted`` (ζ = 8, N_aux = 1 000), ``shifted:ZETA`` or
``shifted:ZETA:NAUX`` (e.g. ``shifted:64`` is the AGBAL paper's worst case). The
target data are the same for every ζ and N_aux; only the auxiliary set changes.
"""

from __future__ import annotations

import numpy as np

from labelwise.datasets._names import parse_zeta_naux

NAME = "shifted"
DIM = 8
N_TARGET = 20_000
N_TEST = 4_000
DEFAULT_ZETA = 8.0
DEFAULT_N_AUX = 1_000


def parse_shifted(name: str) -> tuple[float, int] | None:
    """``(ζ, N_aux)`` of a ``shifted[:ZETA[:NAUX]]`` name, ``None`` for other names."""
    parts = name.split(":")
    if parts[0] != NAME:
        return None
    usage = "shifted, shifted:ZETA or shifted:ZETA:NAUX (e.g. shifted:64:2000)"
    return parse_zeta_naux(name, parts[1:], usage, DEFAULT_ZETA, DEFAULT_N_AUX)


def g(x: np.ndarray) -> np.ndarray:
    """The regression function ``Σ_j sin(x_j) + x_0 x_1 / 2``."""
    out: np.ndarray = np.sin(x).sum(1) + 0.5 * x[:, 0] * x[:, 1]
    return out


def make_shifted(
    zeta: float, n_aux: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Raw ``(X_train, y_train, X_test, y_test, X_aux, y_aux)`` of the task."""
    rng = np.random.default_rng(0)
    x = rng.normal(size=(N_TARGET, DIM))
    y = g(x) + 0.1 * rng.normal(size=N_TARGET)
    aux_rng = np.random.default_rng([1, round(zeta * 1000), n_aux])
    mu = (zeta / 32.0) * np.ones(DIM) / np.sqrt(DIM)
    xa = aux_rng.normal(size=(n_aux, DIM)) + mu
    ya = (
        g(xa)
        + (zeta / 64.0) * 0.5 * (1.0 + xa[:, 0])
        + 0.1 * (1.0 + zeta / 16.0) * aux_rng.normal(size=n_aux)
    )
    return x[N_TEST:], y[N_TEST:], x[:N_TEST], y[:N_TEST], xa, ya
