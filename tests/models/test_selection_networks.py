"""The auxiliary networks of VAAL, the sequential GCNs and DAL."""

import numpy as np
import pytest
import torch

from labelwise.exceptions import NumericsWarning
from labelwise.models.selection_networks import (
    GCN,
    VAE,
    SimilarityGraph,
    dal_discriminator,
    latent_discriminator,
)
from labelwise.strategies.graph import gcn_loss


def _dense_reference(v, normalisation):
    """The literal formulas: (S - I) diag(1/colsum) + I, or D^-1 (S - I) + I."""
    v = v / np.linalg.norm(v, axis=1, keepdims=True)
    s = v @ v.T - np.eye(len(v))
    if normalisation == "caramalau":
        return s @ np.diag(1.0 / s.sum(0)) + np.eye(len(v))
    return np.diag(1.0 / s.sum(1)) @ s + np.eye(len(v))


@pytest.mark.parametrize("normalisation", ["caramalau", "row"])
def test_similarity_graph_products_match_the_dense_adjacency(normalisation):
    rng = np.random.default_rng(0)
    v = np.abs(rng.normal(size=(30, 7)))
    x = rng.normal(size=(30, 4))
    ref = _dense_reference(v, normalisation)
    g = SimilarityGraph(torch.tensor(v), normalisation)
    assert np.allclose(g.dense().numpy(), ref, atol=1e-10)
    assert np.allclose(g.matmul(torch.tensor(x)).numpy(), ref @ x, atol=1e-10)
    if normalisation == "caramalau":  # columns of off-diagonal weights sum to 1
        off = ref - np.eye(30)
        assert np.allclose(off.sum(0), 1.0)


def test_signed_features_warn():
    v = torch.tensor([[1.0, -1.0], [0.5, 2.0], [1.0, 1.0]])
    with pytest.warns(NumericsWarning, match="negative"):
        SimilarityGraph(v, "caramalau")


def test_gcn_loss_matches_bce_and_stays_finite():
    rng = np.random.default_rng(1)
    logit = torch.tensor(rng.normal(size=12))
    lab = torch.tensor(rng.random(12) < 0.4)
    s = torch.sigmoid(logit).numpy()
    m = lab.numpy()
    ref = -np.log(s[m]).mean() - 1.2 * np.log(1 - s[~m]).mean()
    assert float(gcn_loss(logit, lab, 1.2)) == pytest.approx(ref, rel=1e-9)
    sat = torch.tensor([200.0, -200.0])
    assert np.isfinite(float(gcn_loss(sat, torch.tensor([False, True]), 1.2)))


def test_gcn_shapes():
    g = SimilarityGraph(torch.rand(9, 5), "caramalau")
    logit, feats = GCN(5, hidden=6)(g.v, g)
    assert logit.shape == (9,) and feats.shape == (9, 7)


@pytest.mark.parametrize(
    ("shape", "conv"), [((1, 28, 28), True), ((3, 32, 32), True), ((5,), False)]
)
def test_vae_shapes(shape, conv):
    torch.manual_seed(0)
    vae = VAE(shape, latent_dim=4, width=4)
    assert vae.conv is conv
    x = torch.randn(3, *shape)
    recon, mu, logvar = vae(x)
    assert recon.shape == x.shape and mu.shape == (3, 4) and logvar.shape == (3, 4)
    assert latent_discriminator(4, 8)(mu).shape == (3, 1)


def test_dal_discriminator_width_rule():
    assert dal_discriminator(28)[0].out_features == 20
    assert dal_discriminator(128)[0].out_features == 256
    assert dal_discriminator(128, 7)[0].out_features == 7
