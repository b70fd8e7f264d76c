"""Expected error reduction: one-step look-ahead over the unknown label.

For every candidate ``x`` and every class ``y`` the model is refit on the
labeled set plus ``(x, y)``; the refit model's risk ``R_y(x)`` is measured on an
evaluation set, and the candidate's expected risk is the average over ``y``
under the *current* model, ``R̄(x) = Σ_y p_L(y|x) R_y(x)``. The batch is the
``B`` candidates of lowest ``R̄(x)`` (myopic top-B), reported as the expected
reduction ``R(θ_L) - R̄(x)``.

Two evaluation sets, as in the two ways of estimating the risk:

* the **unlabeled pool**, each point scored through the refit model's own
  posterior (Roy & McCallum 2001): expected 0/1 loss
  ``1 - max_y p_θ(y|e)`` or expected log loss, the predictive entropy
  ``-Σ_y p_θ(y|e) log p_θ(y|e)``, averaged over the pool;
* a **labeled reward set** (the same held-out set the learned strategy is
  trained on): 0/1 loss ``1 - accuracy`` or log loss ``-log p_θ(y_e|e)`` of the
  refit model against the true labels. Then ``R(θ_L) - R̄(x)`` is the
  expectation over ``y ~ p_L(y|x)`` of what the myopic oracle measures with the
  true label (Bakker et al. 2023).

With per-class evaluation weights ``w`` (the imbalanced-weighted setting) both
become weighted: on the reward set ``1 -`` weighted accuracy and the
``w_{y_e}``-weighted mean log loss, on the pool the cost-weighted expectations
``Σ_e Σ_i w_i p(i|e) [i ≠ ŷ(e)] / Σ_e Σ_i w_i p(i|e)`` (``ŷ = argmax p``, the
prediction the benchmark scores) and ``Σ_e Σ_i w_i p(i|e)(-log p(i|e)) /
Σ_e Σ_i w_i p(i|e)``; unit weights give Roy & McCallum's averages.

References:
    Roy, N., McCallum, A. Toward Optimal Active Learning through Sampling
    Estimation of Error Reduction (ICML 2001).
    Bakker, T., van Hoof, H., Welling, M. Learning Objective-Specific Active
    Learning Strategies with Attentive Neural Processes (ECML-PKDD 2023).
"""

from __future__ import annotations

import copy
from typing import Any

import numpy as np

from labelwise._validation import check_class_weights, check_positive, child_seed
from labelwise.exceptions import InvalidParameterError
from labelwise.kernels import fit_logistic_plus_one
from labelwise.pool import LabelState
from labelwise.strategies._registry import register
from labelwise.strategies.base import (
    Selection,
    SimulationContext,
    check_context,
    top_k,
)
from labelwise.strategies.lookahead import (
    RewardSetStrategy,
    batched_C,
    batched_or_refit,
    check_batched,
    check_n_jobs,
    context_weights,
    require_labeled,
)

LOSSES = ("zero-one", "log")
EVALUATE_ON = ("auto", "reward", "pool")
POSTERIORS = ("model", "unweighted")
_TINY = 1e-300  # floor of refit probabilities before the log


def risks_from_log_proba(
    log_p: np.ndarray,
    y_eval: np.ndarray | None,
    *,
    loss: str,
    weights: np.ndarray | None = None,
) -> np.ndarray:
    """Risk of each of ``m`` models from their log-probabilities on an eval set.

    Args:
        log_p: Log-probabilities ``(m, n_eval, n_classes)``.
        y_eval: True classes ``(n_eval,)`` (reward set) or ``None`` (pool: each
            model scored by its own posterior, Roy & McCallum's estimate).
        loss: ``"zero-one"`` or ``"log"``.
        weights: Per-class weights ``(n_classes,)`` or ``None`` (ones).

    Returns:
        ``(m,)`` risks (see the module docstring for the formulas).
    """
    _, n, k = log_p.shape
    w = np.ones(k) if weights is None else np.asarray(weights, dtype=np.float64)
    if y_eval is not None:
        wy = w[y_eval]
        if loss == "zero-one":
            miss = np.argmax(log_p, axis=2) != y_eval[None, :]
            out: np.ndarray = (miss @ wy) / wy.sum()
            return out
        nll = -log_p[:, np.arange(n), y_eval]
        out = (nll @ wy) / wy.sum()
        return out
    p = np.exp(log_p)
    pw = p * w  # (m, n, k): w_i p(i|e)
    den = pw.sum(axis=(1, 2))
    if loss == "zero-one":
        top = np.take_along_axis(pw, np.argmax(log_p, axis=2)[..., None], axis=2)
        out = (den - top.sum(axis=(1, 2))) / den
        return out
    out = -(pw * log_p).sum(axis=(1, 2)) / den
    return out


def unweighted_posterior(proba: np.ndarray, class_weights: np.ndarray) -> np.ndarray:
    """A class-weighted model's posterior mapped back to the data's class balance.

    A fit whose class-``y`` training points weigh ``w_y`` estimates
    ``p_w(y|x) ∝ w_y p(y|x)``; this returns ``p_w(y|x) / w_y``, renormalised
    per row.

    Args:
        proba: Posterior ``(n, n_classes)`` of the weighted model.
        class_weights: Positive per-class training weights ``(n_classes,)``.

    Returns:
        ``(n, n_classes)`` rows summing to 1.

    Raises:
        InvalidParameterError: The weights are not positive or do not match
            the number of classes.
    """
    p = np.asarray(proba, dtype=np.float64)
    w = check_class_weights(class_weights, p.shape[1])
    assert w is not None  # for mypy: not None in, not None out
    q = p / w
    out: np.ndarray = q / q.sum(axis=1, keepdims=True)
    return out


def _binary_log_proba(z: np.ndarray) -> np.ndarray:
    """Log-probabilities ``(m, n, 2)`` of logits ``(m, n)`` (no rounding to 0/1)."""
    return np.stack([-np.logaddexp(0.0, z), -np.logaddexp(0.0, -z)], axis=2)


def _batched_risks(
    C: float,
    X_lab: np.ndarray,
    y_lab: np.ndarray,
    X_cand: np.ndarray,
    X_eval: np.ndarray,
    y_eval: np.ndarray | None,
    loss: str,
    weights: np.ndarray | None,
    sample_weight: np.ndarray | None,
) -> np.ndarray:
    """``(m, 2)`` risks of the binary logistic fits of labeled + (candidate, y)."""
    m = X_cand.shape[0]
    xc = np.vstack([X_cand, X_cand])
    yc = np.repeat(np.array([0, 1]), m)
    sw = None if sample_weight is None else sample_weight[y_lab]
    nw = None if sample_weight is None else sample_weight[yc]
    _, thetas = fit_logistic_plus_one(X_lab, y_lab, xc, yc, sw, nw, C=C)
    xe = X_eval.astype(np.float64)
    out = np.empty(2 * m)
    step = max(1, 2_000_000 // max(xe.shape[0], 1))  # about 64 MB of log-probabilities
    for s in range(0, 2 * m, step):
        t = thetas[s : s + step]
        z = (xe @ t[:, :-1].T + t[:, -1]).T  # (chunk, n_eval)
        out[s : s + step] = risks_from_log_proba(
            _binary_log_proba(z), y_eval, loss=loss, weights=weights
        )
    return out.reshape(2, m).T


def _refit_risks(
    model: Any,
    X_lab: np.ndarray,
    y_lab: np.ndarray,
    X_cand: np.ndarray,
    X_eval: np.ndarray,
    y_eval: np.ndarray | None,
    *,
    n_classes: int,
    loss: str,
    weights: np.ndarray | None,
    sample_weight: np.ndarray | None,
    seed: int,
    n_jobs: int,
) -> np.ndarray:
    """``(m, n_classes)`` risks from a fresh copy of ``model`` per (candidate, y)."""
    from joblib import Parallel, delayed

    pairs = [(c, y) for c in range(X_cand.shape[0]) for y in range(n_classes)]

    def one(chunk: list[tuple[int, int]]) -> list[float]:
        res = []
        for c, y in chunk:
            ys = np.append(y_lab, y)
            extra = (
                {} if sample_weight is None else {"sample_weight": sample_weight[ys]}
            )
            fit = copy.deepcopy(model)
            fit.fit(
                np.concatenate([X_lab, X_cand[c : c + 1]]), ys,
                n_classes=n_classes, rng=seed, **extra,
            )  # fmt: skip
            p = np.asarray(fit.predict_proba(X_eval), dtype=np.float64)
            log_p = np.log(np.maximum(p, _TINY))[None]
            res.append(
                float(
                    risks_from_log_proba(log_p, y_eval, loss=loss, weights=weights)[0]
                )
            )
        return res

    parts = max(1, min(len(pairs), 8 * max(n_jobs, 1)))
    chunks = [list(c) for c in np.array_split(np.arange(len(pairs)), parts) if c.size]
    out = Parallel(n_jobs=n_jobs)(delayed(one)([pairs[i] for i in c]) for c in chunks)
    return np.asarray([v for part in out for v in part]).reshape(-1, n_classes)


def lookahead_risks(
    model: Any,
    X_labeled: np.ndarray,
    y_labeled: np.ndarray,
    X_candidates: np.ndarray,
    X_eval: np.ndarray,
    y_eval: np.ndarray | None = None,
    *,
    n_classes: int,
    loss: str = "zero-one",
    weights: np.ndarray | None = None,
    sample_weight: np.ndarray | None = None,
    seed: int = 0,
    n_jobs: int = 1,
    batched: bool | None = None,
) -> np.ndarray:
    """Risk ``R_y(x)`` of the model refit on labeled + ``(x, y)``, all ``x``, ``y``.

    For a binary L2 logistic regression (labelwise's ``logreg``) whose labeled
    set holds both classes, the ``2 m`` fits are solved together
    (`fit_logistic_plus_one`, to a gradient of 1e-8:
    scikit-learn's model up to its tolerance); otherwise, or with
    ``batched=False``, each is a fresh copy of ``model`` fit with ``seed``,
    parallel with joblib (``n_jobs``).

    Args:
        model: The model (copied, never changed).
        X_labeled: Labeled inputs ``(n, d)``.
        y_labeled: Their classes ``(n,)``.
        X_candidates: Candidate inputs ``(m, d)``.
        X_eval: Evaluation inputs ``(n_eval, d)``.
        y_eval: Their true classes, or ``None`` to score each refit model by its
            own posterior (the unlabeled-pool estimate).
        n_classes: Number of classes ``K``.
        loss: ``"zero-one"`` or ``"log"``.
        weights: Per-class evaluation weights ``(K,)`` or ``None``.
        sample_weight: Per-class training weights ``(K,)`` or ``None``.
        seed: Seed of every refit.
        n_jobs: joblib workers of the one-by-one refits.
        batched: ``None``: batched fits where possible; ``True``: require them;
            ``False``: refit copies of ``model``.

    Returns:
        ``(m, K)`` risks; row ``c``, column ``y`` is labeled + ``(x_c, y)``.
    """
    if loss not in LOSSES:
        raise InvalidParameterError(f"loss must be one of {LOSSES}; got {loss!r}.")
    y_lab = np.asarray(y_labeled, dtype=np.int64)
    ye = None if y_eval is None else np.asarray(y_eval, dtype=np.int64)
    w = None if weights is None else np.asarray(weights, dtype=np.float64)
    sw = None if sample_weight is None else np.asarray(sample_weight, dtype=np.float64)
    C = batched_C(model, n_classes, y_lab, batched)
    flat = [
        np.asarray(a).reshape(a.shape[0], -1) for a in (X_labeled, X_candidates, X_eval)
    ]

    def fast() -> np.ndarray:
        assert C is not None
        xl, xc, xe = (a.astype(np.float64) for a in flat)
        return _batched_risks(C, xl, y_lab, xc, xe, ye, loss, w, sw)

    def slow() -> np.ndarray:
        return _refit_risks(
            model, X_labeled, y_lab, X_candidates, X_eval, ye, n_classes=n_classes,
            loss=loss, weights=w, sample_weight=sw, seed=seed, n_jobs=n_jobs,
        )  # fmt: skip

    return slow() if C is None else batched_or_refit(batched, fast, slow)


@register("eer")
class ExpectedErrorReduction(RewardSetStrategy):
    """Expected error reduction (Roy & McCallum, ICML 2001): lowest expected risk.

    Every candidate ``x`` is scored by ``R(θ_L) - Σ_y p_L(y|x) R(θ_{L+(x,y)})``:
    the model is refit once per candidate and class (`lookahead_risks`),
    ``p_L`` is the current (passed, fitted) model's posterior and ``R`` the risk
    of the module docstring; the ``batch_size`` largest reductions are taken
    (myopic top-B, as Roy & McCallum pick one point and the learning-AL
    oracle its top B).

    Where it follows which variant of Roy & McCallum:

    * ``evaluate_on="pool"`` is their estimate: the risk on the unlabeled
      pool under the refit model's own posterior, with their two losses,
      ``loss="zero-one"`` (``1 - max_y p``) and ``loss="log"`` (the entropy).
      The candidate stays in the evaluation set, as in their pool sums.
    * ``evaluate_on="reward"`` replaces the self-estimate by the true labels
      of a held-out labeled set (`prepare_simulation` or
      `set_reward`; the learning-AL datasets
      carry a 100-point reward set and the benchmark harness passes it). This
      is the expectation over ``y ~ p_L(y|x)`` of the myopic oracle's value,
      i.e. what the learned ``np`` strategy is trained to predict.
    * ``"auto"`` (default) takes the reward set when one was given and the
      pool otherwise.
    * Their candidate sampling (they score a random sample of the pool) is
      ``max_candidates``; their naive-Bayes incremental update becomes exact
      refits: the batched plus-one logistic fits for ``logreg``, else a fresh
      copy of the model per fit. For a neural network that is a full retrain
      per (candidate, class) pair: correct but rarely affordable.

    Cost per step: ``K · m`` refits (``m`` candidates, ``K`` classes) and
    ``K · m · n_eval`` predictions. With ``logreg`` on a 3 000-point pool and
    the 100-point reward set that is about a second; on the pool itself use
    ``max_eval``.

    Args:
        loss: ``"zero-one"`` (default) or ``"log"``.
        evaluate_on: ``"auto"`` (default), ``"reward"`` or ``"pool"``.
        max_candidates: Score at most this many unlabeled points, drawn
            uniformly without replacement from the step's generator (``None``,
            default: all). At least ``batch_size`` are drawn.
        max_eval: With pool evaluation, score on at most this many unlabeled
            points, drawn once per step from the step's generator, the same for
            every candidate (``None``, default: the whole pool).
        n_jobs: joblib workers of the one-by-one refits. Defaults to 1.
        batched: ``None`` (default): batched logistic fits where possible;
            ``False``: refit copies of the model; ``True``: require the
            batched fits.
        posterior: The distribution of the unknown label the risks are
            averaged over. ``"model"`` (default, Roy & McCallum's): the fitted
            model's ``p_L(y|x)``. ``"unweighted"``: with per-class training
            weights ``w`` (``class_weights``, the imbalanced-weighted setting)
            ``p_L(y|x) / w_y``, renormalised — a ``w``-weighted fit estimates
            ``∝ w_y p(y|x)``, so this maps it back to the data's class
            balance (ours, not in the paper). Only then is the expected
            first-order change of the refit zero, as it is without weights;
            with the model's own ``p_L`` the rare label's up-weighted refit
            dominates the expectation, and with ``loss="log"`` its sign is
            the opposite of the likely label's (measured by
            ``benchmarks/eer_class_weights.py``: Spearman −0.35 against the
            true label's value on imbalanced-weighted waveform, +0.61 with
            ``"unweighted"``). Without class weights both are the same.
    """

    def __init__(
        self,
        *,
        loss: str = "zero-one",
        evaluate_on: str = "auto",
        max_candidates: int | None = None,
        max_eval: int | None = None,
        n_jobs: int = 1,
        batched: bool | None = None,
        posterior: str = "model",
    ):
        if loss not in LOSSES:
            raise InvalidParameterError(f"loss must be one of {LOSSES}; got {loss!r}.")
        if evaluate_on not in EVALUATE_ON:
            raise InvalidParameterError(
                f"evaluate_on must be one of {EVALUATE_ON}; got {evaluate_on!r}."
            )
        for name, value in (("max_candidates", max_candidates), ("max_eval", max_eval)):
            if value is not None:
                check_positive(value, name, integer=True)
        if posterior not in POSTERIORS:
            raise InvalidParameterError(
                f"posterior must be one of {POSTERIORS}; got {posterior!r}."
            )
        self.loss = loss
        self.posterior = posterior
        self.evaluate_on = evaluate_on
        self.max_candidates = max_candidates
        self.max_eval = max_eval
        self.n_jobs = check_n_jobs(n_jobs)
        self.batched = check_batched(batched)
        self._reward: dict[str, Any] | None = None

    def prepare_simulation(self, context: SimulationContext) -> None:
        """Take the labeled reward set, when the simulation has one.

        Reads ``X_reward``, ``y_reward``, ``eval_weights`` and
        ``class_weights``; without a reward set nothing changes (the default
        ``evaluate_on="auto"`` then evaluates on the pool). ``class_weights``
        (per class) weight the refits' training points as the benchmark weights
        the model's (``imbalanced-weighted``); they and ``eval_weights`` also
        apply to pool evaluation.

        Raises:
            InvalidParameterError: The reward set is empty or has a different
                number of labels and inputs, or there is none and
                ``evaluate_on="reward"``.
        """
        c = check_context(context)
        if c.X_reward is None and c.y_reward is None:
            if self.evaluate_on == "reward":
                data = f"dataset {c.dataset}" if c.dataset else "the simulation"
                raise InvalidParameterError(
                    f"eer with evaluate_on='reward' needs a labeled reward set; {data} "
                    "has none (use NAME:balanced|imbalanced|imbalanced-weighted, or "
                    "evaluate_on='pool')."
                )
            return
        X_r = np.asarray(c.X_reward)
        y_r = np.asarray(c.y_reward)  # checked against the classes in select
        if (
            X_r.ndim == 0
            or y_r.ndim == 0
            or X_r.shape[0] != y_r.shape[0]
            or not len(y_r)
        ):
            raise InvalidParameterError(
                f"The reward set needs as many labels as inputs (at least one); got "
                f"{X_r.shape[0] if X_r.ndim else 0} inputs and "
                f"{y_r.shape[0] if y_r.ndim else 0} labels."
            )
        self._reward = {
            "X": X_r,
            "y": y_r,
            **context_weights(c),
        }

    def _select(
        self,
        model: Any,
        X: np.ndarray,
        state: LabelState,
        batch_size: int,
        rng: np.random.Generator,
    ) -> Selection:
        require_labeled(state, "eer")
        k = state.n_classes
        r = {} if self._reward is None else self.checked_reward(self._reward, X, k)
        on_reward = self.evaluate_on == "reward" or (
            self.evaluate_on == "auto" and self._reward is not None
        )
        if on_reward and self._reward is None:
            raise InvalidParameterError(
                "eer with evaluate_on='reward' needs a labeled reward set: call "
                "set_reward(X_reward, y_reward), use a dataset with one "
                "(NAME:balanced|imbalanced|imbalanced-weighted), or evaluate_on='pool'."
            )
        pool = state.unlabeled_indices()
        cand = pool
        if self.max_candidates is not None and pool.size > self.max_candidates:
            size = max(self.max_candidates, batch_size)
            cand = np.sort(rng.choice(pool, size=size, replace=False))
        if on_reward:
            X_eval, y_eval = r["X"], r["y"]
        else:
            rows = pool
            if self.max_eval is not None and pool.size > self.max_eval:
                rows = np.sort(rng.choice(pool, size=self.max_eval, replace=False))
            X_eval, y_eval = X[rows], None
        labeled = state.labeled_indices()
        risks = lookahead_risks(
            model, X[labeled], np.asarray(state.labels(labeled), dtype=np.int64),
            X[cand], X_eval, y_eval, n_classes=k, loss=self.loss,
            weights=r.get("weights"), sample_weight=r.get("class_weights"),
            seed=child_seed(rng), n_jobs=self.n_jobs, batched=self.batched,
        )  # fmt: skip
        p_cand = np.asarray(model.predict_proba(X[cand]), dtype=np.float64)
        cw = r.get("class_weights")
        if self.posterior == "unweighted" and cw is not None:
            p_cand = unweighted_posterior(p_cand, cw)
        p_eval = np.asarray(model.predict_proba(X_eval), dtype=np.float64)
        now = risks_from_log_proba(
            np.log(np.maximum(p_eval, _TINY))[None], y_eval, loss=self.loss,
            weights=r.get("weights"),
        )[0]  # fmt: skip
        reduction = now - (p_cand * risks).sum(axis=1)
        best = top_k(reduction, batch_size)
        return Selection(
            indices=cand[best],
            scores=reduction[best],
            info={
                "fits": int(cand.size * k),
                "evaluated_on": "reward" if on_reward else "pool",
            },
        )


__all__ = [
    "ExpectedErrorReduction",
    "lookahead_risks",
    "risks_from_log_proba",
    "unweighted_posterior",
]
