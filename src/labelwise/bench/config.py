"""Experiment grids as data: datasets x models x strategies x seeds in a TOML file.

Example (``benchmarks/configs/quick.toml``)::

    name = "quick"
    datasets = ["digits", "satellite"]
    strategies = ["random", "entropy", { name = "bald", params = { n_mc_samples = 5 } }]

    [[models]]
    name = "mlp"
    params = { epochs = 100, dropout = 0.2 }

    [settings]
    initial = 20
    batch_size = 20
    rounds = 5
    seeds = 2            # seeds 0 and 1; or a list such as [0, 3, 7]
    pool_size = 1000     # optional random subsample of the training set (seed 0)

Unknown keys and wrong types are rejected with the key's name and the valid
choices; strategy names and parameters are checked against the registry, models
against :mod:`labelwise.models.registry`, datasets against the dataset registry.
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from labelwise.datasets import available_datasets
from labelwise.exceptions import InvalidParameterError, LabelwiseError
from labelwise.loop.experiment import RunConfig
from labelwise.models.registry import check_model_params
from labelwise.strategies import get_strategy


class ConfigError(InvalidParameterError):
    """A grid file is malformed; the message names the key and the valid choices."""


SETTINGS_TYPES: dict[str, tuple[type, ...]] = {
    "initial": (int,),
    "batch_size": (int,),
    "rounds": (int,),
    "seeds": (int, list),
    "pool_size": (int,),
    "test_size": (int,),
}
TOP_KEYS = {"name", "datasets", "models", "strategies", "settings"}


@dataclass(frozen=True)
class Component:
    """A named model or strategy with parameters."""

    name: str
    params: dict[str, Any] = field(default_factory=dict)

    @property
    def label(self) -> str:
        """Name, with parameters when there are any (e.g. ``coreset(robust=True)``)."""
        if not self.params:
            return self.name
        inner = ",".join(f"{k}={v}" for k, v in sorted(self.params.items()))
        return f"{self.name}({inner})"


@dataclass(frozen=True)
class Settings:
    """Settings shared by every run of a grid."""

    initial: int = 100
    batch_size: int = 100
    rounds: int = 10
    seeds: tuple[int, ...] = (0, 1, 2)
    pool_size: int | None = None
    test_size: int | None = None


@dataclass(frozen=True)
class GridConfig:
    """A parsed, validated experiment grid."""

    name: str
    datasets: tuple[str, ...]
    models: tuple[Component, ...]
    strategies: tuple[Component, ...]
    settings: Settings

    def runs(self) -> list[RunConfig]:
        """Every run of the grid, in dataset, model, strategy, seed order."""
        out = []
        s = self.settings
        for ds in self.datasets:
            for model in self.models:
                for strat in self.strategies:
                    for seed in s.seeds:
                        out.append(
                            RunConfig(
                                dataset=ds,
                                model=model.name,
                                strategy=strat.label,
                                seed=seed,
                                n_initial=s.initial,
                                batch_size=s.batch_size,
                                n_rounds=s.rounds,
                                strategy_params=strat.params,
                                extra={
                                    "strategy_name": strat.name,
                                    "pool_size": s.pool_size,
                                    "test_size": s.test_size,
                                    "model_params": check_model_params(
                                        model.name, model.params
                                    ),
                                },
                            )
                        )
        return out


def _where(path: str, key: str) -> str:
    return f"{path}: key '{key}'"


def _component(path: str, section: str, item: Any) -> Component:
    if isinstance(item, str):
        return Component(item)
    if not isinstance(item, dict):
        raise ConfigError(
            f"{path}: each entry of '{section}' must be a name or a table "
            f"{{ name = ..., params = {{...}} }}; got {item!r}."
        )
    unknown = set(item) - {"name", "params"}
    if unknown:
        raise ConfigError(
            f"{path}: unknown key '{sorted(unknown)[0]}' in an entry of '{section}'; "
            "valid keys: name, params."
        )
    if not isinstance(item.get("name"), str):
        raise ConfigError(f"{path}: an entry of '{section}' lacks a string 'name'.")
    params = item.get("params", {})
    if not isinstance(params, dict):
        raise ConfigError(f"{path}: 'params' of '{item['name']}' must be a table.")
    return Component(item["name"], dict(params))


def parse_grid(data: dict[str, Any], path: str = "<config>") -> GridConfig:
    """Validate a grid given as a dict (the parsed TOML)."""
    unknown = set(data) - TOP_KEYS
    if unknown:
        raise ConfigError(
            f"{path}: unknown top-level key '{sorted(unknown)[0]}'; valid keys: "
            f"{', '.join(sorted(TOP_KEYS))}."
        )
    for key in ("datasets", "models", "strategies"):
        if not isinstance(data.get(key), list) or not data[key]:
            raise ConfigError(f"{path}: '{key}' must be a non-empty list.")
    datasets = data["datasets"]
    valid_ds = available_datasets()
    for ds in datasets:
        if ds not in valid_ds:
            raise ConfigError(
                f"{path}: unknown dataset {ds!r} in 'datasets'; valid: "
                f"{', '.join(valid_ds)}."
            )
    models = tuple(_component(path, "models", m) for m in data["models"])
    for m in models:
        try:
            check_model_params(m.name, m.params)
        except InvalidParameterError as exc:
            raise ConfigError(f"{path}: in 'models': {exc}") from None
    strategies = tuple(_component(path, "strategies", s) for s in data["strategies"])
    for s in strategies:
        try:
            get_strategy(s.name, **s.params)
        except LabelwiseError as exc:
            raise ConfigError(f"{path}: in 'strategies': {exc}") from None
    labels = [s.label for s in strategies]
    if len(set(labels)) != len(labels):
        raise ConfigError(f"{path}: 'strategies' lists the same entry twice: {labels}.")
    raw = data.get("settings", {})
    if not isinstance(raw, dict):
        raise ConfigError(f"{path}: 'settings' must be a table.")
    kw: dict[str, Any] = {}
    for key, value in raw.items():
        if key not in SETTINGS_TYPES:
            raise ConfigError(
                f"{path}: unknown key '{key}' in [settings]; valid keys: "
                f"{', '.join(SETTINGS_TYPES)}."
            )
        if isinstance(value, bool) or not isinstance(value, SETTINGS_TYPES[key]):
            raise ConfigError(
                f"{_where(path, key)} in [settings] must be an int"
                f"{' or a list of ints' if key == 'seeds' else ''}; got {value!r}."
            )
        if isinstance(value, int) and value < (0 if key == "rounds" else 1):
            raise ConfigError(f"{_where(path, key)} must be positive; got {value}.")
        kw[key] = value
    seeds = kw.pop("seeds", 3)
    if isinstance(seeds, int):
        seeds = list(range(seeds))
    if not seeds or not all(isinstance(s, int) and s >= 0 for s in seeds):
        raise ConfigError(
            f"{_where(path, 'seeds')} must list ints >= 0; got {seeds!r}."
        )
    name = data.get("name", Path(path).stem)
    if not isinstance(name, str):
        raise ConfigError(f"{_where(path, 'name')} must be a string; got {name!r}.")
    return GridConfig(
        name=name,
        datasets=tuple(datasets),
        models=models,
        strategies=strategies,
        settings=Settings(seeds=tuple(seeds), **kw),
    )


def load_grid(path: str | Path) -> GridConfig:
    """Read and validate a TOML grid file."""
    p = Path(path)
    try:
        data = tomllib.loads(p.read_text())
    except FileNotFoundError:
        raise ConfigError(f"Config file {p} does not exist.") from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{p}: not valid TOML: {exc}.") from None
    return parse_grid(data, str(p))
