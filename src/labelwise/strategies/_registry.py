"""Registry: strategy name -> class, with helpful errors for unknown names."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

from labelwise._validation import closest_name
from labelwise.exceptions import InvalidParameterError
from labelwise.strategies.base import Strategy

_REGISTRY: dict[str, type[Strategy]] = {}

S = TypeVar("S", bound=type[Strategy])


def register(name: str) -> Callable[[S], S]:
    """Class decorator registering a strategy under ``name`` (no duplicates)."""

    def deco(cls: S) -> S:
        if name in _REGISTRY:
            raise ValueError(f"Strategy name '{name}' is registered already.")
        cls.name = name
        _REGISTRY[name] = cls
        return cls

    return deco


def available_strategies() -> list[str]:
    """Registered strategy names, sorted."""
    return sorted(_REGISTRY)


def strategy_class(name: str) -> type[Strategy]:
    """The class registered under ``name``."""
    try:
        return _REGISTRY[name]
    except KeyError:
        raise InvalidParameterError(
            f"Unknown strategy '{name}'.{closest_name(name, _REGISTRY)}"
        ) from None


def get_strategy(name: str, **params: Any) -> Strategy:
    """Instantiate the strategy registered under ``name`` with ``params``.

    Examples:
        >>> get_strategy("entropy")
        Entropy()
    """
    cls = strategy_class(name)
    try:
        return cls(**params)
    except TypeError as exc:
        raise InvalidParameterError(
            f"Bad parameters for strategy '{name}': {str(exc).rstrip('.')}. "
            "Valid parameters: "
            f"{sorted(cls().get_params()) if _default_ok(cls) else 'see its docs'}."
        ) from None


def _default_ok(cls: type[Strategy]) -> bool:
    try:
        cls()
    except Exception:
        return False
    return True
