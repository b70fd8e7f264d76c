"""The AttnCNP: context permutation invariance, pool equivariance, training, save."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from labelwise import InvalidParameterError
from labelwise.models import SklearnClassifier
from labelwise.strategies import get_strategy
from labelwise.strategies.neural_process import (
    AttnCNP,
    load_np,
    predict_np,
    save_np,
    simulate,
    train_np,
)
from labelwise.testing import make_pool


def _net(d=5, seed=0):
    torch.manual_seed(seed)
    return AttnCNP(d).eval()


def test_weight_count_is_the_papers():
    assert sum(p.numel() for p in AttnCNP(21).parameters()) == 21_924


def test_context_permutation_invariance_and_pool_equivariance():
    rng = np.random.default_rng(0)
    net = _net()
    xc, xt = rng.normal(size=(12, 5)), rng.normal(size=(30, 5))
    mu = predict_np(net, xc, xt)
    perm_c = rng.permutation(12)
    assert np.allclose(predict_np(net, xc[perm_c], xt), mu, atol=1e-5)
    perm_t = rng.permutation(30)
    assert np.allclose(predict_np(net, xc, xt[perm_t]), mu[perm_t], atol=1e-5)
    # no self-attention: a pool point's value does not depend on the others
    assert np.allclose(predict_np(net, xc, xt[:7]), mu[:7], atol=1e-5)
    # but it does depend on the context
    assert not np.allclose(predict_np(net, xc[:3], xt), mu, atol=1e-3)
    # sigma > 0.01 always
    with torch.no_grad():
        _, sigma = net(
            torch.as_tensor(xc[None], dtype=torch.float32),
            torch.zeros(1, 12, 1),
            torch.as_tensor(xt[None], dtype=torch.float32),
        )
    assert bool((sigma >= 0.01).all())


def test_training_fits_simulated_targets_and_round_trips(tmp_path):
    # targets depend on the distance to the context: learnable from (context, x)
    rng = np.random.default_rng(1)
    x = rng.uniform(-1, 1, size=(40, 2)).astype(np.float32)
    problems = []
    for _ in range(60):
        ctx = np.sort(rng.choice(40, size=rng.integers(5, 20), replace=False))
        tgt = np.setdiff1d(np.arange(40), ctx)
        d = np.min(((x[tgt][:, None] - x[ctx][None]) ** 2).sum(-1), axis=1)
        problems.append((ctx, tgt, d.astype(np.float32)))
    net = train_np(x, problems, epochs=60, seed=0)
    corr = [
        np.corrcoef(predict_np(net, x[c], x[t]), y)[0, 1] for c, t, y in problems[:10]
    ]
    assert np.mean(corr) > 0.75  # untrained: about 0
    ctx, tgt, _ = problems[0]
    mu = predict_np(net, x[ctx], x[tgt])
    save_np(net, tmp_path / "np.pt")
    again = load_np(tmp_path / "np.pt")
    assert np.allclose(predict_np(again, x[ctx], x[tgt]), mu)
    with pytest.raises(InvalidParameterError, match="No saved NP"):
        load_np(tmp_path / "missing.pt")


@pytest.mark.parametrize("batched", [None, False])
def test_simulations_are_oracle_improvements_on_the_reward_set(batched):
    X, state = make_pool(n_samples=50, n_classes=2, n_labeled=16, seed=2)
    lab = state.labeled_indices()
    y = np.asarray(state.labels(lab))
    Xr, yr = X[:10], (X[:10, 0] > 0).astype(int)
    model = SklearnClassifier()
    probs = simulate(
        model, X, lab, y, Xr, yr, n_classes=2, n_sim=5,
        rng=np.random.default_rng(0), batched=batched,
    )  # fmt: skip
    from labelwise.strategies.lookahead import myopic_improvements

    for ctx, tgt, vals in probs:
        assert np.unique(y[ctx]).size == 2 and not set(ctx) & set(tgt)
        assert len(ctx) + len(tgt) == len(lab)
        want = myopic_improvements(
            model, X, lab[ctx], y[ctx], lab[tgt], y[tgt], Xr, yr, n_classes=2,
            batched=batched,
        )  # fmt: skip
        assert np.allclose(vals, want, atol=1e-6)


def test_strategy_needs_a_reward_set_and_reuses_a_saved_np(tmp_path):
    X, state = make_pool(n_samples=60, n_classes=2, n_labeled=20, seed=3)
    model = SklearnClassifier().fit(
        X[state.labeled_indices()], state.labels(state.labeled_indices()), n_classes=2
    )
    s = get_strategy("np", n_sim=6, epochs=3, progress=False)
    with pytest.raises(InvalidParameterError, match="reward set"):
        s.select(model, X, state, 2, rng=0)
    s.set_reward(X[:10], (X[:10, 0] > 0).astype(int))
    sel = s.select(model, X, state, 2, rng=0)
    assert set(s.timings_) == {"simulate_seconds", "train_seconds", "score_seconds"}
    s.save_model(tmp_path / "np.pt")
    reused = get_strategy("np", pretrained=str(tmp_path / "np.pt"), progress=False)
    again = reused.select(model, X, state, 2, rng=0)  # no reward set needed
    assert again.indices.tolist() == sel.indices.tolist()
    with pytest.raises(InvalidParameterError, match="torch device"):
        get_strategy("np", device="gpu-please")
    # an explicit CPU device gives the same NP as the default
    same = get_strategy("np", n_sim=6, epochs=3, progress=False, device="cpu")
    same.set_reward(X[:10], (X[:10, 0] > 0).astype(int))
    assert same.select(model, X, state, 2, rng=0).indices.tolist() == (
        sel.indices.tolist()
    )


def test_a_pretrained_np_refuses_a_pool_of_another_width(tmp_path):
    # it failed deep in torch (mat1 and mat2 shapes cannot be multiplied)
    save_np(_net(d=3), tmp_path / "np.pt")
    X, state = make_pool(n_samples=30, n_features=4, n_classes=2, seed=1)
    lab = state.labeled_indices()
    model = SklearnClassifier().fit(X[lab], state.labels(lab), n_classes=2)
    s = get_strategy("np", pretrained=str(tmp_path / "np.pt"), progress=False)
    with pytest.raises(
        InvalidParameterError, match=r"pretrained NP takes 3 features.*the pool has 4"
    ):
        s.select(model, X, state, 2, rng=0)


@pytest.mark.parametrize("batched", [None, False])
@pytest.mark.parametrize(("labels", "got"), [([1], r"1 item\(s\) of classes \[1\]"),
                                             ([0, 1], r"2 item\(s\) of classes \[0, 1\]")])  # fmt: skip
def test_simulations_need_three_annotated_items_of_two_classes(batched, labels, got):
    # one item failed in NumPy's choice; two gave problems without targets
    # (batched: a reshape error; one by one: an NP trained on nothing)
    X, _ = make_pool(n_samples=30, n_features=3, n_classes=2, seed=1)
    lab = np.arange(len(labels))
    with pytest.raises(
        InvalidParameterError, match="at least two classes and three.*" + got
    ):
        simulate(
            SklearnClassifier(), X, lab, np.array(labels), X[:8], np.arange(8) % 2,
            n_classes=2, n_sim=3, rng=np.random.default_rng(0), batched=batched,
        )  # fmt: skip


@pytest.mark.parametrize(
    ("content", "what"),
    [
        (b"garbage", r"\(UnpicklingError\)"),
        (b"", r"\(EOFError\)"),
        ({"x_dim": 3}, r"\(KeyError: 'state_dict'\)"),
        ([1, 2], r"\(TypeError: "),
    ],
)
def test_a_damaged_saved_np_is_named(tmp_path, content, what):
    # torch's errors came through (UnpicklingError advising an unsafe load,
    # EOFError, KeyError, ...)
    path = tmp_path / "np.pt"
    if isinstance(content, bytes):
        path.write_bytes(content)
    else:
        torch.save(content, path)
    with pytest.raises(
        InvalidParameterError, match="is not an NP written by save_model " + what
    ):
        load_np(path)
    with pytest.raises(InvalidParameterError, match="not an NP written by save_model"):
        get_strategy("np", pretrained=str(path))


def test_unconverged_simulations_fall_back_with_one_warning():
    # each of the n_sim problems warned on its own (300 copies of one message
    # in the selection's info and on stderr at the default n_sim)
    import warnings

    from sklearn.linear_model import LogisticRegression

    from labelwise.pool import LabelState

    rng = np.random.default_rng(0)
    X = rng.normal(size=(40, 3)) * np.array([1.0, 1e12, 1.0])
    y = (X[:, 0] + X[:, 1] / 1e12 > 0).astype(np.int64)
    state = LabelState(40, classes=["a", "b"])
    state.teach(np.arange(12), y[:12], round=0)
    model = SklearnClassifier(LogisticRegression()).fit(X[:12], y[:12], n_classes=2)
    s = get_strategy("np", n_sim=6, epochs=1, progress=False)
    s.set_reward(X[30:], y[30:])  # type: ignore[attr-defined]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        sel = s.select(model, X, state, 3, rng=0)
    (message,) = sel.info["warnings"]
    assert (
        "converge on 6 of 6 simulated problems" in message
        and "standardise them" in message
    )
