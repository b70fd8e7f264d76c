import pickle

import numpy as np
import pytest

from labelwise import InvalidParameterError, UnsupportedModelError
from labelwise.strategies import available_strategies, get_strategy
from labelwise.strategies.base import Selection, Strategy
from labelwise.testing import (
    MockModel,
    ProbaOnlyModel,
    check_strategy,
    check_strategy_params,
    make_pool,
)

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


# --- issue 15, defect 11: presets keep their settings; the checks can fail ---

PRESET_NAMES = [
    "lcmd",
    "maxdet",
    "maxdiag",
    "fw",
    "maxdist",
    "kmeanspp",
    "bmdal-bait",
    *(
        f"agbal-{m}"
        for m in ("lcmd", "maxdet", "maxdiag", "fw", "maxdist", "kmeanspp", "bait")
    ),
]


@pytest.mark.parametrize("name", PRESET_NAMES)
def test_presets_keep_their_settings_through_get_params_clone_and_pickle(name):
    s = get_strategy(name, sigma=0.1, last_layers=2)
    assert type(s).__module__ == "labelwise.strategies.regression"
    assert "sigma=0.1" in repr(s) and "last_layers=2" in repr(s)
    params = s.get_params()
    assert params["sigma"] == 0.1 and params["last_layers"] == 2
    clone = type(s)(**params)
    assert clone.sigma == 0.1 and clone.get_params().keys() == params.keys()
    assert (clone.selection, clone.mode, clone.base_kernel, clone.transforms) == (
        s.selection,
        s.mode,
        s.base_kernel,
        s.transforms,
    )
    copy = pickle.loads(pickle.dumps(s))
    assert type(copy) is type(s) and copy.sigma == 0.1
    # the preset's own configuration is still its default
    assert type(s)().selection == get_strategy(name).selection


class _Good(Strategy):
    def __init__(self, *, alpha: float = 1.0, flag: bool = False):
        self.alpha = alpha
        self.flag = flag

    def _select(self, model, X, state, batch_size, rng):
        return Selection(indices=state.unlabeled_indices()[:batch_size])


def test_check_strategy_params_accepts_a_well_formed_strategy():
    check_strategy_params(_Good(alpha=3.0))


def test_check_strategy_params_rejects_a_type_made_kwargs_class():
    def __init__(self, **kw):
        _Good.__init__(self, **{"alpha": 2.0, **kw})

    made = type("Made", (_Good,), {"__init__": __init__})
    with pytest.raises(AssertionError, match="keyword-only argument"):
        check_strategy_params(made())


class _Clamps(_Good):
    def __init__(self, *, alpha: float = 1.0, flag: bool = False):
        super().__init__(alpha=min(alpha, 1.5), flag=flag)


def test_check_strategy_params_rejects_a_changed_value():
    with pytest.raises(AssertionError, match=r"store each argument unchanged"):
        check_strategy_params(_Clamps())


class _Ignores(_Good):
    def __init__(self, *, alpha: float = 1.0, flag: bool = False):
        super().__init__(alpha=1.0, flag=flag)


def test_check_strategy_params_rejects_an_ignored_argument():
    with pytest.raises(AssertionError, match="alpha"):
        check_strategy_params(_Ignores())


class _ExtraKey(_Good):
    def get_params(self):
        return {**super().get_params(), "beta": 1}


def test_check_strategy_params_rejects_extra_get_params_keys():
    with pytest.raises(AssertionError, match="exactly the keyword-only"):
        check_strategy_params(_ExtraKey())


class _Unpicklable(_Good):
    def __init__(self, *, alpha: float = 1.0, flag: bool = False):
        super().__init__(alpha=alpha, flag=flag)
        self._hook = lambda x: x


def test_check_strategy_rejects_a_strategy_that_does_not_pickle():
    with pytest.raises(AssertionError, match="does not pickle"):
        check_strategy(_Unpicklable())


class _ForgetsOnPickle(_Good):
    def __init__(self, *, alpha: float = 1.0, flag: bool = False):
        super().__init__(alpha=alpha, flag=flag)
        self.offset = 0

    def __getstate__(self):
        return {**self.__dict__, "offset": 5}

    def _select(self, model, X, state, batch_size, rng):
        free = state.unlabeled_indices()
        return Selection(indices=free[self.offset : self.offset + batch_size])


def test_check_strategy_rejects_a_pickled_copy_that_selects_differently():
    with pytest.raises(AssertionError, match="unpickled"):
        check_strategy(_ForgetsOnPickle())


class _ClampsLow(_Good):
    def __init__(self, *, alpha: float = 1.0, flag: bool = False):
        super().__init__(alpha=max(alpha, 1.5), flag=flag)


def test_check_strategy_params_tries_values_on_both_sides_of_the_default():
    with pytest.raises(AssertionError, match=r"alpha=0\.5"):
        check_strategy_params(_ClampsLow())


def test_repr_shows_data_held_by_a_strategy_as_shapes():
    # AGBAL's auxiliary=(X, y) printed every row of both arrays
    x_aux = np.arange(300.0).reshape(100, 3)
    s = get_strategy("agbal-lcmd", auxiliary=(x_aux, np.zeros(100)))
    r = repr(s)
    assert "auxiliary=(<array shape=(100, 3) dtype=float64>, " in r
    assert "<array shape=(100,) dtype=float64>)" in r and "299." not in r
    assert len(r) < 600
    # short arrays, lists of tuples and scalars read as before
    assert "class_weights=array([1., 2.])" in repr(
        get_strategy("lloss", class_weights=[1.0, 2.0])
    )
    assert "transforms=[('rp', 512)]" in repr(
        get_strategy("bmdal", transforms=[["rp", 512]])
    )
