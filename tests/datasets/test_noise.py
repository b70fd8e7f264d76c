"""Heteroskedastic-noise wrappers (LHD §4.5) and the clean-share metric."""

from __future__ import annotations

import numpy as np
import pytest

from labelwise import InvalidParameterError
from labelwise.datasets import check_name, load
from labelwise.datasets.noise import NoiseSpec, add_noise, n_noisy, parse_name
from labelwise.loop import ResultStore, RunConfig, run_simulation
from labelwise.metrics import clean_share
from labelwise.models import SklearnClassifier
from labelwise.strategies import get_strategy


def _images(n=50, seed=0):
    rng = np.random.default_rng(seed)
    x = rng.integers(1, 256, size=(n, 1, 6, 6)).astype(np.uint8)
    y = rng.integers(0, 4, size=n)
    y[:3] = 1
    return x, y


@pytest.mark.parametrize("share", [0.2, 0.4, 0.8])
@pytest.mark.parametrize("kind", ["noisy-blank", "noisy-diverse", "noisy-class"])
def test_noisy_share_and_clean_part_kept(kind, share):
    x, y = _images()
    xn, yn, noisy = add_noise(
        x, y, NoiseSpec(kind, share), n_classes=4, value_range=(0, 255)
    )
    m = n_noisy(50, share)
    assert xn.shape == (50 + m, 1, 6, 6) and xn.dtype == np.uint8
    assert yn.shape == noisy.shape == (50 + m,)
    assert noisy[50:].all()
    assert np.array_equal(xn[:50], x)
    assert ((yn >= 0) & (yn < 4)).all()
    if kind != "noisy-class":
        assert not noisy[:50].any() and np.array_equal(yn[:50], y)
    assert (~noisy).sum() / noisy.size == pytest.approx(
        1 - share, abs=0.02 + (y == 1).mean() * (kind == "noisy-class")
    )


def test_noisy_blank_is_black_with_uniform_labels():
    x, y = _images(n=400)
    xn, yn, _ = add_noise(
        x, y, NoiseSpec("noisy-blank"), n_classes=4, value_range=(0, 255)
    )
    assert (xn[400:] == 0).all()
    counts = np.bincount(yn[400:], minlength=4)
    assert counts.min() > 0.2 * 1600


def test_noisy_diverse_types_are_solid_with_three_labels():
    x = np.random.default_rng(0).normal(size=(300, 5))
    y = np.random.default_rng(1).integers(0, 10, size=300)
    xn, yn, _ = add_noise(x, y, NoiseSpec("noisy-diverse"), n_classes=10)
    added, labels = xn[300:], yn[300:]
    types = {tuple(r) for r in added}
    assert len(types) <= 100
    for t in types:  # continuous colours never collide: each type has 3 labels
        assert len(set(labels[(added == t).all(1)])) <= 3
    assert ((added >= x.min(0)) & (added <= x.max(0))).all()
    img, _ = _images()
    xi, _, _ = add_noise(
        img, _images()[1], NoiseSpec("noisy-diverse"), n_classes=4, value_range=(0, 255)
    )
    flat = xi[50:].reshape(len(xi) - 50, -1)
    assert (flat == flat[:, :1]).all()  # one colour over the whole image


def test_noisy_class_relabels_class_one_and_copies_its_first_items():
    x, y = _images(n=300)
    ones = np.flatnonzero(y == 1)
    xn, yn, noisy = add_noise(
        x, y, NoiseSpec("noisy-class", 0.5), n_classes=4, value_range=(0, 255)
    )
    assert np.array_equal(np.flatnonzero(noisy[:300]), ones)
    others = np.setdiff1d(np.arange(300), ones)
    assert np.array_equal(yn[others], y[others])
    copies = xn[300:]
    src = ones[:100]
    assert np.array_equal(copies, x[src[np.arange(300) % src.size]])
    with pytest.raises(InvalidParameterError, match="class 1"):
        add_noise(x[y != 1], y[y != 1], NoiseSpec("noisy-class"), n_classes=4)


def test_noise_is_fixed_by_its_seed():
    x, y = _images()
    a = add_noise(x, y, NoiseSpec("noisy-diverse"), n_classes=4, value_range=(0, 255))
    b = add_noise(x, y, NoiseSpec("noisy-diverse"), n_classes=4, value_range=(0, 255))
    c = add_noise(
        x, y, NoiseSpec("noisy-diverse"), n_classes=4, value_range=(0, 255), seed=1
    )
    assert all(np.array_equal(u, v) for u, v in zip(a, b, strict=True))
    assert not np.array_equal(a[0], c[0])


@pytest.mark.parametrize(
    ("name", "match"),
    [
        ("digits:noisy", "KIND one of"),
        ("digits:noisy-blank:1.5", "share"),
        ("digits:noisy-blank:x", "share"),
        ("digitz:noisy-blank", "Unknown dataset 'digitz'"),
    ],
)
def test_bad_names_are_explained(name, match):
    with pytest.raises(InvalidParameterError, match=match):
        check_name(name)


def test_parse_name():
    assert parse_name("a:noisy-class") == ("a", NoiseSpec("noisy-class", 0.8))
    assert parse_name("a:noisy-blank:0.2") == ("a", NoiseSpec("noisy-blank", 0.2))


def test_load_wraps_a_subsampled_pool_with_clean_statistics():
    clean = load("digits", pool_size=300, test_size=100)
    noisy = load("digits:noisy-blank:0.4", pool_size=300, test_size=100)
    assert noisy.X_train.shape[0] == 300 + n_noisy(300, 0.4) == 500
    assert np.array_equal(noisy.X_train[:300], clean.X_train)
    assert np.array_equal(noisy.X_test, clean.X_test)
    assert noisy.noisy is not None and noisy.noisy.sum() == 200
    blank = noisy.X_train[300:]
    assert np.allclose(blank, blank[:1])  # raw zeros, standardised with clean stats
    assert clean.noisy is None
    moons = load("four-moons")
    assert moons.noisy is not None and moons.noisy.sum() == 21000


def test_clean_share_matches_a_count():
    noisy = np.array([0, 1, 0, 1, 1, 0, 0], dtype=bool)
    idx = np.array([0, 1, 2, 3, 4, 5])
    rounds = np.array([0, 1, 1, 2, 2, 2])
    assert clean_share(noisy, idx, rounds, 0) == {}
    assert clean_share(noisy, idx, rounds, 1) == {
        "clean_share": 0.5,
        "clean_share_round": 0.5,
    }
    got = clean_share(noisy, idx, rounds, 2)
    assert got["clean_share"] == pytest.approx(2 / 5)
    assert got["clean_share_round"] == pytest.approx(1 / 3)


def test_noisy_blank_pattern_diversity_avoids_uncertainty_falls_in(tmp_path):
    """The paper's Tables 3-4 pattern on digits with 80 % blank noise.

    Margin is left out: with logistic regression the blank items' top-two gap is
    not the smallest (it selects about 60 % clean items here).
    """
    d = load("digits:noisy-blank")
    store = ResultStore(tmp_path / "r.sqlite")
    shares = {}
    for name in ["coreset", "badge", "least-confidence"]:
        cfg = RunConfig("digits:noisy-blank", "logreg", name, 0, 30, 30, 4)
        status = run_simulation(
            cfg,
            SklearnClassifier(),
            get_strategy(name),
            d.X_train,
            d.y_train,
            d.X_test,
            d.y_test,
            classes=d.classes,
            store=store,
            noisy=d.noisy,
        )
        assert status == "finished"
        df = store.measurements()
        last = df[(df["strategy"] == name) & (df["metric"] == "clean_share")]
        shares[name] = float(last.sort_values("round")["value"].iloc[-1])
    assert shares["coreset"] >= 0.95 and shares["badge"] >= 0.95, shares
    assert shares["least-confidence"] <= 0.3, shares


def test_a_noisy_mask_of_the_wrong_shape_fails_the_run(tmp_path):
    d = load("digits", pool_size=100, test_size=50)
    store = ResultStore(tmp_path / "r.sqlite")
    cfg = RunConfig("digits", "logreg", "random", 0, 10, 10, 1)
    status = run_simulation(
        cfg,
        SklearnClassifier(),
        get_strategy("random"),
        d.X_train,
        d.y_train,
        d.X_test,
        d.y_test,
        classes=d.classes,
        store=store,
        noisy=np.zeros(99, bool),
    )
    assert status == "failed"
    assert "noisy must be a boolean mask of shape (100,)" in store.runs()["error"][0]


def test_mnist_wrappers_share_the_clean_statistics():
    clean = load("mnist", pool_size=200, test_size=50)
    d = load("mnist:noisy-diverse:0.2", pool_size=200, test_size=50)
    assert d.X_train.shape == (250, 1, 28, 28) and d.noisy.sum() == 50
    assert np.array_equal(d.X_train[:200], clean.X_train)
    flat = d.X_train[200:].reshape(50, -1)
    assert np.allclose(flat, flat[:, :1])  # one grey level per image
