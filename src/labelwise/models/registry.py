"""Models by name, as the command line and benchmark grids refer to them."""

from __future__ import annotations

import functools
from typing import Any

from labelwise._device import DeviceLike
from labelwise._validation import closest_name
from labelwise.exceptions import InvalidParameterError
from labelwise.models.embedding import (
    STANDARDIZE,
    EmbeddingClassifier,
    EmbeddingRegressor,
)
from labelwise.models.pytorch import TorchClassifier, cnn, mlp
from labelwise.models.regression import SklearnRegressor, TorchRegressor, bmdal_mlp
from labelwise.models.resnet import resnet18
from labelwise.models.sequence import SEQUENCE_NETWORKS
from labelwise.models.sklearn import SklearnClassifier

TORCH_PARAMS: dict[str, type | tuple[type, ...]] = {
    "epochs": int,
    "lr": (int, float),
    "hidden": int,
    "dropout": (int, float),
    "members": int,
    "ema": (int, float),
    "layers": int,
    "batch": int,
}
"""Parameters of the torch models and their types (``ema``: EMA alpha, 0 = off)."""

CNN_PARAMS: dict[str, type | tuple[type, ...]] = {**TORCH_PARAMS, "channels": int}
"""Parameters of ``cnn``: the torch ones and ``channels``, the filters of its first
conv block (the second has twice as many; `cnn`)."""

RESNET_PARAMS: dict[str, type | tuple[type, ...]] = {
    "epochs": int,
    "lr": (int, float),
    "dropout": (int, float),
    "members": int,
    "ema": (int, float),
    "batch": int,
    "optimizer": str,
    "momentum": (int, float),
    "weight_decay": (int, float),
    "schedule": str,
    "augment": bool,
}
"""Parameters of ``resnet18``: the common ones plus the training recipe
(``optimizer`` adam|sgd, ``momentum``, ``weight_decay``, ``schedule``
constant|cosine, ``augment`` = augment every training batch)."""

REGRESSOR_PARAMS: dict[str, type | tuple[type, ...]] = {
    "epochs": int,
    "lr": (int, float),
    "hidden": int,
    "layers": int,
    "batch": int,
    "members": int,
}
"""Parameters of ``bmdal-mlp`` (widths ``layers`` x ``hidden``)."""

RNN_PARAMS: dict[str, type | tuple[type, ...]] = {
    **TORCH_PARAMS,
    "bidirectional": bool,
}
"""Parameters of ``lstm`` and ``gru``: the torch ones and ``bidirectional``."""

TCN_PARAMS: dict[str, type | tuple[type, ...]] = {**TORCH_PARAMS, "kernel": int}
"""Parameters of ``tcn``: the torch ones (``layers`` = residual blocks) and the
convolution width ``kernel``."""

TRANSFORMER_PARAMS: dict[str, type | tuple[type, ...]] = {
    **TORCH_PARAMS,
    "heads": int,
}
"""Parameters of ``transformer``: the torch ones (``hidden`` = model width, a
multiple of ``heads``) and the number of attention ``heads``."""

EMBEDDING_PARAMS: dict[str, type | tuple[type, ...]] = {
    "epochs": int,
    "lr": (int, float),
    "hidden": int,
    "dropout": (int, float),
    "members": int,
    "ema": (int, float),
    "batch": int,
    "weight_decay": (int, float),
    "standardize": str,
}
"""Parameters of ``embedding-head`` (`EmbeddingClassifier`): ``hidden`` 0 = a
linear head; ``standardize`` global|per-feature|none."""

EMBEDDING_DEFAULTS: dict[str, Any] = {
    "epochs": 100,
    "lr": 1e-2,
    "hidden": 0,
    "dropout": 0.0,
    "members": 1,
    "ema": 0.0,
    "batch": 64,
    "weight_decay": 1e-4,
    "standardize": "global",
}

EMBEDDING_REGRESSOR_PARAMS: dict[str, type | tuple[type, ...]] = {
    "epochs": int,
    "lr": (int, float),
    "hidden": int,
    "batch": int,
    "members": int,
    "weight_decay": (int, float),
    "standardize": str,
}
"""Parameters of ``embedding-regressor`` (`EmbeddingRegressor`)."""

EMBEDDING_REGRESSOR_DEFAULTS: dict[str, Any] = {
    "epochs": 200,
    "lr": 1e-2,
    "hidden": 0,
    "batch": 64,
    "members": 1,
    "weight_decay": 0.0,
    "standardize": "global",
}

MODEL_PARAMS: dict[str, dict[str, type | tuple[type, ...]]] = {
    "mlp": TORCH_PARAMS,
    "cnn": CNN_PARAMS,
    "lstm": RNN_PARAMS,
    "gru": RNN_PARAMS,
    "tcn": TCN_PARAMS,
    "transformer": TRANSFORMER_PARAMS,
    "resnet18": RESNET_PARAMS,
    "logreg": {},
    "svm": {},
    "bmdal-mlp": REGRESSOR_PARAMS,
    "ridge": {},
    "embedding-head": EMBEDDING_PARAMS,
    "embedding-regressor": EMBEDDING_REGRESSOR_PARAMS,
}
"""Valid parameters per model name."""

REGRESSION_MODELS = frozenset({"bmdal-mlp", "ridge", "embedding-regressor"})
"""Model names that are regressors (the others classify)."""

REGRESSOR_DEFAULTS: dict[str, Any] = {
    "epochs": 256,
    "lr": 0.375,
    "hidden": 512,
    "layers": 2,
    "batch": 256,
    "members": 1,
}

DEFAULTS: dict[str, Any] = {
    "epochs": 200,
    "lr": 1e-3,
    "hidden": 128,
    "dropout": 0.0,
    "members": 1,
    "ema": 0.0,
    "layers": 1,
    "batch": 64,
}

CNN_DEFAULTS: dict[str, Any] = {**DEFAULTS, "channels": 32}
"""Defaults of ``cnn``: those of ``mlp`` and 32 filters in the first conv block."""

RESNET_DEFAULTS: dict[str, Any] = {
    "epochs": 50,
    "lr": 1e-3,
    "dropout": 0.0,
    "members": 1,
    "ema": 0.0,
    "batch": 128,
    "optimizer": "adam",
    "momentum": 0.9,
    "weight_decay": 0.0,
    "schedule": "constant",
    "augment": False,
}
"""BADGE's ResNet-18 recipe (Adam, learning rate 1e-3, training until 99 % training
accuracy), capped at 50 epochs, mini-batches of 128."""

SEQUENCE_DEFAULTS: dict[str, dict[str, Any]] = {
    "lstm": {**DEFAULTS, "hidden": 64, "bidirectional": False},
    "gru": {**DEFAULTS, "hidden": 64, "bidirectional": False},
    "tcn": {**DEFAULTS, "hidden": 64, "layers": 4, "kernel": 3},
    "transformer": {**DEFAULTS, "hidden": 64, "layers": 2, "heads": 4},
}
"""Defaults of the sequence networks (`labelwise.models.sequence`): width 64;
``tcn`` 4 blocks of width-3 convolutions, ``transformer`` 2 layers of 4 heads."""


def check_padding_support(data: str, model: str, strategy: str, accepts: bool) -> None:
    """Refuse a model or strategy that cannot use NaN-padded sequences.

    Args:
        data: What holds the padded sequences, for the message (a dataset).
        model: The registry name of the model.
        strategy: The strategy's label, for the message.
        accepts: The strategy's `Strategy.accepts_padding`.

    Raises:
        InvalidParameterError: ``model`` is not a sequence network (they mask
            padding) or the strategy computes on the raw inputs.
    """
    if model not in SEQUENCE_NETWORKS:
        what = (
            f"model {model!r} does not mask padding (use lstm, gru, tcn or transformer)"
        )
    elif not accepts:
        what = (
            f"strategy {strategy!r} computes on the raw inputs (use one that sees "
            "the pool only through the model: random, entropy, margin, coreset, "
            "badge, bait, lhd, ...)"
        )
    else:
        return
    raise InvalidParameterError(
        f"{data} holds variable-length sequences, NaN-padded; {what}."
    )


def available_models() -> list[str]:
    """Model names."""
    return sorted(MODEL_PARAMS)


def check_model_params(name: str, params: dict[str, Any]) -> dict[str, Any]:
    """Validate ``params`` for model ``name``; return them with defaults filled in."""
    if name not in MODEL_PARAMS:
        raise InvalidParameterError(
            f"Unknown model '{name}'.{closest_name(name, MODEL_PARAMS)}"
        )
    valid = MODEL_PARAMS[name]
    for key, value in params.items():
        if key not in valid:
            raise InvalidParameterError(
                f"Unknown parameter '{key}' for model '{name}'. Valid: "
                f"{', '.join(sorted(valid)) or 'none'}."
            )
        wants_bool = valid[key] is bool
        if isinstance(value, bool) != wants_bool or not isinstance(value, valid[key]):
            raise InvalidParameterError(
                f"Model parameter '{key}' must be {_type_name(valid[key])}; got "
                f"{value!r}."
            )
    if params.get("standardize", "global") not in STANDARDIZE:
        raise InvalidParameterError(
            f"Model parameter 'standardize' must be one of {', '.join(STANDARDIZE)}; "
            f"got {params['standardize']!r}."
        )
    defaults = {
        "resnet18": RESNET_DEFAULTS,
        "bmdal-mlp": REGRESSOR_DEFAULTS,
        "embedding-head": EMBEDDING_DEFAULTS,
        "embedding-regressor": EMBEDDING_REGRESSOR_DEFAULTS,
        "cnn": CNN_DEFAULTS,
    }.get(name, SEQUENCE_DEFAULTS.get(name, DEFAULTS))
    return {k: params.get(k, defaults[k]) for k in valid}


def _type_name(t: type | tuple[type, ...]) -> str:
    if isinstance(t, tuple):
        return "a number"
    return {int: "an int", str: "a string", bool: "true or false"}.get(t, t.__name__)


def make_model(
    name: str,
    *,
    device: DeviceLike = "auto",
    precision: str = "fp32",
    **params: Any,
) -> Any:
    """A fresh, unfitted model by name (classifiers and regressors).

    Classifiers: ``mlp``, ``cnn``, ``resnet18``, ``logreg``, ``svm``,
    ``embedding-head`` and the sequence networks ``lstm``, ``gru``, ``tcn``,
    ``transformer`` (inputs ``(n, T, C)``, NaN-padded when lengths differ);
    regressors: ``bmdal-mlp``, ``ridge``, ``embedding-regressor``.

    Args:
        name: Model name.
        device: Where the torch models compute (``"auto"``, ``"cpu"``,
            ``"cuda"``, ``"cuda:N"``); scikit-learn models ignore it.
        precision: ``"fp32"`` or ``"bf16"`` (CUDA only) for the torch models;
            scikit-learn models ignore it.
        **params: ``epochs``, ``lr``, ``hidden``, ``dropout``, ``members``,
            ``ema``, ``layers`` (mlp), ``channels`` (cnn: filters of the first
            conv block, 32), ``batch`` (torch models only; ``ema`` is
            the EMA alpha, 0 = off; ``batch`` the training mini-batch size).
            ``resnet18`` has no ``hidden``/``layers`` but the recipe options of
            `RESNET_PARAMS` (defaults `RESNET_DEFAULTS`). The sequence networks
            take ``layers``, ``hidden`` and ``dropout`` too, and
            ``bidirectional`` (lstm, gru), ``kernel`` (tcn) or ``heads``
            (transformer); defaults `SEQUENCE_DEFAULTS`.
            ``bmdal-mlp``: ``epochs`` (256), ``lr`` (0.375), ``hidden`` (512),
            ``layers`` (2), ``batch`` (256), ``members`` (1).
            ``embedding-head`` / ``embedding-regressor``: `EMBEDDING_PARAMS` /
            `EMBEDDING_REGRESSOR_PARAMS` (``hidden`` 0 = a linear head).

    Returns:
        A `TorchClassifier`, `SklearnClassifier`, `TorchRegressor`,
        `SklearnRegressor`, `EmbeddingClassifier` or `EmbeddingRegressor`.
    """
    p = check_model_params(name, params)
    if name == "logreg":
        return SklearnClassifier()
    if name == "svm":
        from sklearn.calibration import CalibratedClassifierCV
        from sklearn.svm import SVC

        # probabilities by Platt scaling of one SVC fit on all labels (for the
        # metrics and the uncertainty strategies); fscore uses its margin
        return SklearnClassifier(
            CalibratedClassifierCV(SVC(gamma="scale"), ensemble=False, cv=3)
        )
    if name == "ridge":
        return SklearnRegressor()
    placement: dict[str, Any] = {"device": device, "precision": precision}
    if name in ("embedding-head", "embedding-regressor"):
        return _embedding_model(name, p, placement)
    if name == "bmdal-mlp":
        return TorchRegressor(
            functools.partial(bmdal_mlp, widths=(p["hidden"],) * p["layers"]),
            lr=float(p["lr"]),
            max_epochs=p["epochs"],
            batch_size=p["batch"],
            n_members=p["members"],
            **placement,
        )
    common: dict[str, Any] = dict(
        batch_size=p["batch"],
        lr=float(p["lr"]),
        max_epochs=p["epochs"],
        n_members=p["members"],
        ema_alpha=float(p["ema"]) or None,
        **placement,
    )
    if name == "resnet18":
        return TorchClassifier(
            functools.partial(resnet18, dropout=float(p["dropout"])),
            optimizer=p["optimizer"],
            momentum=float(p["momentum"]),
            weight_decay=float(p["weight_decay"]),
            lr_schedule=p["schedule"],
            augment=p["augment"],
            **common,
        )
    if name in SEQUENCE_NETWORKS:
        return TorchClassifier(_sequence_factory(name, p), **common)
    if name == "cnn":
        factory = functools.partial(cnn, channels=p["channels"])
    else:
        factory = functools.partial(mlp, layers=p["layers"])
    return TorchClassifier(
        functools.partial(factory, hidden=p["hidden"], dropout=float(p["dropout"])),
        **common,
    )


def _sequence_factory(name: str, p: dict[str, Any]) -> Any:
    """The network factory of sequence model ``name`` with checked params ``p``."""
    extra = {
        "lstm": ("bidirectional", "bidirectional"),
        "gru": ("bidirectional", "bidirectional"),
        "tcn": ("kernel", "kernel_size"),
        "transformer": ("heads", "heads"),
    }[name]
    return functools.partial(
        SEQUENCE_NETWORKS[name],
        hidden=p["hidden"],
        layers=p["layers"],
        dropout=float(p["dropout"]),
        **{extra[1]: p[extra[0]]},
    )


def _embedding_model(
    name: str, p: dict[str, Any], placement: dict[str, Any]
) -> EmbeddingClassifier | EmbeddingRegressor:
    """``embedding-head`` or ``embedding-regressor`` from checked parameters."""
    common: dict[str, Any] = dict(
        hidden=p["hidden"],
        standardize=p["standardize"],
        lr=float(p["lr"]),
        max_epochs=p["epochs"],
        batch_size=p["batch"],
        weight_decay=float(p["weight_decay"]),
        n_members=p["members"],
        **placement,
    )
    if name == "embedding-regressor":
        return EmbeddingRegressor(**common)
    return EmbeddingClassifier(
        dropout=float(p["dropout"]), ema_alpha=float(p["ema"]) or None, **common
    )
