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
    device = "auto"      # torch models: auto (CUDA if available), cpu, cuda, cuda:N
    precision = "fp32"   # or "bf16" (bfloat16 autocast, CUDA only)

Datasets may be wrapped in a noise benchmark (``"fashion-mnist:noisy-blank"``,
``"mnist:noisy-class:0.4"``; see `labelwise.datasets.noise`). A strategy
entry with ``finetune = true`` fine-tunes on confident pool samples after every
fit (label ``NAME+finetune``); its settings come from an optional top-level
``[finetune]`` table (fields of `FineTune`),
which an entry may override with ``finetune = { max_epochs = 20 }``. Tables and
figures name a strategy by its name and parameters (``bald(n_mc_samples=5)``)
unless the entry gives a ``label = "..."``; labels must be distinct.

``device`` and ``precision`` place every torch model of the grid; all workers use
the same device (several may share one GPU: each process trains its own runs
there). They join a run's identity only when they differ from ``"auto"`` and
``"fp32"``, so existing result folders keep their run ids; the device a grid ran
on is recorded in ``grid.json`` and named by the progress bar and the report.

Unknown keys and wrong types are rejected with the key's name and the valid
choices; strategy names and parameters are checked against the registry, models
against `labelwise.models.registry`, datasets against the dataset registry.
"""

from __future__ import annotations

import dataclasses
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from labelwise.datasets import check_name, is_regression
from labelwise.exceptions import InvalidParameterError, LabelwiseError
from labelwise.loop.experiment import RunConfig
from labelwise.models._placement import check_placement
from labelwise.models.finetune import FineTune
from labelwise.models.registry import (
    REGRESSION_MODELS,
    available_models,
    check_model_params,
)
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
    "device": (str,),
    "precision": (str,),
}
TOP_KEYS = {"name", "datasets", "models", "strategies", "settings", "finetune"}
FINETUNE_TYPES: dict[str, tuple[type, ...]] = {
    "threshold": (int, float),
    "min_size": (int,),
    "lr_factor": (int, float),
    "lr": (int, float),
    "max_epochs": (int,),
    "augment": (bool,),
}


@dataclass(frozen=True)
class Component:
    """A named model or strategy with parameters."""

    name: str
    params: dict[str, Any] = field(default_factory=dict)
    finetune: dict[str, Any] | None = None
    display: str | None = None

    @property
    def label(self) -> str:
        """The entry's ``label``, else name, parameters and ``+finetune``.

        For example ``coreset(robust=True)`` or ``margin+finetune``.
        """
        if self.display is not None:
            return self.display
        label = self.name
        if self.params:
            inner = ",".join(f"{k}={v}" for k, v in sorted(self.params.items()))
            label = f"{self.name}({inner})"
        return label + ("+finetune" if self.finetune is not None else "")


@dataclass(frozen=True)
class Settings:
    """Settings shared by every run of a grid."""

    initial: int = 100
    batch_size: int = 100
    rounds: int = 10
    seeds: tuple[int, ...] = (0, 1, 2)
    pool_size: int | None = None
    test_size: int | None = None
    device: str = "auto"
    precision: str = "fp32"

    @property
    def placement(self) -> dict[str, str]:
        """``device``/``precision`` where they differ from the defaults.

        These enter the runs' ``extra`` (and so their ids) only when set.
        """
        out = {}
        if self.device != "auto":
            out["device"] = self.device
        if self.precision != "fp32":
            out["precision"] = self.precision
        return out


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
                                    **s.placement,
                                    "model_params": check_model_params(
                                        model.name, model.params
                                    ),
                                    **(
                                        {"finetune": strat.finetune}
                                        if strat.finetune is not None
                                        else {}
                                    ),
                                },
                            )
                        )
        return out


def _where(path: str, key: str) -> str:
    return f"{path}: key '{key}'"


def _component(
    path: str, section: str, item: Any, finetune_defaults: dict[str, Any]
) -> Component:
    if isinstance(item, str):
        return Component(item)
    if not isinstance(item, dict):
        raise ConfigError(
            f"{path}: each entry of '{section}' must be a name or a table "
            f"{{ name = ..., params = {{...}} }}; got {item!r}."
        )
    valid = (
        {"name", "params", "finetune", "label"}
        if section == "strategies"
        else {
            "name",
            "params",
        }
    )
    unknown = set(item) - valid
    if unknown:
        raise ConfigError(
            f"{path}: unknown key '{sorted(unknown)[0]}' in an entry of '{section}'; "
            f"valid keys: {', '.join(sorted(valid))}."
        )
    if not isinstance(item.get("name"), str):
        raise ConfigError(f"{path}: an entry of '{section}' lacks a string 'name'.")
    params = item.get("params", {})
    if not isinstance(params, dict):
        raise ConfigError(f"{path}: 'params' of '{item['name']}' must be a table.")
    ft = item.get("finetune", False)
    if isinstance(ft, dict):
        ft = {
            **finetune_defaults,
            **_finetune(path, f"finetune of '{item['name']}'", ft),
        }
    elif ft is True:
        ft = dict(finetune_defaults)
    elif ft is False:
        ft = None
    else:
        raise ConfigError(
            f"{path}: 'finetune' of '{item['name']}' must be true, false or a table "
            f"of fine-tuning settings; got {ft!r}."
        )
    if ft is not None:
        ft = dataclasses.asdict(FineTune(**ft))
    display = item.get("label")
    if display is not None and (not isinstance(display, str) or not display.strip()):
        raise ConfigError(
            f"{path}: 'label' of '{item['name']}' must be a non-empty string; got "
            f"{display!r}."
        )
    return Component(item["name"], dict(params), ft, display)


def _finetune(path: str, where: str, table: Any) -> dict[str, Any]:
    """Validate a table of FineTune fields."""
    if not isinstance(table, dict):
        raise ConfigError(f"{path}: '{where}' must be a table; got {table!r}.")
    for key, value in table.items():
        if key not in FINETUNE_TYPES:
            raise ConfigError(
                f"{path}: unknown key '{key}' in '{where}'; valid keys: "
                f"{', '.join(FINETUNE_TYPES)}."
            )
        types = FINETUNE_TYPES[key]
        if (isinstance(value, bool) and bool not in types) or not isinstance(
            value, types
        ):
            raise ConfigError(
                f"{path}: '{key}' in '{where}' must be "
                f"{'true or false' if bool in types else types[-1].__name__}; got "
                f"{value!r}."
            )
    try:
        FineTune(**table)
    except InvalidParameterError as exc:
        raise ConfigError(f"{path}: in '{where}': {exc}") from None
    return dict(table)


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
    for ds in datasets:
        if not isinstance(ds, str):
            raise ConfigError(f"{path}: 'datasets' must list names; got {ds!r}.")
        try:
            check_name(ds)
        except InvalidParameterError as exc:
            raise ConfigError(f"{path}: in 'datasets': {exc}") from None
    ft_defaults = _finetune(path, "finetune", data.get("finetune", {}))
    models = tuple(_component(path, "models", m, ft_defaults) for m in data["models"])
    for m in models:
        try:
            check_model_params(m.name, m.params)
        except InvalidParameterError as exc:
            raise ConfigError(f"{path}: in 'models': {exc}") from None
    strategies = tuple(
        _component(path, "strategies", s, ft_defaults) for s in data["strategies"]
    )
    for s in strategies:
        try:
            get_strategy(s.name, **s.params)
        except LabelwiseError as exc:
            raise ConfigError(f"{path}: in 'strategies': {exc}") from None
    for ds in datasets:
        for m in models:
            if is_regression(ds) != (m.name in REGRESSION_MODELS):
                task = "regression" if is_regression(ds) else "classification"
                raise ConfigError(
                    f"{path}: dataset {ds!r} is a {task} task but model {m.name!r} "
                    f"is not; {task} models: "
                    + ", ".join(
                        sorted(
                            n
                            for n in available_models()
                            if (n in REGRESSION_MODELS) == is_regression(ds)
                        )
                    )
                    + "."
                )
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
            kind = "a string" if key in ("device", "precision") else "an int"
            raise ConfigError(
                f"{_where(path, key)} in [settings] must be {kind}"
                f"{' or a list of ints' if key == 'seeds' else ''}; got {value!r}."
            )
        if isinstance(value, int) and value < (0 if key == "rounds" else 1):
            raise ConfigError(f"{_where(path, key)} must be positive; got {value}.")
        kw[key] = value
    try:
        check_placement(kw.get("device", "auto"), kw.get("precision", "fp32"), 0)
    except InvalidParameterError as exc:
        raise ConfigError(f"{path}: [settings] {exc}") from None
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


def with_placement(
    grid: GridConfig, device: str | None = None, precision: str | None = None
) -> GridConfig:
    """``grid`` with its ``device``/``precision`` settings replaced where given.

    Raises:
        ConfigError: For a device this machine lacks, an unknown spelling, or
            ``"bf16"`` on the CPU.
    """
    s = grid.settings
    new = dataclasses.replace(
        s,
        device=s.device if device is None else device,
        precision=s.precision if precision is None else precision,
    )
    try:
        check_placement(new.device, new.precision, 0)
    except InvalidParameterError as exc:
        raise ConfigError(f"{exc}") from None
    return dataclasses.replace(grid, settings=new)


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
