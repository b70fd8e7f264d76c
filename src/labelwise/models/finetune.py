"""Fine-tuning on confident pool samples (LHD paper, Algorithm 2; code ``_finetune``).

After a round's training, the model is trained further on the labeled set plus the
unlabeled items it is confident about (maximum probability above ``threshold``),
with pseudo-labels, strong augmentation and a larger learning rate. It is
skipped when that set is smaller than ``min_size``.

Paper/code differences (Khosla et al. 2023, Algorithm 2, against the authors'
code) and what labelwise does:

* Pseudo-labels: the paper takes them from the EMA network, the code from the
  main network. labelwise follows the code (the main network's prediction, the
  same network whose confidence selects the items).
* Labeled items: the code replaces their labels by the model's predictions too;
  labelwise keeps the collected labels (they are what a person gave).
* Learning rate: ``lr_factor`` (100) times the model's learning rate, as in both.
  The code's base rate is 1e-4, so its fine-tuning rate is 1e-2; labelwise's
  default base rate is 1e-3, so set ``lr`` or ``lr_factor`` to match.
* Stopping: as the code, when the training accuracy reaches the model's
  ``stop_at_train_accuracy`` (and the EMA's reaches ``ema_stop_accuracy`` when
  an EMA is tracked), or after ``max_epochs`` (500 in the code).
* For LHD the code fine-tunes at the moment the networks are captured and takes
  Δh before and Δl after fine-tuning. labelwise fine-tunes after training, for
  every strategy alike (the code's path for the other strategies); LHD then takes
  Δh from the captured networks and Δl from the fine-tuned main and EMA networks.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from labelwise.exceptions import InvalidParameterError


@dataclass(frozen=True)
class FineTune:
    """Settings of fine-tuning on confident pool samples.

    Attributes:
        threshold: Minimum maximum-probability of a pool item to join (γ = 0.8).
        min_size: Skip fine-tuning when the set (labeled + confident) is smaller
            (1000 in the code).
        lr_factor: Fine-tuning learning rate = ``lr_factor`` x the model's rate.
        lr: Absolute learning rate; overrides ``lr_factor`` when set.
        max_epochs: Epoch limit (500 in the code).
        augment: Strong augmentation: ``True`` picks
            `default_augment` (RandAugment-style +
            Cutout for images, jitter + masking for tabular data); ``False``
            trains on the inputs as they are.
    """

    threshold: float = 0.8
    min_size: int = 1000
    lr_factor: float = 100.0
    lr: float | None = None
    max_epochs: int = 500
    augment: bool = True

    def __post_init__(self) -> None:
        if not 0 <= self.threshold < 1:
            raise InvalidParameterError(
                f"FineTune.threshold must be in [0, 1); got {self.threshold!r}."
            )
        for name in ("min_size", "max_epochs"):
            v = getattr(self, name)
            if (
                isinstance(v, bool)
                or not isinstance(v, int)
                or v < (name == "max_epochs")
            ):
                raise InvalidParameterError(
                    f"FineTune.{name} must be an int >= {int(name == 'max_epochs')}; "
                    f"got {v!r}."
                )
        if not self.lr_factor > 0 or (self.lr is not None and not self.lr > 0):
            raise InvalidParameterError(
                f"FineTune learning rate must be positive; got lr_factor="
                f"{self.lr_factor!r}, lr={self.lr!r}."
            )


@dataclass(frozen=True)
class FineTuneResult:
    """What one fine-tuning did.

    Attributes:
        size: Items in the fine-tuning set (labeled + confident pool items).
        n_pseudo: Confident pool items (pseudo-labeled) among them.
        epochs: Epochs trained (0 when skipped).
        skipped: Whether the set was below ``min_size``.
    """

    size: int
    n_pseudo: int
    epochs: int
    skipped: bool


def confident_items(
    proba: np.ndarray, threshold: float
) -> tuple[np.ndarray, np.ndarray]:
    """Rows whose largest probability exceeds ``threshold``, with their argmax.

    Args:
        proba: Probabilities ``(n, n_classes)``.
        threshold: Strict lower bound on the maximum probability.

    Returns:
        ``(rows, pseudo_labels)``, both of shape ``(m,)``.

    Examples:
        >>> confident_items(np.array([[0.9, 0.1], [0.6, 0.4]]), 0.8)
        (array([0]), array([0]))
    """
    p = np.asarray(proba)
    rows = np.flatnonzero(p.max(axis=1) > threshold)
    return rows, p[rows].argmax(axis=1)
