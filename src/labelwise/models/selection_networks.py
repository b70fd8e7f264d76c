"""Auxiliary networks that strategies train to select: VAAL, the GCNs, DAL.

* `VAE` and `LatentDiscriminator`: Sinha, Ebrahimi & Darrell,
  *Variational Adversarial Active Learning*, ICCV 2019 (the WAE-style encoder and
  decoder of the official code).
* `GCN` over a `SimilarityGraph`: Caramalau, Bhattarai & Kim,
  *Sequential Graph Convolutional Network for Active Learning*, CVPR 2021.
* `dal_discriminator`: Gissin & Shalev-Shwartz, *Discriminative Active
  Learning*, arXiv 1907.06347 (2019).
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Sequence
from typing import Literal

import torch
from torch import nn

from labelwise.exceptions import NumericsWarning

# ------------------------------------------------------------------------ VAAL


def _kaiming(module: nn.Module) -> None:
    """The official VAAL init: Kaiming-normal Conv2d/Linear weights, zero biases."""
    for m in module.modules():
        if isinstance(m, nn.Conv2d | nn.Linear):
            nn.init.kaiming_normal_(m.weight)
            if m.bias is not None:
                nn.init.zeros_(m.bias)


class VAE(nn.Module):
    """β-VAE of VAAL; convolutional for square 28/32-pixel images, else an MLP.

    Image inputs ``(C, s, s)`` with ``s`` in {28, 32}: four stride-2 convs of
    widths ``w, 2w, 4w, 8w`` (k4, the last k3 for 28 and k4 for 32) with BN and
    ReLU, flattened to ``8w * 2 * 2``; the decoder mirrors it from ``8w x 4 x 4``
    with transposed convs and ends in a bias-carrying ``1 x 1`` conv with no output
    activation (the official code at ``w = 128``). Any other shape: an MLP
    ``D -> w -> w`` encoder and ``z -> w -> w -> D`` decoder (ReLU), not in the
    paper (which works on images only).

    Args:
        input_shape: Shape of one input.
        latent_dim: Latent size ``z``.
        width: Base width ``w``.
    """

    def __init__(self, input_shape: Sequence[int], latent_dim: int, width: int):
        super().__init__()
        shape = tuple(int(s) for s in input_shape)
        self.input_shape = shape
        self.conv = len(shape) == 3 and shape[1] == shape[2] and shape[1] in (28, 32)
        w = width
        if self.conv:
            c, k = shape[0], 3 if shape[1] == 28 else 4
            enc: list[nn.Module] = []
            for i, (a, b) in enumerate(
                [(c, w), (w, 2 * w), (2 * w, 4 * w), (4 * w, 8 * w)]
            ):
                enc += [
                    nn.Conv2d(a, b, k if i == 3 else 4, 2, 1, bias=False),
                    nn.BatchNorm2d(b),
                    nn.ReLU(),
                ]
            self.encoder = nn.Sequential(*enc, nn.Flatten())
            flat = 8 * w * 2 * 2
            self.decoder = nn.Sequential(
                nn.Linear(latent_dim, 8 * w * 4 * 4),
                nn.Unflatten(1, (8 * w, 4, 4)),
                nn.ConvTranspose2d(8 * w, 4 * w, k, 2, 1, bias=False),
                nn.BatchNorm2d(4 * w),
                nn.ReLU(),
                nn.ConvTranspose2d(4 * w, 2 * w, 4, 2, 1, bias=False),
                nn.BatchNorm2d(2 * w),
                nn.ReLU(),
                nn.ConvTranspose2d(2 * w, w, 4, 2, 1, bias=False),
                nn.BatchNorm2d(w),
                nn.ReLU(),
                nn.ConvTranspose2d(w, c, 1),
            )
        else:
            d = math.prod(shape)
            self.encoder = nn.Sequential(
                nn.Flatten(), nn.Linear(d, w), nn.ReLU(), nn.Linear(w, w), nn.ReLU()
            )
            flat = w
            self.decoder = nn.Sequential(
                nn.Linear(latent_dim, w),
                nn.ReLU(),
                nn.Linear(w, w),
                nn.ReLU(),
                nn.Linear(w, d),
                nn.Unflatten(1, shape),
            )
        _kaiming(self.encoder)
        _kaiming(self.decoder)
        self.fc_mu = nn.Linear(flat, latent_dim)
        self.fc_logvar = nn.Linear(flat, latent_dim)

    def encode(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """``(μ, log σ²)``, each ``(n, z)``."""
        h = self.encoder(x)
        return self.fc_mu(h), self.fc_logvar(h)

    def forward(
        self, x: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """``(reconstruction (n, *input_shape), μ, log σ²)``; samples z in training."""
        mu, logvar = self.encode(x)
        z = mu + torch.exp(0.5 * logvar) * torch.randn_like(mu) if self.training else mu
        out: torch.Tensor = self.decoder(z)
        return out, mu, logvar


def latent_discriminator(latent_dim: int, hidden: int = 512) -> nn.Sequential:
    """VAAL's discriminator on μ: ``z -> hidden -> hidden -> 1`` logit (ReLU).

    The official model ends in a sigmoid; here the logit goes to
    ``binary_cross_entropy_with_logits`` (same model, finite at saturation).
    """
    net = nn.Sequential(
        nn.Linear(latent_dim, hidden),
        nn.ReLU(),
        nn.Linear(hidden, hidden),
        nn.ReLU(),
        nn.Linear(hidden, 1),
    )
    _kaiming(net)
    return net


# ------------------------------------------------------------------------ GCN

Normalisation = Literal["caramalau", "row"]


class SimilarityGraph:
    """Cosine-similarity adjacency of Caramalau et al. (2021), never formed.

    With ``V`` the L2-normalised node features ``(N, d)``, ``S = V Vᵀ`` and
    ``c = (S - I) 1`` (row sums, equal to the column sums), the code's adjacency is
    ``A = (S - I) diag(1/c) + I`` (``"caramalau"``) and the paper's is
    ``D⁻¹ (S - I) + I`` (``"row"``). Products ``A X`` use
    ``V (Vᵀ X') - X' + X`` with ``X' = X / c`` (rows) or ``(V (Vᵀ X) - X) / c + X``:
    ``O(N d h)`` time and ``O(N d)`` memory instead of the dense ``N x N``.

    Args:
        features: Node features ``(N, d)``.
        normalisation: ``"caramalau"`` (the code) or ``"row"`` (the paper).
    """

    def __init__(self, features: torch.Tensor, normalisation: Normalisation):
        if bool((features < 0).any()):
            warnings.warn(
                "GCN node features have negative entries, so cosine similarities "
                "(and degrees) can be negative; degrees are clamped at 1e-12.",
                NumericsWarning,
                stacklevel=3,
            )
        norms = features.norm(dim=1, keepdim=True).clamp_min(1e-12)
        self.v = features / norms
        ones = torch.ones(self.v.shape[0], 1, dtype=self.v.dtype, device=self.v.device)
        self.c = (self.v @ (self.v.T @ ones) - ones).clamp_min(1e-12)
        self.normalisation = normalisation

    def matmul(self, x: torch.Tensor) -> torch.Tensor:
        """``A @ x`` for ``x`` of shape ``(N, h)``."""
        if self.normalisation == "caramalau":
            xs = x / self.c
            out: torch.Tensor = self.v @ (self.v.T @ xs) - xs + x
        else:
            out = (self.v @ (self.v.T @ x) - x) / self.c + x
        return out

    def dense(self) -> torch.Tensor:
        """The ``(N, N)`` adjacency (tests and small graphs only)."""
        eye = torch.eye(self.v.shape[0], dtype=self.v.dtype, device=self.v.device)
        s = self.v @ self.v.T - eye
        a: torch.Tensor = (
            s / self.c.T if self.normalisation == "caramalau" else s / self.c
        )
        return a + eye


class GraphConvolution(nn.Module):
    """``A (H W) + b`` with ``W``, ``b`` drawn from ``U(-1/√out, 1/√out)``."""

    def __init__(self, n_in: int, n_out: int):
        super().__init__()
        bound = 1.0 / math.sqrt(n_out)
        self.weight = nn.Parameter(torch.empty(n_in, n_out).uniform_(-bound, bound))
        self.bias = nn.Parameter(torch.empty(n_out).uniform_(-bound, bound))

    def forward(self, h: torch.Tensor, graph: SimilarityGraph) -> torch.Tensor:
        """``(N, n_out)``."""
        return graph.matmul(h @ self.weight) + self.bias


class GCN(nn.Module):
    """The two-layer GCN of Caramalau et al.: ``d -> h`` (ReLU, dropout) ``-> 1``.

    Args:
        n_in: Node feature width ``d``.
        hidden: Hidden width ``h``. Defaults to 128.
        dropout: Dropout after the first layer. Defaults to 0.3.
    """

    def __init__(self, n_in: int, hidden: int = 128, dropout: float = 0.3):
        super().__init__()
        self.gc1 = GraphConvolution(n_in, hidden)
        self.gc3 = GraphConvolution(hidden, 1)
        self.dropout = nn.Dropout(dropout)

    def forward(
        self, x: torch.Tensor, graph: SimilarityGraph
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """``(logit (N,), features concat[H1, logit] (N, h + 1))``."""
        h1 = torch.relu(self.gc1(x, graph))
        logit = self.gc3(self.dropout(h1), graph)
        return logit.squeeze(1), torch.cat([h1, logit], dim=1)


# ------------------------------------------------------------------------ DAL


def dal_discriminator(n_in: int, hidden: int | None = None) -> nn.Sequential:
    """DAL's labeled-vs-unlabeled MLP: ``d -> 3 x hidden (ReLU) -> 1`` logit.

    ``hidden`` defaults to 256, or 20 when ``d < 29`` (the reference code's rule).
    Glorot-uniform weights and zero biases (Keras defaults of the reference). One
    logit with a sigmoid is the same model as the code's two-way softmax.
    """
    w = hidden if hidden is not None else (20 if n_in < 29 else 256)
    net = nn.Sequential(
        nn.Linear(n_in, w),
        nn.ReLU(),
        nn.Linear(w, w),
        nn.ReLU(),
        nn.Linear(w, w),
        nn.ReLU(),
        nn.Linear(w, 1),
    )
    for m in net.modules():
        if isinstance(m, nn.Linear):
            nn.init.xavier_uniform_(m.weight)
            nn.init.zeros_(m.bias)
    return net
