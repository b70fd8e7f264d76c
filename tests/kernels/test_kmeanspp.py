import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from labelwise import FallbackWarning, InvalidParameterError
from labelwise.kernels import kmeans_plusplus, kmeans_plusplus_factored


def slow_kmeanspp(g, n_select, seed):
    """Direct float64 D² sampling with the same draws (rng.random() * total)."""
    rng = np.random.default_rng(seed)
    g = np.asarray(g, dtype=np.float64)
    picks = [int(np.argmax((g * g).sum(1)))]
    for _ in range(1, n_select):
        d2 = np.array([min(((gi - g[c]) ** 2).sum() for c in picks) for gi in g])
        d2[picks] = 0.0
        cs = np.cumsum(d2)
        u = rng.random() * cs[-1]
        picks.append(int(np.searchsorted(cs, u, side="right")))
    return picks


def _factors(seed, n=50, k=4, d=6):
    rng = np.random.default_rng(seed)
    z = rng.normal(size=(n, k))
    p = np.exp(z) / np.exp(z).sum(1, keepdims=True)
    a = -p
    a[np.arange(n), p.argmax(1)] += 1
    h = np.maximum(rng.normal(size=(n, d)), 0)
    return a, h


@pytest.mark.parametrize("seed", range(5))
def test_factored_matches_materialised_and_slow(seed):
    a, h = _factors(seed)
    g = np.einsum("nk,nd->nkd", a, h).reshape(len(a), -1)
    ref = slow_kmeanspp(g, 8, seed)
    assert kmeans_plusplus(g.astype(np.float64), 8, rng=seed).tolist() == ref
    assert kmeans_plusplus_factored(a, h, 8, rng=seed).tolist() == ref


def test_first_center_is_largest_norm_and_random_option():
    x = np.array([[0.0, 0.0], [0.1, 0.0], [5.0, 5.0], [1.0, 1.0]])
    assert kmeans_plusplus(x, 1).tolist() == [2]
    firsts = {int(kmeans_plusplus(x, 1, rng=s, first="random")[0]) for s in range(30)}
    assert len(firsts) > 1
    with pytest.raises(InvalidParameterError, match="first must be"):
        kmeans_plusplus(x, 1, first="max")  # type: ignore[arg-type]


def test_duplicates_fall_back_with_warning():
    x = np.zeros((5, 2))
    x[0] = 1.0
    with pytest.warns(FallbackWarning, match="coincide"):
        picks = kmeans_plusplus(x, 4, rng=0)
    assert len(set(picks.tolist())) == 4


def test_shape_errors():
    with pytest.raises(InvalidParameterError, match="same number of rows"):
        kmeans_plusplus_factored(np.ones((3, 2)), np.ones((4, 2)), 1)
    with pytest.raises(InvalidParameterError, match="n_select"):
        kmeans_plusplus(torch.ones(3, 2), 0)


@settings(max_examples=40, deadline=None)
@given(st.integers(0, 10_000), st.integers(1, 12))
def test_properties(seed, n_sel):
    a, h = _factors(seed, n=30)
    picks = kmeans_plusplus_factored(a, h, n_sel, rng=seed)
    assert len(set(picks.tolist())) == n_sel
    assert picks.dtype == np.int64
    assert np.array_equal(picks, kmeans_plusplus_factored(a, h, n_sel, rng=seed))
