"""The learning-AL paper's hand-made baselines.

k-center greedy, the F-score heuristic, HAL and CBAL: the comparison points of
the learned strategy under class imbalance (the uncertainty baseline is
`Uncertainty`, the oracle
`Oracle`).

References:
    Bakker, T., van Hoof, H., Welling, M. Learning Objective-Specific Active
    Learning Strategies with Attentive Neural Processes (ECML-PKDD 2023).
    Kazerouni, A. et al. Active learning for skewed data sets (HAL, 2020).
    Bengar, J. Z. et al. Class-Balanced Active Learning for Image Classification
    (CBAL, WACV 2022).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from labelwise import scores
from labelwise._validation import check_positive
from labelwise.exceptions import InvalidParameterError, UnsupportedModelError
from labelwise.kernels import kcenter_greedy
from labelwise.pool import LabelState
from labelwise.strategies._registry import register
from labelwise.strategies.base import Selection, Strategy, flat_rows, top_k


@register("kcenter")
class KCenter(Strategy):
    """Greedy k-center on the raw input features (labeled points are centers).

    Needs no model capability beyond predictions (the paper's ``KCGreedy`` on
    UCI data); `Coreset` uses the model's embedding.
    """

    requires = ()

    def __init__(self) -> None:
        pass

    def _select(
        self,
        model: Any,
        X: np.ndarray,
        state: LabelState,
        batch_size: int,
        rng: np.random.Generator,
    ) -> Selection:
        idx, radii = kcenter_greedy(
            flat_rows(X), batch_size, labeled=state.labeled_indices(), rng=rng,
            return_radii=True,
        )  # fmt: skip
        return Selection(indices=idx, scores=radii)


@register("fscore")
class FScore(Strategy):
    """Smallest ``|decision function|`` of a margin classifier (SVM).

    Multiclass: the smallest absolute one-vs-rest margin. Needs a model with
    ``decision_function`` (the ``svm`` model).
    """

    def __init__(self) -> None:
        pass

    def check_model(self, model: Any) -> None:
        """Also need ``decision_function``."""
        super().check_model(model)
        if not callable(getattr(model, "decision_function", None)):
            raise UnsupportedModelError(
                f"fscore needs the capability decision_function (a margin "
                f"classifier such as the 'svm' model); {type(model).__name__} "
                "has none."
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
        f = np.abs(np.asarray(model.decision_function(X[pool]), dtype=np.float64))
        if f.ndim == 2:
            f = f.min(1)
        best = top_k(-f, batch_size)
        return Selection(indices=pool[best], scores=-f[best])


class _HAL(Strategy):
    """HAL: per slot, exploit (margin) with probability ``p``, else explore.

    ``follow="paper"`` (default) implements the HAL paper's intent: exploit the
    *smallest* margin (most uncertain) and, for Gaussian exploration, the point
    *least* similar to the labeled set. ``follow="code"`` reproduces the
    learning-AL reference code, which takes the *largest* margin and the *most*
    similar point (both look sign-inverted). Points already chosen in the batch
    are skipped (the code may pick duplicates).

    Args:
        p_exploit: Exploitation probability. Defaults to 0.5.
        delta: Gaussian exploration width ``δ``. Defaults to 10.
        follow: ``"paper"`` or ``"code"``.
    """

    explore = "uniform"

    def __init__(
        self, *, p_exploit: float = 0.5, delta: float = 10.0, follow: str = "paper"
    ):
        if not 0.0 <= p_exploit <= 1.0:
            raise InvalidParameterError(
                f"p_exploit must be in [0, 1]; got {p_exploit!r}."
            )
        check_positive(delta, "delta")
        if follow not in ("paper", "code"):
            raise InvalidParameterError(
                f"follow must be 'paper' or 'code'; got {follow!r}."
            )
        self.p_exploit = p_exploit
        self.delta = delta
        self.follow = follow

    def _select(
        self,
        model: Any,
        X: np.ndarray,
        state: LabelState,
        batch_size: int,
        rng: np.random.Generator,
    ) -> Selection:
        pool = state.unlabeled_indices()
        margin = scores.margin(model.predict_proba(X[pool]))  # higher = smaller gap
        exploit = margin if self.follow == "paper" else -margin
        if self.explore == "uniform":
            explore = rng.random(pool.size)
        else:
            x = flat_rows(X).astype(np.float64)
            lab, xp = x[state.labeled_indices()], x[pool]
            # squared distances by the norms trick: no (pool, labeled, d) array
            d2 = (
                (xp * xp).sum(1)[:, None] + (lab * lab).sum(1)[None, :] - 2 * xp @ lab.T
            )
            sim = np.exp(-np.maximum(d2, 0.0) / self.delta).sum(1)
            explore = -sim if self.follow == "paper" else sim
        taken = np.zeros(pool.size, dtype=bool)
        picks = []
        for _ in range(batch_size):
            s = exploit if rng.random() < self.p_exploit else explore
            s = np.where(taken, -np.inf, s)
            j = int(np.argmax(s))
            taken[j] = True
            picks.append(j)
        return Selection(indices=pool[np.asarray(picks)])


@register("hal-uniform")
class HALUniform(_HAL):
    """HAL with uniform random exploration (see `_HAL`)."""

    explore = "uniform"


@register("hal-gaussian")
class HALGaussian(_HAL):
    """HAL with Gaussian exploration ``Σ_a exp(-‖x - a‖² / δ)`` (see `_HAL`)."""

    explore = "gaussian"


@register("cbal")
class CBAL(Strategy):
    """Class-balanced AL: per slot ``argmin -H(p) + λ Σ_c |Ω_c - p_c|``.

    ``Ω_c = max(0, n_L / C - n_{L,c})`` from the labeled class counts; after
    each pick ``n_L`` grows by one and the pick leaves the candidates, as in the
    reference code (the class counts are not updated with predicted labels).

    Args:
        lam: ``λ``. Defaults to 1.
    """

    def __init__(self, *, lam: float = 1.0):
        if not lam >= 0:
            raise InvalidParameterError(f"lam must be >= 0; got {lam!r}.")
        self.lam = lam

    def _select(
        self,
        model: Any,
        X: np.ndarray,
        state: LabelState,
        batch_size: int,
        rng: np.random.Generator,
    ) -> Selection:
        pool = state.unlabeled_indices()
        p = np.asarray(model.predict_proba(X[pool]), dtype=np.float64)
        h = -(p * np.log(p + 1e-8)).sum(1)
        k = p.shape[1]
        counts = np.bincount(
            np.asarray(state.labels(state.labeled_indices()), dtype=np.int64),
            minlength=k,
        ).astype(np.float64)
        n_l = float(counts.sum())
        taken = np.zeros(pool.size, dtype=bool)
        picks = []
        for _ in range(batch_size):
            omega = np.maximum(0.0, n_l / k - counts)
            obj = -h + self.lam * np.abs(omega[None, :] - p).sum(1)
            obj[taken] = np.inf
            j = int(np.argmin(obj))
            taken[j] = True
            picks.append(j)
            n_l += 1
        return Selection(indices=pool[np.asarray(picks)])


__all__ = ["CBAL", "FScore", "HALGaussian", "HALUniform", "KCenter"]
