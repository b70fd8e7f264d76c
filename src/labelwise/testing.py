"""Test helpers: a mock model, a pool factory and the strategy conformance suite.

``check_strategy(strategy)`` asserts the contract every registered strategy must
meet (``check_strategy_params`` is its part on parameters, the contract of
scikit-learn's ``check_estimator``); the project's tests run it over the whole
registry, and authors of new strategies can run it on theirs. Each failure says
what to change.
"""

from __future__ import annotations

import dataclasses
import inspect
import pickle
import warnings
from typing import Any

import numpy as np
import torch

from labelwise._device import resolve_device
from labelwise.exceptions import BatchSizeWarning, UnsupportedModelError
from labelwise.models.base import TensorOutput
from labelwise.models.sequence import pad_sequences
from labelwise.pool import LabelState
from labelwise.strategies.base import SimulationContext, Strategy


class MockModel:
    """Deterministic model with every capability, computed from the inputs.

    Probabilities are a softmax of a fixed random linear map of ``X``; the
    embedding is a fixed random ReLU feature map; MC samples and members perturb
    the logits with seeded noise.

    Args:
        n_classes: Number of classes.
        n_embedding: Embedding width.
        n_members: Ensemble size reported by ``predict_proba_members``.
        seed: Seed of the fixed maps.
    """

    def __init__(
        self,
        n_classes: int = 3,
        n_embedding: int = 8,
        n_members: int = 4,
        seed: int = 0,
    ):
        self.n_classes = n_classes
        self.n_embedding = n_embedding
        self.n_members = n_members
        self.seed = seed
        self._w: np.ndarray | None = None

    def _maps(self, n_features: int) -> tuple[np.ndarray, np.ndarray]:
        rng = np.random.default_rng(self.seed)
        w1 = rng.normal(size=(n_features, self.n_embedding))
        w2 = rng.normal(size=(self.n_embedding, self.n_classes))
        return w1, w2

    def fit(self, X: Any, y: Any, *, n_classes: int, rng: Any = None) -> MockModel:
        """Record nothing but the number of classes (the maps are fixed)."""
        self.n_classes = n_classes
        return self

    def embed(self, X: Any) -> np.ndarray:
        """ReLU features of shape ``(n, n_embedding)``."""
        x = np.asarray(X, dtype=np.float64).reshape(len(X), -1)
        w1, _ = self._maps(x.shape[1])
        out: np.ndarray = np.maximum(x @ w1, 0.0).astype(np.float32)
        return out

    def _logits(self, X: Any) -> np.ndarray:
        x = np.asarray(X, dtype=np.float64).reshape(len(X), -1)
        _, w2 = self._maps(x.shape[1])
        out: np.ndarray = np.asarray(self.embed(X), dtype=np.float64) @ w2 / 4.0
        return out

    def decision_function(self, X: Any) -> np.ndarray:
        """The logits ``(n, n_classes)`` (a margin for ``fscore``)."""
        return self._logits(X)

    @staticmethod
    def _softmax(z: np.ndarray) -> np.ndarray:
        z = z - z.max(-1, keepdims=True)
        e = np.exp(z)
        return np.asarray(e / e.sum(-1, keepdims=True))

    def predict_proba(self, X: Any) -> np.ndarray:
        """Softmax probabilities ``(n, n_classes)``."""
        return self._softmax(self._logits(X))

    def predict_proba_samples(
        self, X: Any, n_samples: int, *, rng: Any = None
    ) -> np.ndarray:
        """Noisy probabilities ``(n_samples, n, n_classes)``."""
        gen = np.random.default_rng(rng)
        z = self._logits(X)
        return self._softmax(z[None] + gen.normal(size=(n_samples, *z.shape)))

    def ema_outputs(self, X: Any) -> tuple[np.ndarray, ...]:
        """Main and "EMA" outputs; the EMA is a fixed perturbation of the main map."""
        h = np.asarray(self.embed(X), dtype=np.float64)
        gen = np.random.default_rng(self.seed + 2)
        h_ema = h * (1.0 + 0.3 * gen.normal(size=h.shape[1]))
        _, w2 = self._maps(np.asarray(X).reshape(len(X), -1).shape[1])
        p_main = self._softmax(h @ w2 / 4.0)
        p_ema = self._softmax(h_ema @ w2 / 4.0)
        return h.astype(np.float32), h_ema.astype(np.float32), p_main, p_ema

    def predict_loss(self, X: Any) -> np.ndarray:
        """A stand-in predicted loss ``(n,)``: the entropy of ``predict_proba``."""
        p = self.predict_proba(X)
        return np.asarray(-(p * np.log(np.clip(p, 1e-12, None))).sum(1))

    def predict_proba_members(self, X: Any) -> np.ndarray:
        """Member probabilities ``(n_members, n, n_classes)`` (fixed noise)."""
        gen = np.random.default_rng(self.seed + 1)
        z = self._logits(X)
        return self._softmax(z[None] + gen.normal(size=(self.n_members, *z.shape)))


class MockRegressor:
    """Deterministic regressor with gradient features, computed from the inputs.

    Predictions are a fixed random linear map of fixed ReLU features; the
    "gradient" features are those ReLU features with a bias entry (sketched by a
    seeded Gaussian map when asked).
    """

    def __init__(self, n_embedding: int = 8, seed: int = 0):
        self.n_embedding = n_embedding
        self.seed = seed

    def _features(self, X: Any) -> np.ndarray:
        x = np.asarray(X, dtype=np.float64).reshape(len(X), -1)
        w1 = np.random.default_rng(self.seed).normal(
            size=(x.shape[1], self.n_embedding)
        )
        h = np.maximum(x @ w1, 0.0)
        return np.concatenate([h, np.ones((len(h), 1))], axis=1)

    def fit(self, X: Any, y: Any, *, rng: Any = None) -> MockRegressor:
        """Nothing to learn (the maps are fixed)."""
        return self

    def predict(self, X: Any) -> np.ndarray:
        """Predictions ``(n,)``."""
        f = self._features(X)
        w = np.random.default_rng(self.seed + 1).normal(size=f.shape[1])
        return np.asarray(f @ w)

    def grad_features(
        self,
        X: Any,
        *,
        last_layers: int | None = None,
        sketch_dim: int | None = None,
        rng: Any = None,
    ) -> np.ndarray:
        """Features ``(n, n_embedding + 1)`` or ``(n, sketch_dim)``."""
        f = self._features(X)
        if sketch_dim is None:
            return f
        p = np.random.default_rng(rng).normal(size=(f.shape[1], sketch_dim))
        return np.asarray(f @ p / np.sqrt(sketch_dim))


class ProbaOnlyModel:
    """A model with ``fit`` and ``predict_proba`` only (no embedding, no samples)."""

    def __init__(self, n_classes: int = 3):
        self._inner = MockModel(n_classes=n_classes)

    def fit(self, X: Any, y: Any, *, n_classes: int, rng: Any = None) -> ProbaOnlyModel:
        """Fit the inner mock."""
        self._inner.fit(X, y, n_classes=n_classes)
        return self

    def predict_proba(self, X: Any) -> np.ndarray:
        """Probabilities of the inner mock."""
        return self._inner.predict_proba(X)


def make_pool(
    n_samples: int = 60,
    n_features: int = 5,
    n_classes: int = 3,
    n_labeled: int = 10,
    seed: int = 0,
    *,
    regression: bool = False,
) -> tuple[np.ndarray, LabelState]:
    """A Gaussian-blob pool with ``n_labeled`` random items labeled in round 0.

    With ``regression=True`` the labels are real: the first feature plus noise.
    """
    rng = np.random.default_rng(seed)
    centers = rng.normal(scale=3.0, size=(n_classes, n_features))
    y = rng.integers(n_classes, size=n_samples)
    X = (centers[y] + rng.normal(size=(n_samples, n_features))).astype(np.float32)
    classes = None if regression else [f"c{i}" for i in range(n_classes)]
    state = LabelState(n_samples, classes=classes)
    target = X[:, 0] + rng.normal(scale=0.1, size=n_samples) if regression else y
    if n_labeled:
        idx = rng.choice(n_samples, size=n_labeled, replace=False)
        state.teach(idx, target[idx], round=0)
    return X, state


def make_sequences(
    n_samples: int = 60,
    *,
    length: tuple[int, int] = (8, 16),
    n_channels: int = 2,
    n_classes: int = 3,
    seed: int = 0,
) -> tuple[np.ndarray, np.ndarray]:
    """Noisy sine waves whose frequency is the class, NaN-padded to the longest.

    Item ``i`` of class ``y_i`` has a length drawn uniformly from
    ``length[0]..length[1]`` and, in channel ``c`` at step ``t``, the value
    ``sin(π (y_i + 1) t / 4 + φ_i + c) + ε`` with a random phase ``φ_i`` and
    noise ``ε ~ N(0, 0.1²)``.

    Returns:
        ``(X, y)``: ``X`` float32 ``(n_samples, T_max, n_channels)`` padded by
        `labelwise.models.pad_sequences` (no padding when the lengths are
        equal), ``y`` int64 class indices ``(n_samples,)``.
    """
    rng = np.random.default_rng(seed)
    y = rng.integers(n_classes, size=n_samples)
    lengths = rng.integers(length[0], length[1] + 1, size=n_samples)
    phase = rng.uniform(0, 2 * np.pi, size=n_samples)
    seqs = []
    for i in range(n_samples):
        t = np.arange(lengths[i])[:, None]
        wave = np.sin(np.pi * (y[i] + 1) * t / 4 + phase[i] + np.arange(n_channels))
        seqs.append(wave + 0.1 * rng.normal(size=wave.shape))
    return pad_sequences(seqs), y.astype(np.int64)


def _truth(X: np.ndarray, state: LabelState) -> np.ndarray:
    """Fixed "true" labels of a mock pool: any will do for the contract."""
    if state.classes is None:  # regression: the first feature
        return np.asarray(X.reshape(len(X), -1)[:, 0], dtype=np.float64)
    out: np.ndarray = np.argmax(X.reshape(len(X), -1)[:, : state.n_classes], axis=1)
    return out


def check_strategy(strategy: Strategy) -> None:
    """Assert the strategy contract (raises ``AssertionError`` on a violation).

    Checked: the parameter contract of `check_strategy_params`; indices
    are unique, unlabeled, in range and ``int64``; the batch has
    ``min(batch_size, n_unlabeled)`` items with a ``BatchSizeWarning`` when
    shrunk; the same seed gives the same batch; a pickled and unpickled copy
    has the same parameters and selects the same batch with the same seed; a
    model lacking a required capability raises ``UnsupportedModelError`` (when
    the strategy requires any). Each failure message says what to fix.
    Simulation-only data (the truth, a reward set, auxiliary data) reaches the
    strategy through `prepare_simulation`
    alone.
    """
    from labelwise.models.base import Regressor

    check_strategy_params(strategy)
    regression = Regressor in strategy.requires
    model: Any = MockRegressor() if regression else MockModel()
    X, state = make_pool(regression=regression)
    # the truth, a reward set and auxiliary data (a shifted copy of the pool's
    # first rows): every strategy takes what it needs through the one hook
    truth = _truth(X, state)
    aux_rng = np.random.default_rng(5)
    x_aux = X[:30] + aux_rng.normal(0.5, 1.0, size=X[:30].shape).astype(X.dtype)
    context = SimulationContext(
        y_pool=truth,
        X_eval=X[:20],
        y_eval=truth[:20],
        X_reward=X[:20],
        y_reward=truth[:20],
        auxiliary=(x_aux, x_aux[:, 0]),
    )
    strategy.prepare_simulation(context)
    sel = strategy.select(model, X, state, 7, rng=3)
    idx = sel.indices
    assert idx.dtype == np.int64, idx.dtype
    assert idx.shape == (7,), idx.shape
    assert np.unique(idx).size == 7, idx
    assert ((idx >= 0) & (idx < state.n_samples)).all(), idx
    assert not state.labeled_mask[idx].any(), "selected a labeled item"
    again = strategy.select(model, X, state, 7, rng=3)
    assert np.array_equal(idx, again.indices), "same seed gave another batch"
    assert "seconds" in sel.info
    _check_pickle(strategy, model, X, state, idx)
    # shrinking: only 4 unlabeled left
    X2, state2 = make_pool(n_samples=14, n_labeled=10, regression=regression)
    truth2 = _truth(X2, state2)
    strategy.prepare_simulation(
        dataclasses.replace(context, y_pool=truth2, X_eval=X2[:5], y_eval=truth2[:5])
    )
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        small = strategy.select(model, X2, state2, 9, rng=0)
    assert small.indices.size == 4, small.indices
    assert any(issubclass(w.category, BatchSizeWarning) for w in caught)
    if strategy.requires:
        try:
            strategy.select(object(), X, state, 3, rng=0)
        except UnsupportedModelError:
            pass
        else:
            raise AssertionError("a model without capabilities was accepted")


def check_strategy_params(strategy: Strategy) -> None:
    """Assert the parameter contract scikit-learn's ``check_estimator`` asks for.

    Checked: ``__init__`` takes keyword-only arguments only (no ``*args``,
    ``**kwargs`` or positional ones); ``get_params()`` has exactly those keys;
    ``type(s)(**s.get_params())`` has equal parameters; and, for every
    argument whose default is a bool, number or tuple, strategies built with
    other values (those ``__init__`` accepts among a few tried) report that
    value in ``get_params()`` and survive the same round trip. Values compare
    as data (lists equal tuples, arrays compare element-wise).

    Raises:
        AssertionError: Naming the class, the argument and what to change.
    """
    cls = type(strategy)
    names = _init_names(cls)
    params = _params(strategy)
    if set(params) != set(names):
        raise AssertionError(
            f"{cls.__name__}.get_params() has keys {sorted(params)} but __init__ "
            f"takes {sorted(names)}; get_params must return exactly the "
            "keyword-only arguments of __init__ (do not override it)."
        )
    _check_clone(strategy, params, "the strategy under test")
    sig = inspect.signature(cls.__init__)
    for name in names:
        default = sig.parameters[name].default
        for value in _other_values(default):
            try:
                other = cls(**{**params, name: value})
            except Exception:  # not a valid value for this argument: try another
                continue
            stored = _params(other)[name]
            if not _same(stored, value):
                raise AssertionError(
                    f"{cls.__name__}(..., {name}={value!r}).get_params()[{name!r}] "
                    f"is {stored!r}: __init__ must store each argument unchanged "
                    f"as self.{name} (validate it, but keep the value passed), or "
                    "cloning and pickling lose the setting."
                )
            _check_clone(other, _params(other), f"{name}={value!r}")


def _init_names(cls: type[Strategy]) -> list[str]:
    names = []
    for name, p in inspect.signature(cls.__init__).parameters.items():
        if name == "self":
            continue
        if p.kind != inspect.Parameter.KEYWORD_ONLY:
            raise AssertionError(
                f"{cls.__name__}.__init__ takes {p} ({p.kind.description}); every "
                "hyperparameter must be a named keyword-only argument with a "
                "default (def __init__(self, *, a=1, b='x')), or get_params, "
                "repr, cloning and pickling cannot see it. Classes made with "
                "type() or a **kwargs wrapper fail here: define a module-level "
                "class with an explicit signature instead."
            )
        names.append(name)
    return names


def _params(strategy: Strategy) -> dict[str, Any]:
    try:
        return strategy.get_params()
    except AttributeError as exc:
        raise AssertionError(
            f"{type(strategy).__name__}.get_params() failed ({exc}): __init__ must "
            "store every keyword argument as an attribute of the same name."
        ) from None


def _check_clone(strategy: Strategy, params: dict[str, Any], what: str) -> None:
    cls = type(strategy)
    try:
        clone = cls(**params)
    except Exception as exc:
        raise AssertionError(
            f"{cls.__name__}(**s.get_params()) raised {type(exc).__name__}: {exc} "
            f"(for {what}); get_params must return values __init__ accepts."
        ) from None
    _assert_same_params(cls.__name__, params, _params(clone), f"the clone ({what})")


def _assert_same_params(
    cls_name: str, want: dict[str, Any], got: dict[str, Any], what: str
) -> None:
    for name, value in want.items():
        if name not in got or not _same(got[name], value):
            raise AssertionError(
                f"{cls_name}: {what} has {name}={got.get(name)!r}, the original "
                f"{name}={value!r}; __init__ must store each argument unchanged so "
                "type(s)(**s.get_params()) rebuilds s."
            )


def _other_values(default: Any) -> list[Any]:
    """Candidate non-default values of an argument, judged by its default."""
    if isinstance(default, bool):
        return [not default]
    if isinstance(default, int):
        return [default + 1, default * 2, 1, 2]
    if isinstance(default, float):
        return [default * 2, default / 2, 0.5, 0.25] if default else [0.5, 0.25]
    if isinstance(default, tuple) and default:
        return [default[:-1], default + default[-1:]]
    return []


def _same(a: Any, b: Any) -> bool:
    """Equality of parameter values as data (lists equal tuples, arrays by value)."""
    if isinstance(a, np.ndarray) or isinstance(b, np.ndarray):
        return bool(np.asarray(a).shape == np.asarray(b).shape) and bool(
            np.array_equal(np.asarray(a), np.asarray(b), equal_nan=True)
        )
    if isinstance(a, list | tuple) and isinstance(b, list | tuple):
        return len(a) == len(b) and all(_same(x, y) for x, y in zip(a, b, strict=True))
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(_same(a[k], b[k]) for k in a)
    try:
        return (bool(a == b) and type(a) is type(b)) or _same_number(a, b)
    except Exception:  # values without a truth value: compare identity
        return a is b


def _same_number(a: Any, b: Any) -> bool:
    numbers = (int, float, np.integer, np.floating)
    return (
        isinstance(a, numbers)
        and isinstance(b, numbers)
        and not isinstance(a, bool)
        and not isinstance(b, bool)
        and bool(a == b)
    )


def _check_pickle(
    strategy: Strategy, model: Any, X: np.ndarray, state: LabelState, idx: np.ndarray
) -> None:
    cls = type(strategy)
    try:
        copy = pickle.loads(pickle.dumps(strategy))
    except Exception as exc:
        raise AssertionError(
            f"{cls.__name__} does not pickle ({type(exc).__name__}: {exc}); define "
            "the class at module level under its own name (not with type() or "
            "inside a function) and keep no lambdas, locks or open files in its "
            "attributes, so joblib and Ray can ship it."
        ) from None
    if type(copy) is not cls:
        raise AssertionError(
            f"unpickling {cls.__qualname__} gave a {type(copy).__qualname__}."
        )
    _assert_same_params(
        cls.__name__, _params(strategy), _params(copy), "the unpickled copy"
    )
    got = copy.select(model, X, state, len(idx), rng=3).indices
    if not np.array_equal(got, idx):
        raise AssertionError(
            f"the unpickled {cls.__name__} selected {got.tolist()}, the original "
            f"{idx.tolist()} with the same seed; everything select uses must be "
            "in the pickled state."
        )


class TensorMockModel(MockModel):
    """`MockModel` that also hands its outputs over as tensors on ``device``.

    It implements `TensorOutputs`: the tensors are
    the NumPy methods' values as float32 on ``device``, so a strategy's tensor path
    can be compared with its NumPy path on the same numbers.

    Args:
        device: Where the tensors live (``"cpu"``, ``"cuda"``, ...). Defaults to
            ``"cpu"``.
        **kwargs: `MockModel`'s arguments.
    """

    def __init__(self, device: Any = "cpu", **kwargs: Any):
        super().__init__(**kwargs)
        self._device = device

    @property
    def device(self) -> torch.device:
        """The device of the tensors."""
        return resolve_device(self._device)

    def tensor_outputs(
        self,
        X: Any,
        what: TensorOutput,
        *,
        n_samples: int | None = None,
        rng: Any = None,
    ) -> torch.Tensor:
        """The output ``what`` as a float32 tensor on `device`."""
        if what == "proba":
            out = self.predict_proba(X)
        elif what == "embed":
            out = self.embed(X)
        elif what == "proba_samples":
            out = self.predict_proba_samples(X, int(n_samples or 1), rng=rng)
        elif what == "proba_members":
            out = self.predict_proba_members(X)
        else:
            raise ValueError(f"unknown output {what!r}")
        return torch.as_tensor(out, dtype=torch.float32, device=self.device)
