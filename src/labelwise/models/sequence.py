"""Sequence networks for inputs ``(n, T, C)``: LSTM, GRU, TCN and Transformer.

Each factory ``net(input_shape, n_classes, ...)`` returns a `SequenceNetwork`
(a `SplitNetwork`) whose ``features`` pool a sequence into one embedding
``(n, d)``, so every strategy that works on embeddings (Core-Set, BADGE, BAIT,
LHD) works on sequences unchanged. ``input_shape`` is ``(T, C)``; only ``C`` fixes
the weights, so a fitted network predicts sequences of any length. A 2-D input
``(n, T)`` is read as ``n`` univariate sequences ``(n, T, 1)``.

**Variable lengths.** A batch of sequences of different lengths is padded to the
longest (`pad_sequences`): a padded time step is NaN in every channel, and it
comes after the sequence's real steps. Every network masks padding, so a padded
sequence gets the same prediction and embedding as the same sequence unpadded
(up to float rounding):

* `lstm` and `gru` run on packed sequences (``pack_padded_sequence``) and take
  the last layer's final hidden state at each sequence's true length (both
  directions when ``bidirectional``);
* `tcn` uses causal convolutions (the output at step ``t`` sees steps ``<= t``
  only, so padding never reaches a real step) and averages the last block's
  outputs over the real steps;
* `transformer` passes the padding as ``src_key_padding_mask`` (padded keys get
  no attention) and averages over the real steps.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Sequence
from typing import Any, ClassVar

import numpy as np
import torch
from torch import nn

from labelwise.exceptions import InvalidParameterError
from labelwise.models.pytorch import SplitNetwork


class SequenceNetwork(SplitNetwork):
    """A `SplitNetwork` for sequences that masks NaN padding.

    Args:
        features: Module mapping ``(n, T, C)`` (or ``(n, T)``) to ``(n, d)``.
        head: Linear layer mapping embeddings to logits ``(n, n_classes)``.
        channels: The ``C`` the features take; ``None`` (default) checks only
            the rank and the length of inputs.
    """

    masks_padding: ClassVar[bool] = True
    channels: int | None = None  # the class default serves older pickles

    def __init__(
        self, features: nn.Module, head: nn.Linear, channels: int | None = None
    ):
        super().__init__(features, head)
        self.channels = channels

    def check_input(self, shape: tuple[int, ...]) -> None:
        """Refuse a batch that is not ``(n, T, C)`` (or ``(n, T)``) with ``T >= 1``.

        When known, ``C`` must be this network's: a packed LSTM would read
        another channel count without an error.
        """
        got = shape[2] if len(shape) == 3 else 1
        if len(shape) not in (2, 3) or shape[1] < 1:
            problem = f"got shape {shape}"
        elif self.channels is not None and got != self.channels:
            problem = f"this network takes C = {self.channels}, got shape {shape}"
        else:
            return
        raise InvalidParameterError(
            "Sequence networks take sequences of shape (n, T, C) with T >= 1 (or "
            f"(n, T) for C = 1); {problem}. Pass the channels the model was "
            "fitted on, in the last axis (pad_sequences builds such arrays)."
        )


def pad_sequences(seqs: Iterable[Any]) -> np.ndarray:
    """Stack sequences of different lengths into one NaN-padded array.

    Args:
        seqs: Sequences (a list, or any iterable such as a generator), each of
            shape ``(T_i, C)`` (or ``(T_i,)`` for one channel), all with the
            same ``C``, finite, with ``T_i >= 1``.

    Returns:
        Float32 array ``(n, max_i T_i, C)``; the steps after ``T_i`` of row ``i``
        are NaN in every channel (padding, masked by the sequence networks).

    Raises:
        InvalidParameterError: No sequences, an empty sequence, one without
            channels or with ragged steps, channel counts that differ, a value
            that is not finite (NaN marks padding only; impute missing values
            first), or a sequence that is not 1-D or 2-D.

    Examples:
        >>> pad_sequences([[[1.0], [2.0]], [[3.0]]])[:, :, 0]
        array([[ 1.,  2.],
               [ 3., nan]], dtype=float32)
    """
    arrays = [_one_sequence(s, i) for i, s in enumerate(seqs)]
    if not arrays:
        raise InvalidParameterError("pad_sequences needs at least one sequence.")
    channels = {a.shape[1] for a in arrays}
    if len(channels) > 1:
        first = {
            c: next(i for i, a in enumerate(arrays) if a.shape[1] == c)
            for c in channels
        }
        raise InvalidParameterError(
            "pad_sequences needs the same number of channels in every sequence; "
            f"got {sorted(channels)} (first at sequences "
            f"{sorted(first.values())}). Shapes are (T_i, C)."
        )
    t_max = max(a.shape[0] for a in arrays)
    out = np.full((len(arrays), t_max, arrays[0].shape[1]), np.nan, dtype=np.float32)
    for i, a in enumerate(arrays):
        out[i, : a.shape[0]] = a
    return out


def _one_sequence(seq: Any, i: int) -> np.ndarray:
    """Sequence ``i`` as a finite float32 array ``(T, C)``."""
    try:
        arr = np.asarray(seq)
    except ValueError:  # ragged: steps with different channel counts
        raise InvalidParameterError(
            f"Sequence {i} is ragged: its steps have different numbers of "
            "channels. Give each sequence as a (T, C) array."
        ) from None
    if (
        arr.dtype == object
        or not np.issubdtype(arr.dtype, np.number)
        or np.issubdtype(arr.dtype, np.complexfloating)
    ):
        raise InvalidParameterError(
            f"Sequence {i} must hold real numbers; got dtype {arr.dtype}."
        )
    if arr.ndim == 1:
        arr = arr[:, None]
    if arr.ndim != 2:
        raise InvalidParameterError(
            f"Sequence {i} must have shape (T, C) or (T,); got shape {arr.shape}."
        )
    if arr.shape[0] == 0:
        raise InvalidParameterError(
            f"Sequence {i} is empty (shape {arr.shape}); every sequence needs at "
            "least one step. Drop it first."
        )
    if arr.shape[1] == 0:
        raise InvalidParameterError(
            f"Sequence {i} has no channels (shape {arr.shape}); every step needs "
            "at least one value."
        )
    out = arr.astype(np.float32)
    if not np.isfinite(out).all():
        raise InvalidParameterError(
            f"Sequence {i} has NaN or infinite values; NaN marks padding only. "
            "Impute missing values (e.g. carry the last value forward) first."
        )
    return out


def _channels(input_shape: Sequence[int], name: str) -> int:
    """``C`` of an input shape ``(T, C)`` (or ``(T,)``: one channel)."""
    shape = tuple(int(s) for s in input_shape)
    if len(shape) == 1:
        return 1
    if len(shape) != 2 or min(shape) < 1:
        raise InvalidParameterError(
            f"{name} expects sequences of shape (n, T, C), or (n, T) for one "
            f"channel; got one input of shape {shape}. Use cnn or resnet18 for "
            "images, mlp for feature vectors."
        )
    return shape[1]


def padding_mask(x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Split padded sequences into values and mask.

    Args:
        x: ``(n, T, C)`` or ``(n, T)``; padded steps are NaN in every channel.

    Returns:
        ``(values, pad)``: ``values`` ``(n, T, C)`` with padded steps set to 0,
        and ``pad`` ``(n, T)``, True at padded steps.
    """
    if x.ndim == 2:
        x = x.unsqueeze(-1)
    pad = torch.isnan(x).all(dim=-1)
    return x.masked_fill(pad.unsqueeze(-1), 0.0), pad


def masked_mean(h: torch.Tensor, pad: torch.Tensor) -> torch.Tensor:
    """Mean of ``h`` ``(n, T, d)`` over the steps where ``pad`` ``(n, T)`` is False."""
    keep = (~pad).unsqueeze(-1).to(h.dtype)
    return (h * keep).sum(1) / keep.sum(1).clamp_min(1.0)


def _check_sizes(name: str, **sizes: int) -> None:
    for key, value in sizes.items():
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise InvalidParameterError(
                f"{name}: {key} must be an int >= 1; got {value!r}."
            )


def _check_dropout(name: str, dropout: float) -> None:
    if not 0 <= dropout < 1:
        raise InvalidParameterError(
            f"{name}: dropout must be in [0, 1); got {dropout!r}."
        )


def _network(
    features: nn.Module, dim: int, n_classes: int, dropout: float, channels: int
) -> SequenceNetwork:
    """``features`` (then dropout, for MC dropout) and a linear head."""
    if dropout > 0:
        features = nn.Sequential(features, nn.Dropout(dropout))
    return SequenceNetwork(features, nn.Linear(dim, n_classes), channels)


# ---------------------------------------------------------------- recurrent
class RecurrentFeatures(nn.Module):
    """Final hidden state of an LSTM or GRU over packed sequences.

    Args:
        cell: ``"lstm"`` or ``"gru"``.
        channels: Input channels ``C``.
        hidden: Hidden size per direction.
        layers: Stacked recurrent layers.
        dropout: Dropout between stacked layers (with ``layers >= 2``).
        bidirectional: Also run the sequence backwards (from its last real step).
    """

    def __init__(
        self,
        cell: str,
        channels: int,
        hidden: int,
        layers: int,
        dropout: float,
        bidirectional: bool,
    ):
        super().__init__()
        rnn = nn.LSTM if cell == "lstm" else nn.GRU
        self.rnn = rnn(
            channels,
            hidden,
            num_layers=layers,
            batch_first=True,
            dropout=dropout if layers > 1 else 0.0,
            bidirectional=bidirectional,
        )
        self.directions = 2 if bidirectional else 1

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Embeddings ``(n, directions * hidden)`` of ``(n, T, C)`` inputs."""
        values, pad = padding_mask(x)
        lengths = (~pad).sum(1).clamp_min(1).cpu()
        packed = nn.utils.rnn.pack_padded_sequence(
            values, lengths, batch_first=True, enforce_sorted=False
        )
        _, state = self.rnn(packed)
        h_n = state[0] if isinstance(state, tuple) else state  # LSTM: (h, c)
        last = h_n[-self.directions :]  # (directions, n, hidden), input order
        out: torch.Tensor = last.transpose(0, 1).reshape(x.shape[0], -1)
        return out


def _recurrent(
    cell: str,
    input_shape: Sequence[int],
    n_classes: int,
    hidden: int,
    layers: int,
    dropout: float,
    bidirectional: bool,
) -> SequenceNetwork:
    _check_sizes(cell, hidden=hidden, layers=layers, n_classes=n_classes)
    _check_dropout(cell, dropout)
    if not isinstance(bidirectional, bool):
        raise InvalidParameterError(
            f"{cell}: bidirectional must be True or False; got {bidirectional!r}."
        )
    channels = _channels(input_shape, cell)
    feats = RecurrentFeatures(cell, channels, hidden, layers, dropout, bidirectional)
    return _network(feats, hidden * feats.directions, n_classes, dropout, channels)


def lstm(
    input_shape: Sequence[int],
    n_classes: int,
    *,
    hidden: int = 64,
    layers: int = 1,
    dropout: float = 0.0,
    bidirectional: bool = False,
) -> SequenceNetwork:
    """An LSTM classifier (Hochreiter & Schmidhuber, 1997) on padded sequences.

    Args:
        input_shape: ``(T, C)`` (or ``(T,)``: one channel); ``T`` is free.
        n_classes: Number of classes.
        hidden: Hidden size per direction. Defaults to 64.
        layers: Stacked LSTM layers. Defaults to 1.
        dropout: Dropout between stacked layers and before the head (0 = none).
        bidirectional: Also read each sequence backwards. Defaults to False.

    Returns:
        A `SequenceNetwork` whose embedding is the last layer's final hidden
        state, ``hidden`` dimensions (``2 * hidden`` when bidirectional).
    """
    return _recurrent(
        "lstm", input_shape, n_classes, hidden, layers, dropout, bidirectional
    )


def gru(
    input_shape: Sequence[int],
    n_classes: int,
    *,
    hidden: int = 64,
    layers: int = 1,
    dropout: float = 0.0,
    bidirectional: bool = False,
) -> SequenceNetwork:
    """A GRU classifier (Cho et al., EMNLP 2014) on padded sequences.

    Args:
        input_shape: ``(T, C)`` (or ``(T,)``: one channel); ``T`` is free.
        n_classes: Number of classes.
        hidden: Hidden size per direction. Defaults to 64.
        layers: Stacked GRU layers. Defaults to 1.
        dropout: Dropout between stacked layers and before the head (0 = none).
        bidirectional: Also read each sequence backwards. Defaults to False.

    Returns:
        A `SequenceNetwork` whose embedding is the last layer's final hidden
        state, ``hidden`` dimensions (``2 * hidden`` when bidirectional).
    """
    return _recurrent(
        "gru", input_shape, n_classes, hidden, layers, dropout, bidirectional
    )


# ---------------------------------------------------------------------- TCN
class CausalConv1d(nn.Conv1d):
    """A 1-D convolution whose output at step ``t`` sees inputs ``<= t`` only.

    The input ``(n, C, T)`` is padded with ``(kernel_size - 1) * dilation`` zeros
    on the left; the output has the same length ``T``.
    """

    def __init__(self, c_in: int, c_out: int, kernel_size: int, dilation: int):
        super().__init__(c_in, c_out, kernel_size, dilation=dilation)
        self.left = (kernel_size - 1) * dilation

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """``(n, c_out, T)``."""
        out: torch.Tensor = super().forward(nn.functional.pad(x, (self.left, 0)))
        return out


class TemporalBlock(nn.Module):
    """Residual block of Bai et al. (2018), Fig. 1b: two causal dilated convs.

    ``relu(x' + conv-relu-dropout-conv-relu-dropout(x))`` with ``x'`` a 1x1
    convolution of ``x`` when the widths differ (else ``x``). Weight
    normalisation is left out.
    """

    def __init__(
        self, c_in: int, c_out: int, kernel_size: int, dilation: int, dropout: float
    ):
        super().__init__()
        self.net = nn.Sequential(
            CausalConv1d(c_in, c_out, kernel_size, dilation),
            nn.ReLU(),
            nn.Dropout(dropout),
            CausalConv1d(c_out, c_out, kernel_size, dilation),
            nn.ReLU(),
            nn.Dropout(dropout),
        )
        self.skip: nn.Module = (
            nn.Conv1d(c_in, c_out, 1) if c_in != c_out else nn.Identity()
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """``(n, c_out, T)`` from ``(n, c_in, T)``."""
        return torch.relu(self.net(x) + self.skip(x))


class TCNFeatures(nn.Module):
    """Temporal blocks with dilations ``1, 2, 4, ...``, mean over real steps."""

    def __init__(
        self, channels: int, hidden: int, layers: int, kernel_size: int, dropout: float
    ):
        super().__init__()
        self.blocks = nn.Sequential(
            *[
                TemporalBlock(
                    channels if i == 0 else hidden, hidden, kernel_size, 2**i, dropout
                )
                for i in range(layers)
            ]
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Embeddings ``(n, hidden)`` of ``(n, T, C)`` inputs."""
        values, pad = padding_mask(x)
        h = self.blocks(values.transpose(1, 2)).transpose(1, 2)  # (n, T, hidden)
        return masked_mean(h, pad)


def tcn(
    input_shape: Sequence[int],
    n_classes: int,
    *,
    hidden: int = 64,
    layers: int = 4,
    kernel_size: int = 3,
    dropout: float = 0.0,
) -> SequenceNetwork:
    """A temporal convolutional network (Bai, Kolter & Koltun, 2018).

    ``layers`` residual blocks of dilated causal convolutions (dilation ``2^i``
    in block ``i``), each step's receptive field ``1 + 2 (kernel_size - 1)
    (2^layers - 1)`` steps; the embedding is the mean of the last block's
    outputs over each sequence's real steps.

    Args:
        input_shape: ``(T, C)`` (or ``(T,)``: one channel); ``T`` is free.
        n_classes: Number of classes.
        hidden: Channels of every block (the embedding size). Defaults to 64.
        layers: Number of residual blocks. Defaults to 4.
        kernel_size: Convolution width. Defaults to 3.
        dropout: Dropout inside the blocks and before the head (0 = none).

    Returns:
        A `SequenceNetwork` with a ``hidden``-dimensional embedding.
    """
    _check_sizes(
        "tcn",
        hidden=hidden,
        layers=layers,
        kernel_size=kernel_size,
        n_classes=n_classes,
    )
    _check_dropout("tcn", dropout)
    channels = _channels(input_shape, "tcn")
    feats = TCNFeatures(channels, hidden, layers, kernel_size, dropout)
    return _network(feats, hidden, n_classes, dropout, channels)


# -------------------------------------------------------------- Transformer
def sinusoidal_encoding(length: int, dim: int) -> torch.Tensor:
    """Positional encoding of Vaswani et al. (2017), Sec. 3.5, ``(length, dim)``.

    ``PE[t, 2i] = sin(t / 10000^(2i/dim))``, ``PE[t, 2i+1] = cos(t / 10000^(2i/dim))``.
    """
    pos = torch.arange(length, dtype=torch.float32)[:, None]
    freq = torch.exp(
        torch.arange(0, dim, 2, dtype=torch.float32) * (-math.log(10000.0) / dim)
    )
    pe = torch.zeros(length, dim)
    pe[:, 0::2] = torch.sin(pos * freq)
    pe[:, 1::2] = torch.cos(pos * freq[: dim // 2])
    return pe


class TransformerFeatures(nn.Module):
    """Linear input projection, sinusoidal positions, encoder, masked mean."""

    def __init__(
        self, channels: int, hidden: int, layers: int, heads: int, dropout: float
    ):
        super().__init__()
        self.hidden = hidden
        self.embed = nn.Linear(channels, hidden)
        layer = nn.TransformerEncoderLayer(
            hidden,
            heads,
            dim_feedforward=2 * hidden,
            dropout=dropout,
            batch_first=True,
            norm_first=True,
        )
        self.encoder = nn.TransformerEncoder(
            layer, layers, norm=nn.LayerNorm(hidden), enable_nested_tensor=False
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Embeddings ``(n, hidden)`` of ``(n, T, C)`` inputs."""
        values, pad = padding_mask(x)
        pe = sinusoidal_encoding(values.shape[1], self.hidden).to(values.device)
        z = self.embed(values) + pe
        h = self.encoder(z, src_key_padding_mask=pad)
        return masked_mean(h, pad)


def transformer(
    input_shape: Sequence[int],
    n_classes: int,
    *,
    hidden: int = 64,
    layers: int = 2,
    heads: int = 4,
    dropout: float = 0.0,
) -> SequenceNetwork:
    """A small Transformer encoder (Vaswani et al., NeurIPS 2017) for sequences.

    Each step's channels are projected linearly to ``hidden`` dimensions, the
    sinusoidal positional encoding is added, ``layers`` pre-norm encoder layers
    (``heads`` heads, feed-forward width ``2 * hidden``) attend over the real
    steps only (``src_key_padding_mask``), and the embedding is the mean of the
    outputs over the real steps.

    Args:
        input_shape: ``(T, C)`` (or ``(T,)``: one channel); ``T`` is free.
        n_classes: Number of classes.
        hidden: Model width (the embedding size); a multiple of ``heads``.
            Defaults to 64.
        layers: Encoder layers. Defaults to 2.
        heads: Attention heads. Defaults to 4.
        dropout: Dropout in the encoder layers and before the head (0 = none).

    Returns:
        A `SequenceNetwork` with a ``hidden``-dimensional embedding.
    """
    _check_sizes(
        "transformer", hidden=hidden, layers=layers, heads=heads, n_classes=n_classes
    )
    _check_dropout("transformer", dropout)
    if hidden % heads:
        raise InvalidParameterError(
            f"transformer: hidden ({hidden}) must be a multiple of heads ({heads}); "
            f"e.g. hidden={heads * max(1, round(hidden / heads))}."
        )
    channels = _channels(input_shape, "transformer")
    feats = TransformerFeatures(channels, hidden, layers, heads, dropout)
    return _network(feats, hidden, n_classes, dropout, channels)


SEQUENCE_NETWORKS: dict[str, Callable[..., SequenceNetwork]] = {
    "lstm": lstm,
    "gru": gru,
    "tcn": tcn,
    "transformer": transformer,
}
"""The sequence network factories by name."""
