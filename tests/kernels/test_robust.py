import itertools

import numpy as np
import pytest

from labelwise import InvalidParameterError
from labelwise.kernels import kcenter_greedy, robust_kcenter


def radius(x, centers, n_outliers=0):
    d = np.sqrt(((x[:, None] - x[None, list(centers)]) ** 2).sum(-1)).min(1)
    return np.sort(d)[len(d) - 1 - n_outliers]


@pytest.mark.parametrize("seed", range(3))
@pytest.mark.parametrize("n_outliers", [0, 2])
def test_optimal_radius_by_enumeration(seed, n_outliers):
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(14, 2))
    lab = [0, 1]
    new = robust_kcenter(x, 2, labeled=lab, n_outliers=n_outliers)
    assert len(new) == 2 and not set(new) & set(lab)
    best = min(
        radius(x, [*lab, *c], n_outliers)
        for c in itertools.combinations(range(2, 14), 2)
    )
    assert radius(x, [*lab, *new], n_outliers) == pytest.approx(best)
    greedy = kcenter_greedy(x, 2, labeled=lab)
    assert radius(x, [*lab, *new]) <= radius(x, [*lab, *greedy]) + 1e-12 or n_outliers


def test_refuses_large_pools():
    with pytest.raises(InvalidParameterError, match="max_points"):
        robust_kcenter(np.zeros((50, 2)), 1, max_points=40)
