import numpy as np
import pytest

from labelwise import InvalidParameterError, UnsupportedModelError
from labelwise.strategies import available_strategies, get_strategy
from labelwise.testing import MockModel, ProbaOnlyModel, check_strategy, make_pool

# strategies whose defaults are too slow for a contract check
FAST = {
    "np": {"n_sim": 4, "epochs": 2, "progress": False},
    "dal": {"max_epochs": 20, "n_subqueries": 3},
    "vaal": {"epochs": 20, "width": 16, "disc_hidden": 16},
    "uncertain-gcn": {"steps": 20, "hidden": 16},
    "core-gcn": {"steps": 20, "hidden": 16},
}


@pytest.mark.parametrize("name", available_strategies())
def test_conformance(name):
    check_strategy(get_strategy(name, **FAST.get(name, {})))


def test_registry_has_the_issue_names():
    assert set(available_strategies()) >= {
        "random",
        "least-confidence",
        "margin",
        "entropy",
        "variation-ratio",
        "bald",
        "coreset",
        "badge",
        "bait",
    }


def test_unknown_name_suggests_closest():
    with pytest.raises(InvalidParameterError, match="Did you mean 'badge'"):
        get_strategy("badg")


def test_bad_parameters():
    with pytest.raises(InvalidParameterError, match="n_mc_samples"):
        get_strategy("bald", n_mc_samples=0)
    with pytest.raises(InvalidParameterError, match="lam"):
        get_strategy("bait", lam=-1.0)
    with pytest.raises(InvalidParameterError, match="Bad parameters"):
        get_strategy("entropy", temperature=2)


@pytest.mark.parametrize(
    "name", ["coreset", "badge", "bait", "bald", "variation-ratio", "lhd"]
)
def test_missing_capability_is_named(name):
    X, state = make_pool()
    with pytest.raises(UnsupportedModelError, match="capability"):
        get_strategy(name).select(ProbaOnlyModel(), X, state, 3, rng=0)


def test_input_errors():
    X, state = make_pool()
    s = get_strategy("entropy")
    with pytest.raises(InvalidParameterError, match="pass the whole pool"):
        s.select(MockModel(), X[:10], state, 3)
    bad = X.copy()
    bad[3, 1] = np.inf
    with pytest.raises(InvalidParameterError, match="NaN or infinite"):
        s.select(MockModel(), bad, state, 3)
    full = make_pool(n_samples=10, n_labeled=10)
    with pytest.raises(InvalidParameterError, match="unlabeled pool is empty"):
        s.select(MockModel(), *full, 3)
    with pytest.raises(InvalidParameterError, match="batch_size"):
        s.select(MockModel(), X, state, 0)
