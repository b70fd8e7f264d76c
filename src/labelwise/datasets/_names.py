"""Parsing of the ``:ZETA[:NAUX]`` tail shared by ``shifted`` and ``NAME:aux``."""

from __future__ import annotations

import math

from labelwise.exceptions import InvalidParameterError

ZETA_MAX = 1e300
"""Largest ζ: the auxiliary set's seed holds ``round(1000 ζ)``, which must be finite."""


def parse_zeta_naux(
    name: str, tail: list[str], usage: str, default_zeta: float, default_n_aux: int
) -> tuple[float, int]:
    """``(ζ, N_aux)`` from the name's ``tail`` (``[]``, ``[ZETA]`` or ``[ZETA, NAUX]``).

    Args:
        name: The full dataset name (for the error messages).
        tail: The parts after the kind.
        usage: The accepted forms, for the error message.
        default_zeta: ζ when absent.
        default_n_aux: N_aux when absent.

    Examples:
        >>> parse_zeta_naux("shifted:16", ["16"], "shifted[:ZETA]", 8.0, 1000)
        (16.0, 1000)
    """
    if len(tail) > 2:
        raise InvalidParameterError(f"Dataset name {name!r}: expected {usage}.")
    try:
        zeta = float(tail[0]) if tail else default_zeta
        n_aux = int(tail[1]) if len(tail) > 1 else default_n_aux
    except ValueError:
        raise InvalidParameterError(
            f"Dataset name {name!r}: ZETA must be a number and NAUX an integer."
        ) from None
    if not (math.isfinite(zeta) and 0 <= zeta <= ZETA_MAX) or n_aux < 10:
        raise InvalidParameterError(
            f"Dataset name {name!r}: need a finite ZETA >= 0 (at most "
            f"{ZETA_MAX:g}) and NAUX >= 10; got {zeta}, {n_aux}."
        )
    return zeta, n_aux
