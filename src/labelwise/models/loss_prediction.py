"""Learning loss: a task network trained jointly with a loss-prediction module.

Yoo, D. & Kweon, I. S. *Learning Loss for Active Learning*, CVPR 2019. A small
module reads intermediate feature maps ("taps") of the task network and predicts
the per-sample cross-entropy; it is trained with a pairwise margin ranking loss
(§3.3, Eq. 2-3) at the same time as the network. The LLOSS strategy
(``lloss``) labels the pool items with the largest predicted loss.

Paper vs code, and the choices made here:

* Taps: the four ResNet stages in the paper. Here: submodules named
  ``layer1``..``layer4`` when the network has them (``resnet18``); otherwise the
  outputs of the ``nn.MaxPool2d`` layers inside ``features`` (the two pooled maps of
  ``cnn``) followed by the embedding; for ``mlp`` the embedding alone.
* Each tap is average-pooled to ``1 x 1`` (adaptive pooling: the references use a
  fixed kernel equal to the map size, identical at their sizes), then
  ``Linear(c, interm_dim) + ReLU``; the concatenation goes through
  ``Linear(n_taps * interm_dim, 1)`` with no output activation.
* Pairs: a minibatch of ``b`` is split into ``b // 2`` disjoint pairs, element
  ``i`` with element ``b' - 1 - i`` (``b'`` = ``b`` rounded down to even; an odd
  last sample only enters the cross-entropy), as all reference codes do; ties of
  the true loss count as ``-1``. The ranking term is the mean over pairs.
* Stop-gradient: the code's rule (detach when the 0-based epoch index exceeds
  ``detach_epoch``; the paper writes "after 120 epochs" of 200). The default scales
  the paper's 120/200 to the schedule: ``round(0.6 * max_epochs)``.
* Optimiser: ``"adam"`` (default) trains the network exactly as
  `TorchClassifier` does (Adam at ``lr``,
  early stop at a training accuracy) so that LLOSS is compared on the same task
  model as the other strategies; ``"sgd"`` is the paper's recipe (SGD, momentum
  0.9, weight decay 5e-4, lr x 0.1 at ``round(0.8 * max_epochs)``, both networks).
* Trained from scratch at every ``fit`` (the learning-AL paper's protocol).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Literal

import torch
from torch import nn
from torch.nn import functional as F

from labelwise._device import DeviceLike, resolve_device
from labelwise._typing import FloatArray, RNGLike
from labelwise._validation import (
    check_class_labels,
    check_features,
    check_positive,
    check_rng,
    check_weight_decay,
    child_seed,
)
from labelwise.exceptions import InvalidParameterError, NotFittedError
from labelwise.models._placement import check_input_shape, check_network_factory
from labelwise.models.base import TensorOutput
from labelwise.models.pytorch import (
    NetworkFactory,
    _check_weights,
    _masks_padding,
    mlp,
)

STAGE_NAMES = ("layer1", "layer2", "layer3", "layer4")


def ranking_loss(
    predicted: torch.Tensor, target: torch.Tensor, margin: float = 1.0
) -> torch.Tensor:
    """The pairwise margin ranking loss of Yoo & Kweon (2019), Eq. 2-3.

    Args:
        predicted: Predicted losses ``(b,)``.
        target: True per-sample losses ``(b,)`` (treated as constants).
        margin: The margin ξ. Defaults to 1.

    Returns:
        A scalar: the mean over the ``b // 2`` pairs ``(i, b' - 1 - i)`` of
        ``max(0, ξ - σ_ij (l̂_i - l̂_j))``, ``σ_ij = +1`` if ``ℓ_i > ℓ_j`` else
        ``-1``; ``0`` when ``b < 2``.

    Examples:
        >>> p = torch.tensor([3.0, 0.0]); t = torch.tensor([1.0, 0.0])
        >>> float(ranking_loss(p, t))
        0.0
    """
    b = predicted.shape[0] - predicted.shape[0] % 2
    if b < 2:
        return predicted.sum() * 0.0
    half = b // 2
    p_i, p_j = predicted[:half], predicted[:b].flip(0)[:half]
    t = target.detach()
    t_i, t_j = t[:half], t[:b].flip(0)[:half]
    sign = torch.where(t_i > t_j, 1.0, -1.0)
    return torch.clamp(margin - sign * (p_i - p_j), min=0.0).mean()


class LossNet(nn.Module):
    """The loss-prediction module: per tap GAP + Linear + ReLU, then a Linear.

    Args:
        channels: Channel (or feature) count of each tap.
        interm_dim: Width per tap. Defaults to 128 (every reference code).
    """

    def __init__(self, channels: Sequence[int], interm_dim: int = 128):
        super().__init__()
        self.fcs = nn.ModuleList(nn.Linear(int(c), interm_dim) for c in channels)
        self.out = nn.Linear(interm_dim * len(channels), 1)

    def forward(self, taps: Sequence[torch.Tensor]) -> torch.Tensor:
        """Predicted losses ``(n,)`` from taps ``(n, c_i, ...)``."""
        parts = []
        for fc, t in zip(self.fcs, taps, strict=True):
            v = t.flatten(2).mean(2) if t.ndim > 2 else t
            parts.append(F.relu(fc(v)))
        out: torch.Tensor = self.out(torch.cat(parts, dim=1)).squeeze(1)
        return out


class _Tapped:
    """Forward hooks collecting a network's tap outputs during ``forward``."""

    def __init__(self, net: nn.Module):
        named = dict(net.named_modules())
        stages = [
            m
            for name in STAGE_NAMES
            for key, m in named.items()
            if key.rsplit(".", 1)[-1] == name
        ]
        features: nn.Module = net.features  # type: ignore[assignment]
        pools = [m for m in features.modules() if isinstance(m, nn.MaxPool2d)]
        self.modules = stages or pools
        self.with_embedding = not stages
        self.outputs: list[torch.Tensor] = []
        for m in self.modules:
            m.register_forward_hook(self._hook)

    def _hook(self, module: nn.Module, args: Any, output: torch.Tensor) -> None:
        self.outputs.append(output)

    def run(
        self, net: nn.Module, x: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor, list[torch.Tensor]]:
        """``(embedding, logits, taps)`` of one forward pass."""
        self.outputs = []
        features: nn.Module = net.features  # type: ignore[assignment]
        head: nn.Module = net.head  # type: ignore[assignment]
        h = features(x)
        taps, self.outputs = self.outputs, []  # hold no tensors between passes
        if self.with_embedding:
            taps.append(h)
        return h, head(h), taps


class LossPredictionClassifier:
    """A ``SplitNetwork`` trained jointly with a `LossNet` (LLOSS).

    Objective per minibatch ``b``: ``mean_i CE_i + weight * ranking_loss(l̂, CE,
    margin)`` (Yoo & Kweon 2019, Eq. 3 with λ = ``weight``). After epoch
    ``detach_epoch`` the taps are detached before the module, so the backbone
    trains on cross-entropy alone. See the module docstring for the taps and the
    paper-vs-code choices.

    Args:
        network: ``factory(input_shape, n_classes)`` returning a module with
            ``features`` and ``head`` (``mlp``, ``cnn``, ``resnet18``).
        lr: Learning rate of both optimisers. Defaults to 1e-3.
        max_epochs: Epoch limit. Defaults to 200.
        batch_size: Minibatch size. Defaults to 64.
        weight_decay: Weight decay with ``"adam"``. Defaults to 0.
        stop_at_train_accuracy: Stop at the end of the first epoch whose training
            accuracy reaches this (``None``: run ``max_epochs``). Defaults to 0.99.
        margin: Ranking margin ξ. Defaults to 1 (paper).
        weight: Weight λ of the ranking term. Defaults to 1 (paper).
        detach_epoch: Detach when the 0-based epoch index exceeds it; ``None``:
            ``round(0.6 * max_epochs)`` (120 of 200 as in the paper); ``-1``:
            from the start (the module then never shapes the backbone).
        interm_dim: Width per tap of the module. Defaults to 128.
        optimizer: ``"adam"`` or ``"sgd"`` (see the module docstring).
        predict_batch_size: Chunk size for inference. Defaults to 4096.
        device: Where to train and predict (``"auto"``, ``"cpu"``, ``"cuda:N"``).
            Defaults to ``"cpu"``.

    Examples:
        >>> import numpy as np
        >>> X = np.random.default_rng(0).normal(size=(40, 3)).astype(np.float32)
        >>> clf = LossPredictionClassifier(mlp, max_epochs=3)
        >>> clf = clf.fit(X, (X[:, 0] > 0).astype(int), n_classes=2, rng=0)
        >>> clf.predict_loss(X).shape
        (40,)
    """

    input_shape_: tuple[int, ...] | None = None
    """Shape of one input row seen by the last `fit` (``X.shape[1:]``); inputs
    of another shape are refused. ``None`` before the first fit."""

    def __init__(
        self,
        network: NetworkFactory = mlp,
        *,
        lr: float = 1e-3,
        max_epochs: int = 200,
        batch_size: int = 64,
        weight_decay: float = 0.0,
        stop_at_train_accuracy: float | None = 0.99,
        margin: float = 1.0,
        weight: float = 1.0,
        detach_epoch: int | None = None,
        interm_dim: int = 128,
        optimizer: Literal["adam", "sgd"] = "adam",
        predict_batch_size: int = 4096,
        device: DeviceLike = "cpu",
    ):
        check_network_factory(network, "(input_shape, n_classes)")
        check_positive(lr, "lr", finite=True)
        check_weight_decay(weight_decay)
        check_positive(max_epochs, "max_epochs", integer=True)
        check_positive(batch_size, "batch_size", integer=True)
        check_positive(interm_dim, "interm_dim", integer=True)
        check_positive(predict_batch_size, "predict_batch_size", integer=True)
        check_positive(margin, "margin")
        if (
            isinstance(weight, bool)
            or not isinstance(weight, int | float)
            or weight < 0
        ):
            raise InvalidParameterError(
                f"weight must be a number >= 0; got {weight!r}."
            )
        if detach_epoch is not None and (
            isinstance(detach_epoch, bool)
            or not isinstance(detach_epoch, int)
            or detach_epoch < -1
        ):
            raise InvalidParameterError(
                f"detach_epoch must be an int >= -1 or None; got {detach_epoch!r}."
            )
        if optimizer not in ("adam", "sgd"):
            raise InvalidParameterError(
                f"optimizer must be 'adam' or 'sgd'; got {optimizer!r}."
            )
        if stop_at_train_accuracy is not None and not 0 < stop_at_train_accuracy <= 1:
            raise InvalidParameterError(
                "stop_at_train_accuracy must be in (0, 1] or None; got "
                f"{stop_at_train_accuracy!r}."
            )
        self.network = network
        self.lr = lr
        self.max_epochs = max_epochs
        self.batch_size = batch_size
        self.weight_decay = weight_decay
        self.stop_at_train_accuracy = stop_at_train_accuracy
        self.margin = margin
        self.weight = weight
        self.detach_epoch = detach_epoch
        self.interm_dim = interm_dim
        self.optimizer = optimizer
        self.predict_batch_size = predict_batch_size
        self._device = resolve_device(device)
        self.net_: nn.Module | None = None
        self.lossnet_: LossNet | None = None
        self._tapped: _Tapped | None = None
        self.n_classes_: int | None = None
        self.history_: list[dict[str, float]] = []

    @property
    def device(self) -> torch.device:
        """The device the model computes on."""
        return self._device

    def describe(self) -> str:
        """One line describing the configuration."""
        name = getattr(self.network, "__name__", type(self.network).__name__)
        return f"network={name} with a loss-prediction module"

    # ------------------------------------------------------------- training
    def fit(
        self,
        X: Any,
        y: Any,
        *,
        n_classes: int,
        rng: RNGLike = None,
        sample_weight: Any = None,
    ) -> LossPredictionClassifier:
        """Train a fresh network and loss module jointly on ``X`` and ``y``.

        Args:
            X: Inputs ``(n, ...)``.
            y: Class indices ``(n,)`` in ``[0, n_classes)``.
            n_classes: Number of classes.
            rng: Seed or generator (initialisation and shuffling).
            sample_weight: Per-sample weights ``(n,)``, finite, ``>= 0`` and not
                all zero (the imbalanced-weighted setting passes ``w_{y_i}``) or
                ``None``. As the learning-AL code,
                the per-sample loss becomes ``w_i CE_i``, both in the backbone
                term (a plain mean over the minibatch) and as the ranking target.

        Returns:
            ``self``; ``history_`` holds per epoch the mean cross-entropy
            (``"ce"``), ranking loss (``"rank"``) and training accuracy.
        """
        dev = self._device
        x = torch.as_tensor(check_features(X, ndim_min=2), dtype=torch.float32).to(dev)
        yt = torch.from_numpy(check_class_labels(y, x.shape[0], n_classes)).to(dev)
        w = _check_weights(sample_weight, x.shape[0], "sample_weight")
        if w is not None:
            w = w.to(dev)
        seed = child_seed(check_rng(rng))
        self.n_classes_ = int(n_classes)
        self.input_shape_ = tuple(int(s) for s in x.shape[1:])
        devices = [dev.index or 0] if dev.type == "cuda" else []
        with torch.random.fork_rng(devices=devices):
            torch.manual_seed(seed)
            net = self.network(tuple(x.shape[1:]), self.n_classes_)
            if not hasattr(net, "features") or not isinstance(
                getattr(net, "head", None), nn.Linear
            ):
                raise InvalidParameterError(
                    "The network must have a 'features' module and a 'head' "
                    "nn.Linear; wrap yours in SplitNetwork(features, head)."
                )
            net = net.to(dev)
            tapped = _Tapped(net)
            net.eval()
            with torch.no_grad():
                _, _, taps = tapped.run(net, x[:2])
            lossnet = LossNet([t.shape[1] for t in taps], self.interm_dim).to(dev)
            self.history_ = self._train(net, lossnet, tapped, x, yt, w, seed)
        self.net_, self.lossnet_, self._tapped = net.eval(), lossnet.eval(), tapped
        return self

    def _optimisers(
        self, net: nn.Module, lossnet: nn.Module
    ) -> tuple[list[torch.optim.Optimizer], list[Any]]:
        if self.optimizer == "adam":
            opts: list[torch.optim.Optimizer] = [
                torch.optim.Adam(
                    m.parameters(), lr=self.lr, weight_decay=self.weight_decay
                )
                for m in (net, lossnet)
            ]
            return opts, []
        opts = [
            torch.optim.SGD(m.parameters(), lr=self.lr, momentum=0.9, weight_decay=5e-4)
            for m in (net, lossnet)
        ]
        milestone = max(1, round(0.8 * self.max_epochs))
        return opts, [
            torch.optim.lr_scheduler.MultiStepLR(o, [milestone]) for o in opts
        ]

    def _train(
        self,
        net: nn.Module,
        lossnet: LossNet,
        tapped: _Tapped,
        x: torch.Tensor,
        y: torch.Tensor,
        w: torch.Tensor | None,
        seed: int,
    ) -> list[dict[str, float]]:
        opts, scheds = self._optimisers(net, lossnet)
        detach_after = (
            round(0.6 * self.max_epochs)
            if self.detach_epoch is None
            else self.detach_epoch
        )
        gen = torch.Generator().manual_seed(seed)
        n, history = x.shape[0], []
        for epoch in range(self.max_epochs):
            net.train()
            lossnet.train()
            perm = torch.randperm(n, generator=gen).to(x.device)
            sums = {"ce": 0.0, "rank": 0.0, "accuracy": 0.0}
            for s in range(0, n, self.batch_size):
                idx = perm[s : s + self.batch_size]
                _, logits, taps = tapped.run(net, x[idx])
                ce = F.cross_entropy(logits, y[idx], reduction="none")
                if w is not None:
                    ce = ce * w[idx]
                if epoch > detach_after:
                    taps = [t.detach() for t in taps]
                rank = ranking_loss(lossnet(taps), ce, self.margin)
                loss = ce.mean() + self.weight * rank
                for o in opts:
                    o.zero_grad(set_to_none=True)
                loss.backward()  # type: ignore[no-untyped-call]
                for o in opts:
                    o.step()
                sums["ce"] += float(ce.detach().sum())
                sums["rank"] += float(rank.detach()) * idx.numel()
                sums["accuracy"] += float((logits.argmax(1) == y[idx]).sum())
            for sched in scheds:
                sched.step()
            history.append({k: v / n for k, v in sums.items()})
            stop = self.stop_at_train_accuracy
            if stop is not None and history[-1]["accuracy"] >= stop:
                break
        return history

    # ------------------------------------------------------------ inference
    def _fitted(self) -> tuple[nn.Module, LossNet, _Tapped]:
        if self.net_ is None or self.lossnet_ is None or self._tapped is None:
            raise NotFittedError(
                "LossPredictionClassifier is not fitted; call fit(X, y, n_classes=...)."
            )
        return self.net_, self.lossnet_, self._tapped

    @torch.no_grad()
    def _outputs(self, X: Any, what: str) -> torch.Tensor:
        net, lossnet, tapped = self._fitted()
        x = torch.as_tensor(check_features(X, ndim_min=2), dtype=torch.float32)
        check_input_shape(x, self.input_shape_, sequences=_masks_padding(net))
        outs = []
        for chunk in torch.split(x, self.predict_batch_size):
            h, logits, taps = tapped.run(net, chunk.to(self._device))
            if what == "embed":
                outs.append(h)
            elif what == "proba":
                outs.append(torch.softmax(logits, dim=1))
            else:
                outs.append(lossnet(taps))
        return torch.cat(outs).float()

    def predict_loss(self, X: Any) -> FloatArray:
        """Predicted losses ``(n,)`` (eval mode); larger = more informative."""
        return self._outputs(X, "loss").cpu().numpy()

    def predict_proba(self, X: Any) -> FloatArray:
        """Class probabilities ``(n, n_classes)``."""
        return self._outputs(X, "proba").cpu().numpy()

    def embed(self, X: Any) -> FloatArray:
        """Penultimate embeddings ``(n, d)`` (the input of the head)."""
        return self._outputs(X, "embed").cpu().numpy()

    def tensor_outputs(
        self,
        X: Any,
        what: TensorOutput,
        *,
        n_samples: int | None = None,
        rng: RNGLike = None,
    ) -> torch.Tensor:
        """``"proba"`` ``(n, n_classes)`` or ``"embed"`` ``(n, d)`` on `device`.

        Raises:
            InvalidParameterError: For outputs this model does not have (MC dropout
                samples, ensemble members).
        """
        if what not in ("proba", "embed"):
            raise InvalidParameterError(
                "LossPredictionClassifier has outputs 'proba' and 'embed'; got "
                f"{what!r}."
            )
        return self._outputs(X, what)
