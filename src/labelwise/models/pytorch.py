"""PyTorch classifier adapter and the built-in networks.

Any network split into a feature extractor and a linear head fits: a module with
attributes ``features`` (input -> penultimate embedding) and ``head`` (an
``nn.Linear``). `TorchClassifier` retrains it from scratch on every
``fit`` and derives every capability a strategy may ask for: probabilities,
penultimate embeddings, MC-dropout samples and ensemble members.
"""

from __future__ import annotations

import contextlib
import copy
import math
from collections.abc import Callable, Iterator, Sequence
from typing import Any, ClassVar

import numpy as np
import torch
from torch import nn

from labelwise._device import DeviceLike
from labelwise._typing import FloatArray, RNGLike
from labelwise._validation import (
    check_class_labels,
    check_features,
    check_positive,
    check_rng,
    check_sample_weight,
    check_weight_decay,
    child_seed,
)
from labelwise.exceptions import InvalidParameterError, NotFittedError
from labelwise.models._placement import (
    as_float_tensor,
    autocast,
    batch,
    check_finite_tensor,
    check_input_shape,
    check_network_factory,
    check_placement,
    cpu_copy,
    epoch_order,
    input_chunks,
    rng_devices,
    stage,
    to_device,
)
from labelwise.models.augment import Augment, default_augment
from labelwise.models.base import TensorOutput
from labelwise.models.finetune import FineTune, FineTuneResult, confident_items

NetworkFactory = Callable[[Sequence[int], int], nn.Module]
"""``factory(input_shape, n_classes) -> module`` with ``.features`` and ``.head``."""


class SplitNetwork(nn.Module):
    """``head(features(x))``: a feature extractor followed by a linear head.

    Args:
        features: Module mapping inputs to embeddings of shape ``(n, d)``.
        head: Linear layer mapping embeddings to logits ``(n, n_classes)``.
    """

    masks_padding: ClassVar[bool] = False
    """Whether the network masks NaN-padded time steps of variable-length
    sequences (the sequence networks of `labelwise.models.sequence` do); a
    `TorchClassifier` refuses NaN inputs for a network that does not."""

    def __init__(self, features: nn.Module, head: nn.Linear):
        super().__init__()
        self.features = features
        self.head = head

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Logits of shape ``(n, n_classes)``."""
        out: torch.Tensor = self.head(self.features(x))
        return out

    def check_input(self, shape: tuple[int, ...]) -> None:
        """Raise `InvalidParameterError` if inputs of ``shape`` do not fit.

        ``shape`` is a whole batch's, ``(n, ...)``. The default checks nothing
        (a mismatch fails in the forward pass, where `TorchClassifier` names
        both shapes); the sequence networks check their channel count, which
        a packed LSTM does not.
        """


def mlp(
    input_shape: Sequence[int],
    n_classes: int,
    *,
    hidden: int = 128,
    dropout: float = 0.0,
    layers: int = 1,
) -> SplitNetwork:
    """The reference MLP of BADGE/BAIT: one hidden ReLU layer, head without bias.

    Args:
        input_shape: Shape of one input (flattened).
        n_classes: Number of classes.
        hidden: Width of the hidden layer(s). Defaults to 128.
        dropout: Dropout rate after the hidden layer (0 = none, the reference).
        layers: Number of hidden ReLU layers (the LHD Four-Moons MLP has 2).

    Returns:
        A `SplitNetwork` whose embedding has ``hidden`` dimensions.

    Raises:
        InvalidParameterError: ``hidden`` or ``layers`` not a positive int, or
            ``dropout`` outside ``[0, 1)``.
    """
    check_positive(hidden, "mlp: hidden", integer=True)
    check_positive(layers, "mlp: layers", integer=True)
    _check_dropout(dropout, "mlp: dropout")
    n_in = int(math.prod(input_shape))
    mods: list[nn.Module] = [nn.Flatten(), nn.Linear(n_in, hidden), nn.ReLU()]
    for _ in range(layers - 1):
        mods += [nn.Linear(hidden, hidden), nn.ReLU()]
    if dropout > 0:
        mods.append(nn.Dropout(dropout))
    return SplitNetwork(nn.Sequential(*mods), nn.Linear(hidden, n_classes, bias=False))


def cnn(
    input_shape: Sequence[int],
    n_classes: int,
    *,
    hidden: int = 128,
    dropout: float = 0.0,
    channels: int = 32,
) -> SplitNetwork:
    """A small CNN for ``1 x 28 x 28`` images (two conv blocks, one dense layer).

    ``Conv3x3(channels) - ReLU - MaxPool2 - Conv3x3(2 channels) - ReLU - MaxPool2
    - Linear(hidden) - ReLU``, then the linear head. Halving ``channels`` cuts
    the convolutions' cost about four times (the second conv dominates it); the
    CPU image-study grid runs it at 16.

    Args:
        input_shape: ``(channels, 28, 28)``.
        n_classes: Number of classes.
        hidden: Width of the embedding. Defaults to 128.
        dropout: Dropout rate before the head. Defaults to 0.
        channels: Filters of the first conv block; the second has twice as
            many. Defaults to 32.

    Returns:
        A `SplitNetwork` whose embedding has ``hidden`` dimensions.

    Raises:
        InvalidParameterError: An input shape other than ``(c, 28, 28)``, or
            ``channels`` or ``hidden`` that is not a positive int.
    """
    check_positive(channels, "channels", integer=True)
    check_positive(hidden, "hidden", integer=True)
    _check_dropout(dropout, "cnn: dropout")
    shape = tuple(int(s) for s in input_shape)
    if len(shape) != 3 or shape[1:] != (28, 28):
        raise InvalidParameterError(
            f"cnn expects inputs of shape (channels, 28, 28); got {shape}. Use mlp "
            "for tabular data."
        )
    layers: list[nn.Module] = [
        nn.Conv2d(shape[0], channels, 3),
        nn.ReLU(),
        nn.MaxPool2d(2),
        nn.Conv2d(channels, 2 * channels, 3),
        nn.ReLU(),
        nn.MaxPool2d(2),
        nn.Flatten(),
        nn.Linear(2 * channels * 5 * 5, hidden),
        nn.ReLU(),
    ]
    if dropout > 0:
        layers.append(nn.Dropout(dropout))
    return SplitNetwork(nn.Sequential(*layers), nn.Linear(hidden, n_classes))


OPTIMIZERS = ("adam", "sgd")
"""Valid ``optimizer=`` values of `TorchClassifier`."""

LR_SCHEDULES = ("constant", "cosine")
"""Valid ``lr_schedule=`` values of `TorchClassifier`."""


class TorchClassifier:
    """Classifier adapter for a PyTorch network split into features and a head.

    Every `fit` builds fresh networks (retraining from scratch, as in the
    BADGE/BAIT experiments) and trains them on mini-batches (Adam by default, or
    SGD with momentum as in the ResNet-18 recipes). Training stops after
    ``max_epochs`` or, with ``stop_at_train_accuracy`` set, at the end of the
    first epoch whose training accuracy reaches it (the reference rule is 0.99).
    Predictions run in chunks of ``predict_batch_size`` without gradients.

    Networks are initialised on the CPU from the seed, then moved to ``device``,
    so a seed gives the same initial weights everywhere. On the CPU (and with
    ``precision="fp32"``) nothing differs from a model without device support;
    on CUDA the results agree with the CPU's up to float rounding, not bit for
    bit. Pickling moves every network to the CPU, so a model trained on a GPU
    loads on a machine without one (it then computes on the CPU; `to`
    moves it back).

    Args:
        network: ``factory(input_shape, n_classes)`` returning a module with
            ``features`` and ``head`` (e.g. `mlp`, `cnn`,
            `resnet18`).
        lr: Learning rate. Defaults to 1e-3 (the reference uses 1e-4 with Adam;
            ResNet-18 recipes use 0.1 or 0.02 with SGD).
        max_epochs: Epoch limit. Defaults to 200.
        batch_size: Mini-batch size. Defaults to 64.
        weight_decay: Weight decay of the optimiser (L2 added to the gradient,
            as ``torch.optim.Adam``/``SGD`` do). Defaults to 0.
        stop_at_train_accuracy: Early stop threshold, ``None`` to always run
            ``max_epochs``. Defaults to 0.99.
        grad_clip: Clamp gradients to ``[-grad_clip, grad_clip]`` (the reference
            clamps at 0.1); ``None`` disables. Defaults to ``None``.
        n_members: Ensemble size; each member is trained from its own seed, and
            ``predict_proba`` averages them. Defaults to 1.
        predict_batch_size: Chunk size for inference. Defaults to 4096.
        ema_alpha: Track an exponential moving average (EMA) of the first
            member's parameters after every optimiser step, ``β ← α_t β + (1 -
            α_t) θ`` with ``α_t = min(1 - 1/(t+1), ema_alpha)``; ``t`` counts steps
            over all fits and is never reset (as in the LHD code, so from the
            second round on ``α_t = ema_alpha``). ``None`` disables. The LHD
            paper uses 0.999. Buffers (batch-norm statistics) are copied from the
            main network.
        ema_stop_accuracy: With EMA, early stopping also needs the EMA's
            training accuracy to reach this. Defaults to 0.8 (the LHD code).
        ema_patience: The main and EMA networks are captured (for LHD) once
            their training-accuracy gap has shrunk for this many consecutive
            epochs, or at the last epoch. Defaults to 5.
        optimizer: ``"adam"`` (default) or ``"sgd"`` (with ``momentum``).
        momentum: SGD momentum. Defaults to 0.9.
        lr_schedule: ``"constant"`` (default) or ``"cosine"`` (annealed from
            ``lr`` to 0 over ``max_epochs``, stepped once per epoch).
        augment: Augment every training mini-batch: ``True`` picks
            `default_augment` for the training
            set, or pass an augmentation ``(x, generator) -> x``. Defaults to
            ``False`` (fine-tuning augments on its own, see ``FineTune``).
        device: ``"auto"`` (CUDA when available, else the CPU), ``"cpu"``,
            ``"cuda"`` or ``"cuda:N"``. Defaults to ``"auto"``; on a machine
            without CUDA that is the CPU.
        precision: ``"fp32"`` (default) or ``"bf16"``: bfloat16 autocast for
            training and inference, CUDA only (an error on the CPU). Outputs are
            float32 either way.
        device_budget_mb: A training set up to this size (MiB of float32
            inputs) is copied to the GPU once per fit; a larger one stays in
            pinned host memory and travels one mini-batch at a time. Inference
            always streams chunks of ``predict_batch_size``. Defaults to 1024.

    Examples:
        >>> clf = TorchClassifier(mlp, max_epochs=5, device="cpu")
        >>> X = np.random.default_rng(0).normal(size=(40, 3)).astype(np.float32)
        >>> y = (X[:, 0] > 0).astype(int)
        >>> clf.fit(X, y, n_classes=2, rng=0).predict_proba(X).shape
        (40, 2)
    """

    input_shape_: tuple[int, ...] | None = None
    """Shape of one input row seen by the last `fit` (``X.shape[1:]``); inputs
    of another shape are refused. ``None`` before the first fit (and in models
    pickled before it was recorded)."""

    def __init__(
        self,
        network: NetworkFactory = mlp,
        *,
        lr: float = 1e-3,
        max_epochs: int = 200,
        batch_size: int = 64,
        weight_decay: float = 0.0,
        stop_at_train_accuracy: float | None = 0.99,
        grad_clip: float | None = None,
        n_members: int = 1,
        predict_batch_size: int = 4096,
        ema_alpha: float | None = None,
        ema_stop_accuracy: float = 0.8,
        ema_patience: int = 5,
        optimizer: str = "adam",
        momentum: float = 0.9,
        lr_schedule: str = "constant",
        augment: bool | Augment = False,
        device: DeviceLike = "auto",
        precision: str = "fp32",
        device_budget_mb: float = 1024.0,
    ):
        check_positive(lr, "lr", finite=True)
        check_positive(max_epochs, "max_epochs", integer=True)
        check_positive(batch_size, "batch_size", integer=True)
        check_positive(n_members, "n_members", integer=True)
        check_positive(predict_batch_size, "predict_batch_size", integer=True)
        check_positive(ema_patience, "ema_patience", integer=True)
        if grad_clip is not None:
            check_positive(grad_clip, "grad_clip (None = no clipping)", finite=True)
        if ema_alpha is not None and not 0 < ema_alpha < 1:
            raise InvalidParameterError(
                f"ema_alpha must be in (0, 1) or None; got {ema_alpha!r}."
            )
        if isinstance(ema_stop_accuracy, bool) or not 0 <= ema_stop_accuracy <= 1:
            raise InvalidParameterError(
                f"ema_stop_accuracy must be a training accuracy in [0, 1]; got "
                f"{ema_stop_accuracy!r}."
            )
        if stop_at_train_accuracy is not None and not 0 < stop_at_train_accuracy <= 1:
            raise InvalidParameterError(
                "stop_at_train_accuracy must be in (0, 1] or None; got "
                f"{stop_at_train_accuracy!r}."
            )
        _check_recipe(optimizer, momentum, lr_schedule, augment, weight_decay)
        check_network_factory(network, "(input_shape, n_classes)")
        self._device = check_placement(device, precision, device_budget_mb)
        self.network = network
        self.lr = lr
        self.max_epochs = max_epochs
        self.batch_size = batch_size
        self.weight_decay = weight_decay
        self.stop_at_train_accuracy = stop_at_train_accuracy
        self.grad_clip = grad_clip
        self.n_members = n_members
        self.predict_batch_size = predict_batch_size
        self.ema_alpha = ema_alpha
        self.ema_stop_accuracy = ema_stop_accuracy
        self.ema_patience = ema_patience
        self.optimizer = optimizer
        self.momentum = momentum
        self.lr_schedule = lr_schedule
        self.augment = augment
        self.precision = precision
        self.device_budget_mb = device_budget_mb
        self.members_: list[nn.Module] = []
        self.n_classes_: int | None = None
        self.epochs_: list[int] = []
        self.ema_step_ = 0
        self.captured_: tuple[nn.Module, nn.Module] | None = None
        self.capture_epoch_: int | None = None
        self.ema_: nn.Module | None = None
        self.loss_pair_: tuple[nn.Module, nn.Module] | None = None
        self.input_shape_ = None

    # ----------------------------------------------------------- placement
    @property
    def device(self) -> torch.device:
        """The device the networks compute on (a ``torch.device``)."""
        return self._device

    def to(self, device: DeviceLike) -> TorchClassifier:
        """Move the fitted networks (and later fits) to ``device``; returns ``self``.

        ``precision="bf16"`` needs a CUDA device, as at construction.
        """
        self._device = check_placement(device, self.precision, self.device_budget_mb)
        for net in self._networks():
            net.to(self._device)
        return self

    def _networks(self) -> list[nn.Module]:
        nets = list(self.members_)
        nets += [] if self.ema_ is None else [self.ema_]
        for pair in (self.captured_, self.loss_pair_):
            nets += [] if pair is None else list(pair)
        return nets

    def __getstate__(self) -> dict[str, Any]:
        """Pickle with every network on the CPU (loads on a machine without CUDA)."""
        state = dict(self.__dict__)
        state["members_"] = [cpu_copy(m) for m in self.members_]
        state["ema_"] = None if self.ema_ is None else cpu_copy(self.ema_)
        for key in ("captured_", "loss_pair_"):
            pair = state[key]
            state[key] = (
                None if pair is None else (cpu_copy(pair[0]), cpu_copy(pair[1]))
            )
        state["_device"] = torch.device("cpu")
        return state

    def __deepcopy__(self, memo: dict[int, Any]) -> TorchClassifier:
        """A deep copy on the same device (pickling alone would move it to the CPU)."""
        new = self.__class__.__new__(self.__class__)
        memo[id(self)] = new
        for key, value in self.__dict__.items():
            setattr(new, key, copy.deepcopy(value, memo))
        return new

    def _autocast(self) -> contextlib.AbstractContextManager[Any]:
        return autocast(self._device, self.precision)

    # ----------------------------------------------------------- capability
    def describe(self) -> str:
        """One line describing the configuration."""
        name = getattr(self.network, "__name__", type(self.network).__name__)
        return f"network={name}, n_members={self.n_members}"

    def has_capability(self, name: str) -> bool:
        """Whether a capability protocol (by class name) is really available."""
        if name == "MCDropoutSampler":
            probe = self.members_[0] if self.members_ else self._probe()
            return any(isinstance(m, nn.Dropout) for m in probe.modules())
        if name == "Ensemble":
            return self.n_members >= 2
        if name == "EMAPair":
            return self.ema_alpha is not None
        return True

    def _probe(self) -> nn.Module:
        """Build an untrained network on a typical input shape to inspect it."""
        for shape in ((1,), (1, 28, 28), (3, 32, 32)):
            try:
                return self.network(shape, 2)
            except Exception:
                continue
        return nn.Sequential()

    # ------------------------------------------------------------- training
    def fit(
        self,
        X: Any,
        y: Any,
        *,
        n_classes: int,
        rng: RNGLike = None,
        sample_weight: Any = None,
    ) -> TorchClassifier:
        """Train ``n_members`` fresh networks on ``X`` and labels ``y``.

        Args:
            X: Inputs of shape ``(n, ...)``.
            y: Class indices of shape ``(n,)`` in ``[0, n_classes)``.
            n_classes: Number of classes.
            rng: Seed or generator for initialisation and shuffling.
            sample_weight: Non-negative weights ``(n,)``, e.g. per-class weights
                indexed by ``y`` (the imbalanced-weighted setting). Each
                mini-batch's loss is then the weighted mean
                ``Σ wᵢ ℓᵢ / Σ wᵢ``, as ``nn.CrossEntropyLoss(weight=...)``
                computes it for class weights. ``None`` (default) = unweighted.

        Returns:
            ``self``.
        """
        x = self._training_input(X, n_classes)
        yt = torch.from_numpy(check_class_labels(y, x.shape[0], n_classes))
        w = _check_weights(sample_weight, x.shape[0], "sample_weight")
        gen = check_rng(rng)
        self.n_classes_ = int(n_classes)
        self.input_shape_ = tuple(int(s) for s in x.shape[1:])
        self.members_ = []
        self.epochs_ = []
        self.captured_ = None
        self.capture_epoch_ = None
        self.ema_ = None
        self.loss_pair_ = None
        data = self._stage(x, yt, w)
        augment = self._training_augment(x)
        for member in range(self.n_members):
            seed = child_seed(gen)
            net = self._build(tuple(x.shape[1:]), seed)
            if member == 0:
                _refuse_padding(net, X, x)
            ema = (
                copy.deepcopy(net)
                if member == 0 and self.ema_alpha is not None
                else None
            )
            self.epochs_.append(self._train(net, data, seed, ema, augment=augment))
            net.eval()
            self.members_.append(net)
            if ema is not None:
                self.ema_ = ema.eval()
        return self

    def _training_input(self, X: Any, n_classes: int) -> torch.Tensor:
        """``X`` as float32; NaN padding passes here, `_refuse_padding` decides.

        Invalid NaN in the inputs of a network that does not mask padding gets
        the plain "NaN or infinite values" error, not one about padded
        sequences (which the network would not take anyway).
        """
        try:
            return as_float_tensor(X, allow_padding=True)
        except InvalidParameterError:
            if not self._network_masks_padding(X, n_classes):
                as_float_tensor(X)  # raises the plain error
            raise

    def _network_masks_padding(self, X: Any, n_classes: int) -> bool:
        """Whether the network built for ``X`` masks padding (True if unknown)."""
        try:
            shape = tuple(int(s) for s in np.shape(X)[1:])
            with torch.random.fork_rng(devices=[]):
                net = self.network(shape, int(n_classes))
        except Exception:  # an odd input or factory: keep the padding message
            return True
        return _masks_padding(net)

    def _build(self, shape: tuple[int, ...], seed: int) -> nn.Module:
        """A fresh network initialised on the CPU from ``seed``, on the device."""
        assert self.n_classes_ is not None
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(seed)
            net = self.network(shape, self.n_classes_)
        if not hasattr(net, "features") or not isinstance(
            getattr(net, "head", None), nn.Linear
        ):
            raise InvalidParameterError(
                "The network must have a 'features' module and a 'head' "
                "nn.Linear; wrap yours in SplitNetwork(features, head)."
            )
        if self._device.type == "cpu":
            return net
        net = net.to(self._device)
        if len(shape) == 3:  # images: channels-last convolutions are faster on GPUs
            net = net.to(memory_format=torch.channels_last)  # type: ignore[call-overload]
        return net

    def _stage(self, x: torch.Tensor, y: torch.Tensor, w: torch.Tensor | None) -> _Data:
        dev = self._device
        xs = stage(x, dev, self.device_budget_mb)
        budget = math.inf if xs.device == dev else 0.0  # labels follow the inputs
        return _Data(
            xs,
            stage(y, dev, budget),
            None if w is None else stage(w, dev, budget),
        )

    def _training_augment(self, x: torch.Tensor) -> Augment | None:
        if self.augment is True:
            return default_augment(x)
        return self.augment or None

    def finetune(
        self,
        X_labeled: Any,
        y_labeled: Any,
        X_unlabeled: Any,
        *,
        config: FineTune | None = None,
        rng: RNGLike = None,
        class_weights: Any = None,
    ) -> FineTuneResult:
        """Fine-tune the fitted networks on confident pool samples.

        See `labelwise.models.finetune` for the recipe. The set is the
        labeled items with their labels plus the unlabeled items whose averaged
        probability exceeds ``config.threshold``, with the predicted class as
        pseudo-label. Every member trains on it with strong
        augmentation at the fine-tuning learning rate (fresh optimiser state), the
        EMA keeps tracking the first member, and LHD's loss differences then come
        from the fine-tuned networks (its hidden-state differences stay those of
        the captured ones).

        Args:
            X_labeled: Labeled inputs ``(n_l, ...)``.
            y_labeled: Their class indices ``(n_l,)``.
            X_unlabeled: Unlabeled pool inputs ``(n_u, ...)``.
            config: Settings. Defaults to ``FineTune()``.
            rng: Seed or generator (shuffling, augmentation, dropout).
            class_weights: Per-class loss weights ``(n_classes,)`` (weighted
                cross-entropy, each item weighted by its label or pseudo-label);
                ``None`` (default) = unweighted.

        Returns:
            A `FineTuneResult`.
        """
        self._check_fitted()
        assert self.n_classes_ is not None
        cfg = config or FineTune()
        padded = _masks_padding(self.members_[0])
        xl = as_float_tensor(X_labeled, name="X_labeled", allow_padding=padded)
        _check_input(self.members_[0], xl)
        xl = xl.cpu()
        check_input_shape(xl, self.input_shape_, name="X_labeled", sequences=padded)
        n_l, k = xl.shape[0], self.n_classes_
        yl = torch.from_numpy(check_class_labels(y_labeled, n_l, k, name="y_labeled"))
        cw = _check_weights(class_weights, self.n_classes_, "class_weights")
        xu = np.asarray(X_unlabeled)
        if xu.shape[:1] != (0,):  # an empty pool (all labeled) is allowed
            xu = check_features(
                xu, name="X_unlabeled", ndim_min=2, allow_padding=padded
            )
        check_input_shape(xu, self.input_shape_, name="X_unlabeled", sequences=padded)
        rows, pseudo = (
            confident_items(self.predict_proba(xu), cfg.threshold)
            if xu.shape[0]
            else (np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.int64))
        )
        size = xl.shape[0] + rows.size
        if size < cfg.min_size:
            return FineTuneResult(size, int(rows.size), 0, True)
        x = torch.cat([xl, torch.as_tensor(xu[rows], dtype=torch.float32)])
        y = torch.cat([yl, torch.as_tensor(pseudo, dtype=torch.long)])
        data = self._stage(x, y, None if cw is None else cw[y])
        augment = default_augment(x) if cfg.augment else None
        lr = cfg.lr if cfg.lr is not None else self.lr * cfg.lr_factor
        gen = check_rng(rng)
        epochs = 0
        for i, net in enumerate(self.members_):
            ema = self.ema_ if i == 0 else None
            epochs = max(
                epochs,
                self._train(
                    net,
                    data,
                    child_seed(gen),
                    ema,
                    lr=lr,
                    max_epochs=cfg.max_epochs,
                    augment=augment,
                    capture=False,
                ),
            )
            net.eval()
        if self.ema_ is not None:
            self.ema_.eval()
            self.loss_pair_ = (
                copy.deepcopy(self.members_[0]).eval(),
                copy.deepcopy(self.ema_).eval(),
            )
        return FineTuneResult(size, int(rows.size), epochs, False)

    def _make_optimizer(
        self, net: nn.Module, lr: float, max_epochs: int
    ) -> tuple[torch.optim.Optimizer, torch.optim.lr_scheduler.LRScheduler | None]:
        opt: torch.optim.Optimizer
        if self.optimizer == "sgd":
            opt = torch.optim.SGD(
                net.parameters(),
                lr=lr,
                momentum=self.momentum,
                weight_decay=self.weight_decay,
            )
        else:
            opt = torch.optim.Adam(
                net.parameters(), lr=lr, weight_decay=self.weight_decay
            )
        sched = (
            torch.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=max_epochs)
            if self.lr_schedule == "cosine"
            else None
        )
        return opt, sched

    def _train(
        self,
        net: nn.Module,
        data: _Data,
        seed: int,
        ema: nn.Module | None = None,
        *,
        lr: float | None = None,
        max_epochs: int | None = None,
        augment: Augment | None = None,
        capture: bool = True,
    ) -> int:
        max_epochs = self.max_epochs if max_epochs is None else max_epochs
        opt, sched = self._make_optimizer(
            net, self.lr if lr is None else lr, max_epochs
        )
        gen = torch.Generator().manual_seed(seed)
        n = data.x.shape[0]
        epoch = 0
        prev_gap = float("inf")
        shrinking = 0
        with torch.random.fork_rng(devices=rng_devices(self._device)):
            torch.manual_seed(seed + 1)  # dropout masks during training
            for epoch in range(1, max_epochs + 1):
                net.train()
                perm = epoch_order(n, gen, data.x, self._device)
                correct = self._epoch(net, opt, data, perm, gen, augment, ema)
                if sched is not None:
                    sched.step()
                acc = correct / n
                ema_ok = True
                if ema is not None:
                    ema_acc = self._accuracy(ema, data.x, data.y)
                    gap = acc - ema_acc
                    ema_ok = ema_acc >= self.ema_stop_accuracy
                    shrinking = shrinking + 1 if gap < prev_gap else 0
                    prev_gap = gap
                    if (
                        capture
                        and self.captured_ is None
                        and shrinking >= self.ema_patience
                    ):
                        self._capture(net, ema, epoch)
                if (
                    self.stop_at_train_accuracy is not None
                    and acc >= self.stop_at_train_accuracy
                    and ema_ok
                ):
                    break
        if capture and ema is not None and self.captured_ is None:
            self._capture(net, ema, epoch)
        return epoch

    def _epoch(
        self,
        net: nn.Module,
        opt: torch.optim.Optimizer,
        data: _Data,
        perm: torch.Tensor,
        gen: torch.Generator,
        augment: Augment | None,
        ema: nn.Module | None,
    ) -> int:
        """One pass over ``perm`` in mini-batches; returns the correct count."""
        dev = self._device
        loss_fn = nn.CrossEntropyLoss()
        correct = torch.zeros((), dtype=torch.long, device=dev)
        for s in range(0, perm.shape[0], self.batch_size):
            idx = perm[s : s + self.batch_size]
            xb = self._layout(batch(data.x, idx, dev))
            yb = batch(data.y, idx, dev)
            if augment is not None:
                xb = augment(xb, gen)
            with self._autocast():
                logits = net(xb)
                if data.w is None:
                    loss = loss_fn(logits, yb)
                else:
                    wb = batch(data.w, idx, dev)
                    losses = nn.functional.cross_entropy(
                        logits.float(), yb, reduction="none"
                    )
                    loss = (losses * wb).sum() / wb.sum().clamp_min(1e-12)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            if self.grad_clip is not None:
                for p in net.parameters():
                    if p.grad is not None:
                        p.grad.clamp_(-self.grad_clip, self.grad_clip)
            opt.step()
            if ema is not None:
                self._ema_update(ema, net)
            correct += (logits.argmax(1) == yb).sum()
        return int(correct)

    @torch.no_grad()
    def _ema_update(self, ema: nn.Module, net: nn.Module) -> None:
        a = min(1.0 - 1.0 / (self.ema_step_ + 1), float(self.ema_alpha or 0.0))
        self.ema_step_ += 1
        for pe, p in zip(ema.parameters(), net.parameters(), strict=True):
            pe.mul_(a).add_(p, alpha=1.0 - a)
        for be, b in zip(ema.buffers(), net.buffers(), strict=True):
            be.copy_(b)

    @torch.no_grad()
    def _accuracy(self, net: nn.Module, x: torch.Tensor, y: torch.Tensor) -> float:
        was_training = net.training
        net.eval()
        dev = self._device
        correct = torch.zeros((), dtype=torch.long, device=dev)
        for xc, yc in zip(
            torch.split(x, self.predict_batch_size),
            torch.split(y, self.predict_batch_size),
            strict=True,
        ):
            with self._autocast():
                pred = net(to_device(xc, dev)).argmax(1)
            correct += (pred == to_device(yc, dev)).sum()
        net.train(was_training)
        return int(correct) / x.shape[0]

    def _capture(self, net: nn.Module, ema: nn.Module, epoch: int) -> None:
        self.captured_ = (copy.deepcopy(net).eval(), copy.deepcopy(ema).eval())
        self.capture_epoch_ = epoch

    # ----------------------------------------------------------- inference
    def _check_fitted(self) -> None:
        if not self.members_:
            raise NotFittedError(
                "TorchClassifier is not fitted; call fit(X, y, n_classes=...) first."
            )

    @torch.no_grad()
    def _outputs(
        self, net: nn.Module, x: torch.Tensor, what: str
    ) -> Iterator[torch.Tensor]:
        """Per chunk of ``x``: float32 embeddings or probabilities on the device."""
        features: nn.Module = net.features  # type: ignore[assignment]
        head: nn.Module = net.head  # type: ignore[assignment]
        for chunk in input_chunks(x, self.predict_batch_size, self._device):
            with self._autocast():
                h = features(self._layout(chunk))
                out = h if what == "embed" else torch.softmax(head(h).float(), dim=1)
            yield out.float()

    def _layout(self, x: torch.Tensor) -> torch.Tensor:
        if self._device.type == "cuda" and x.ndim == 4:
            return x.contiguous(memory_format=torch.channels_last)
        return x

    def _input(self, X: Any) -> torch.Tensor:
        """``X`` as a float32 tensor; NaN padding only for a masking network."""
        padded = _masks_padding(self.members_[0])
        x = as_float_tensor(X, allow_padding=padded)
        _check_input(self.members_[0], x)
        check_input_shape(x, self.input_shape_, sequences=padded)
        return x

    def _forward(self, net: nn.Module, X: Any, what: str) -> np.ndarray:
        x = self._input(X)
        return torch.cat([o.cpu() for o in self._outputs(net, x, what)]).numpy()

    def _forward_tensor(
        self, net: nn.Module, x: torch.Tensor, what: str
    ) -> torch.Tensor:
        return torch.cat(list(self._outputs(net, x, what)))

    def predict_proba(self, X: Any) -> FloatArray:
        """Class probabilities ``(n, n_classes)``, averaged over members."""
        self._check_fitted()
        probs = [self._forward(m, X, "proba") for m in self.members_]
        return np.asarray(np.mean(probs, axis=0))

    def ema_outputs(
        self, X: Any
    ) -> tuple[FloatArray, FloatArray, FloatArray, FloatArray]:
        """Embeddings and probabilities of the captured main and EMA networks.

        Returns:
            ``(h_main, h_ema, p_main, p_ema)`` with shapes ``(n, d)``, ``(n, d)``,
            ``(n, n_classes)``, ``(n, n_classes)``; both networks in eval mode (the
            LHD code leaves the EMA in train mode for ``h``). After
            `finetune`, the probabilities come from the fine-tuned networks.
        """
        self._check_fitted()
        if self.captured_ is None:
            raise NotFittedError(
                "No EMA snapshot: build TorchClassifier(ema_alpha=0.999) and fit."
            )
        main, ema = self.captured_
        loss_main, loss_ema = self.loss_pair_ or self.captured_
        return (
            self._forward(main, X, "embed"),
            self._forward(ema, X, "embed"),
            self._forward(loss_main, X, "proba"),
            self._forward(loss_ema, X, "proba"),
        )

    def ema_tensor_outputs(
        self, X: Any
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
        """`ema_outputs` as float32 tensors on `device` (no host copy).

        The same numbers as `ema_outputs`, computed chunk by chunk and kept on
        the device, for LHD on a GPU.
        """
        self._check_fitted()
        if self.captured_ is None:
            raise NotFittedError(
                "No EMA snapshot: build TorchClassifier(ema_alpha=0.999) and fit."
            )
        x = self._input(X)
        main, ema = self.captured_
        loss_main, loss_ema = self.loss_pair_ or self.captured_
        return (
            self._forward_tensor(main, x, "embed"),
            self._forward_tensor(ema, x, "embed"),
            self._forward_tensor(loss_main, x, "proba"),
            self._forward_tensor(loss_ema, x, "proba"),
        )

    def predict_proba_members(self, X: Any) -> FloatArray:
        """Probabilities of each member, shape ``(n_members, n, n_classes)``."""
        self._check_fitted()
        return np.stack([self._forward(m, X, "proba") for m in self.members_])

    def embed(self, X: Any) -> FloatArray:
        """Penultimate embeddings ``(n, d)`` of the first member (eval mode)."""
        self._check_fitted()
        return self._forward(self.members_[0], X, "embed")

    def predict_proba_samples(
        self, X: Any, n_samples: int, *, rng: RNGLike = None
    ) -> FloatArray:
        """MC-dropout probabilities, shape ``(n_samples, n, n_classes)``.

        Only the dropout layers are switched to training mode (batch-norm layers
        keep their running statistics, unlike the reference code). With an
        ensemble, each pass uses the first member.
        """
        self._check_fitted()
        x = self._input(X)
        return np.stack([s.cpu().numpy() for s in self._mc_samples(x, n_samples, rng)])

    def _mc_samples(
        self, x: torch.Tensor, n_samples: int, rng: RNGLike
    ) -> list[torch.Tensor]:
        self._check_fitted()
        check_positive(n_samples, "n_samples", integer=True)
        net = self.members_[0]
        drops = [m for m in net.modules() if isinstance(m, nn.Dropout)]
        if not drops:
            raise InvalidParameterError(
                "MC dropout needs dropout layers; build the network with dropout > 0."
            )
        seed = child_seed(check_rng(rng))
        out = []
        with torch.random.fork_rng(devices=rng_devices(self._device)):
            torch.manual_seed(seed)
            for m in drops:
                m.train()
            try:
                for _ in range(n_samples):
                    out.append(self._forward_tensor(net, x, "proba"))
            finally:
                for m in drops:
                    m.eval()
        return out

    def tensor_outputs(
        self,
        X: Any,
        what: TensorOutput,
        *,
        n_samples: int | None = None,
        rng: RNGLike = None,
    ) -> torch.Tensor:
        """The output ``what`` of ``X`` as a float32 tensor on `device`.

        The same numbers as the NumPy methods (``predict_proba``, ``embed``,
        ``predict_proba_samples``, ``predict_proba_members``), computed chunk by
        chunk and kept on the device.

        Args:
            X: Inputs ``(n, ...)``: an array, or a tensor on any device.
            what: ``"proba"`` ``(n, n_classes)``, ``"embed"`` ``(n, d)``,
                ``"proba_samples"`` ``(T, n, n_classes)`` (needs ``n_samples``)
                or ``"proba_members"`` ``(n_members, n, n_classes)``.
            n_samples: Number of MC-dropout passes T for ``"proba_samples"``.
            rng: Seed or generator for ``"proba_samples"``.

        Returns:
            A float32 tensor on `device`.
        """
        self._check_fitted()
        x = self._input(X)
        if what == "embed":
            return self._forward_tensor(self.members_[0], x, "embed")
        if what in ("proba", "proba_members"):
            probs = torch.stack(
                [self._forward_tensor(m, x, "proba") for m in self.members_]
            )
            return probs.mean(0) if what == "proba" else probs
        if what == "proba_samples":
            if n_samples is None:
                raise InvalidParameterError(
                    "tensor_outputs(what='proba_samples') needs n_samples (T)."
                )
            return torch.stack(self._mc_samples(x, n_samples, rng))
        raise InvalidParameterError(
            f"what must be 'proba', 'embed', 'proba_samples' or 'proba_members'; "
            f"got {what!r}."
        )


def _masks_padding(net: nn.Module) -> bool:
    return isinstance(net, SplitNetwork) and net.masks_padding


def _check_input(net: nn.Module, x: torch.Tensor) -> None:
    if isinstance(net, SplitNetwork):
        net.check_input(tuple(x.shape))


def _refuse_padding(net: nn.Module, X: Any, x: torch.Tensor) -> None:
    """Refuse NaN (padding) in the inputs of a network that does not mask it."""
    if _masks_padding(net):
        return
    if isinstance(X, torch.Tensor):  # not checked by as_float_tensor(padding)
        check_finite_tensor(x)
        return
    if x.ndim > 3:
        return
    if bool(torch.isnan(x).any()):
        check_features(x.numpy(), ndim_min=2)  # raises, with a padding hint


class _Data:
    """A training set staged for a device: inputs, labels, optional weights."""

    def __init__(self, x: torch.Tensor, y: torch.Tensor, w: torch.Tensor | None):
        self.x = x
        self.y = y
        self.w = w


def _check_weights(w: Any, n: int, name: str) -> torch.Tensor | None:
    """``None`` or a float32 tensor ``(n,)`` of finite non-negative weights."""
    arr = check_sample_weight(w, n, name=name)
    return None if arr is None else torch.as_tensor(arr, dtype=torch.float32)


def _check_dropout(dropout: Any, name: str = "dropout") -> None:
    """Raise unless ``dropout`` is a number in ``[0, 1)`` (0 = no dropout layer)."""
    if isinstance(dropout, bool) or not isinstance(dropout, int | float | np.number):
        raise InvalidParameterError(
            f"{name} must be a number in [0, 1); got {dropout!r}."
        )
    if not 0 <= dropout < 1:
        raise InvalidParameterError(
            f"{name} must be in [0, 1) (0 = no dropout); got {dropout!r}."
        )


def _check_recipe(
    optimizer: str, momentum: float, lr_schedule: str, augment: Any, weight_decay: float
) -> None:
    if optimizer not in OPTIMIZERS:
        raise InvalidParameterError(
            f"optimizer must be 'adam' or 'sgd'; got {optimizer!r}."
        )
    if not 0 <= momentum < 1:
        raise InvalidParameterError(f"momentum must be in [0, 1); got {momentum!r}.")
    if lr_schedule not in LR_SCHEDULES:
        raise InvalidParameterError(
            f"lr_schedule must be 'constant' or 'cosine'; got {lr_schedule!r}."
        )
    if not (isinstance(augment, bool) or callable(augment)):
        raise InvalidParameterError(
            "augment must be True, False or a callable (x, generator) -> x; got "
            f"{type(augment).__name__}."
        )
    check_weight_decay(weight_decay)
