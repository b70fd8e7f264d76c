"""Models on precomputed embeddings, and a loader for embedding files.

A user who already has one vector per item (CLIP image embeddings, sentence
embeddings, audio embeddings: an array ``(n, d)``) needs no network of their own:
`EmbeddingClassifier` trains a small head on the vectors, by default a linear
softmax layer (multinomial logistic regression, trained in torch), optionally with
one hidden ReLU layer. It is a `TorchClassifier` whose network is `embedding_head`,
so every capability a strategy asks for comes from the same tested code:
probabilities (margin, entropy), the embedding (Core-Set), the last-layer
gradient embedding ``(onehot(ŷ) - p) ⊗ h`` (BADGE, BAIT), ensembles, MC dropout,
an EMA pair (LHD) and the ``device=`` placement.

Which embedding the strategies see: ``embed`` is the input of the last linear
layer, as the `Embedder` protocol states and as BADGE's and BAIT's gradient
embeddings need. With the default linear head that is the user's embedding
itself (after the standardisation below), so Core-Set runs k-center on the given
vectors and BADGE/BAIT use ``(onehot(ŷ) - p) ⊗ x``, the exact last-layer gradient
of logistic regression (BAIT paper, Ash et al., NeurIPS 2021, §6.1 uses the same
for its convex models). With ``hidden > 0`` it is the hidden layer's output.

Standardisation is a first, fixed layer of the network whose statistics come from
the training inputs of each ``fit``: ``"global"`` (the default) subtracts the mean
vector and divides every dimension by one number, the root of the mean per-
dimension variance; that keeps the geometry of the vectors (k-center and
k-means++ are unchanged by a shift and one scale factor) while giving the
optimiser inputs of unit average variance. ``"per-feature"`` divides each
dimension by its own standard deviation (a z-score, which changes distances);
``"none"`` leaves the vectors as given.

`EmbeddingRegressor` is the same for a numeric target: a `TorchRegressor` with a
linear (or one-hidden-layer) head, whose `grad_features` serve BMDAL's kernels.

`load_embeddings` reads ``.npy`` and ``.parquet`` files and checks them.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from labelwise._device import DeviceLike
from labelwise._typing import FloatArray, RNGLike
from labelwise.exceptions import InvalidParameterError
from labelwise.models._placement import as_float_tensor
from labelwise.models.pytorch import SplitNetwork, TorchClassifier
from labelwise.models.regression import TorchRegressor

STANDARDIZE = ("global", "per-feature", "none")
"""Valid ``standardize=`` values of `EmbeddingClassifier` and `EmbeddingRegressor`."""


class Standardize(nn.Module):
    """A fixed affine map ``(x - mean) / scale`` whose statistics are buffers.

    The buffers start as the identity (mean 0, scale 1); `set_statistics` fills
    them from training inputs. Being buffers, they move with the network to its
    device and are pickled with it.

    Args:
        n_features: Width ``d`` of the inputs ``(n, d)``.
    """

    mean: torch.Tensor
    scale: torch.Tensor

    def __init__(self, n_features: int):
        super().__init__()
        self.register_buffer("mean", torch.zeros(n_features))
        self.register_buffer("scale", torch.ones(n_features))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Standardised inputs ``(n, d)``."""
        return (x - self.mean) / self.scale

    @torch.no_grad()
    def set_statistics(self, mean: torch.Tensor, scale: torch.Tensor) -> None:
        """Copy ``mean`` ``(d,)`` and ``scale`` ``(d,)`` into the buffers."""
        self.mean.copy_(mean)
        self.scale.copy_(scale)


def standardization(x: torch.Tensor, how: str) -> tuple[torch.Tensor, torch.Tensor]:
    """The ``(mean, scale)`` of `Standardize` for inputs ``x`` ``(n, d)``.

    Args:
        x: Training inputs ``(n, d)`` (any device; the statistics are computed
            in float64 and returned as float32 on the CPU).
        how: ``"global"``: the mean vector and one scale, the root of the mean
            per-dimension variance; ``"per-feature"``: the mean vector and each
            dimension's standard deviation; ``"none"``: mean 0, scale 1. A scale
            that is not positive (constant inputs, one row) is replaced by 1.

    Returns:
        ``mean`` and ``scale``, both float32 ``(d,)``.

    Examples:
        >>> m, s = standardization(torch.tensor([[0.0, 0.0], [2.0, 4.0]]), "global")
        >>> m.tolist(), s.tolist()
        ([1.0, 2.0], [1.5811388492584229, 1.5811388492584229])
    """
    if how not in STANDARDIZE:
        raise InvalidParameterError(
            f"standardize must be one of {', '.join(map(repr, STANDARDIZE))}; "
            f"got {how!r}."
        )
    d = x.shape[1]
    if how == "none":
        return torch.zeros(d), torch.ones(d)
    xd = x.detach().to("cpu", torch.float64)
    mean = xd.mean(0)
    var = xd.var(0, unbiased=False)
    scale = var.mean().sqrt().expand(d) if how == "global" else var.sqrt()
    scale = torch.where(scale > 1e-12, scale, torch.ones_like(scale))
    return mean.float(), scale.float().clone()


def _check_embedding_input(X: Any) -> torch.Tensor:
    x = as_float_tensor(X)
    if x.ndim != 2:
        raise InvalidParameterError(
            f"X must be embeddings of shape (n_items, n_dims); got shape "
            f"{tuple(x.shape)}. Flatten them with X.reshape(len(X), -1)."
        )
    return x


def _load_statistics(net: nn.Module, stats: tuple[torch.Tensor, torch.Tensor]) -> None:
    for module in net.modules():
        if isinstance(module, Standardize):
            module.set_statistics(*stats)


def _hidden_layers(d: int, hidden: int, dropout: float) -> list[nn.Module]:
    mods: list[nn.Module] = [nn.Flatten(), Standardize(d)]
    if hidden > 0:
        mods += [nn.Linear(d, hidden), nn.ReLU()]
    if dropout > 0:
        mods.append(nn.Dropout(dropout))
    return mods


def _check_head(hidden: int, dropout: float) -> None:
    if isinstance(hidden, bool) or not isinstance(hidden, int) or hidden < 0:
        raise InvalidParameterError(
            f"hidden must be an int >= 0 (0 = a linear head); got {hidden!r}."
        )
    if not 0 <= dropout < 1:
        raise InvalidParameterError(f"dropout must be in [0, 1); got {dropout!r}.")


def embedding_head(
    input_shape: Sequence[int],
    n_classes: int,
    *,
    hidden: int = 0,
    dropout: float = 0.0,
) -> SplitNetwork:
    """A head for embeddings ``(n, d)``: standardisation, then linear softmax.

    ``features`` is `Standardize` (filled by `EmbeddingClassifier.fit`), then,
    with ``hidden > 0``, one ``Linear(d, hidden)`` + ReLU, then dropout if asked;
    ``head`` is ``Linear(·, n_classes)`` with a bias. With ``hidden=0`` the whole
    network is multinomial logistic regression on the standardised embedding.

    Args:
        input_shape: Shape of one input, ``(d,)``.
        n_classes: Number of classes.
        hidden: Width of the hidden ReLU layer; 0 (default) = none.
        dropout: Dropout rate before the head (0 = none).

    Returns:
        A `SplitNetwork` whose embedding has ``hidden`` dimensions (``d`` when
        ``hidden=0``).
    """
    _check_head(hidden, dropout)
    d = int(math.prod(input_shape))
    return SplitNetwork(
        nn.Sequential(*_hidden_layers(d, hidden, dropout)),
        nn.Linear(hidden or d, n_classes),
    )


def embedding_regression_head(
    input_shape: Sequence[int], *, hidden: int = 0
) -> nn.Sequential:
    """`embedding_head` for a numeric target: output ``(n, 1)``.

    Args:
        input_shape: Shape of one input, ``(d,)``.
        hidden: Width of the hidden ReLU layer; 0 (default) = linear regression.

    Returns:
        ``nn.Sequential``: `Standardize`, optional ``Linear`` + ReLU, ``Linear(·, 1)``.
    """
    _check_head(hidden, 0.0)
    d = int(math.prod(input_shape))
    return nn.Sequential(*_hidden_layers(d, hidden, 0.0), nn.Linear(hidden or d, 1))


class EmbeddingClassifier(TorchClassifier):
    """Classifier on precomputed embeddings ``(n, d)``: a small head trained in torch.

    A `TorchClassifier` with the network `embedding_head` (see the module
    docstring for the choices): linear softmax by default, so ``fit`` is
    multinomial logistic regression with an L2 penalty (``weight_decay``),
    trained with Adam for ``max_epochs`` (a convex problem: there is no early stop
    at a training accuracy by default, which would leave the probabilities far
    from the optimum). Every capability of `TorchClassifier` is there: ``embed``
    (the standardised input with a linear head, else the hidden layer),
    ``predict_proba_members`` (``n_members`` >= 2), MC dropout (``dropout`` > 0),
    ``ema_outputs`` (``ema_alpha``), ``tensor_outputs`` and ``device=``.

    Args:
        hidden: Width of a hidden ReLU layer; 0 (default) = linear head.
        dropout: Dropout before the head (0 = none).
        standardize: ``"global"`` (default), ``"per-feature"`` or ``"none"``;
            statistics of each ``fit``'s training inputs.
        lr: Adam learning rate. Defaults to 1e-2.
        max_epochs: Epochs. Defaults to 100.
        batch_size: Mini-batch size. Defaults to 64.
        weight_decay: L2 penalty (added to the gradient). Defaults to 1e-4.
        stop_at_train_accuracy: Early stop threshold; ``None`` (default) trains
            ``max_epochs``.
        n_members: Ensemble size. Defaults to 1.
        ema_alpha: EMA of the weights (LHD); ``None`` (default) = off.
        predict_batch_size: Chunk size for inference. Defaults to 4096.
        device: ``"auto"`` (default), ``"cpu"``, ``"cuda"`` or ``"cuda:N"``.
        precision: ``"fp32"`` (default) or ``"bf16"`` (CUDA only).
        device_budget_mb: Training sets up to this size are copied to the GPU once.

    Examples:
        >>> X = np.random.default_rng(0).normal(size=(40, 8)).astype(np.float32)
        >>> y = (X[:, 0] > 0).astype(int)
        >>> clf = EmbeddingClassifier(max_epochs=5, device="cpu")
        >>> clf.fit(X, y, n_classes=2, rng=0).embed(X).shape
        (40, 8)
    """

    def __init__(
        self,
        *,
        hidden: int = 0,
        dropout: float = 0.0,
        standardize: str = "global",
        lr: float = 1e-2,
        max_epochs: int = 100,
        batch_size: int = 64,
        weight_decay: float = 1e-4,
        stop_at_train_accuracy: float | None = None,
        n_members: int = 1,
        ema_alpha: float | None = None,
        predict_batch_size: int = 4096,
        device: DeviceLike = "auto",
        precision: str = "fp32",
        device_budget_mb: float = 1024.0,
    ):
        _check_head(hidden, dropout)
        standardization(torch.zeros(1, 1), standardize)  # validates the name
        super().__init__(
            functools.partial(embedding_head, hidden=hidden, dropout=dropout),
            lr=lr,
            max_epochs=max_epochs,
            batch_size=batch_size,
            weight_decay=weight_decay,
            stop_at_train_accuracy=stop_at_train_accuracy,
            n_members=n_members,
            ema_alpha=ema_alpha,
            predict_batch_size=predict_batch_size,
            device=device,
            precision=precision,
            device_budget_mb=device_budget_mb,
        )
        self.hidden = hidden
        self.dropout = dropout
        self.standardize = standardize
        self.statistics_: tuple[torch.Tensor, torch.Tensor] | None = None

    def describe(self) -> str:
        """One line describing the configuration."""
        return (
            f"embedding head, hidden={self.hidden}, standardize={self.standardize}, "
            f"n_members={self.n_members}"
        )

    def fit(
        self,
        X: Any,
        y: Any,
        *,
        n_classes: int,
        rng: RNGLike = None,
        sample_weight: Any = None,
    ) -> EmbeddingClassifier:
        """Standardise by ``X``'s statistics and train fresh heads.

        Args:
            X: Embeddings ``(n, d)``.
            y: Class indices ``(n,)`` in ``[0, n_classes)``.
            n_classes: Number of classes.
            rng: Seed or generator for initialisation and shuffling.
            sample_weight: Non-negative weights ``(n,)`` (see `TorchClassifier.fit`).

        Returns:
            ``self``.
        """
        x = _check_embedding_input(X)
        self.statistics_ = standardization(x, self.standardize)
        super().fit(x, y, n_classes=n_classes, rng=rng, sample_weight=sample_weight)
        return self

    def _build(self, shape: tuple[int, ...], seed: int) -> nn.Module:
        net = super()._build(shape, seed)
        if self.statistics_ is not None:
            _load_statistics(net, self.statistics_)
        return net


class EmbeddingRegressor(TorchRegressor):
    """Regressor on precomputed embeddings ``(n, d)``: a linear (or small) head.

    A `TorchRegressor` with the network `embedding_regression_head`: linear
    regression on the standardised embedding by default (MSE, Adam, the learning
    rate decayed linearly to 0), or one hidden ReLU layer. Targets are used as
    given (scale them yourself if they are far from unit size). Its
    `grad_features` give BMDAL's ``grad``/``ll`` kernels; with the linear head
    they are the standardised input with a bias entry.

    Args:
        hidden: Width of a hidden ReLU layer; 0 (default) = linear.
        standardize: ``"global"`` (default), ``"per-feature"`` or ``"none"``.
        lr: Adam learning rate at the start. Defaults to 1e-2.
        max_epochs: Epochs. Defaults to 200.
        batch_size: Mini-batch size (see `TorchRegressor`). Defaults to 64.
        weight_decay: AdamW weight decay (0 = plain Adam). Defaults to 0.
        n_members: Ensemble size. Defaults to 1.
        predict_batch_size: Chunk size for inference. Defaults to 8192.
        device: ``"auto"`` (default), ``"cpu"``, ``"cuda"`` or ``"cuda:N"``.
        precision: ``"fp32"`` (default) or ``"bf16"`` (CUDA only).
        device_budget_mb: Training sets up to this size are copied to the GPU once.

    Examples:
        >>> X = np.random.default_rng(0).normal(size=(64, 4)).astype(np.float32)
        >>> reg = EmbeddingRegressor(max_epochs=5, device="cpu")
        >>> reg.fit(X, X[:, 0], rng=0).predict(X).shape
        (64,)
    """

    def __init__(
        self,
        *,
        hidden: int = 0,
        standardize: str = "global",
        lr: float = 1e-2,
        max_epochs: int = 200,
        batch_size: int = 64,
        weight_decay: float = 0.0,
        n_members: int = 1,
        predict_batch_size: int = 8192,
        device: DeviceLike = "auto",
        precision: str = "fp32",
        device_budget_mb: float = 1024.0,
    ):
        _check_head(hidden, 0.0)
        standardization(torch.zeros(1, 1), standardize)  # validates the name
        super().__init__(
            functools.partial(embedding_regression_head, hidden=hidden),
            lr=lr,
            max_epochs=max_epochs,
            batch_size=batch_size,
            weight_decay=weight_decay,
            n_members=n_members,
            predict_batch_size=predict_batch_size,
            device=device,
            precision=precision,
            device_budget_mb=device_budget_mb,
        )
        self.hidden = hidden
        self.standardize = standardize
        self.statistics_: tuple[torch.Tensor, torch.Tensor] | None = None

    def describe(self) -> str:
        """One line describing the configuration."""
        return (
            f"embedding regression head, hidden={self.hidden}, "
            f"standardize={self.standardize}, n_members={self.n_members}"
        )

    def fit(
        self,
        X: Any,
        y: Any,
        *,
        rng: RNGLike = None,
        X_valid: Any = None,
        y_valid: Any = None,
    ) -> EmbeddingRegressor:
        """Standardise by the statistics of ``X``; train as `TorchRegressor.fit`."""
        x = _check_embedding_input(X)
        self.statistics_ = standardization(x, self.standardize)
        super().fit(x, y, rng=rng, X_valid=X_valid, y_valid=y_valid)
        return self

    def _build(self, shape: tuple[int, ...], seed: int) -> nn.Module:
        net = super()._build(shape, seed)
        if self.statistics_ is not None:
            _load_statistics(net, self.statistics_)
        return net


# ---------------------------------------------------------------- files
EMBEDDING_SUFFIXES = (".npy", ".parquet", ".pq")
"""File types `load_embeddings` reads."""


def load_embeddings(
    path: str | Path, n_items: int | None = None, *, column: str | None = None
) -> FloatArray:
    """Read and check an embedding matrix ``(n_items, d)`` from ``.npy`` or Parquet.

    ``.npy``: one 2-D numeric array (no pickled objects). Parquet: either one
    column whose cells are lists or arrays of the same length ``d`` (other,
    e.g. id, columns are ignored; ``column`` picks one when there are several),
    or, with no such column, ``d`` floating-point columns, one per dimension, in
    the file's order. Row ``i`` belongs to item ``i``.

    Args:
        path: The file.
        n_items: The number of items the rows must match; ``None`` = any.
        column: Parquet only: the list column to read.

    Returns:
        A float32 array ``(n, d)``.

    Raises:
        InvalidParameterError: A missing file or another type; not 2-D; not
            numbers (object or string dtype); NaN or infinite values (their count
            and first rows); ragged or empty list cells; a row count other than
            ``n_items`` (both counts are named).

    Examples:
        >>> import tempfile, pathlib
        >>> f = pathlib.Path(tempfile.mkdtemp()) / "emb.npy"
        >>> np.save(f, np.ones((3, 4)))
        >>> load_embeddings(f, n_items=3).shape
        (3, 4)
    """
    p = Path(path)
    suffix = p.suffix.lower()
    if suffix not in EMBEDDING_SUFFIXES:
        raise InvalidParameterError(
            f"Embeddings are read from .npy or .parquet files; got {p.name}. Save "
            "them with np.save('emb.npy', X) or as a Parquet list column."
        )
    if not p.is_file():
        raise InvalidParameterError(f"Embedding file {p} does not exist.")
    if column is not None and suffix == ".npy":
        raise InvalidParameterError(
            f"column={column!r} applies to Parquet files; {p.name} is .npy."
        )
    raw = _read_npy(p) if suffix == ".npy" else _read_parquet(p, column)
    return check_embeddings(raw, n_items, name=p.name)


def check_embeddings(
    x: Any, n_items: int | None = None, *, name: str = "X"
) -> FloatArray:
    """Check an embedding matrix and return it as float32 ``(n, d)``.

    Args:
        x: Array-like ``(n, d)``.
        n_items: The number of items the rows must match; ``None`` = any.
        name: What ``x`` is, for messages.

    Returns:
        The float32 array.

    Raises:
        InvalidParameterError: Object or non-numeric dtype, not 2-D, no rows or
            columns, non-finite values (also after the cast to float32), or a row
            count other than ``n_items``, or rows of different lengths.
    """
    try:
        arr = np.asarray(x)
    except ValueError:  # ragged rows
        raise InvalidParameterError(
            f"Embeddings {name} have rows of different lengths; every item needs "
            "a vector of the same size."
        ) from None
    if (
        arr.dtype == object
        or not (np.issubdtype(arr.dtype, np.number) or arr.dtype == np.bool_)
        or np.issubdtype(arr.dtype, np.complexfloating)
    ):
        raise InvalidParameterError(
            f"Embeddings {name} must hold real numbers; got dtype {arr.dtype}. "
            "Store a float array (n_items, n_dims), e.g. "
            "np.save('emb.npy', np.asarray(X, dtype=np.float32))."
        )
    if arr.ndim != 2 or arr.shape[0] == 0 or arr.shape[1] == 0:
        raise InvalidParameterError(
            f"Embeddings {name} must be a 2-D array (n_items, n_dims) with at least "
            f"one row and one column; got shape {arr.shape}."
        )
    if n_items is not None and arr.shape[0] != n_items:
        raise InvalidParameterError(
            f"Embeddings {name} have {arr.shape[0]} rows, but there are {n_items} "
            "items; row i must be the embedding of item i, in the items' order."
        )
    with np.errstate(over="ignore"):  # overflow becomes inf, reported below
        out = np.ascontiguousarray(arr, dtype=np.float32)
    bad = np.flatnonzero(~np.isfinite(out).all(axis=1))
    if bad.size:
        raise InvalidParameterError(
            f"Embeddings {name} have NaN or infinite values in {bad.size} row(s), "
            f"first at rows {bad[:5].tolist()} (values beyond the float32 range "
            "count as infinite). Recompute or drop those items."
        )
    return out


def _read_npy(path: Path) -> np.ndarray:
    try:
        arr: np.ndarray = np.load(path, allow_pickle=False)
    except ValueError as exc:
        if "allow_pickle" not in str(exc):  # a truncated file, a bad header
            raise InvalidParameterError(
                f"Cannot read {path.name} as .npy: the file is truncated or "
                f"corrupt ({exc}). Write it again with np.save."
            ) from None
        raise InvalidParameterError(  # object arrays need pickle
            f"Embeddings {path.name} hold Python objects (dtype object), not "
            f"numbers ({exc}). Store a float array: "
            "np.save(path, np.asarray(X, dtype=np.float32))."
        ) from None
    except EOFError:
        raise InvalidParameterError(
            f"Cannot read {path.name} as .npy: the file is empty or truncated. "
            "Write it again with np.save."
        ) from None
    except OSError as exc:
        raise InvalidParameterError(f"Cannot read {path.name} as .npy: {exc}") from None
    if not isinstance(arr, np.ndarray):
        raise InvalidParameterError(
            f"{path.name} is not a single array (.npz archives are not read); save "
            "one array with np.save."
        )
    return arr


def _read_parquet(path: Path, column: str | None) -> np.ndarray:
    import pyarrow as pa
    import pyarrow.parquet as pq

    try:
        table = pq.read_table(path)
    except (OSError, pa.ArrowException) as exc:
        raise InvalidParameterError(
            f"Cannot read {path.name} as Parquet: {exc}"
        ) from None
    lists = [
        f.name
        for f in table.schema
        if pa.types.is_list(f.type)
        or pa.types.is_large_list(f.type)
        or pa.types.is_fixed_size_list(f.type)
    ]
    if column is not None:
        if column not in lists:
            raise InvalidParameterError(
                f"{path.name} has no list column {column!r}; its list columns: "
                f"{lists or 'none'}; all columns: {table.column_names}."
            )
        lists = [column]
    if len(lists) > 1:
        raise InvalidParameterError(
            f"{path.name} has several list columns {lists}; say which holds the "
            "embeddings (column=... in Python, --embedding-column on the command line)."
        )
    if lists:
        return _list_column(
            table.column(lists[0]).combine_chunks(), path.name, lists[0]
        )
    floats = [f.name for f in table.schema if pa.types.is_floating(f.type)]
    others = [n for n in table.column_names if n not in floats]
    if others or not floats:
        raise InvalidParameterError(
            f"{path.name}: without a list column, every column must be a float "
            f"column (one per dimension); these are not: {others or 'no columns'}. "
            "Drop them, or store the embeddings as one list column."
        )
    return np.column_stack(
        [table.column(n).to_numpy(zero_copy_only=False) for n in floats]
    ).astype(np.float64)


def _list_column(col: Any, file: str, name: str) -> np.ndarray:
    """A list column as ``(n, d)``; every cell a non-null list of ``d`` numbers."""
    import pyarrow as pa
    import pyarrow.compute as pc

    if col.null_count:
        first = int(np.flatnonzero(col.is_null().to_numpy(zero_copy_only=False))[0])
        raise InvalidParameterError(
            f"{file}: column {name!r} has {col.null_count} empty cell(s), first at "
            f"row {first}; every item needs an embedding."
        )
    if pa.types.is_fixed_size_list(col.type):
        d = col.type.list_size
    else:
        lengths = pc.list_value_length(col).to_numpy(zero_copy_only=False)
        if len(lengths) and (lengths != lengths[0]).any():
            bad = int(np.flatnonzero(lengths != lengths[0])[0])
            raise InvalidParameterError(
                f"{file}: column {name!r} holds lists of different lengths "
                f"({int(lengths[0])} in row 0, {int(lengths[bad])} in row {bad}); "
                "every embedding needs the same number of dimensions."
            )
        d = int(lengths[0]) if len(lengths) else 0
    values = col.flatten()
    if not (pa.types.is_floating(values.type) or pa.types.is_integer(values.type)):
        raise InvalidParameterError(
            f"{file}: column {name!r} holds lists of {values.type}, not numbers."
        )
    flat = np.asarray(values.to_numpy(zero_copy_only=False), dtype=np.float64)
    return flat.reshape(len(col), d)
