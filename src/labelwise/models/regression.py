"""Regression models: the BMDAL network recipe in PyTorch, and scikit-learn regressors.

`TorchRegressor` trains a fresh network on every `fit`
with the BMDAL benchmark's recipe (Holzmüller et al., JMLR 2023, §6): MSE loss,
Adam with the
learning rate decayed linearly to 0 over all steps, mini-batches of 256 with the
last incomplete batch dropped, and epoch selection (the parameters of the epoch
with the lowest validation RMSE are kept) when a validation set is given.
`bmdal_mlp` is the benchmark network: widths ``[d, 512, 512, 1]``, ReLU, NTK
parametrisation ``z = (σ_w / sqrt(d_in)) W h + σ_b b`` with ``W ~ N(0, 1)`` and
``b = 0`` at initialisation, ``σ_w = σ_b = 0.2``.

`TorchRegressor.grad_features` gives the finite-width NTK features of the
BMDAL ``grad`` and ``ll`` base kernels: per linear layer ``l`` the block
``ã_l(x) ⊗ δ_l(x)`` with ``ã_l = [(σ_w/sqrt(d_in)) h_{l-1}, σ_b]`` (the scaled
layer input with a bias entry) and ``δ_l = ∂f/∂z_l``. With ``sketch_dim`` each
block is tensor-sketched as it is computed (``sqrt(p) (P₁ᵀ ã) ⊙ (P₂ᵀ δ)``) and
the layers' sketches are summed, so the full gradient is never materialised.
"""

from __future__ import annotations

import contextlib
import copy
import math
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
import torch
from torch import nn

from labelwise._device import DeviceLike
from labelwise._typing import FloatArray, RNGLike
from labelwise._validation import (
    check_features,
    check_positive,
    check_regression_targets,
    check_rng,
    check_weight_decay,
    child_seed,
)
from labelwise.exceptions import InvalidParameterError, NotFittedError
from labelwise.models._placement import (
    as_float_tensor,
    autocast,
    batch,
    check_input_shape,
    check_network_factory,
    check_placement,
    cpu_copy,
    epoch_order,
    input_chunks,
    stage,
    to_device,
)
from labelwise.models.sklearn import _check_estimator_instance, _seed_estimator

RegressionNetwork = Callable[[Sequence[int]], nn.Module]
"""``factory(input_shape) -> module`` mapping ``(n, ...)`` inputs to ``(n, 1)``."""


class NTKLinear(nn.Module):
    """Linear layer in NTK parametrisation: ``(σ_w / sqrt(d_in)) x Wᵀ + σ_b b``.

    Args:
        d_in: Input width.
        d_out: Output width.
        sigma_w: Weight gain ``σ_w``.
        sigma_b: Bias gain ``σ_b``.
        generator: Generator of the ``N(0, 1)`` weights; ``None`` uses torch's
            default one, which `TorchRegressor.fit` seeds inside
            ``torch.random.fork_rng`` (as for ``nn.Linear``).
    """

    def __init__(
        self,
        d_in: int,
        d_out: int,
        *,
        sigma_w: float,
        sigma_b: float,
        generator: torch.Generator | None = None,
    ):
        super().__init__()
        self.weight = nn.Parameter(torch.randn(d_out, d_in, generator=generator))
        self.bias = nn.Parameter(torch.zeros(d_out))
        self.in_factor = sigma_w / math.sqrt(d_in)
        self.bias_factor = sigma_b

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """``(n, d_out)`` outputs."""
        out: torch.Tensor = self.in_factor * (x @ self.weight.t())
        return out + self.bias_factor * self.bias


def bmdal_mlp(
    input_shape: Sequence[int],
    *,
    widths: Sequence[int] = (512, 512),
    sigma_w: float = 0.2,
    sigma_b: float = 0.2,
    activation: str = "relu",
) -> nn.Sequential:
    """The BMDAL benchmark network (ReLU: σ_w = σ_b = 0.2; SiLU: 0.5 and 1.0).

    Args:
        input_shape: Shape of one input (flattened).
        widths: Hidden widths. Defaults to ``(512, 512)``.
        sigma_w: Weight gain.
        sigma_b: Bias gain.
        activation: ``"relu"`` or ``"silu"``.

    Returns:
        ``nn.Sequential`` of `NTKLinear` layers and activations, output
        ``(n, 1)``.

    Raises:
        InvalidParameterError: A width that is not a positive int (no widths
            at all is a linear model).
    """
    if activation not in ("relu", "silu"):
        raise InvalidParameterError(
            f"activation must be 'relu' or 'silu'; got {activation!r}."
        )
    for w in widths:
        check_positive(w, "bmdal_mlp: every hidden width (widths)", integer=True)
    d = int(math.prod(input_shape))
    mods: list[nn.Module] = [nn.Flatten()]
    for w in widths:
        mods += [
            NTKLinear(d, w, sigma_w=sigma_w, sigma_b=sigma_b),
            nn.ReLU() if activation == "relu" else nn.SiLU(),
        ]
        d = w
    mods.append(NTKLinear(d, 1, sigma_w=sigma_w, sigma_b=sigma_b))
    return nn.Sequential(*mods)


def _linear_layers(net: nn.Module) -> list[nn.Module]:
    return [m for m in net.modules() if isinstance(m, NTKLinear | nn.Linear)]


def _factors(layer: nn.Module) -> tuple[float, float | None]:
    """Input factor and bias factor (``None``: no bias) of a linear layer."""
    if isinstance(layer, NTKLinear):
        return layer.in_factor, layer.bias_factor
    assert isinstance(layer, nn.Linear)
    return 1.0, (1.0 if layer.bias is not None else None)


class TorchRegressor:
    """Regressor adapter for a PyTorch network with the BMDAL training recipe.

    Args:
        network: ``factory(input_shape)`` returning a module with output
            ``(n, 1)``; defaults to `bmdal_mlp`.
        lr: Adam learning rate at the start (0.375 for the ReLU benchmark
            network in NTK parametrisation; use ~1e-3 for standard layers).
        max_epochs: Epochs. Defaults to 256.
        batch_size: Mini-batch size (the last incomplete batch is dropped; a
            training set smaller than one batch is one batch). Defaults to 256.
        lr_schedule: ``"linear"`` (decay to 0 over all steps) or ``"constant"``.
        weight_decay: AdamW weight decay (0 = plain Adam). Defaults to 0.
        n_members: Networks trained from independent seeds; predictions are
            averaged and `grad_features` concatenates their features (the
            ``ens`` transform). Defaults to 1.
        predict_batch_size: Chunk size for inference. Defaults to 8192.
        device: ``"auto"`` (CUDA when available, else the CPU), ``"cpu"``,
            ``"cuda"`` or ``"cuda:N"``; as for
            `TorchClassifier` (same seed, same initial
            weights; pickles load on the CPU). Defaults to ``"auto"``.
        precision: ``"fp32"`` (default) or ``"bf16"`` (CUDA only): bfloat16
            autocast for training and prediction. `grad_features` always
            computes in float32 (float64 for exact features).
        device_budget_mb: The training (and validation) set is copied to the GPU
            once when it fits this many MiB, else streamed per mini-batch from
            pinned host memory. Defaults to 1024.

    Examples:
        >>> rng = np.random.default_rng(0)
        >>> X = rng.normal(size=(64, 3)).astype(np.float32)
        >>> reg = TorchRegressor(max_epochs=5, device="cpu").fit(X, X[:, 0], rng=0)
        >>> reg.predict(X).shape, reg.grad_features(X, sketch_dim=16, rng=0).shape
        ((64,), (64, 16))
    """

    input_shape_: tuple[int, ...] | None = None
    """Shape of one input row seen by the last `fit` (``X.shape[1:]``); inputs
    of another shape are refused. ``None`` before the first fit."""

    def __init__(
        self,
        network: RegressionNetwork = bmdal_mlp,
        *,
        lr: float = 0.375,
        max_epochs: int = 256,
        batch_size: int = 256,
        lr_schedule: str = "linear",
        weight_decay: float = 0.0,
        n_members: int = 1,
        predict_batch_size: int = 8192,
        device: DeviceLike = "auto",
        precision: str = "fp32",
        device_budget_mb: float = 1024.0,
    ):
        check_network_factory(network, "(input_shape)")
        check_positive(lr, "lr", finite=True)
        check_weight_decay(weight_decay)
        check_positive(max_epochs, "max_epochs", integer=True)
        check_positive(batch_size, "batch_size", integer=True)
        check_positive(n_members, "n_members", integer=True)
        check_positive(predict_batch_size, "predict_batch_size", integer=True)
        if lr_schedule not in ("linear", "constant"):
            raise InvalidParameterError(
                f"lr_schedule must be 'linear' or 'constant'; got {lr_schedule!r}."
            )
        self._device = check_placement(device, precision, device_budget_mb)
        self.precision = precision
        self.device_budget_mb = device_budget_mb
        self.network = network
        self.lr = lr
        self.max_epochs = max_epochs
        self.batch_size = batch_size
        self.lr_schedule = lr_schedule
        self.weight_decay = weight_decay
        self.n_members = n_members
        self.predict_batch_size = predict_batch_size
        self.members_: list[nn.Module] = []
        self.best_epochs_: list[int] = []

    def describe(self) -> str:
        """One line describing the configuration."""
        name = getattr(self.network, "__name__", type(self.network).__name__)
        return f"network={name}, n_members={self.n_members}"

    # ------------------------------------------------------------ placement
    @property
    def device(self) -> torch.device:
        """The device the networks compute on."""
        return self._device

    def to(self, device: DeviceLike) -> TorchRegressor:
        """Move the fitted networks (and later fits) to ``device``; returns ``self``."""
        self._device = check_placement(device, self.precision, self.device_budget_mb)
        for net in self.members_:
            net.to(self._device)
        return self

    def __getstate__(self) -> dict[str, Any]:
        """Pickle with every network on the CPU (loads without CUDA)."""
        state = dict(self.__dict__)
        state["members_"] = [cpu_copy(m) for m in self.members_]
        state["_device"] = torch.device("cpu")
        return state

    def __deepcopy__(self, memo: dict[int, Any]) -> TorchRegressor:
        """A deep copy on the same device (pickling alone would move it to the CPU)."""
        new = self.__class__.__new__(self.__class__)
        memo[id(self)] = new
        for key, value in self.__dict__.items():
            setattr(new, key, copy.deepcopy(value, memo))
        return new

    def _autocast(self) -> contextlib.AbstractContextManager[Any]:
        return autocast(self._device, self.precision)

    # ------------------------------------------------------------- training
    def fit(
        self,
        X: Any,
        y: Any,
        *,
        rng: RNGLike = None,
        X_valid: Any = None,
        y_valid: Any = None,
    ) -> TorchRegressor:
        """Train ``n_members`` fresh networks on ``X`` ``(n, ...)`` and ``y`` ``(n,)``.

        With ``X_valid``/``y_valid``, the parameters of the epoch with the lowest
        validation RMSE are kept (BMDAL's epoch selection); otherwise the last.
        """
        x = as_float_tensor(X)
        yt = _float32_targets(check_regression_targets(y, x.shape[0]), "y")
        valid = None
        if (X_valid is None) != (y_valid is None):
            raise InvalidParameterError(
                "Pass both X_valid and y_valid (epoch selection on a validation "
                "set), or neither."
            )
        if X_valid is not None:
            xv = as_float_tensor(X_valid, name="X_valid")
            check_input_shape(xv, tuple(x.shape[1:]), name="X_valid")
            yv = check_regression_targets(y_valid, xv.shape[0], name="y_valid")
            valid = (xv, to_device(_float32_targets(yv, "y_valid"), self._device))
        gen = check_rng(rng)
        self.input_shape_ = tuple(int(s) for s in x.shape[1:])
        self.members_, self.best_epochs_ = [], []
        for _ in range(self.n_members):
            seed = child_seed(gen)
            net = self._build(tuple(x.shape[1:]), seed)
            self.best_epochs_.append(self._train(net, x, yt, seed, valid))
            net.eval()
            self.members_.append(net)
        return self

    def _build(self, shape: tuple[int, ...], seed: int) -> nn.Module:
        """A fresh network initialised on the CPU from ``seed``, on the device."""
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(seed)
            net = self.network(shape)
        if not isinstance(net, nn.Module):
            raise InvalidParameterError(
                f"The network factory returned {type(net).__name__}, not a torch "
                "module; it must return an nn.Module with outputs (n, 1)."
            )
        if self._device.type != "cpu":
            net = net.to(self._device)
        return net

    def _train(
        self,
        net: nn.Module,
        x: torch.Tensor,
        y: torch.Tensor,
        seed: int,
        valid: tuple[torch.Tensor, torch.Tensor] | None,
    ) -> int:
        n = x.shape[0]
        bs = min(self.batch_size, n)
        steps_per_epoch = n // bs
        total = steps_per_epoch * self.max_epochs
        opt: torch.optim.Optimizer = (
            torch.optim.AdamW(
                net.parameters(), lr=self.lr, weight_decay=self.weight_decay
            )
            if self.weight_decay > 0
            else torch.optim.Adam(net.parameters(), lr=self.lr)
        )
        gen = torch.Generator().manual_seed(seed)
        dev = self._device
        x = stage(x, dev, self.device_budget_mb)
        y = stage(y, dev, math.inf if x.device == dev else 0.0)  # y follows x
        best: tuple[float, int, dict[str, Any] | None] = (math.inf, 0, None)
        step = 0
        for epoch in range(1, self.max_epochs + 1):
            net.train()
            perm = epoch_order(n, gen, x, dev)
            for s in range(steps_per_epoch):
                if self.lr_schedule == "linear":
                    for group in opt.param_groups:
                        group["lr"] = self.lr * (1 - step / total)
                idx = perm[s * bs : (s + 1) * bs]
                with self._autocast():
                    out = net(batch(x, idx, dev))
                pred = _single_output(out)
                loss = ((pred - batch(y, idx, dev)) ** 2).mean()
                opt.zero_grad(set_to_none=True)
                loss.backward()  # type: ignore[no-untyped-call]
                opt.step()
                step += 1
            if valid is not None:
                rmse = float(
                    torch.sqrt(((self._predict(net, valid[0]) - valid[1]) ** 2).mean())
                )
                if rmse < best[0]:
                    best = (rmse, epoch, copy.deepcopy(net.state_dict()))
        if valid is not None and best[2] is not None:
            net.load_state_dict(best[2])
            return best[1]
        return self.max_epochs

    # ------------------------------------------------------------ inference
    def _check_fitted(self) -> None:
        if not self.members_:
            raise NotFittedError("TorchRegressor is not fitted; call fit(X, y) first.")

    @torch.no_grad()
    def _predict(self, net: nn.Module, x: torch.Tensor) -> torch.Tensor:
        """Predictions ``(n,)`` on the device, in chunks moved there one by one."""
        was = net.training
        net.eval()
        outs = []
        for c in input_chunks(x, self.predict_batch_size, self._device):
            with self._autocast():
                outs.append(net(c)[:, 0].float())
        net.train(was)
        return torch.cat(outs)

    def predict(self, X: Any) -> FloatArray:
        """Predictions ``(n,)``, averaged over members."""
        self._check_fitted()
        x = as_float_tensor(X)
        check_input_shape(x, self.input_shape_)
        preds = torch.stack([self._predict(m, x) for m in self.members_])
        return preds.mean(0).cpu().numpy().astype(np.float64)

    def grad_features(
        self,
        X: Any,
        *,
        last_layers: int | None = None,
        sketch_dim: int | None = None,
        rng: RNGLike = None,
    ) -> FloatArray:
        """Finite-width NTK features of the ``grad`` (or ``ll``) base kernel.

        Args:
            X: Inputs ``(n, ...)``.
            last_layers: Only the last this many linear layers (``ll`` = 1);
                ``None`` = all (``grad``).
            sketch_dim: Tensor-sketch each layer block to this many features and
                sum over layers; ``None`` returns the exact gradient (one column
                per parameter; only for small networks).
            rng: Seed of the sketch; pool and training features must use the
                same seed to share one sketch.

        Exact features are float64; sketched ones float32 (as bmdal-reg's).

        Returns:
            ``(n, p)`` features (``p = sketch_dim`` per member; members
            are concatenated).
        """
        out = self._grad_features(X, last_layers, sketch_dim, rng, torch.device("cpu"))
        return out.numpy()

    def grad_feature_tensor(
        self,
        X: Any,
        *,
        last_layers: int | None = None,
        sketch_dim: int | None = None,
        rng: RNGLike = None,
    ) -> torch.Tensor:
        """`grad_features` as a tensor on `device` (no host copy).

        The same numbers as `grad_features` with the same arguments; the
        ``(n, p)`` result is allocated on the model's device, so a GPU kernel
        can take it directly.
        """
        return self._grad_features(X, last_layers, sketch_dim, rng, self._device)

    def _grad_features(
        self,
        X: Any,
        last_layers: int | None,
        sketch_dim: int | None,
        rng: RNGLike,
        out_device: torch.device,
    ) -> torch.Tensor:
        self._check_fitted()
        x = as_float_tensor(X)
        check_input_shape(x, self.input_shape_)
        gen = check_rng(rng)
        out = [
            self._grad_member(
                net, x, last_layers, sketch_dim, child_seed(gen), out_device
            )
            for net in self.members_
        ]
        return torch.cat(out, dim=1)

    def _grad_member(
        self,
        net: nn.Module,
        x: torch.Tensor,
        last_layers: int | None,
        sketch_dim: int | None,
        seed: int,
        out_device: torch.device,
    ) -> torch.Tensor:
        layers = _linear_layers(net)
        if not layers:
            raise InvalidParameterError("The network has no linear layers.")
        if last_layers is not None:
            if not 1 <= last_layers <= len(layers):
                raise InvalidParameterError(
                    f"last_layers must be in [1, {len(layers)}]; got {last_layers}."
                )
            layers = layers[-last_layers:]
        sketches: list[tuple[torch.Tensor, torch.Tensor]] = []
        # exact features in float64; a random sketch gains nothing from it
        dtype = torch.float64 if sketch_dim is None else torch.float32
        if sketch_dim is not None:
            g = torch.Generator().manual_seed(seed)
            for layer in layers:
                weight = layer.weight
                assert isinstance(weight, torch.Tensor)
                d_in = int(weight.shape[1]) + (_factors(layer)[1] is not None)
                d_out = int(weight.shape[0])
                p1 = torch.randn(d_in, sketch_dim, generator=g, dtype=dtype)
                p2 = torch.randn(d_out, sketch_dim, generator=g, dtype=dtype)
                dev = self._device
                sketches.append(
                    (
                        (p1 / math.sqrt(sketch_dim)).to(dev),
                        (p2 / math.sqrt(sketch_dim)).to(dev),
                    )
                )
        inputs: list[torch.Tensor] = []
        outputs: list[torch.Tensor] = []

        def hook(mod: nn.Module, args: tuple[Any, ...], out: torch.Tensor) -> None:
            inputs.append(args[0].detach())
            outputs.append(out)

        width = sketch_dim
        if width is None:
            width = 0
            for m in layers:
                w = m.weight
                assert isinstance(w, torch.Tensor)
                has_bias = _factors(m)[1] is not None
                width += (int(w.shape[1]) + int(has_bias)) * int(w.shape[0])
        result = torch.empty(x.shape[0], width, dtype=dtype, device=out_device)
        start = 0
        # the gradient features are written chunk by chunk into one array; the
        # chunk is at most 4096 rows, bounding the autograd temporaries
        chunk = min(self.predict_batch_size, 4096)
        for xc in input_chunks(x, chunk, self._device):
            inputs.clear()
            outputs.clear()
            handles = [m.register_forward_hook(hook) for m in layers]
            try:
                net.eval()
                with torch.enable_grad():
                    xr = xc.clone().requires_grad_(True)
                    f = net(xr)[:, 0]
                    deltas = torch.autograd.grad(f.sum(), outputs)
            finally:
                for h in handles:
                    h.remove()
            out = result[start : start + xc.shape[0]]
            col = 0
            acc = torch.zeros(())
            for k, layer in enumerate(layers):
                in_f, b_f = _factors(layer)
                a = inputs[k].to(dtype).reshape(xc.shape[0], -1) * in_f
                if b_f is not None:
                    a = torch.cat(
                        [
                            a,
                            torch.full(
                                (a.shape[0], 1), b_f, dtype=a.dtype, device=a.device
                            ),
                        ],
                        1,
                    )
                d = deltas[k].to(dtype).reshape(xc.shape[0], -1)
                if sketch_dim is None:
                    size = a.shape[1] * d.shape[1]
                    block = (a[:, :, None] * d[:, None, :]).reshape(a.shape[0], -1)
                    out[:, col : col + size] = block.to(out.device)
                    col += size
                else:
                    p1, p2 = sketches[k]
                    block = (a @ p1).mul_(d @ p2).mul_(math.sqrt(sketch_dim))
                    acc = block if k == 0 else acc.add_(block)  # summed over layers
            if sketch_dim is not None:
                out.copy_(acc)  # to the host array
            start += xc.shape[0]
            del inputs[:], outputs[:], deltas
        return result


def _single_output(out: torch.Tensor) -> torch.Tensor:
    """The ``(n,)`` float32 predictions of a network output ``(n, 1)``.

    Raises:
        InvalidParameterError: Another output shape (a network with 3 outputs
            was trained on its first column without a word).
    """
    if out.ndim != 2 or out.shape[1] != 1:
        raise InvalidParameterError(
            f"A regression network must output shape (n, 1); this one outputs "
            f"{tuple(out.shape)}. End it with a layer of one output."
        )
    return out[:, 0].float()


def _float32_targets(y: np.ndarray, name: str) -> torch.Tensor:
    """Checked float64 targets as float32, refusing those beyond its range."""
    out = torch.as_tensor(y, dtype=torch.float32)
    if not bool(torch.isfinite(out).all()):
        raise InvalidParameterError(
            f"{name} holds targets beyond float32's range (about 3.4e38); rescale them."
        )
    return out


class SklearnRegressor:
    """Adapter for a scikit-learn regressor (``fit``/``predict``).

    Its features (for the ``linear`` base kernel) are the inputs themselves.

    Args:
        estimator: Unfitted estimator; cloned on every ``fit``, with its
            ``random_state`` parameters (nested ones included) set from
            ``rng``. Defaults to ``Ridge(alpha=1.0)``.
    """

    def __init__(self, estimator: Any = None):
        if estimator is None:
            from sklearn.linear_model import Ridge

            estimator = Ridge(alpha=1.0)
        _check_estimator_instance(estimator)
        if not hasattr(estimator, "fit") or not hasattr(estimator, "predict"):
            raise InvalidParameterError(
                "The estimator must have fit and predict; got "
                f"{type(estimator).__name__}."
            )
        self.estimator = estimator
        self.fitted_: Any = None

    def describe(self) -> str:
        """One line describing the estimator."""
        return type(self.estimator).__name__

    def fit(self, X: Any, y: Any, *, rng: RNGLike = None, **_: Any) -> SklearnRegressor:
        """Fit a fresh clone on ``X`` ``(n, d)`` and ``y`` ``(n,)``."""
        from sklearn.base import clone

        est = clone(self.estimator)
        _seed_estimator(est, check_rng(rng), 2**31)
        x = check_features(X, ndim_min=2)
        yy = check_regression_targets(y, x.shape[0])
        self.fitted_ = est.fit(x.reshape(x.shape[0], -1), yy)
        return self

    def predict(self, X: Any) -> FloatArray:
        """Predictions ``(n,)``."""
        if self.fitted_ is None:
            raise NotFittedError(
                "SklearnRegressor is not fitted; call fit(X, y) first."
            )
        x = check_features(X, ndim_min=2)
        return np.asarray(
            self.fitted_.predict(x.reshape(x.shape[0], -1)), dtype=np.float64
        )
