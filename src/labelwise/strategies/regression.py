"""BMDAL batch selection for regression: base kernel -> transforms -> selection.

A `BMDAL` strategy computes features of a base kernel for the unlabeled
pool and the labeled (training) points, applies the transforms in order, and
runs a selection method of `labelwise.kernels.select_bmdal` in mode P or
TP. Named presets (module-level subclasses such as `LCMD`, each
registered under its name) give the per-method configurations the BMDAL paper
recommends (Holzmüller et al., JMLR 2023); ``bmdal`` takes every setting as
a parameter, and so does each preset (it only changes the defaults).

Base kernels: ``linear`` (the inputs), ``ll`` (last-layer NTK features
``[h_L, σ_b]``), ``grad`` (all-layer NTK features; a leading ``("rp", p)`` is
folded into a per-layer tensor sketch so the full gradient is never formed),
``nngp`` (the ReLU NNGP kernel of the network's architecture, infinite-
dimensional, so kernel space only), ``grad-aux`` (AGBAL).

Kernel space: with ``nngp``, and for ``train`` on features wider than
``max(1024, 3 n_train)`` (bmdal_reg's rule), the kernel is carried by
evaluations (`Gram`) instead of features; ``scale``
and ``train`` work there, and the selection methods other than ``bait`` and
``fw``. Transforms that need features (``rp``, ``acs-*``) after that point are
refused with an explanation.

Transforms (each a list ``[name, args...]``): ``["rp", p]``, ``["scale"]`` or
``["scale", factor]``, ``["train", σ]`` or ``["train", σ, "auto"]`` (scale first),
``["acs-grad", σ(, "auto")]``, ``["acs-rf", p, σ(, "auto")]``,
``["acs-rf-hyper", p(, "auto")]``. ``ens`` is the model's ``n_members``: members'
features are concatenated.

A numerical failure inside the greedy selection is never silent: it raises a
`NumericsWarning` (recorded in the selection's
``info["warnings"]``), and ``info["random_fill"]`` says how many items were
filled at random.

References:
    Holzmüller, D., Zaverkin, V., Kästner, J., Steinwart, I. A Framework and
    Benchmark for Deep Batch Active Learning for Regression (JMLR 24, 2023).
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from typing import Any, ClassVar

import numpy as np
import torch

from labelwise._validation import child_seed
from labelwise.exceptions import InvalidParameterError, NumericsWarning
from labelwise.kernels import _transforms as tf
from labelwise.kernels._bmdal import (
    DEFAULT_MODE,
    KERNEL_METHODS,
    METHODS,
    WEIGHT_MODES,
    feature_dtype,
    select_bmdal,
    select_bmdal_kernel,
)
from labelwise.kernels._kspace import (
    FeatureGram,
    Gram,
    NNGPGram,
    PosteriorGram,
    scale_gram,
)
from labelwise.kernels._ratio import RATIO_METHODS
from labelwise.models.base import (
    GradientFeatures,
    GradientFeatureTensors,
    Regressor,
    require,
)
from labelwise.pool import LabelState
from labelwise.strategies._registry import register
from labelwise.strategies.auxiliary_kernel import check_auxiliary, phi2_scale
from labelwise.strategies.base import (
    Selection,
    SimulationContext,
    Strategy,
    check_context,
)

BASE_KERNELS = ("linear", "ll", "grad", "grad-aux", "nngp")
AUX_ESTIMATORS = ("krr", "per-input", "constant")
TRANSFORMS = ("rp", "scale", "train", "acs-grad", "acs-rf", "acs-rf-hyper")
SIGMA = 1e-3
MAX_EXACT_ENTRIES = 200_000_000


def _check_transforms(transforms: Sequence[Any]) -> list[list[Any]]:
    out = []
    for t in transforms:
        item = [t] if isinstance(t, str) else list(t)
        if not item or item[0] not in TRANSFORMS:
            raise InvalidParameterError(
                f"Unknown kernel transform {item[:1] or t!r}; valid: "
                f"{', '.join(TRANSFORMS)} (each as [name, args...])."
            )
        name, args = item[0], item[1:]
        arity = {
            "rp": (1, 1),
            "scale": (0, 1),
            "train": (1, 2),
            "acs-grad": (1, 2),
            "acs-rf": (2, 3),
            "acs-rf-hyper": (1, 2),
        }[name]
        if not arity[0] <= len(args) <= arity[1]:
            raise InvalidParameterError(
                f"Transform {name!r} takes {arity[0]}-{arity[1]} arguments; got "
                f"{args!r}."
            )
        out.append([name, *args])
    return out


class BMDAL(Strategy):
    """BMDAL selection: base kernel, kernel transforms, greedy selection.

    Args:
        selection: One of ``random, maxdiag, maxdet, bait, fw, maxdist,
            kmeanspp, lcmd``. Defaults to ``lcmd``.
        mode: ``"p"`` or ``"tp"``; ``None`` = the method's default.
        base_kernel: ``linear``, ``ll``, ``grad``, ``grad-aux`` or ``nngp``.
            Defaults to ``grad``.
        transforms: Kernel transforms in order. Defaults to ``[["rp", 512]]``
            (``[]`` for ``nngp``, which has no features to project).
        sigma: ``σ_det`` of maxdet and ``σ_bait`` of bait. Defaults to 1e-3.
        overselection: BAIT's forward-backward factor (1 = BAIT-F).
        weight_mode: LCMD's cluster weight (``sq-dist``, ``dist``, ``none``).
        last_layers: Layers of the ``ll`` kernel. Defaults to 1.
        auxiliary: ``(X_aux, y_aux)``, auxiliary labeled data from a shifted or
            noisier distribution (base kernel ``grad-aux``, AGBAL).
        aux_estimator: φ̂₂ estimator of ``grad-aux``: ``krr`` (default),
            ``per-input`` or ``constant`` (see
            `labelwise.strategies.auxiliary_kernel`).
        ratio: Density-ratio estimator: ``ulsif`` (default), ``classifier``,
            ``kliep``.
        aux_ridge: Ridge of the ``krr`` estimator, relative to the mean
            auxiliary kernel diagonal. Defaults to 0.1.
        aux_signed: Use φ̂₂ itself instead of ``|φ̂₂|`` (default: absolute value).
        aux_floor: Added to ``|φ̂₂|``, relative to its mean. Defaults to 0.01.
        train_residual: Use the true residual ``f(x) - y`` on labeled points
            instead of the estimate. Defaults to ``False``.
        nngp_layers: ``L`` of the ``nngp`` kernel. ``None``: the model's number
            of linear layers (3 for a model without a network).
        nngp_sigma_w: ``σ_w`` of ``nngp``. ``None``: the network's weight gain
            (its first NTK layer's), else 0.25 (bmdal_reg's default).
        nngp_sigma_b: ``σ_b`` of ``nngp``. Defaults to 0 (biases start at 0).
    """

    requires = (Regressor,)

    def __init__(
        self,
        *,
        selection: str = "lcmd",
        mode: str | None = None,
        base_kernel: str = "grad",
        transforms: Sequence[Any] | None = None,
        sigma: float = SIGMA,
        overselection: float = 1.0,
        weight_mode: str = "sq-dist",
        last_layers: int = 1,
        auxiliary: tuple[Any, Any] | None = None,
        aux_estimator: str = "krr",
        ratio: str = "ulsif",
        aux_ridge: float = 0.1,
        aux_signed: bool = False,
        aux_floor: float = 0.01,
        train_residual: bool = False,
        nngp_layers: int | None = None,
        nngp_sigma_w: float | None = None,
        nngp_sigma_b: float = 0.0,
    ):
        if selection not in METHODS:
            raise InvalidParameterError(
                f"Unknown selection {selection!r}; valid: {', '.join(METHODS)}."
            )
        if base_kernel not in BASE_KERNELS:
            raise InvalidParameterError(
                f"Unknown base kernel {base_kernel!r}; valid: "
                f"{', '.join(BASE_KERNELS)}."
            )
        if base_kernel == "nngp" and selection not in KERNEL_METHODS:
            raise InvalidParameterError(
                f"The nngp kernel is infinite-dimensional (kernel space only); "
                f"{selection!r} needs features. Kernel-space selections: "
                f"{', '.join(KERNEL_METHODS)}."
            )
        if mode not in (None, "p", "tp"):
            raise InvalidParameterError(
                f"mode must be 'p', 'tp' or None; got {mode!r}."
            )
        if weight_mode not in WEIGHT_MODES:
            raise InvalidParameterError(
                f"weight_mode must be one of {', '.join(WEIGHT_MODES)}; got "
                f"{weight_mode!r}."
            )
        self.selection = selection
        self.mode = mode
        self.base_kernel = base_kernel
        if transforms is None:
            transforms = [] if base_kernel == "nngp" else [["rp", 512]]
        self.transforms = [tuple(t) for t in _check_transforms(transforms)]
        if base_kernel == "nngp":
            bad = [t[0] for t in self.transforms if t[0] not in ("scale", "train")]
            if bad:
                raise InvalidParameterError(
                    f"The nngp kernel has no explicit features, so {bad[0]!r} "
                    "cannot transform it; in kernel space only scale and train "
                    "work."
                )
        self.sigma = sigma
        self.overselection = overselection
        self.weight_mode = weight_mode
        self.last_layers = last_layers
        if aux_estimator not in AUX_ESTIMATORS:
            raise InvalidParameterError(
                f"Unknown aux_estimator {aux_estimator!r}; valid: "
                f"{', '.join(AUX_ESTIMATORS)}."
            )
        if ratio not in RATIO_METHODS:
            raise InvalidParameterError(
                f"Unknown ratio {ratio!r}; valid: {', '.join(RATIO_METHODS)}."
            )
        if auxiliary is not None:
            auxiliary = check_auxiliary(auxiliary)
        self.auxiliary = auxiliary
        self.aux_estimator = aux_estimator
        self.ratio = ratio
        self.aux_ridge = aux_ridge
        self.aux_signed = aux_signed
        self.aux_floor = aux_floor
        self.train_residual = train_residual
        self.nngp_layers = nngp_layers
        self.nngp_sigma_w = nngp_sigma_w
        self.nngp_sigma_b = nngp_sigma_b

    def set_auxiliary(self, auxiliary: tuple[Any, Any]) -> None:
        """Give the ``grad-aux`` kernel its auxiliary data ``(X_aux, y_aux)``.

        For harnesses that learn the data after building the strategy; the
        same checks as the ``auxiliary=`` argument apply.
        """
        self.auxiliary = check_auxiliary(auxiliary)

    def prepare_simulation(self, context: SimulationContext) -> None:
        """Take the auxiliary data of the ``grad-aux`` kernel (AGBAL).

        Reads ``auxiliary`` when ``base_kernel="grad-aux"`` and no
        ``auxiliary=`` was given; every other configuration needs nothing.

        Raises:
            InvalidParameterError: ``grad-aux`` without auxiliary data.
        """
        c = check_context(context)
        if self.base_kernel != "grad-aux" or self.auxiliary is not None:
            return
        if c.auxiliary is None:
            name = c.dataset.split(":")[0] if c.dataset else "NAME"
            data = f"dataset {c.dataset}" if c.dataset else "the simulation"
            raise InvalidParameterError(
                f"{self.name or 'bmdal'} (AGBAL, base kernel grad-aux) needs "
                f"auxiliary data; {data} has none (use {name}:aux, or the "
                "shifted task)."
            )
        self.set_auxiliary(c.auxiliary)

    def check_model(self, model: Any) -> None:
        """Need a regressor; ``ll``/``grad``/``grad-aux`` also gradient features."""
        super().check_model(model)
        if self.base_kernel in ("ll", "grad", "grad-aux"):
            require(model, GradientFeatures, self.name or "bmdal")

    # ----------------------------------------------------------- features
    def features(
        self,
        model: Any,
        X_pool: np.ndarray,
        X_train: np.ndarray,
        y_train: np.ndarray,
        rng: np.random.Generator,
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """Pool and training features after the base kernel and transforms.

        Raises:
            InvalidParameterError: if the kernel ends in kernel space (use
                `kernel`).
        """
        rep = self.kernel(model, X_pool, X_train, y_train, rng)
        if isinstance(rep, Gram):
            raise InvalidParameterError(
                f"{self.name or 'bmdal'}: this kernel has no explicit features "
                "(nngp or a kernel-space posterior); use kernel()."
            )
        return rep

    def kernel(
        self,
        model: Any,
        X_pool: np.ndarray,
        X_train: np.ndarray,
        y_train: np.ndarray,
        rng: np.random.Generator,
    ) -> tuple[torch.Tensor, torch.Tensor] | Gram:
        """The transformed kernel, as features or in kernel space.

        Returns:
            ``(pool, train)`` features, or a `Gram`
            over the pool points followed by the training points.
        """
        return self._kernel(model, X_pool, X_train, y_train, rng, compact=False)

    def _kernel(
        self,
        model: Any,
        X_pool: np.ndarray,
        X_train: np.ndarray,
        y_train: np.ndarray,
        rng: np.random.Generator,
        *,
        compact: bool,
    ) -> tuple[torch.Tensor, torch.Tensor] | Gram:
        """`kernel`, optionally with compact posterior features.

        ``compact``: a last ``train`` step stores its features in the dtype the
        selection computes in (`feature_dtype`: float32 for maxdet with σ > 0 and
        the float32 methods) instead of float64.
        """
        steps = list(self.transforms)
        n_pool, n_train = X_pool.shape[0], X_train.shape[0]
        if self.base_kernel == "nngp":
            layers, sigma_w = _nngp_architecture(model)
            both = np.concatenate([X_pool, X_train])
            rep: tuple[torch.Tensor, torch.Tensor] | Gram = NNGPGram(
                both,
                n_layers=self.nngp_layers or layers,
                sigma_w=self.nngp_sigma_w or sigma_w,
                sigma_b=self.nngp_sigma_b,
            )
        else:
            rep = self._base_features(model, X_pool, X_train, y_train, rng, steps)
        for i, step in enumerate(steps):
            store = torch.float64
            if compact and i == len(steps) - 1 and isinstance(rep, tuple):
                store = self._store_dtype(n_pool, n_train, rep[0].shape[1])
            rep = self._apply(step, rep, y_train, n_pool, n_train, rng, store)
        return rep

    def _store_dtype(self, n_pool: int, n_train: int, width: int) -> torch.dtype:
        """float32 where `select_bmdal` computes in it or keeps it, else float64."""
        mode = self.mode or DEFAULT_MODE.get(self.selection, "p")
        rows = n_pool + (n_train if mode == "tp" else 0)
        return feature_dtype(self.selection, self.sigma, (rows, width), torch.float32)

    def _base_features(
        self,
        model: Any,
        X_pool: np.ndarray,
        X_train: np.ndarray,
        y_train: np.ndarray,
        rng: np.random.Generator,
        steps: list[tuple[Any, ...]],
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """Base-kernel features; pops a leading ``rp`` folded into ``grad``."""
        aux = self.auxiliary if self.base_kernel == "grad-aux" else None
        if self.base_kernel == "grad-aux" and aux is None:
            raise InvalidParameterError(
                "The grad-aux base kernel (AGBAL) needs auxiliary data: pass "
                "auxiliary=(X_aux, y_aux) to the strategy."
            )
        parts = [X_pool, X_train] + ([aux[0].astype(X_pool.dtype)] if aux else [])
        both = np.concatenate(parts)
        n_pool, n_train = X_pool.shape[0], X_train.shape[0]
        if self.base_kernel == "linear":
            f = torch.as_tensor(both.reshape(both.shape[0], -1), dtype=torch.float64)
        else:
            sketch_dim = None
            if steps and steps[0][0] == "rp":
                sketch_dim = int(steps.pop(0)[1])
            last = self.last_layers if self.base_kernel == "ll" else None
            if sketch_dim is None and self.base_kernel in ("grad", "grad-aux"):
                n_params = sum(
                    p.numel()
                    for m in getattr(model, "members_", [])
                    for p in m.parameters()
                )
                if n_params * both.shape[0] > MAX_EXACT_ENTRIES:
                    raise InvalidParameterError(
                        f"The exact grad kernel needs {n_params} features for "
                        f"{both.shape[0]} points; start the transforms with "
                        "['rp', 512] to sketch it."
                    )
            base_seed = child_seed(rng)
            # sketched features stay float32 (the transforms work in float64)
            f = torch.as_tensor(
                _grad_rows(
                    model, both, last_layers=last, sketch_dim=sketch_dim, seed=base_seed
                )
            )
        if aux is not None:
            # its own stream, so the transforms draw what they draw without AGBAL
            scale = phi2_scale(
                self,
                model,
                f,
                both[: n_pool + n_train],
                y_train,
                n_pool,
                n_train,
                aux,
                np.random.default_rng([base_seed, 1]),
            )
            f = f[: n_pool + n_train] * torch.as_tensor(scale, device=f.device)[:, None]
        return f[:n_pool], f[n_pool : n_pool + n_train]

    def _apply(
        self,
        step: tuple[Any, ...],
        rep: tuple[torch.Tensor, torch.Tensor] | Gram,
        y_train: np.ndarray,
        n_pool: int,
        n_train: int,
        rng: np.random.Generator,
        store: torch.dtype = torch.float64,
    ) -> tuple[torch.Tensor, torch.Tensor] | Gram:
        name, args = step[0], list(step[1:])
        train_idx = np.arange(n_pool, n_pool + n_train)

        def factor(i: int) -> float | None:
            return None if args[i] in (None, "auto") else float(args[i])

        if isinstance(rep, tuple) and name == "train":
            width = rep[0].shape[1]
            if width > max(1024, 3 * n_train):  # bmdal_reg's kernel-space rule
                rep = FeatureGram(torch.cat(rep))
        if isinstance(rep, Gram):
            if name == "scale":
                return scale_gram(rep, train_idx, factor(0) if args else None)
            if name == "train":
                if len(args) > 1:
                    rep = scale_gram(rep, train_idx, factor(1))
                return PosteriorGram(rep, train_idx, float(args[0]))
            raise InvalidParameterError(
                f"Transform {name!r} needs explicit features, but the kernel is "
                "in kernel space here (the nngp base kernel, or a train posterior "
                "on features wider than max(1024, 3 n_train)); put rp before "
                "train, or use a base kernel with features."
            )
        pair = rep

        def auto(i: int) -> tuple[torch.Tensor, torch.Tensor]:
            # a trailing "auto"/None argument scales to unit training variance first
            if len(args) > i:
                return tf.scale(*pair, factor(i))
            return pair

        def pre(i: int) -> float:
            # the same scaling, folded into the transform (no scaled copy)
            if len(args) > i:
                given = factor(i)
                return tf.scale_factor(pair[1]) if given is None else given
            return 1.0

        if name == "rp":
            return tf.sketch(*pair, int(args[0]), rng=child_seed(rng))
        if name == "scale":
            return auto(0) if args else tf.scale(*pair)
        if name == "train":
            return tf.posterior(*pair, float(args[0]), prescale=pre(1), dtype=store)
        if name == "acs-grad":
            return tf.acs_grad(*auto(1), float(args[0]), rng=child_seed(rng))
        if name == "acs-rf":
            return tf.acs_rf(
                *pair,
                int(args[0]),
                float(args[1]),
                rng=child_seed(rng),
                prescale=pre(2),
            )
        return tf.acs_rf_hyper(
            *pair, y_train, int(args[0]), rng=child_seed(rng), prescale=pre(1)
        )

    def _select(
        self,
        model: Any,
        X: np.ndarray,
        state: LabelState,
        batch_size: int,
        rng: np.random.Generator,
    ) -> Selection:
        pool = state.unlabeled_indices()
        train = state.labeled_indices()
        y_train = np.asarray(state.labels(train), dtype=np.float64)
        rep = self._kernel(model, X[pool], X[train], y_train, rng, compact=True)
        if isinstance(rep, Gram):
            if self.selection not in KERNEL_METHODS:
                raise InvalidParameterError(
                    f"{self.name or 'bmdal'}: the kernel ended in kernel space (a "
                    "train posterior on features wider than max(1024, 3 n_train)), "
                    f"where {self.selection!r} cannot run; put ['rp', 512] first."
                )
            res = select_bmdal_kernel(
                rep,
                len(pool),
                batch_size,
                method=self.selection,
                mode=self.mode,
                sigma=self.sigma,
                weight_mode=self.weight_mode,
                rng=rng,
            )
        else:
            res = select_bmdal(
                *rep,
                batch_size,
                method=self.selection,
                mode=self.mode,
                sigma=self.sigma,
                overselection=self.overselection,
                weight_mode=self.weight_mode,
                rng=rng,
            )
        if res.message is not None:
            warnings.warn(
                f"{self.name or 'bmdal'} ({self.selection}): {res.message}.",
                NumericsWarning,
                stacklevel=2,
            )
        return Selection(
            indices=pool[res.indices],
            info={"random_fill": res.n_random, "failure": res.message},
        )


_ROWS = 1 << 16  # a multiple of the models' prediction batches


def features_on_device(model: Any) -> bool:
    """Whether BMDAL builds ``model``'s gradient features on its (non-CPU) device."""
    return isinstance(model, GradientFeatureTensors) and model.device.type != "cpu"


def _grad_rows(
    model: Any,
    X: np.ndarray,
    *,
    last_layers: int | None,
    sketch_dim: int | None,
    seed: int,
) -> np.ndarray | torch.Tensor:
    """``model.grad_features(X, ...)`` over row chunks, into one array.

    Every chunk uses the same integer seed, hence the same sketch, so the rows
    equal one call's; the model's pool-sized temporaries never exist at once.
    A `GradientFeatureTensors` model on a GPU fills one tensor on its
    device through ``grad_feature_tensor`` (the same numbers, no host copy).
    """
    kw: dict[str, Any] = {
        "last_layers": last_layers,
        "sketch_dim": sketch_dim,
        "rng": seed,
    }
    if features_on_device(model):
        dev: torch.Tensor | None = None
        for s in range(0, X.shape[0], _ROWS):
            ft = model.grad_feature_tensor(X[s : s + _ROWS], **kw)
            if dev is None:
                dev = ft.new_empty((X.shape[0], ft.shape[1]))
            dev[s : s + len(ft)] = ft
        assert dev is not None
        return dev
    out = np.empty((0, 0), dtype=np.float32)
    for s in range(0, X.shape[0], _ROWS):
        f = np.asarray(model.grad_features(X[s : s + _ROWS], **kw))
        if s == 0:
            out = np.empty((X.shape[0], f.shape[1]), dtype=f.dtype)
        out[s : s + len(f)] = f
    return out


def _nngp_architecture(model: Any) -> tuple[int, float]:
    """``(n_layers, σ_w)`` of the model's network, ``(3, 0.25)`` without one.

    ``σ_w`` is read from the first NTK-parametrised layer (``in_factor =
    σ_w / sqrt(d_in)``); plain linear layers count as layers but give no gain.
    """
    members = getattr(model, "members_", None) or []
    if not members:
        return 3, 0.25
    net = members[0]
    layers = [
        m
        for m in net.modules()
        if isinstance(m, torch.nn.Linear) or hasattr(m, "in_factor")
    ]
    sigma_w = 0.25
    for m in layers:
        if hasattr(m, "in_factor") and hasattr(m, "weight"):
            sigma_w = float(m.in_factor) * float(m.weight.shape[1]) ** 0.5
            break
    return (len(layers) or 3), sigma_w


class _Preset(BMDAL):
    """A named BMDAL configuration (base class of the presets below).

    Takes every `BMDAL` argument; ``selection``, ``mode``,
    ``base_kernel`` and ``transforms`` left at ``None`` take the preset's
    values (its class attribute ``preset``), so ``LCMD(sigma=0.1)`` is LCMD-TP
    on ``grad -> rp(512)`` with ``σ = 0.1``. The attributes hold the values in
    use, so ``type(s)(**s.get_params())`` rebuilds ``s`` exactly.
    """

    #: ``(selection, mode, base_kernel, transforms)`` of the preset.
    preset: ClassVar[tuple[str, str | None, str, tuple[tuple[Any, ...], ...]]]

    def __init__(
        self,
        *,
        selection: str | None = None,
        mode: str | None = None,
        base_kernel: str | None = None,
        transforms: Sequence[Any] | None = None,
        sigma: float = SIGMA,
        overselection: float = 1.0,
        weight_mode: str = "sq-dist",
        last_layers: int = 1,
        auxiliary: tuple[Any, Any] | None = None,
        aux_estimator: str = "krr",
        ratio: str = "ulsif",
        aux_ridge: float = 0.1,
        aux_signed: bool = False,
        aux_floor: float = 0.01,
        train_residual: bool = False,
        nngp_layers: int | None = None,
        nngp_sigma_w: float | None = None,
        nngp_sigma_b: float = 0.0,
    ):
        p_selection, p_mode, p_kernel, p_transforms = self.preset
        super().__init__(
            selection=p_selection if selection is None else selection,
            mode=p_mode if mode is None else mode,
            base_kernel=p_kernel if base_kernel is None else base_kernel,
            transforms=[list(t) for t in p_transforms]
            if transforms is None
            else transforms,
            sigma=sigma,
            overselection=overselection,
            weight_mode=weight_mode,
            last_layers=last_layers,
            auxiliary=auxiliary,
            aux_estimator=aux_estimator,
            ratio=ratio,
            aux_ridge=aux_ridge,
            aux_signed=aux_signed,
            aux_floor=aux_floor,
            train_residual=train_residual,
            nngp_layers=nngp_layers,
            nngp_sigma_w=nngp_sigma_w,
            nngp_sigma_b=nngp_sigma_b,
        )


_RP = ("rp", 512)
_POST = ("train", SIGMA, "auto")
_ACS_RF = ("acs-rf", 512, SIGMA, "auto")
_ACS_HYPER = ("acs-rf-hyper", 512, "auto")
register("bmdal")(BMDAL)


@register("lcmd")
class LCMD(_Preset):
    """LCMD-TP on grad -> rp(512) (recommended)."""

    preset = ("lcmd", "tp", "grad", (_RP,))


@register("maxdet")
class MAXDET(_Preset):
    """MaxDet-P on grad -> rp(512) -> train(σ)."""

    preset = ("maxdet", "p", "grad", (_RP, _POST))


@register("maxdiag")
class MAXDIAG(_Preset):
    """MaxDiag on grad -> rp(512) -> acs-rf(512, σ)."""

    preset = ("maxdiag", None, "grad", (_RP, _ACS_RF))


@register("fw")
class FW(_Preset):
    """Frank-Wolfe-P on grad -> rp(512) -> acs-rf-hyper(512)."""

    preset = ("fw", "p", "grad", (_RP, _ACS_HYPER))


@register("maxdist")
class MAXDIST(_Preset):
    """MaxDist-P on grad -> rp(512) -> train(σ)."""

    preset = ("maxdist", "p", "grad", (_RP, _POST))


@register("kmeanspp")
class KMEANSPP(_Preset):
    """k-means++-P on grad -> rp(512) -> acs-rf(512, σ)."""

    preset = ("kmeanspp", "p", "grad", (_RP, _ACS_RF))


@register("bmdal-bait")
class BMDAL_BAIT(_Preset):
    """BAIT-F (BMDAL's regression BAIT) on grad -> rp(512) -> train(σ)."""

    preset = ("bait", "p", "grad", (_RP, _POST))


# AGBAL counterparts: the same configurations on the grad-aux kernel
# (they need ``auxiliary=``; see `labelwise.strategies.auxiliary_kernel`).


@register("agbal-lcmd")
class AGBAL_LCMD(_Preset):
    """AGBAL counterpart of lcmd: base kernel grad-aux (needs auxiliary=)."""

    preset = ("lcmd", "tp", "grad-aux", (_RP,))


@register("agbal-maxdet")
class AGBAL_MAXDET(_Preset):
    """AGBAL counterpart of maxdet: base kernel grad-aux (needs auxiliary=)."""

    preset = ("maxdet", "p", "grad-aux", (_RP, _POST))


@register("agbal-maxdiag")
class AGBAL_MAXDIAG(_Preset):
    """AGBAL counterpart of maxdiag: base kernel grad-aux (needs auxiliary=)."""

    preset = ("maxdiag", None, "grad-aux", (_RP, _ACS_RF))


@register("agbal-fw")
class AGBAL_FW(_Preset):
    """AGBAL counterpart of fw: base kernel grad-aux (needs auxiliary=)."""

    preset = ("fw", "p", "grad-aux", (_RP, _ACS_HYPER))


@register("agbal-maxdist")
class AGBAL_MAXDIST(_Preset):
    """AGBAL counterpart of maxdist: base kernel grad-aux (needs auxiliary=)."""

    preset = ("maxdist", "p", "grad-aux", (_RP, _POST))


@register("agbal-kmeanspp")
class AGBAL_KMEANSPP(_Preset):
    """AGBAL counterpart of kmeanspp: base kernel grad-aux (needs auxiliary=)."""

    preset = ("kmeanspp", "p", "grad-aux", (_RP, _ACS_RF))


@register("agbal-bait")
class AGBAL_BAIT(_Preset):
    """AGBAL counterpart of bmdal-bait: base kernel grad-aux (needs auxiliary=)."""

    preset = ("bait", "p", "grad-aux", (_RP, _POST))
