import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from labelwise.kernels import greedy_a_optimal, kcenter_greedy, kron_gram
from labelwise.scores import entropy, variation_ratio
from labelwise.strategies import get_strategy
from labelwise.strategies.design import fisher_factors
from labelwise.testing import MockModel, make_pool


def test_topk_strategies_pick_highest_scores():
    model = MockModel()
    X, state = make_pool()
    pool = state.unlabeled_indices()
    ent = entropy(model.predict_proba(X[pool]))
    sel = get_strategy("entropy").select(model, X, state, 5, rng=0)
    assert sorted(sel.indices.tolist()) == sorted(pool[np.argsort(-ent)[:5]].tolist())
    assert np.all(np.diff(sel.scores) <= 0)


def test_variation_ratio_breaks_ties_by_entropy():
    model = MockModel(n_members=3)
    X, state = make_pool()
    pool = state.unlabeled_indices()
    members = model.predict_proba_members(X[pool])
    vr = variation_ratio(members)
    ent = entropy(members.mean(0))
    order = np.lexsort((np.arange(pool.size), -ent, -vr))[:6]
    sel = get_strategy("variation-ratio").select(model, X, state, 6, rng=0)
    assert sel.indices.tolist() == pool[order].tolist()


def test_coreset_is_kcenter_on_embeddings():
    model = MockModel()
    X, state = make_pool()
    emb = model.embed(X)
    ref = kcenter_greedy(emb, 6, labeled=state.labeled_indices())
    assert (
        get_strategy("coreset").select(model, X, state, 6).indices.tolist()
        == ref.tolist()
    )


def test_coreset_robust_on_small_pool():
    model = MockModel()
    X, state = make_pool(n_samples=25, n_labeled=4)
    sel = get_strategy("coreset", robust=True).select(model, X, state, 3)
    assert sel.info["method"] == "robust-mip" and sel.indices.size == 3


def test_badge_matches_explicit_gradient_embedding():
    from labelwise.kernels import kmeans_plusplus

    model = MockModel()
    X, state = make_pool()
    pool = state.unlabeled_indices()
    p = model.predict_proba(X[pool])
    h = model.embed(X[pool])
    onehot = np.eye(p.shape[1])[p.argmax(1)]
    g = np.einsum("nk,nd->nkd", onehot - p, h).reshape(len(pool), -1)
    ref = pool[kmeans_plusplus(g.astype(np.float32), 7, rng=np.random.default_rng(4))]
    sel = get_strategy("badge").select(model, X, state, 7, rng=np.random.default_rng(4))
    assert sel.indices.tolist() == ref.tolist()
    # the first center has the largest gradient norm, and no labeled point is picked
    assert sel.indices[0] == pool[np.argmax((g**2).sum(1))]


def test_bait_follows_reference_normalisation():
    model = MockModel(n_classes=3, n_embedding=4)
    X, state = make_pool(n_samples=40, n_labeled=8)
    b = 5
    sel = get_strategy("bait").select(model, X, state, b, rng=0)
    p = model.predict_proba(X)
    h = model.embed(X).astype(np.float64)
    left = fisher_factors(p)
    lab = state.labeled_indices()
    pool = state.unlabeled_indices()
    f = kron_gram(torch.tensor(left), torch.tensor(h)).numpy() / len(X)
    m0 = np.eye(12) + kron_gram(
        torch.tensor(left[lab]), torch.tensor(h[lab])
    ).numpy() / (len(lab) + b)
    scale = np.sqrt(b / (len(lab) + b))
    ref, _ = greedy_a_optimal(left[pool] * scale, h[pool], b, fisher=f, precision=m0)
    assert sel.indices.tolist() == pool[ref].tolist()


def test_bait_gains_are_those_of_the_full_kron_problem():
    # the strategy runs on the (k-1) d coordinates orthogonal to 1 ⊗ R^d, where
    # every Fisher term vanishes: the same picks and the same forward gains
    model = MockModel(n_classes=4, n_embedding=3)
    X, state = make_pool(n_samples=60, n_labeled=6)
    b = 4
    sel = get_strategy("bait", lam=0.5).select(model, X, state, b, rng=0)
    p = model.predict_proba(X)
    h = model.embed(X).astype(np.float64)
    left = fisher_factors(p)
    lab, pool = state.labeled_indices(), state.unlabeled_indices()
    f = kron_gram(torch.tensor(left), torch.tensor(h)).numpy() / len(X)
    m0 = 0.5 * np.eye(12) + kron_gram(
        torch.tensor(left[lab]), torch.tensor(h[lab])
    ).numpy() / (len(lab) + b)
    scale = np.sqrt(b / (len(lab) + b))
    ref, gains = greedy_a_optimal(
        left[pool] * scale, h[pool], b, fisher=f, precision=m0
    )
    assert sel.indices.tolist() == pool[ref].tolist()
    assert np.allclose(sel.details["forward_gains"], gains, rtol=1e-9, atol=0)


@settings(max_examples=25, deadline=None)
@given(seed=st.integers(0, 10_000), k=st.integers(2, 6))
def test_reduced_fisher_factors_span_the_fisher_on_the_complement_of_one(seed, k):
    from labelwise.strategies.design import reduced_fisher_factors

    p = np.random.default_rng(seed).dirichlet(np.ones(k) * 0.5, size=7)
    p[0] = np.eye(k)[0]  # a certain prediction: a zero Fisher
    r = reduced_fisher_factors(torch.tensor(p)).numpy()
    assert r.shape == (7, k - 1, k - 1)
    # R_x = (B_x Q) up to an orthogonal factor, Q an orthonormal basis of 1⊥
    q = np.linalg.qr(np.concatenate([np.ones((k, 1)), np.eye(k)[:, : k - 1]], 1))[0]
    q = q[:, 1:]
    for x in range(7):
        fisher = np.diag(p[x]) - np.outer(p[x], p[x])
        assert np.allclose(r[x].T @ r[x], q.T @ fisher @ q, atol=1e-12)
        assert np.allclose(q @ r[x].T @ r[x] @ q.T, fisher, atol=1e-12)


def test_bait_beats_random_on_its_objective():
    model = MockModel(n_classes=3, n_embedding=4)
    X, state = make_pool(n_samples=80, n_labeled=5)
    p = model.predict_proba(X)
    h = model.embed(X).astype(np.float64)
    left = fisher_factors(p)
    f = kron_gram(torch.tensor(left), torch.tensor(h)).numpy() / len(X)

    def obj(idx):
        v = kron_gram(torch.tensor(left[idx]), torch.tensor(h[idx])).numpy()
        return np.trace(np.linalg.solve(np.eye(12) + v, f))

    chosen = get_strategy("bait").select(model, X, state, 6, rng=0).indices
    rng = np.random.default_rng(0)
    pool = state.unlabeled_indices()
    randoms = [obj(rng.choice(pool, 6, replace=False)) for _ in range(20)]
    assert obj(chosen) < min(randoms)


@pytest.mark.parametrize("name", ["random", "badge", "bald"])
def test_different_seeds_differ(name):
    X, state = make_pool(n_samples=200)
    a = get_strategy(name).select(MockModel(), X, state, 10, rng=1).indices
    b = get_strategy(name).select(MockModel(), X, state, 10, rng=2).indices
    assert a.tolist() != b.tolist()


def test_strategy_spec_keeps_commas_inside_quotes_and_arrays():
    from labelwise.strategies import parse_strategy_spec

    spec = 'bmdal:transforms=[["rp", 512]], selection=lcmd,note="a,b:c"'
    assert parse_strategy_spec(spec) == (
        "bmdal",
        {"transforms": [["rp", 512]], "selection": "lcmd", "note": "a,b:c"},
    )
    assert parse_strategy_spec(" eer : loss=log ") == ("eer", {"loss": "log"})
    # a quote inside plain text opens no string
    assert parse_strategy_spec("x:note=it's,b=2") == ("x", {"note": "it's", "b": 2})


def test_strategy_spec_refuses_a_parameter_given_twice():
    from labelwise.exceptions import InvalidParameterError
    from labelwise.strategies import parse_strategy_spec

    with pytest.raises(InvalidParameterError, match="'loss' twice"):
        parse_strategy_spec("eer:loss=log,loss=zero-one")
