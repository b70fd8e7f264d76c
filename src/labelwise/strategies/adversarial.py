"""Labeled-versus-unlabeled discriminators: VAAL and DAL.

References:
    Sinha, S., Ebrahimi, S. & Darrell, T. Variational Adversarial Active Learning
    (ICCV 2019). Gissin, D. & Shalev-Shwartz, S. Discriminative Active Learning
    (arXiv 1907.06347, 2019).
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from typing import Any, Literal

import numpy as np
import torch
from torch import nn
from torch.nn import functional as F

from labelwise._validation import check_positive, child_seed
from labelwise.exceptions import InvalidParameterError
from labelwise.models.base import Embedder
from labelwise.models.selection_networks import (
    VAE,
    dal_discriminator,
    latent_discriminator,
)
from labelwise.pool import LabelState
from labelwise.strategies._auxiliary import (
    candidate_subset,
    check_device,
    check_subset,
    embeddings,
    loss_trace,
    random_fallback,
    seeded_torch,
    strategy_device,
)
from labelwise.strategies._registry import register
from labelwise.strategies.base import Selection, Strategy, top_k


def _batches(
    n: int, size: int, gen: torch.Generator, device: torch.device
) -> Iterator[torch.Tensor]:
    """Endless shuffled minibatches of ``range(n)`` (a cycling loader)."""
    while True:
        perm = torch.randperm(n, generator=gen).to(device)
        for s in range(0, n, size):
            yield perm[s : s + size]


@register("vaal")
class VAAL(Strategy):
    """VAAL (Sinha, Ebrahimi & Darrell, ICCV 2019): label what looks unlabeled.

    A β-VAE is trained on labeled and unlabeled inputs together while a
    discriminator on the latent mean learns to tell them apart and the VAE learns to
    fool it. Per iteration (the paper's 2 : 1 ratio): two VAE steps on fresh
    labeled/unlabeled minibatches, minimising ``MSE(x̂, x) + β KL`` on both batches
    plus ``λ₂ [BCE(D(μ_L), 1) + BCE(D(μ_U), 1)]`` (Eq. 1-3, λ₁ = 1); then one
    discriminator step, ``BCE(D(μ_L), 1) + BCE(D(μ_U), 0)`` (Eq. 4), on the second
    pair. Adam at ``lr`` for both. The ``batch_size`` candidates with the lowest
    ``D(μ(x))`` (the least likely labeled) are labeled (§3.3). Task-model agnostic:
    only the inputs are used, so ``model`` only fixes the device.

    Paper vs code, and the choices made here (code unless stated):

    * D reads the mean μ, not a sample of q(z|x) as the paper writes.
    * MSE is a mean over all entries and KL a sum over batch and latent
      (``kl_reduction="sum"``); ``"mean"`` averages the KL instead.
    * Iterations: ``(n_labeled + n_candidates) * epochs // vae_batch`` as the
      Sequential-GCN and learning-AL ports (the official code counts the whole
      training set), with shuffled cycling minibatches (official code).
    * Candidates: a seeded subset of the unlabeled pool (the ports, M = 10 000);
      ``subset=None`` scores the whole pool (official).
    * Scoring in eval mode (BN running statistics), un-augmented inputs; the codes
      score with BN in train mode.
    * Latent size: 32, and 28 for ``28 x 28`` images as the ports run it.
    * Networks: see `VAE`; ``width``
      128 is the official size; smaller widths for CPU budgets.

    Args:
        subset: Candidate-subset size (a smaller one grows to the batch size);
            ``None`` = whole pool. Defaults to 10 000.
        epochs: Passes over labeled + candidates. Defaults to 100.
        vae_batch: Minibatch size per side. Defaults to 128.
        lr: Adam learning rate (VAE and D). Defaults to 5e-4.
        beta: KL weight β. Defaults to 1.
        adversary_weight: λ₂. Defaults to 1.
        vae_steps: VAE steps per D step. Defaults to 2.
        latent_dim: ``None`` = 32 (28 for 28-pixel images).
        width: VAE base width. Defaults to 128.
        disc_hidden: Discriminator width. Defaults to 512.
        kl_reduction: ``"sum"`` (code) or ``"mean"``.
        max_iterations: Cap on the iterations (``None``: none).
        device: ``None`` = the model's device (a ``TensorOutputs``) else the CPU.

    ``info`` holds ``vae_loss`` and ``disc_loss``: the loss traces averaged over up
    to 20 chunks of iterations, and ``iterations``. Scores are ``1 - D(μ(x))`` of
    the picks. The inputs should be standardised: on features of magnitude
    ~1e3 the VAE's ``exp(log σ²)`` overflows, and a non-finite VAE loss raises
    `InvalidParameterError` saying so.
    """

    requires = ()

    def __init__(
        self,
        *,
        subset: int | None = 10_000,
        epochs: int = 100,
        vae_batch: int = 128,
        lr: float = 5e-4,
        beta: float = 1.0,
        adversary_weight: float = 1.0,
        vae_steps: int = 2,
        latent_dim: int | None = None,
        width: int = 128,
        disc_hidden: int = 512,
        kl_reduction: Literal["sum", "mean"] = "sum",
        max_iterations: int | None = None,
        device: Any = None,
    ):
        check_subset(subset)
        for name, v in (
            ("epochs", epochs),
            ("vae_batch", vae_batch),
            ("vae_steps", vae_steps),
            ("width", width),
            ("disc_hidden", disc_hidden),
        ):
            check_positive(v, name, integer=True)
        check_positive(lr, "lr")
        weights: list[tuple[str, Any]] = [
            ("beta", beta),
            ("adversary_weight", adversary_weight),
        ]
        for name, w in weights:
            if isinstance(w, bool) or not isinstance(w, int | float) or w < 0:
                raise InvalidParameterError(f"{name} must be a number >= 0; got {w!r}.")
        if latent_dim is not None:
            check_positive(latent_dim, "latent_dim", integer=True)
        if max_iterations is not None:
            check_positive(max_iterations, "max_iterations", integer=True)
        if kl_reduction not in ("sum", "mean"):
            raise InvalidParameterError(
                f"kl_reduction must be 'sum' or 'mean'; got {kl_reduction!r}."
            )
        check_device(device)
        self.subset = subset
        self.epochs = epochs
        self.vae_batch = vae_batch
        self.lr = lr
        self.beta = beta
        self.adversary_weight = adversary_weight
        self.vae_steps = vae_steps
        self.latent_dim = latent_dim
        self.width = width
        self.disc_hidden = disc_hidden
        self.kl_reduction = kl_reduction
        self.max_iterations = max_iterations
        self.device = device

    def _select(
        self,
        model: Any,
        X: np.ndarray,
        state: LabelState,
        batch_size: int,
        rng: np.random.Generator,
    ) -> Selection:
        cand = candidate_subset(state.unlabeled_indices(), self.subset, rng, batch_size)
        labeled = state.labeled_indices()
        if labeled.size == 0:
            return random_fallback(cand, batch_size, rng, "VAAL")
        dev = strategy_device(model, self.device)
        seed = child_seed(rng)
        xl = torch.as_tensor(X[labeled], dtype=torch.float32, device=dev)
        xu = torch.as_tensor(X[cand], dtype=torch.float32, device=dev)
        with seeded_torch(seed, dev):
            vae, disc, info = self._train(xl, xu, seed)
            with torch.no_grad():
                vae.eval()
                disc.eval()
                p_lab = torch.cat(
                    [
                        torch.sigmoid(disc(vae.encode(c)[0])).squeeze(1)
                        for c in torch.split(xu, 1024)
                    ]
                )
        scores = (1.0 - p_lab).double().cpu().numpy()
        pos = top_k(scores, batch_size, rng.random(cand.size))
        info["n_candidates"] = int(cand.size)
        return Selection(indices=cand[pos], scores=scores[pos], info=info)

    def _vae_loss(
        self, vae: VAE, disc: nn.Module, xl: torch.Tensor, xu: torch.Tensor
    ) -> torch.Tensor:
        total = torch.zeros((), device=xl.device)
        for x in (xl, xu):
            recon, mu, logvar = vae(x)
            kl_terms = -0.5 * (1 + logvar - mu.pow(2) - logvar.exp())
            kl = kl_terms.sum() if self.kl_reduction == "sum" else kl_terms.mean()
            logit = disc(mu).squeeze(1)
            adv = F.binary_cross_entropy_with_logits(logit, torch.ones_like(logit))
            total = total + F.mse_loss(recon, x) + self.beta * kl
            total = total + self.adversary_weight * adv
        return total

    def _train(
        self, xl: torch.Tensor, xu: torch.Tensor, seed: int
    ) -> tuple[VAE, nn.Module, dict[str, Any]]:
        shape = tuple(xl.shape[1:])
        z = self.latent_dim or (28 if len(shape) == 3 and shape[1:] == (28, 28) else 32)
        vae = VAE(shape, z, self.width).to(xl.device)
        disc = latent_discriminator(z, self.disc_hidden).to(xl.device)
        opt_v = torch.optim.Adam(vae.parameters(), lr=self.lr)
        opt_d = torch.optim.Adam(disc.parameters(), lr=self.lr)
        gen = torch.Generator().manual_seed(seed)
        b = self.vae_batch
        lab = _batches(xl.shape[0], b, gen, xl.device)
        unl = _batches(xu.shape[0], b, gen, xl.device)
        iters = max(1, (xl.shape[0] + xu.shape[0]) * self.epochs // b)
        if self.max_iterations is not None:
            iters = min(iters, self.max_iterations)
        vae_losses, disc_losses = [], []
        vae.train()
        disc.train()
        for it in range(iters):
            for _ in range(self.vae_steps):
                bl, bu = xl[next(lab)], xu[next(unl)]
                loss = self._vae_loss(vae, disc, bl, bu)
                opt_v.zero_grad(set_to_none=True)
                loss.backward()  # type: ignore[no-untyped-call]
                opt_v.step()
                vae_losses.append(float(loss.detach()))
                if not math.isfinite(vae_losses[-1]):
                    raise _diverged(it, xl, xu, self.lr)
            with torch.no_grad():
                mu_l, mu_u = vae.encode(bl)[0], vae.encode(bu)[0]
            out_l, out_u = disc(mu_l).squeeze(1), disc(mu_u).squeeze(1)
            d_loss = F.binary_cross_entropy_with_logits(
                out_l, torch.ones_like(out_l)
            ) + F.binary_cross_entropy_with_logits(out_u, torch.zeros_like(out_u))
            opt_d.zero_grad(set_to_none=True)
            d_loss.backward()  # type: ignore[no-untyped-call]
            opt_d.step()
            disc_losses.append(float(d_loss.detach()))
        info = {
            "iterations": iters,
            "vae_loss": loss_trace(vae_losses),
            "disc_loss": loss_trace(disc_losses),
        }
        return vae, disc, info


def _diverged(
    iteration: int, xl: torch.Tensor, xu: torch.Tensor, lr: float
) -> InvalidParameterError:
    """The error for a VAE loss that became NaN or infinite."""
    peak = max(float(xl.abs().max()), float(xu.abs().max()))
    return InvalidParameterError(
        f"VAAL's VAE diverged (a non-finite loss at iteration {iteration}); the "
        f"inputs reach |x| = {peak:.3g}. Standardise the inputs (zero mean, unit "
        f"variance, as the image datasets are) or lower lr (got {lr})."
    )


@register("dal")
class DAL(Strategy):
    """DAL (Gissin & Shalev-Shwartz, 2019): label what is confidently unlabeled.

    On the task model's embedding Ψ(x) (``embed``, the input of the last layer; the
    paper's learned-representation variant), a fresh MLP discriminator (3 x 256
    ReLU; 20 wide when ``d < 29``) learns labeled (0) versus unlabeled (1) on all of
    L and a uniform draw U′ of ``min(subsample_ratio * |L|, |U|)`` unlabeled items,
    with class-balanced cross-entropy (``w_L = N/|L|``, ``w_U = N/|U′|``) and Adam,
    stopping at the end of the first epoch whose (unweighted) training accuracy
    exceeds ``stop_accuracy`` (0.98, so items resembling labeled ones are not
    classified with certainty, §3). The batch is bought in ``n_subqueries``
    sub-batches (sizes differing by at most one; ``min(n_subqueries, B)`` of them):
    each draws a new U′, trains a fresh discriminator, takes the items of U′ with
    the highest P(unlabeled) and moves them into L. Ψ is computed once.

    Paper vs code, and the choices made here: the code's 20 sub-queries for the
    learned representation (the paper's count is not given); candidates are U′ (the
    code; the paper writes the argmax over U); optimiser, epochs and minibatch by
    the embedding width as the code's table generalised: ``d >= 64`` Adam 2e-4,
    ``d < 64`` Adam 3e-4, both minibatch 1024 and at most 500 epochs; the code's
    endless loop when ``B < n`` is avoided.

    Args:
        n_subqueries: Number of sub-batches. Defaults to 20.
        subsample_ratio: ``|U′| / |L|``. Defaults to 10.
        stop_accuracy: Early-stop training accuracy. Defaults to 0.98.
        max_epochs: Epoch cap per discriminator. Defaults to 500.
        lr: ``None`` = by width (above).
        train_batch: Minibatch size. Defaults to 1024.
        hidden: Discriminator width; ``None`` = 256 (20 when ``d < 29``).
        device: ``None`` = the model's device (a ``TensorOutputs``) else the CPU.

    ``info["epochs"]`` lists the epochs each discriminator trained and
    ``info["train_accuracy"]`` their final training accuracies. Scores are
    P(unlabeled) of the picks.
    """

    requires = (Embedder,)

    def __init__(
        self,
        *,
        n_subqueries: int = 20,
        subsample_ratio: int = 10,
        stop_accuracy: float = 0.98,
        max_epochs: int = 500,
        lr: float | None = None,
        train_batch: int = 1024,
        hidden: int | None = None,
        device: Any = None,
    ):
        for name, v in (
            ("n_subqueries", n_subqueries),
            ("subsample_ratio", subsample_ratio),
            ("max_epochs", max_epochs),
            ("train_batch", train_batch),
        ):
            check_positive(v, name, integer=True)
        if lr is not None:
            check_positive(lr, "lr")
        if hidden is not None:
            check_positive(hidden, "hidden", integer=True)
        if isinstance(stop_accuracy, bool) or not 0 < stop_accuracy <= 1:
            raise InvalidParameterError(
                f"stop_accuracy must be in (0, 1]; got {stop_accuracy!r}."
            )
        check_device(device)
        self.n_subqueries = n_subqueries
        self.subsample_ratio = subsample_ratio
        self.stop_accuracy = stop_accuracy
        self.max_epochs = max_epochs
        self.lr = lr
        self.train_batch = train_batch
        self.hidden = hidden
        self.device = device

    def _select(
        self,
        model: Any,
        X: np.ndarray,
        state: LabelState,
        batch_size: int,
        rng: np.random.Generator,
    ) -> Selection:
        labeled = state.labeled_mask
        if not labeled.any():
            return random_fallback(state.unlabeled_indices(), batch_size, rng, "DAL")
        dev = strategy_device(model, self.device)
        emb = embeddings(model, X, dev)
        n_sub = min(self.n_subqueries, batch_size)
        sizes = np.full(n_sub, batch_size // n_sub) + (
            np.arange(n_sub) < batch_size % n_sub
        )
        picks, scores, epochs, accs = [], [], [], []
        for size in sizes:
            unl = np.flatnonzero(~labeled)
            n_u = min(max(self.subsample_ratio * int(labeled.sum()), size), unl.size)
            sub = np.sort(rng.choice(unl, size=n_u, replace=False))
            seed = child_seed(rng)
            with seeded_torch(seed, dev):
                p_unl, ep, acc = self._fit_predict(
                    emb, np.flatnonzero(labeled), sub, seed
                )
            pos = top_k(p_unl, int(size), rng.random(sub.size))
            picks.append(sub[pos])
            scores.append(p_unl[pos])
            epochs.append(ep)
            accs.append(acc)
            labeled[sub[pos]] = True
        info = {"epochs": epochs, "train_accuracy": accs, "n_subqueries": n_sub}
        return Selection(
            indices=np.concatenate(picks), scores=np.concatenate(scores), info=info
        )

    def _fit_predict(
        self, emb: torch.Tensor, lab: np.ndarray, unl: np.ndarray, seed: int
    ) -> tuple[np.ndarray, int, float]:
        """P(unlabeled) on ``unl`` ``(n_u,)``, epochs trained, last accuracy."""
        dev = emb.device
        rows = torch.as_tensor(np.concatenate([lab, unl]), device=dev)
        x = emb[rows]
        y = torch.cat([torch.zeros(lab.size), torch.ones(unl.size)]).to(dev)
        n = float(x.shape[0])
        w = torch.where(y > 0, n / unl.size, n / lab.size)
        d = x.shape[1]
        net = dal_discriminator(d, self.hidden).to(dev)
        lr = self.lr if self.lr is not None else (2e-4 if d >= 64 else 3e-4)
        opt = torch.optim.Adam(net.parameters(), lr=lr)
        gen = torch.Generator().manual_seed(seed)
        epochs, acc = 0, 0.0
        while epochs < self.max_epochs:
            epochs += 1
            perm = torch.randperm(x.shape[0], generator=gen).to(dev)
            correct = 0
            for s in range(0, x.shape[0], self.train_batch):
                idx = perm[s : s + self.train_batch]
                logit = net(x[idx]).squeeze(1)
                loss = F.binary_cross_entropy_with_logits(logit, y[idx], weight=w[idx])
                opt.zero_grad(set_to_none=True)
                loss.backward()  # type: ignore[no-untyped-call]
                opt.step()
                correct += int(((logit > 0).float() == y[idx]).sum())
            acc = correct / x.shape[0]
            if acc > self.stop_accuracy:
                break
        with torch.no_grad():
            p = torch.sigmoid(net(x[lab.size :]).squeeze(1))
        return p.double().cpu().numpy(), epochs, acc
