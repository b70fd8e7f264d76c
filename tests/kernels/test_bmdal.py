"""BMDAL selection methods against slow, obviously correct references."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from labelwise import InvalidParameterError
from labelwise.kernels._bmdal import METHODS, select_bmdal, select_bmdal_kernel
from labelwise.kernels._kspace import FeatureGram


def _data(seed=0, n_pool=40, n_train=6, p=4):
    rng = np.random.default_rng(seed)
    return rng.normal(size=(n_pool, p)), rng.normal(size=(n_train, p))


def _sqdist(a, b):
    return ((a[:, None, :] - b[None, :, :]) ** 2).sum(-1)


def _feature_set(pool, train, mode):
    return np.concatenate([pool, train]) if mode == "tp" else pool


# ------------------------------------------------------------ references
def ref_maxdist(pool, train, b, mode):
    centers = list(train) if mode == "tp" else []
    out = []
    for _ in range(b):
        if not centers:
            score = (pool**2).sum(1)
        else:
            score = _sqdist(pool, np.array(centers)).min(1)
        score[out] = -np.inf
        j = int(np.argmax(score))
        out.append(j)
        centers.append(pool[j])
    return out


def ref_lcmd(pool, train, b, mode):
    centers = list(train) if mode == "tp" else []
    out = []
    for _ in range(b):
        if not centers:
            score = (pool**2).sum(1)
            score[out] = -np.inf
        else:
            d2 = _sqdist(pool, np.array(centers))
            nearest, m = d2.argmin(1), d2.min(1)
            free = np.ones(len(pool), bool)
            free[out] = False
            weight = {c: m[(nearest == c) & free].sum() for c in set(nearest)}
            best = max(weight.values())
            eligible = free & np.array([weight[c] == best for c in nearest])
            score = np.where(eligible, m, -np.inf)
        j = int(np.argmax(score))
        out.append(j)
        centers.append(pool[j])
    return out


def _post_var_trace(K, targets, cond, s2):
    """Trace of the GP posterior covariance on ``targets`` given ``cond``."""
    Ktt = K[np.ix_(targets, targets)]
    if not cond:
        return np.trace(Ktt)
    Kts = K[np.ix_(targets, cond)]
    Kss = K[np.ix_(cond, cond)] + s2 * np.eye(len(cond))
    return np.trace(Ktt - Kts @ np.linalg.solve(Kss, Kts.T))


def ref_bait(pool, train, b, mode, sigma, f=1.0):
    x = np.concatenate([pool, train])
    K = x @ x.T
    n = len(pool)
    targets = list(range(len(x)))
    base = list(range(n, len(x))) if mode == "tp" else []
    out: list[int] = []
    nf = min(round(f * b), n)
    for _ in range(nf):
        cand = [j for j in range(n) if j not in out]
        costs = [_post_var_trace(K, targets, base + out + [j], sigma**2) for j in cand]
        out.append(cand[int(np.argmin(costs))])
    while len(out) > b:
        costs = [
            _post_var_trace(K, targets, base + [o for o in out if o != j], sigma**2)
            for j in out
        ]
        out.remove(out[int(np.argmin(costs))])
    return out


def ref_maxdet(pool, train, b, mode, sigma):
    x = _feature_set(pool, train, mode)
    K = x @ x.T + sigma**2 * np.eye(len(x))
    n = len(pool)
    base = list(range(n, len(x)))
    out: list[int] = []
    for _ in range(b):
        cand = [j for j in range(n) if j not in out]
        dets = [
            np.linalg.slogdet(K[np.ix_(base + out + [j], base + out + [j])])[1]
            for j in cand
        ]
        out.append(cand[int(np.argmax(dets))])
    return out


def ref_fw(pool, b):
    r = np.sqrt((pool**2).sum(1))
    R = r.sum()
    xhat = pool / (r[:, None] + 1e-30)
    L = pool.sum(0)
    w = np.zeros_like(L)
    out = []
    for _ in range(b):
        score = xhat @ (L - w)
        score[out] = -np.inf
        j = int(np.argmax(score))
        out.append(j)
        u = R * xhat[j]
        gamma = (u - w) @ (L - w) / ((u - w) @ (u - w))
        w = (1 - gamma) * w + gamma * u
    return out


def ref_kmeanspp(pool, train, b, mode, rng):
    centers = list(train) if mode == "tp" else []
    out = []
    for _ in range(b):
        if not centers:
            j = int(rng.choice(np.arange(len(pool))))
        else:
            m = _sqdist(pool, np.array(centers)).min(1)
            m[out] = 0
            j = int(rng.choice(len(pool), p=m / m.sum()))
        out.append(j)
        centers.append(pool[j])
    return out


# ----------------------------------------------------------------- tests
@pytest.mark.parametrize("mode", ["p", "tp"])
@pytest.mark.parametrize("seed", [0, 1])
def test_distance_methods_match_references(mode, seed):
    pool, train = _data(seed)
    got = select_bmdal(pool, train, 8, method="maxdist", mode=mode).indices.tolist()
    assert got == ref_maxdist(pool, train, 8, mode)
    got = select_bmdal(pool, train, 8, method="lcmd", mode=mode).indices.tolist()
    assert got == ref_lcmd(pool, train, 8, mode)
    got = select_bmdal(pool, train, 8, method="kmeanspp", mode=mode, rng=seed)
    want = ref_kmeanspp(pool, train, 8, mode, np.random.default_rng(seed))
    assert got.indices.tolist() == want


@pytest.mark.parametrize("mode", ["p", "tp"])
def test_maxdet_is_greedy_determinant(mode):
    pool, train = _data(2, n_pool=25, p=8)
    got = select_bmdal(pool, train, 6, method="maxdet", mode=mode, sigma=0.3)
    assert got.indices.tolist() == ref_maxdet(pool, train, 6, mode, 0.3)


@pytest.mark.parametrize("mode", ["p", "tp"])
def test_bait_forward_minimises_the_posterior_variance_trace(mode):
    pool, train = _data(3, n_pool=25, p=6)
    got = select_bmdal(pool, train, 5, method="bait", mode=mode, sigma=0.5)
    assert got.indices.tolist() == ref_bait(pool, train, 5, mode, 0.5)


def test_bait_forward_backward_matches_reference():
    pool, train = _data(4, n_pool=20, p=5)
    got = select_bmdal(pool, train, 4, method="bait", sigma=0.7, overselection=2.0)
    want = ref_bait(pool, train, 4, "p", 0.7, f=2.0)
    assert sorted(got.indices.tolist()) == sorted(want)
    assert got.n_random == 0 and got.message is None


def test_frank_wolfe_steps_match_reference():
    pool, train = _data(5)
    got = select_bmdal(pool, train, 7, method="fw", mode="p")
    assert got.indices.tolist() == ref_fw(pool, 7)


def test_maxdiag_and_random():
    pool, train = _data(6)
    got = select_bmdal(pool, train, 5, method="maxdiag").indices
    assert got.tolist() == np.argsort(-(pool**2).sum(1))[:5].tolist()
    a = select_bmdal(pool, train, 5, method="random", rng=3).indices
    b = select_bmdal(pool, train, 5, method="random", rng=3).indices
    assert a.tolist() == b.tolist() and len(set(a.tolist())) == 5


def test_failure_is_stated_and_the_batch_filled_at_random():
    pool = np.ones((10, 3))
    train = np.ones((2, 3))
    res = select_bmdal(pool, train, 4, method="maxdist", mode="tp", rng=0)
    assert res.n_random == 4 and "maxdist" in res.message
    assert "filled 4 of 4 slots at random" in res.message
    assert len(set(res.indices.tolist())) == 4
    # rank one kernel, no noise: the determinant cannot grow after one point
    line = np.outer(np.arange(1, 11), [1.0, 2.0])
    res = select_bmdal(line, np.zeros((0, 2)), 3, method="maxdet", sigma=0.0, rng=0)
    assert res.indices[0] == 9 and res.n_random == 2 and "maxdet" in res.message


@settings(max_examples=30, deadline=None)
@given(
    method=st.sampled_from(METHODS),
    mode=st.sampled_from(["p", "tp"]),
    n_pool=st.integers(1, 30),
    n_train=st.integers(0, 5),
    seed=st.integers(0, 1000),
    data=st.data(),
)
def test_any_method_returns_distinct_pool_rows(
    method, mode, n_pool, n_train, seed, data
):
    rng = np.random.default_rng(seed)
    pool = rng.normal(size=(n_pool, 3)).round(1)  # duplicates happen
    train = rng.normal(size=(n_train, 3))
    b = data.draw(st.integers(1, n_pool))
    res = select_bmdal(pool, train, b, method=method, mode=mode, sigma=0.1, rng=seed)
    got = res.indices.tolist()
    assert len(got) == b == len(set(got)) and all(0 <= i < n_pool for i in got)
    again = select_bmdal(pool, train, b, method=method, mode=mode, sigma=0.1, rng=seed)
    assert again.indices.tolist() == got


@pytest.mark.parametrize(
    ("kw", "match"),
    [
        ({"method": "lcdm"}, "Unknown BMDAL selection method 'lcdm'"),
        ({"mode": "pt"}, "mode must be 'p' or 'tp'"),
        ({"weight_mode": "sq"}, "weight_mode must be one of"),
        ({"sigma": -1.0}, "sigma >= 0"),
        ({"overselection": 0.5}, "overselection >= 1"),
    ],
)
def test_bad_arguments(kw, match):
    pool, train = _data()
    with pytest.raises(InvalidParameterError, match=match):
        select_bmdal(pool, train, 3, **kw)
    with pytest.raises(InvalidParameterError, match="n_select"):
        select_bmdal(pool, train, 41)
    with pytest.raises(InvalidParameterError, match="differ in width"):
        select_bmdal(pool, np.zeros((2, 5)), 3)


@settings(max_examples=30, deadline=None)
@given(
    seed=st.integers(0, 10_000),
    n_train=st.integers(1, 9),
    dup=st.booleans(),
    block=st.sampled_from([1 << 24, 5, 17]),  # small: several row chunks
)
def test_adding_training_centers_at_once_equals_one_by_one(seed, n_train, dup, block):
    from unittest import mock

    import torch

    from labelwise.kernels import _bmdal
    from labelwise.kernels._bmdal import _LCMD
    from labelwise.kernels._points import DensePoints

    rng = np.random.default_rng(seed)
    x = rng.integers(-3, 4, size=(20 + n_train, 2)).astype(np.float64)
    if dup:  # exact duplicates among the training points and the pool
        x[-1] = x[20]
        x[0] = x[20]
    x = torch.as_tensor(x)
    one, many = (
        _LCMD(DensePoints(x), 20, "sq-dist"),
        _LCMD(DensePoints(x), 20, "sq-dist"),
    )
    for t in range(20, 20 + n_train):
        one.add(t)
    with mock.patch.object(_bmdal, "BLOCK_ENTRIES", block):
        many.add_many(list(range(20, 20 + n_train)), chunk=3)
    assert torch.allclose(one.m, many.m)
    assert one.center.tolist() == many.center.tolist()
    assert one.taken.tolist() == many.taken.tolist()


@pytest.mark.parametrize("d", [16, 37])
def test_maxdet_small_sigma_beyond_feature_rank_matches_float64_kernel_path(d):
    # once the batch uses up the feature rank every remaining variance is O(σ²);
    # float32 rounding used to decide those picks (17-65 % overlap, log det lower)
    x = np.random.default_rng(d).normal(size=(500, d)).astype(np.float32)
    sigma, b = 1e-3, 3 * d
    got = select_bmdal(x, None, b, method="maxdet", sigma=sigma).indices
    ref = select_bmdal_kernel(FeatureGram(x), 500, b, method="maxdet", sigma=sigma)

    def logdet(idx):
        xs = x[idx].astype(np.float64)
        return np.linalg.slogdet(xs @ xs.T + sigma**2 * np.eye(len(idx)))[1]

    assert set(got.tolist()) == set(ref.indices.tolist())
    assert logdet(got) == pytest.approx(logdet(ref.indices), abs=1e-6)


@settings(max_examples=15, deadline=None)
@given(
    seed=st.integers(0, 10_000),
    d=st.integers(3, 12),
    beyond_rank=st.booleans(),
)
def test_maxdet_on_float32_features_picks_as_on_their_float64_copy(
    seed, d, beyond_rank
):
    # float32 features are read as they are (no converted copy, 1/σ folded in);
    # the float64 copy of the same values takes the float32-copy path of Ψ: the
    # same picks, also past the feature rank (after the switch to float64 passes)
    from unittest import mock

    from labelwise.kernels import _bmdal

    x = np.random.default_rng(seed).normal(size=(200, d)).astype(np.float32)
    b = 2 * d if beyond_rank else d // 2 + 1
    seen = []
    init = _bmdal._MaxDetFeatures.__init__

    def spy(self, x_, *args, **kw):
        seen.append(x_)
        init(self, x_, *args, **kw)

    with mock.patch.object(_bmdal._MaxDetFeatures, "__init__", spy):
        got = select_bmdal(x, None, b, method="maxdet", sigma=1e-3).indices
    assert seen[0].dtype.is_floating_point and seen[0].element_size() == 4
    assert np.shares_memory(seen[0].numpy(), x)  # no copy of the features
    want = select_bmdal(x.astype(np.float64), None, b, method="maxdet", sigma=1e-3)
    ref = select_bmdal_kernel(FeatureGram(x), 200, b, method="maxdet", sigma=1e-3)
    assert got.tolist() == want.indices.tolist()
    assert set(got.tolist()) == set(ref.indices.tolist())


def test_feature_dtype_is_what_select_bmdal_computes_in():
    import torch

    from labelwise.kernels import feature_dtype

    f32, f64 = torch.float32, torch.float64
    assert feature_dtype("maxdet", 1e-3, (100, 8), f32) == f32
    assert feature_dtype("maxdet", 1e-3, (100, 8), f64) == f64
    assert feature_dtype("maxdet", 0.0, (100, 8), f32) == f64  # pivoted Cholesky
    assert feature_dtype("maxdet", 1e-3, (8, 100), f32) == f64  # wider than rows
    assert feature_dtype("bait", 1e-3, (100, 8), f32) == f64
    for method in ("maxdist", "kmeanspp", "lcmd", "fw", "maxdiag"):
        assert feature_dtype(method, 1e-3, (100, 8), f64) == f32


def test_bait_refuses_features_too_wide_for_its_matrices(monkeypatch):
    from labelwise.kernels import _inputs

    monkeypatch.setattr(_inputs, "available_bytes", lambda device: 3 * 6 * 6 * 8)
    rng = np.random.default_rng(0)
    pool, train = rng.normal(size=(20, 7)), rng.normal(size=(5, 7))
    for sigma in (0.0, 1e-3):  # the rank-one loop and the feature-space state
        with pytest.raises(InvalidParameterError, match=r"bait.*7 x 7"):
            select_bmdal(pool, train, 3, method="bait", sigma=sigma)
    assert len(select_bmdal(pool[:, :6], train[:, :6], 3, method="bait").indices) == 3
