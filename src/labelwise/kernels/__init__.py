"""Selection kernels: pure, validated array functions returning indices.

They take arrays (numpy or torch), never models, and work in chunks: no ``n x n``
distance matrix is formed (except in the small-pool :func:`robust_kcenter`).
"""

from labelwise.kernels._bmdal import BatchResult, select_bmdal
from labelwise.kernels._design import (
    greedy_a_optimal,
    greedy_a_optimal_rank_one,
    kron_gram,
)
from labelwise.kernels._greedy import (
    kcenter_greedy,
    kmeans_plusplus,
    kmeans_plusplus_factored,
)
from labelwise.kernels._robust import robust_kcenter

__all__ = [
    "BatchResult",
    "greedy_a_optimal",
    "greedy_a_optimal_rank_one",
    "kcenter_greedy",
    "kmeans_plusplus",
    "kmeans_plusplus_factored",
    "kron_gram",
    "robust_kcenter",
    "select_bmdal",
]
