"""Selection kernels: pure, validated array functions returning indices.

They take arrays (numpy or torch), never models, and work in chunks: no ``n x n``
distance matrix is formed (except in the small-pool `robust_kcenter`).
"""

from labelwise.kernels._bmdal import (
    BatchResult,
    feature_dtype,
    select_bmdal,
    select_bmdal_kernel,
)
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
from labelwise.kernels._kspace import (
    FeatureGram,
    Gram,
    NNGPGram,
    PosteriorGram,
    scale_gram,
)
from labelwise.kernels._logistic import fit_logistic, fit_logistic_plus_one
from labelwise.kernels._robust import robust_kcenter

__all__ = [
    "BatchResult",
    "FeatureGram",
    "Gram",
    "NNGPGram",
    "PosteriorGram",
    "feature_dtype",
    "fit_logistic",
    "fit_logistic_plus_one",
    "greedy_a_optimal",
    "greedy_a_optimal_rank_one",
    "kcenter_greedy",
    "kmeans_plusplus",
    "kmeans_plusplus_factored",
    "kron_gram",
    "robust_kcenter",
    "scale_gram",
    "select_bmdal",
    "select_bmdal_kernel",
]
