"""LLOSS: label the items whose predicted loss is largest.

Reference:
    Yoo, D. & Kweon, I. S. Learning Loss for Active Learning (CVPR 2019).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from labelwise._validation import check_class_weights
from labelwise.exceptions import UnsupportedModelError
from labelwise.models.base import LossPredictor, ProbabilisticClassifier
from labelwise.models.loss_prediction import LossPredictionClassifier
from labelwise.models.pytorch import TorchClassifier
from labelwise.pool import LabelState
from labelwise.strategies._auxiliary import (
    candidate_subset,
    check_subset,
    random_fallback,
    strategy_device,
)
from labelwise.strategies._registry import register
from labelwise.strategies.base import (
    Selection,
    SimulationContext,
    Strategy,
    check_context,
    top_k,
)


@register("lloss")
class LLOSS(Strategy):
    """LLOSS (Yoo & Kweon, CVPR 2019, §3.1): top-B predicted losses.

    Draws a candidate subset of the unlabeled pool (§4.1; ``subset`` items, 10 000
    in the paper and the learning-AL study), scores each candidate with the loss
    module in eval mode and labels the ``batch_size`` largest predicted losses (ties
    broken by the strategy's generator).

    The loss module must be trained jointly with the task network, so the model
    should be a `LossPredictor` such as
    `LossPredictionClassifier`. Given a
    plain `TorchClassifier` instead (a benchmark
    grid runs every strategy on the same model), the strategy trains a
    ``LossPredictionClassifier`` with the same network on the labeled items and
    scores with it: the acquisitions are LLOSS's, while the reported learning
    curve is that of the plain task model (in the learning-AL paper's runs the
    evaluated model itself was trained jointly). The refit takes
    the model's learning rate, epochs, minibatch, weight decay, early stop and
    device, its optimiser (``"sgd"`` becomes the paper's SGD recipe of
    `LossPredictionClassifier`, anything else Adam), and ``class_weights`` as
    per-sample weights (the simulation's, `prepare_simulation`, in a benchmark's
    imbalanced-weighted setting; else the ones given here, e.g. those an
    `ActiveLearner` trains its model with); not its augmentation, momentum,
    learning-rate schedule, ensemble or EMA. The extra fit counts in
    ``select_seconds``.

    Args:
        subset: Candidate-subset size (a smaller one grows to the batch size);
            ``None`` scores the whole pool. Defaults to 10 000.
        class_weights: Per-class training weights ``(n_classes,)`` of the loss
            module's refit (positive); ``None`` (default): unweighted, unless
            a simulation gives some.

    Shapes: ``predict_loss(X[candidates])`` is ``(n_candidates,)``; the selection's
    scores are the predicted losses of the picks ``(batch_size,)``.
    """

    requires = (ProbabilisticClassifier,)

    def __init__(self, *, subset: int | None = 10_000, class_weights: Any = None):
        check_subset(subset)
        self.subset = subset
        self.class_weights = check_class_weights(class_weights)
        self._class_weights = self.class_weights

    def prepare_simulation(self, context: SimulationContext) -> None:
        """Take the simulation's ``class_weights`` for the loss module's refit.

        Reads ``class_weights`` (per-class training weights ``(n_classes,)``;
        ``None``: the strategy's own); used only when the model is a plain
        ``TorchClassifier`` that LLOSS refits with a loss module.
        """
        c = check_context(context)
        cw = c.class_weights
        self._class_weights = (
            self.class_weights if cw is None else check_class_weights(cw)
        )

    def check_model(self, model: Any) -> None:
        """Also require a loss predictor or a ``TorchClassifier`` to build one."""
        super().check_model(model)
        if not isinstance(model, LossPredictor | TorchClassifier):
            raise UnsupportedModelError(
                f"Strategy 'lloss' needs a model with capability LossPredictor (or a "
                f"TorchClassifier to train one from); got {type(model).__name__}. "
                "To fix: wrap the network in LossPredictionClassifier "
                "(labelwise.models.loss_prediction)."
            )

    def _select(
        self,
        model: Any,
        X: np.ndarray,
        state: LabelState,
        batch_size: int,
        rng: np.random.Generator,
    ) -> Selection:
        cand = candidate_subset(state.unlabeled_indices(), self.subset, rng, batch_size)
        info: dict[str, Any] = {"n_candidates": int(cand.size)}
        if isinstance(model, LossPredictor):
            scorer: Any = model
        elif state.n_labeled == 0:
            return random_fallback(
                cand, batch_size, rng, "LLOSS (training a loss module)"
            )
        else:
            scorer = _joint_refit(model, X, state, rng, self._class_weights)
            info["refit"] = "LossPredictionClassifier"
        scores = np.asarray(scorer.predict_loss(X[cand]), dtype=np.float64)
        pos = top_k(scores, batch_size, rng.random(cand.size))
        return Selection(indices=cand[pos], scores=scores[pos], info=info)


def _joint_refit(
    model: TorchClassifier,
    X: np.ndarray,
    state: LabelState,
    rng: np.random.Generator,
    class_weights: np.ndarray | None,
) -> LossPredictionClassifier:
    """A ``LossPredictionClassifier`` like ``model``, fitted on the labeled items."""
    lp = LossPredictionClassifier(
        model.network,
        lr=model.lr,
        max_epochs=model.max_epochs,
        batch_size=model.batch_size,
        weight_decay=model.weight_decay,
        stop_at_train_accuracy=model.stop_at_train_accuracy,
        optimizer="sgd" if model.optimizer == "sgd" else "adam",
        predict_batch_size=model.predict_batch_size,
        device=strategy_device(model, None),
    )
    labeled = state.labeled_indices()
    y = state.labels()
    weights = None
    if class_weights is not None:
        class_weights = check_class_weights(
            class_weights, state.n_classes, name="LLOSS's class_weights"
        )
        assert class_weights is not None  # for mypy
        weights = class_weights[np.asarray(y, dtype=np.int64)]
    return lp.fit(
        X[labeled], y, n_classes=state.n_classes, rng=rng, sample_weight=weights
    )
