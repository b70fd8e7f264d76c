"""Sequential GCN strategies: UncertainGCN and CoreGCN.

Reference:
    Caramalau, R., Bhattarai, B. & Kim, T.-K. Sequential Graph Convolutional Network
    for Active Learning (CVPR 2021).
"""

from __future__ import annotations

from typing import Any, Literal

import numpy as np
import torch
from torch.nn import functional as F

from labelwise._validation import check_positive, child_seed
from labelwise.exceptions import InvalidParameterError
from labelwise.kernels import kcenter_greedy
from labelwise.models.base import Embedder
from labelwise.models.selection_networks import GCN, Normalisation, SimilarityGraph
from labelwise.pool import LabelState
from labelwise.strategies._auxiliary import (
    candidate_subset,
    check_device,
    check_subset,
    embeddings,
    loss_trace,
    seeded_torch,
    strategy_device,
)
from labelwise.strategies._registry import register
from labelwise.strategies.base import Selection, Strategy, top_k


def gcn_loss(logit: torch.Tensor, is_labeled: torch.Tensor, lam: float) -> torch.Tensor:
    """``-mean_L log s - lam * mean_U log(1 - s)`` with ``s = sigmoid(logit)``.

    Caramalau et al. (2021), Eq. 4 (the code's ``BCEAdjLoss``), written with
    ``logsigmoid`` so that a saturated sigmoid stays finite. Empty sides count 0.

    Args:
        logit: Node logits ``(N,)``.
        is_labeled: Boolean mask ``(N,)``.
        lam: Weight λ of the unlabeled term (1.2 in the paper's code).
    """
    zero = logit.sum() * 0.0
    lab = -F.logsigmoid(logit[is_labeled]).mean() if is_labeled.any() else zero
    unl = -F.logsigmoid(-logit[~is_labeled]).mean() if (~is_labeled).any() else zero
    return lab + lam * unl


class _SequentialGCN(Strategy):
    """Shared part: build the graph, train the GCN, return scores and features.

    Nodes are a seeded subset of the unlabeled pool (``subset``, M = 10 000 in the
    paper) followed by every labeled item; node features are the task model's
    embeddings (``embed``, eval mode), L2-normalised; the adjacency is the
    cosine similarity with the code's normalisation ``(S - I) diag(1/c) + I``
    (``adjacency="caramalau"``; ``"row"`` is the paper's ``D⁻¹(S - I) + I``), used
    through products without forming the ``N x N`` matrix (see
    `SimilarityGraph`). A fresh
    two-layer GCN (hidden 128, dropout 0.3) is trained to output 1 on labeled and
    0 on unlabeled nodes with `gcn_loss` (λ = 1.2), 200 full-batch Adam steps
    at lr 1e-3 with weight decay 5e-4 (coupled L2). The code's unused third layer is
    not built. ``info["gcn_loss"]`` is the loss trace (up to 20 chunk means).

    Args:
        subset: Unlabeled nodes (a smaller subset grows to the batch size);
            ``None`` = the whole pool. Defaults to 10 000.
        hidden: GCN hidden width. Defaults to 128.
        dropout: Dropout after the first layer. Defaults to 0.3.
        lam: Weight of the unlabeled term. Defaults to 1.2.
        steps: Full-batch training steps. Defaults to 200.
        lr: Adam learning rate. Defaults to 1e-3.
        weight_decay: Adam weight decay. Defaults to 5e-4.
        adjacency: ``"caramalau"`` (code) or ``"row"`` (paper).
        device: ``None`` = the model's device (a ``TensorOutputs``) else the CPU.
    """

    requires = (Embedder,)

    def __init__(
        self,
        *,
        subset: int | None = 10_000,
        hidden: int = 128,
        dropout: float = 0.3,
        lam: float = 1.2,
        steps: int = 200,
        lr: float = 1e-3,
        weight_decay: float = 5e-4,
        adjacency: Literal["caramalau", "row"] = "caramalau",
        device: Any = None,
    ):
        check_subset(subset)
        check_positive(hidden, "hidden", integer=True)
        check_positive(steps, "steps", integer=True)
        check_positive(lr, "lr")
        check_positive(lam, "lam")
        if isinstance(dropout, bool) or not 0 <= dropout < 1:
            raise InvalidParameterError(f"dropout must be in [0, 1); got {dropout!r}.")
        if isinstance(weight_decay, bool) or not weight_decay >= 0:
            raise InvalidParameterError(
                f"weight_decay must be a number >= 0; got {weight_decay!r}."
            )
        if adjacency not in ("caramalau", "row"):
            raise InvalidParameterError(
                f"adjacency must be 'caramalau' or 'row'; got {adjacency!r}."
            )
        check_device(device)
        self.subset = subset
        self.hidden = hidden
        self.dropout = dropout
        self.lam = lam
        self.steps = steps
        self.lr = lr
        self.weight_decay = weight_decay
        self.adjacency = adjacency
        self.device = device

    def _gcn_outputs(
        self,
        model: Any,
        X: np.ndarray,
        state: LabelState,
        batch_size: int,
        rng: np.random.Generator,
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray, dict[str, Any]]:
        """``(nodes (N,), s (N,), features (N, h + 1), info)``; labeled nodes last."""
        cand = candidate_subset(state.unlabeled_indices(), self.subset, rng, batch_size)
        nodes = np.concatenate([cand, state.labeled_indices()])
        dev = strategy_device(model, self.device)
        graph = SimilarityGraph(embeddings(model, X[nodes], dev), self._norm())
        is_lab = torch.zeros(nodes.size, dtype=torch.bool, device=dev)
        is_lab[cand.size :] = True
        with seeded_torch(child_seed(rng), dev):
            gcn = GCN(graph.v.shape[1], self.hidden, self.dropout).to(dev)
            opt = torch.optim.Adam(
                gcn.parameters(), lr=self.lr, weight_decay=self.weight_decay
            )
            losses = []
            gcn.train()
            for _ in range(self.steps):
                logit, _ = gcn(graph.v, graph)
                loss = gcn_loss(logit, is_lab, self.lam)
                opt.zero_grad(set_to_none=True)
                loss.backward()  # type: ignore[no-untyped-call]
                opt.step()
                losses.append(float(loss.detach()))
            gcn.eval()
            with torch.no_grad():
                logit, feats = gcn(graph.v, graph)
        info = {"gcn_loss": loss_trace(losses), "n_candidates": int(cand.size)}
        s = torch.sigmoid(logit).double().cpu().numpy()
        return nodes, s, feats.float().cpu().numpy(), info

    def _norm(self) -> Normalisation:
        return "row" if self.adjacency == "row" else "caramalau"


@register("uncertain-gcn")
class UncertainGCN(_SequentialGCN):
    """UncertainGCN (Caramalau et al., CVPR 2021): GCN confidence near a margin.

    After training the GCN as described below, labels the ``batch_size``
    unlabeled nodes whose "labeled" confidence ``s`` is closest to ``s_margin``
    (code: sort by ``|s - s_margin|``, 0.1 in the code and the learning-AL study;
    whether the paper's Eq. 5 is an argmin or argmax the code settles as argmin).
    Scores of the picks are ``-|s - s_margin|``.

    Both GCN strategies: nodes are a seeded subset of the unlabeled pool
    (``subset``, M = 10 000 in the paper) followed by every labeled item; node
    features are the task model's embeddings (``embed``, eval mode), L2-normalised;
    the adjacency is their cosine similarity normalised as the code does,
    ``(S - I) diag(1/c) + I`` (``adjacency="row"``: the paper's
    ``D⁻¹(S - I) + I``), applied through products, never as an ``N x N`` matrix.
    A fresh two-layer GCN (``hidden`` 128, ``dropout`` 0.3) learns labeled (1)
    versus unlabeled (0) with `gcn_loss` (``lam`` = 1.2): ``steps`` = 200
    full-batch Adam steps at ``lr`` 1e-3, ``weight_decay`` 5e-4. The code's unused
    third layer is not built. ``info["gcn_loss"]`` is the loss trace.

    Args:
        s_margin: Target confidence. Defaults to 0.1.
        subset: Unlabeled nodes (a smaller subset grows to the batch size);
            ``None`` = the whole pool. Defaults to 10 000.
        hidden: Width of the GCN's hidden layer. Defaults to 128.
        dropout: Dropout between the GCN layers. Defaults to 0.3.
        lam: Weight of the unlabeled term of `gcn_loss`. Defaults to 1.2.
        steps: Full-batch Adam steps. Defaults to 200.
        lr: Adam's learning rate. Defaults to 1e-3.
        weight_decay: Adam's weight decay. Defaults to 5e-4.
        adjacency: ``"caramalau"`` (the code's ``(S - I) diag(1/c) + I``) or
            ``"row"`` (the paper's ``D⁻¹(S - I) + I``). Defaults to ``"caramalau"``.
        device: ``None`` = the model's device (a ``TensorOutputs``) else the CPU.
    """

    def __init__(
        self,
        *,
        s_margin: float = 0.1,
        subset: int | None = 10_000,
        hidden: int = 128,
        dropout: float = 0.3,
        lam: float = 1.2,
        steps: int = 200,
        lr: float = 1e-3,
        weight_decay: float = 5e-4,
        adjacency: Literal["caramalau", "row"] = "caramalau",
        device: Any = None,
    ):
        if isinstance(s_margin, bool) or not 0 <= s_margin <= 1:
            raise InvalidParameterError(
                f"s_margin must be in [0, 1]; got {s_margin!r}."
            )
        super().__init__(
            subset=subset,
            hidden=hidden,
            dropout=dropout,
            lam=lam,
            steps=steps,
            lr=lr,
            weight_decay=weight_decay,
            adjacency=adjacency,
            device=device,
        )
        self.s_margin = s_margin

    def _select(
        self,
        model: Any,
        X: np.ndarray,
        state: LabelState,
        batch_size: int,
        rng: np.random.Generator,
    ) -> Selection:
        nodes, s, _, info = self._gcn_outputs(model, X, state, batch_size, rng)
        n_cand = info["n_candidates"]
        scores = -np.abs(s[:n_cand] - self.s_margin)
        pos = top_k(scores, batch_size, rng.random(n_cand))
        return Selection(indices=nodes[pos], scores=scores[pos], info=info)


@register("core-gcn")
class CoreGCN(_SequentialGCN):
    """CoreGCN (Caramalau et al., CVPR 2021): k-center greedy on GCN features.

    After training the GCN as `UncertainGCN` does, runs k-center greedy
    (Sener & Savarese 2018; `labelwise.kernels.kcenter_greedy`, Euclidean)
    on the eval-mode node representation ``concat[H1, logit]`` ``(N, h + 1)`` as
    the code does since its 2021-04 fix (the paper writes H1), with the labeled
    nodes as the initial centers. Scores are the covering radii at each pick.
    It takes `UncertainGCN`'s parameters (``s_margin`` is unused).
    """

    def _select(
        self,
        model: Any,
        X: np.ndarray,
        state: LabelState,
        batch_size: int,
        rng: np.random.Generator,
    ) -> Selection:
        nodes, _, feats, info = self._gcn_outputs(model, X, state, batch_size, rng)
        lab = np.arange(info["n_candidates"], nodes.size)
        pos, radii = kcenter_greedy(
            feats, batch_size, labeled=lab, rng=rng, return_radii=True
        )
        return Selection(indices=nodes[pos], scores=radii, info=info)
