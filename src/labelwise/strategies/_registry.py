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


def parse_strategy_spec(spec: str) -> tuple[str, dict[str, Any]]:
    """``NAME`` or ``NAME:KEY=VALUE[,KEY=VALUE...]`` as ``(name, params)``.

    The command line's way to set a strategy's parameters (``labelwise run
    --strategy``, ``labelwise label init --strategy``). Values are read as TOML
    literals (``300``, ``0.5``, ``true``, ``"a,b"``, ``[1, 2]``), anything else
    as text; commas inside quotes or brackets do not separate parameters.

    Raises:
        InvalidParameterError: A parameter is not ``KEY=VALUE``, or is given twice.

    Examples:
        >>> parse_strategy_spec("eer:loss=log,max_candidates=300")
        ('eer', {'loss': 'log', 'max_candidates': 300})
    """
    import tomllib

    name, _, rest = spec.partition(":")
    name = name.strip()
    params: dict[str, Any] = {}
    if not rest.strip():
        return name, params
    for item in _split_params(rest):
        key, eq, value = (part.strip() for part in item.partition("="))
        if not eq or not key or not value:
            raise InvalidParameterError(
                f"Strategy {spec!r}: {item!r} is not KEY=VALUE; write e.g. "
                "np:target=log-loss,target_norm=per-problem."
            )
        if key in params:
            raise InvalidParameterError(
                f"Strategy {spec!r} sets {key!r} twice; give each parameter once."
            )
        try:
            params[key] = tomllib.loads(f"v = {value}")["v"]
        except tomllib.TOMLDecodeError:
            params[key] = value
    return name, params


def _split_params(rest: str) -> list[str]:
    """``rest`` split at the commas outside TOML strings and brackets.

    A quote opens a string only where a TOML value may start (after ``=`` or
    inside brackets), so plain text such as ``it's`` stays plain text.
    """
    items, start, depth, quote, escaped, last = [], 0, 0, "", False, ""
    for i, ch in enumerate(rest):
        if quote:  # a basic ("...") string has backslash escapes
            if escaped:
                escaped = False
            elif ch == "\\" and quote == '"':
                escaped = True
            elif ch == quote:
                quote = ""
            continue
        if ch in "\"'" and (depth > 0 or last == "="):
            quote = ch
        elif ch in "[{" and (depth > 0 or last == "="):
            depth += 1
        elif ch in "]}" and depth > 0:
            depth -= 1
        elif ch == "," and depth == 0:
            items.append(rest[start:i])
            start = i + 1
        last = ch if not ch.isspace() else last
    return [*items, rest[start:]]


def _default_ok(cls: type[Strategy]) -> bool:
    try:
        cls()
    except Exception:
        return False
    return True
