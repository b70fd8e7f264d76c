import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from labelwise import InvalidParameterError
from labelwise.kernels import kcenter_greedy


def slow_kcenter(x, n_select, labeled):
    """Obvious O(n^2) farthest-first with exact float64 distances."""
    x = np.asarray(x, dtype=np.float64)
    centers = list(labeled)
    picks = []
    for _ in range(n_select):
        best, best_d = None, -1.0
        for i in range(len(x)):
            if i in centers:
                continue
            d = min(np.linalg.norm(x[i] - x[c]) for c in centers)
            if d > best_d:
                best, best_d = i, d
        picks.append(best)
        centers.append(best)
    return picks


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("seed", range(4))
def test_matches_slow_reference(seed, dtype):
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(60, 5)).astype(dtype)
    labeled = rng.choice(60, size=6, replace=False)
    fast = kcenter_greedy(x, 10, labeled=labeled)
    assert fast.tolist() == slow_kcenter(x, 10, labeled.tolist())


def test_chunking_does_not_change_result(monkeypatch):
    from labelwise.kernels import _points

    rng = np.random.default_rng(1)
    x = rng.normal(size=(300, 4))
    lab = np.arange(0, 300, 7)
    full = kcenter_greedy(x, 20, labeled=lab)
    orig = _points.min_sqdist_to_set
    monkeypatch.setattr(
        "labelwise.kernels._greedy.min_sqdist_to_set",
        lambda a, b: orig(a, b, chunk_size=16),
    )
    monkeypatch.setattr(_points, "_CHUNK", 32)
    assert kcenter_greedy(x, 20, labeled=lab).tolist() == full.tolist()


def test_no_labeled_uses_rng_for_first():
    x = np.random.default_rng(0).normal(size=(30, 3))
    a = kcenter_greedy(x, 5, rng=7)
    b = kcenter_greedy(x, 5, rng=7)
    assert a.tolist() == b.tolist()
    rest = slow_kcenter(x, 4, [int(a[0])])
    assert a[1:].tolist() == rest


def test_accepts_torch_and_validates():
    x = torch.randn(20, 3)
    assert kcenter_greedy(x, 3, labeled=[0]).shape == (3,)
    with pytest.raises(
        InvalidParameterError, match=r"n_select must be an int in \[1, n_available=19\]"
    ):
        kcenter_greedy(x, 25, labeled=[0])
    with pytest.raises(InvalidParameterError, match="reshape"):
        kcenter_greedy(np.arange(5.0), 2)
    with pytest.raises(InvalidParameterError, match="NaN"):
        kcenter_greedy(np.array([[np.nan], [1.0]]), 1)
    with pytest.raises(InvalidParameterError, match="duplicates"):
        kcenter_greedy(x, 2, labeled=[1, 1])


@settings(max_examples=40, deadline=None)
@given(
    st.integers(0, 10_000),
    st.integers(8, 40),
    st.integers(0, 5),
    st.integers(1, 6),
)
def test_properties(seed, n, n_lab, n_sel):
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, 3))
    lab = rng.choice(n, size=n_lab, replace=False)
    n_sel = min(n_sel, n - n_lab)
    picks, radii = kcenter_greedy(x, n_sel, labeled=lab, rng=seed, return_radii=True)
    assert len(set(picks.tolist())) == n_sel
    assert not set(picks.tolist()) & set(lab.tolist())
    # the covering radius never increases as centers are added
    assert np.all(np.diff(radii) <= 1e-6)


@pytest.mark.parametrize("labeled", [None, [0, 1, 2]])
def test_kcenter_greedy_on_features_whose_squares_overflow_float32(labeled):
    # |x| ~ 1e20: squared norms overflow float32; the picks used to repeat and
    # include labeled rows (NaN distances). k-center is scale invariant.
    x = np.abs(np.random.default_rng(0).normal(size=(50, 4))).astype(np.float32)
    picks, radii = kcenter_greedy(x, 5, labeled=labeled, rng=0, return_radii=True)
    big, big_radii = kcenter_greedy(
        x * np.float32(1e20), 5, labeled=labeled, rng=0, return_radii=True
    )
    assert np.array_equal(big, picks)
    np.testing.assert_allclose(big_radii, radii * 1e20, rtol=1e-4)
