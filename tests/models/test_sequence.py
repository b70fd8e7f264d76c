"""Sequence networks: shapes, padding masks, causality, registry, strategies, CLI."""

import functools
import math
import pickle

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

from labelwise import InvalidParameterError
from labelwise._validation import check_features, check_padding
from labelwise.bench import parse_grid
from labelwise.cli import app
from labelwise.loop import ActiveLearner
from labelwise.models import (
    FineTune,
    SequenceNetwork,
    TabularAugment,
    TorchClassifier,
    gru,
    lstm,
    mlp,
    pad_sequences,
    tcn,
    transformer,
)
from labelwise.models.augment import default_augment
from labelwise.models.registry import check_model_params, make_model
from labelwise.models.sequence import masked_mean, sinusoidal_encoding
from labelwise.pool import LabelState
from labelwise.strategies import get_strategy
from labelwise.testing import make_sequences

C = 3
NETS = {
    "lstm": functools.partial(lstm, hidden=6),
    "lstm-bi": functools.partial(lstm, hidden=6, layers=2, bidirectional=True),
    "gru": functools.partial(gru, hidden=6),
    "gru-bi": functools.partial(gru, hidden=6, bidirectional=True),
    "tcn": functools.partial(tcn, hidden=6, layers=3, kernel_size=2),
    "transformer": functools.partial(transformer, hidden=8, heads=2),
}
DIMS = {"lstm": 6, "lstm-bi": 12, "gru": 6, "gru-bi": 12, "tcn": 6, "transformer": 8}


@functools.cache
def _net(name):
    torch.manual_seed(0)
    return NETS[name]((10, C), 4).eval()


def _seqs(lengths, seed=0):
    rng = np.random.default_rng(seed)
    return [rng.normal(size=(t, C)).astype(np.float32) for t in lengths]


# ------------------------------------------------------------ pad_sequences
def test_pad_sequences_pads_after_the_real_steps():
    seqs = _seqs([3, 1, 2])
    x = pad_sequences(seqs)
    # a generator too (it failed on len())
    np.testing.assert_array_equal(pad_sequences(s for s in seqs), x)
    assert x.shape == (3, 3, C) and x.dtype == np.float32
    for i, s in enumerate(seqs):
        np.testing.assert_array_equal(x[i, : len(s)], s)
        assert np.isnan(x[i, len(s) :]).all()
    np.testing.assert_array_equal(check_padding(x).sum(1), [0, 2, 1])
    one = pad_sequences([[1.0, 2.0], [3.0]])  # 1-D sequences: one channel
    assert one.shape == (2, 2, 1) and np.isnan(one[1, 1, 0])


@pytest.mark.parametrize(
    ("seqs", "match"),
    [
        ([], "at least one sequence"),
        ([np.zeros((2, 3)), np.zeros((0, 3))], "Sequence 1 is empty"),
        (
            [np.zeros((2, 3)), np.zeros((2, 2))],
            r"same number of channels in every sequence; got \[2, 3\]",
        ),
        ([np.array([[1.0, np.nan]])], "NaN marks padding only"),
        ([np.array([[1.0, np.inf]])], "NaN or infinite"),
        ([np.zeros((2, 2, 2))], r"shape \(T, C\) or \(T,\); got shape \(2, 2, 2\)"),
        ([np.array(["a", "b"])], "must hold real numbers"),
        ([np.array([1j, 2.0])], "must hold real numbers; got dtype complex"),
        ([np.zeros((3, 0))], r"Sequence 0 has no channels \(shape \(3, 0\)\)"),
        ([np.zeros((2, 3)), [[1.0, 2.0], [3.0]]], "Sequence 1 is ragged"),
    ],
)
def test_pad_sequences_errors(seqs, match):
    with pytest.raises(InvalidParameterError, match=match):
        pad_sequences(seqs)


@pytest.mark.parametrize(
    ("edit", "match"),
    [
        (lambda x: x.__setitem__((0, 0, 1), np.nan), "NaN inside a real"),
        (lambda x: x.__setitem__((1, slice(0, 2)), np.nan), "no real step"),
        (lambda x: x.__setitem__((0, 1), np.nan), "padding before a real step"),
        (lambda x: x.__setitem__((0, 0, 0), np.inf), "infinite values"),
    ],
)
def test_padding_checks_name_the_problem_and_rows(edit, match):
    x = pad_sequences(_seqs([4, 2]))
    edit(x)
    with pytest.raises(InvalidParameterError, match=match + r".*first at rows \["):
        check_features(x, allow_padding=True)
    with pytest.raises(InvalidParameterError, match="NaN or infinite"):
        check_features(x)  # without allow_padding any NaN is refused


def test_front_padding_is_named_as_such():
    # a row padded at the front was reported as "no real step (all padding)"
    x = pad_sequences(_seqs([4, 2]))
    x[1] = np.roll(x[1], 2, axis=0)  # the two real steps last
    with pytest.raises(
        InvalidParameterError,
        match=r"padding before a real step \(padded at the front\?\) in 1 row\(s\), "
        r"first at rows \[1\]",
    ):
        check_padding(x)


def test_non_finite_values_without_padding_get_the_plain_message():
    x = pad_sequences(_seqs([4, 4]))
    x[0, 0, 1] = np.inf
    with pytest.raises(InvalidParameterError, match="NaN or infinite values in 1"):
        check_features(x, allow_padding=True)


def test_padding_of_two_dimensional_rows_is_trailing_nan():
    x = np.array([[1.0, 2.0, np.nan], [1.0, 2.0, 3.0]], dtype=np.float32)
    np.testing.assert_array_equal(check_padding(x), [[0, 0, 1], [0, 0, 0]])
    with pytest.raises(InvalidParameterError, match="NaN or infinite"):
        check_features(np.zeros((2, 2, 2, 2)) * np.nan, allow_padding=True)


# ------------------------------------------------------------ the networks
@pytest.mark.parametrize("name", NETS)
def test_shapes_and_embedding_dims(name):
    net = _net(name)
    assert isinstance(net, SequenceNetwork) and net.masks_padding
    x = torch.as_tensor(pad_sequences(_seqs([5, 2, 7])))
    with torch.no_grad():
        h = net.features(x)
        logits = net(x)
    assert h.shape == (3, DIMS[name]) and logits.shape == (3, 4)
    assert torch.isfinite(logits).all()


def _padded_vs_alone(net, lengths, extra=0):
    seqs = _seqs(lengths, seed=len(lengths))
    x = pad_sequences(seqs)
    x = np.concatenate([x, np.full((len(seqs), extra, C), np.nan, np.float32)], 1)
    with torch.no_grad():
        padded = net(torch.as_tensor(x)), net.features(torch.as_tensor(x))
        alone = [
            (net(torch.as_tensor(s[None])), net.features(torch.as_tensor(s[None])))
            for s in seqs
        ]
    for k in range(2):
        ref = torch.cat([a[k] for a in alone])
        torch.testing.assert_close(padded[k], ref, atol=1e-5, rtol=1e-5)


@pytest.mark.parametrize("name", NETS)
@settings(max_examples=8, deadline=None)
@given(
    lengths=st.lists(st.integers(1, 9), min_size=1, max_size=4),
    extra=st.integers(0, 3),
)
def test_padded_and_unpadded_give_the_same_outputs(name, lengths, extra):
    _padded_vs_alone(_net(name), lengths, extra)


@pytest.mark.parametrize("name", NETS)
def test_two_dimensional_input_is_one_channel(name):
    torch.manual_seed(0)
    net = NETS[name]((8,), 2).eval()
    x = torch.randn(3, 8)
    with torch.no_grad():
        torch.testing.assert_close(net(x), net(x[:, :, None]))


def test_tcn_is_causal():
    net = _net("tcn")
    x = torch.randn(2, 10, C)
    y = x.clone()
    y[:, 6] += 5.0
    with torch.no_grad():
        hx = net.features.blocks(x.transpose(1, 2))
        hy = net.features.blocks(y.transpose(1, 2))
    torch.testing.assert_close(hx[:, :, :6], hy[:, :, :6], atol=0, rtol=0)
    assert (hx[:, :, 6] - hy[:, :, 6]).abs().max() > 1e-3


def test_transformer_sees_positions_and_is_batch_equivariant():
    net = _net("transformer")
    x = torch.randn(4, 7, C)
    with torch.no_grad():
        h = net.features(x)
        rev = net.features(x.flip(1))
        perm = net.features(x[[2, 0, 3, 1]])
    assert (h - rev).abs().max() > 1e-3  # order matters through the encoding
    torch.testing.assert_close(perm, h[[2, 0, 3, 1]], atol=1e-5, rtol=1e-5)


def test_sinusoidal_encoding_matches_the_formula():
    pe = sinusoidal_encoding(6, 5)
    for t in range(6):
        for j in range(5):
            angle = t / 10000 ** (2 * (j // 2) / 5)
            ref = math.sin(angle) if j % 2 == 0 else math.cos(angle)
            assert pe[t, j].item() == pytest.approx(ref, abs=1e-6)


def test_masked_mean_is_the_mean_of_the_real_steps():
    h = torch.randn(2, 4, 3)
    pad = torch.tensor([[False, False, True, True], [False, False, False, False]])
    out = masked_mean(h, pad)
    torch.testing.assert_close(out[0], h[0, :2].mean(0))
    torch.testing.assert_close(out[1], h[1].mean(0))


@pytest.mark.parametrize(
    ("make", "match"),
    [
        (lambda: lstm((1, 28, 28), 2), "expects sequences of shape"),
        (lambda: tcn((5, 2), 2, kernel_size=0), "kernel_size must be an int >= 1"),
        (lambda: transformer((5, 2), 2, hidden=10, heads=4), "multiple of heads"),
        (lambda: gru((5, 2), 2, dropout=1.0), r"dropout must be in \[0, 1\)"),
        (lambda: lstm((5, 2), 2, bidirectional=1), "True or False"),
    ],
)
def test_construction_errors(make, match):
    with pytest.raises(InvalidParameterError, match=match):
        make()


# -------------------------------------------------------- TorchClassifier
DATA = make_sequences(48, length=(4, 10), n_channels=C, n_classes=3, seed=3)


@functools.cache
def _fitted(name, **kw):
    x, y = DATA
    clf = TorchClassifier(NETS[name], max_epochs=2, device="cpu", **dict(kw))
    return clf.fit(x[:32], y[:32], n_classes=3, rng=0)


@pytest.mark.parametrize("name", NETS)
def test_classifier_predicts_padded_rows_as_unpadded(name):
    clf = _fitted(name)
    x, _ = DATA
    p, h = clf.predict_proba(x), clf.embed(x)
    assert p.shape == (48, 3) and h.shape == (48, DIMS[name])
    lengths = (~check_padding(x)).sum(1)
    for i in (0, int(np.argmin(lengths))):
        row = x[i : i + 1, : lengths[i]]
        assert not np.isnan(row).any()
        np.testing.assert_allclose(clf.predict_proba(row), p[i : i + 1], atol=1e-5)
        np.testing.assert_allclose(clf.embed(row), h[i : i + 1], atol=1e-5)
    longer = np.concatenate([x, np.full((48, 5, C), np.nan, np.float32)], 1)
    np.testing.assert_allclose(clf.predict_proba(longer), p, atol=1e-5)
    t = clf.tensor_outputs(x, "embed")
    np.testing.assert_allclose(t.numpy(), h, atol=1e-6)


@pytest.mark.parametrize("name", NETS)
@pytest.mark.parametrize(
    ("shape", "match"),
    [
        ((4, 7, C + 1), f"this network takes C = {C}, got shape \\(4, 7, {C + 1}\\)"),
        ((4, 7), f"this network takes C = {C}, got shape \\(4, 7\\)"),
        ((4, 7, C, 1), r"got shape \(4, 7, 3, 1\)"),
        ((4, 0, C), r"T >= 1.*got shape \(4, 0, 3\)"),
    ],
)
def test_inputs_of_another_shape_are_refused_by_name(name, shape, match):
    # a packed LSTM read other channel counts without an error (silently wrong
    # outputs), the others failed deep in torch; T = 0 fed an empty sequence
    clf = _fitted(name)
    x = np.zeros(shape, np.float32)
    for call in (clf.predict_proba, clf.embed):
        with pytest.raises(InvalidParameterError, match=match):
            call(x)
    with pytest.raises(InvalidParameterError, match=match):
        clf.tensor_outputs(x, "proba")
    with pytest.raises(InvalidParameterError, match=match):
        clf.finetune(x, np.zeros(shape[0], np.int64), DATA[0][:4])


def test_other_networks_name_both_shapes_on_a_mismatch():
    x = np.random.default_rng(0).normal(size=(20, 5)).astype(np.float32)
    clf = TorchClassifier(mlp, max_epochs=1, device="cpu")
    clf.fit(x, np.arange(20) % 2, n_classes=2, rng=0)
    with pytest.raises(
        InvalidParameterError,
        match=r"rows of shape \(3,\), but the model was fitted on rows of shape \(5,\)",
    ):
        clf.predict_proba(x[:, :3])


def test_ema_tensor_outputs_take_padded_sequences():
    # the tensor path of LHD refused the padding its CPU path accepted
    x, y = DATA
    clf = TorchClassifier(
        functools.partial(tcn, hidden=6, layers=2), max_epochs=2, ema_alpha=0.9,
        device="cpu",
    ).fit(x[:8], y[:8], n_classes=3, rng=0)  # fmt: skip
    for t, a in zip(clf.ema_tensor_outputs(x), clf.ema_outputs(x), strict=True):
        np.testing.assert_allclose(t.numpy(), a, atol=1e-6)


@pytest.mark.parametrize("name", NETS)
def test_strategies_select_on_sequences(name):
    clf = _fitted(name)
    x, y = DATA
    state = LabelState(48, classes=["a", "b", "c"])
    state.teach(np.arange(8), y[:8], round=0)
    for strategy in ("coreset", "badge", "bait", "margin"):
        sel = get_strategy(strategy).select(clf, x, state, 4, rng=0)
        assert sel.indices.size == 4 and np.unique(sel.indices).size == 4
        assert (sel.indices >= 8).all()


def test_strategies_on_raw_inputs_refuse_padding():
    x, y = DATA
    state = LabelState(48, classes=["a", "b", "c"])
    state.teach(np.arange(8), y[:8], round=0)
    with pytest.raises(InvalidParameterError, match="'kcenter' computes on the raw"):
        get_strategy("kcenter").select(_fitted("tcn"), x, state, 4, rng=0)


def test_mc_dropout_and_lhd_on_a_sequence_network():
    x, y = DATA
    state = LabelState(48, classes=["a", "b", "c"])
    state.teach(np.arange(8), y[:8], round=0)
    clf = TorchClassifier(
        functools.partial(tcn, hidden=6, layers=2, dropout=0.3),
        max_epochs=2,
        ema_alpha=0.9,
        device="cpu",
    ).fit(x[:8], y[:8], n_classes=3, rng=0)
    samples = clf.predict_proba_samples(x, 3, rng=0)
    assert samples.shape == (3, 48, 3) and np.isfinite(samples).all()
    assert samples.std(0).max() > 1e-4
    for strategy in ("bald", "lhd"):
        sel = get_strategy(strategy).select(clf, x, state, 4, rng=0)
        assert np.unique(sel.indices).size == 4


def test_mlp_flattens_windows_and_refuses_padding():
    x, y = make_sequences(30, length=(6, 6), n_channels=C, seed=1)
    assert not np.isnan(x).any()
    clf = TorchClassifier(mlp, max_epochs=2, device="cpu").fit(x, y, n_classes=3, rng=0)
    assert clf.predict_proba(x).shape == (30, 3)
    xp, yp = DATA
    with pytest.raises(InvalidParameterError, match="sequence network that masks"):
        TorchClassifier(mlp, max_epochs=1, device="cpu").fit(xp, yp, n_classes=3, rng=0)
    with pytest.raises(InvalidParameterError, match="NaN or infinite"):
        clf.predict_proba(xp[:, :6])


def test_augmentation_keeps_padding():
    x = torch.as_tensor(DATA[0])
    aug = default_augment(x)
    assert isinstance(aug, TabularAugment)
    out = aug(x, torch.Generator().manual_seed(0))
    torch.testing.assert_close(torch.isnan(out), torch.isnan(x))
    clf = TorchClassifier(NETS["gru"], max_epochs=2, augment=True, device="cpu")
    clf.fit(DATA[0], DATA[1], n_classes=3, rng=0)
    assert np.isfinite(clf.predict_proba(DATA[0])).all()


def test_finetune_on_padded_sequences_with_augmentation():
    x, y = DATA
    clf = TorchClassifier(NETS["tcn"], max_epochs=1, device="cpu")
    clf.fit(x[:8], y[:8], n_classes=3, rng=0)
    cfg = FineTune(threshold=0.0, min_size=1, max_epochs=1, augment=True)
    res = clf.finetune(x[:8], y[:8], x[8:], config=cfg, rng=0)
    assert not res.skipped and res.n_pseudo == 40
    assert np.isfinite(clf.predict_proba(x)).all()


def test_pickled_sequence_classifier_predicts_the_same():
    clf = _fitted("transformer")
    loaded = pickle.loads(pickle.dumps(clf))
    np.testing.assert_allclose(
        loaded.predict_proba(DATA[0]), clf.predict_proba(DATA[0]), atol=1e-6
    )


def test_active_learner_runs_on_padded_sequences():
    x, y = DATA
    learner = ActiveLearner(
        TorchClassifier(NETS["lstm"], max_epochs=1, device="cpu"),
        get_strategy("badge"),
        x,
        classes=["a", "b", "c"],
        seed=0,
    )
    learner.teach(np.arange(6), y[:6])
    batch = learner.fit().query(5).indices
    learner.teach(batch, y[batch])
    assert learner.state.n_labeled == 11
    assert learner.fit().predict_proba(x).shape == (48, 3)


# ------------------------------------------------------------ by name
def test_registry_builds_sequence_models():
    clf = make_model("lstm", hidden=5, layers=2, bidirectional=True, device="cpu")
    net = clf.network((7, C), 3)
    assert isinstance(net, SequenceNetwork)
    assert net.features.rnn.bidirectional and net.features.rnn.num_layers == 2
    assert net.head.in_features == 10
    assert make_model("tcn", kernel=5).network((7, C), 3).features.blocks[0].net[
        0
    ].kernel_size == (5,)
    tr = make_model("transformer", hidden=12, heads=3).network((7, C), 3)
    assert tr.features.encoder.layers[0].self_attn.num_heads == 3
    assert check_model_params("gru", {})["hidden"] == 64
    assert check_model_params("tcn", {})["layers"] == 4


@pytest.mark.parametrize(
    ("name", "params", "match"),
    [
        ("lstm", {"heads": 2}, "Unknown parameter 'heads' for model 'lstm'"),
        ("gru", {"bidirectional": 1}, "must be true or false"),
        ("tcn", {"kernel": 2.5}, "must be an int"),
        ("lstn", {}, "Did you mean 'lstm'"),
    ],
)
def test_registry_errors(name, params, match):
    with pytest.raises(InvalidParameterError, match=match):
        check_model_params(name, params)


def test_grid_accepts_sequence_models():
    grid = parse_grid(
        {
            "name": "seq",
            "datasets": ["digits"],
            "models": ["lstm", {"name": "tcn", "params": {"kernel": 2}}, "transformer"],
            "strategies": ["random"],
        },
        "test",
    )
    assert [m.name for m in grid.models] == ["lstm", "tcn", "transformer"]


def test_cli_runs_a_sequence_model(tmp_path):
    # digits rows (64 pixels) read as univariate sequences of 64 steps
    args = ["run", "--dataset", "digits", "--model", "gru", "--strategy", "margin"]
    args += ["--initial", "20", "--batch-size", "10", "--rounds", "1", "--seeds", "1"]
    args += ["--pool-size", "100", "--test-size", "50", "--epochs", "1"]
    args += ["--hidden", "4", "--bidirectional", "--out", str(tmp_path / "run")]
    res = CliRunner().invoke(app, args)
    assert res.exit_code == 0, res.output
    assert "| digits | gru | margin |" in res.output
    res = CliRunner().invoke(app, [*args[:4], "mlp", *args[5:]])
    assert res.exit_code == 2 and "takes no option(s) bidirectional" in res.output


def test_labeling_app_accepts_sequence_models(tmp_path, blobs_writer):
    from labelwise.app import init_project

    blobs_writer(tmp_path / "pool.csv")
    cfg = init_project(
        tmp_path / "proj",
        table=tmp_path / "pool.csv",
        classes=["neg", "pos"],
        model="tcn",
        model_params={"hidden": 8, "kernel": 2},
    )
    assert cfg.model == "tcn" and cfg.model_params["kernel"] == 2
    with pytest.raises(InvalidParameterError, match="Unknown parameter 'kernel'"):
        init_project(
            tmp_path / "proj2",
            table=tmp_path / "pool.csv",
            classes=["neg", "pos"],
            model="lstm",
            model_params={"kernel": 2},
        )


@pytest.mark.parametrize(
    ("model", "strategy", "named"),
    [
        ("mlp", "random", "model 'mlp' does not mask padding"),
        ("logreg", "margin", "model 'logreg' does not mask padding"),
        ("lstm", "kcenter", "strategy 'kcenter' computes on the raw inputs"),
    ],
)
def test_run_refuses_what_cannot_use_a_padded_set_up_front(
    tmp_path, model, strategy, named
):
    # the runs started, failed at their first fit or query and printed tracebacks
    res = CliRunner().invoke(
        app,
        ["run", "--dataset", "japanese-vowels", "--model", model, "--strategy",
         strategy, "--out", str(tmp_path / "r")],
    )  # fmt: skip
    assert res.exit_code == 2, res.output
    text = " ".join(res.output.split())
    assert "japanese-vowels holds variable-length sequences, NaN-padded" in text
    assert named in text and "Traceback" not in text
    assert not (tmp_path / "r").exists()


def test_label_init_on_a_padded_set_defaults_to_tcn_and_refuses_the_rest(
    tmp_path, monkeypatch
):
    # the default model was mlp and every label then answered 400
    from labelwise import datasets as ds
    from labelwise.app import LabelSession, init_project

    x, y = make_sequences(40, length=(2, 9), n_channels=C, seed=2)
    fake = ds.Dataset("japanese-vowels", x[:30], y[:30], x[30:], y[30:], list("abc"))
    monkeypatch.setattr(ds, "load", lambda *a, **k: fake)
    cfg = init_project(tmp_path / "p", dataset="japanese-vowels", batch_size=4,
                       model_params={"epochs": 2, "hidden": 4})  # fmt: skip
    assert cfg.model == "tcn"
    session = LabelSession(tmp_path / "p", background=False, device="cpu").start()
    for q in session.db.queue():
        session.label(q["item"], "abc"[y[q["item"]]])
    assert session.db.model_version() == 1 and session.last_error is None
    assert len(session.db.queue()) == 4
    session.close()
    for model, strategy, named in (
        ("mlp", None, "model 'mlp' does not mask padding"),
        ("lstm", "kcenter", "strategy 'kcenter' computes on the raw inputs"),
    ):
        with pytest.raises(InvalidParameterError, match=named):
            init_project(tmp_path / "q", dataset="japanese-vowels", model=model,
                         strategy=strategy)  # fmt: skip
        assert not (tmp_path / "q").exists()


# ------------------------------------------------------------ devices
@pytest.mark.parametrize("name", ["lstm-bi", "gru", "tcn", "transformer"])
def test_sequence_models_on_a_device(device, name):
    x, y = DATA
    clf = TorchClassifier(NETS[name], max_epochs=2, device=device)
    clf.fit(x[:32], y[:32], n_classes=3, rng=0)
    h = clf.tensor_outputs(x, "embed")
    assert h.device.type == device and h.shape == (48, DIMS[name])
    lengths = (~check_padding(x)).sum(1)
    i = int(np.argmin(lengths))
    np.testing.assert_allclose(
        clf.predict_proba(x[i : i + 1, : lengths[i]]),
        clf.predict_proba(x[i : i + 1]),
        atol=1e-5 if device == "cpu" else 1e-4,
    )
    state = LabelState(48, classes=["a", "b", "c"])
    state.teach(np.arange(8), y[:8], round=0)
    for strategy in ("coreset", "badge"):
        sel = get_strategy(strategy).select(clf, x, state, 4, rng=0)
        assert np.unique(sel.indices).size == 4


@pytest.mark.gpu
@pytest.mark.parametrize("name", NETS)
def test_cuda_sequence_training_matches_cpu_closely(name, monkeypatch):
    # cuDNN runs float32 convolutions and RNNs in TF32 by default on Ampere and
    # later (10-bit mantissa, ~5e-4 relative): off here, so that the comparison
    # is of the training itself (weights, data order, batches), as for the MLP
    monkeypatch.setattr(torch.backends.cudnn, "allow_tf32", False)
    x, y = DATA
    fits = [
        TorchClassifier(NETS[name], max_epochs=3, device=d).fit(
            x, y, n_classes=3, rng=0
        )
        for d in ("cpu", "cuda")
    ]
    np.testing.assert_allclose(
        fits[1].predict_proba(x), fits[0].predict_proba(x), atol=1e-3
    )


@pytest.mark.gpu
@pytest.mark.parametrize("name", ["lstm", "tcn", "transformer"])
def test_cuda_bf16_sequence_models_output_float32(name):
    x, y = DATA
    clf = TorchClassifier(NETS[name], max_epochs=2, device="cuda", precision="bf16")
    clf.fit(x, y, n_classes=3, rng=0)
    p = clf.tensor_outputs(x, "proba")
    assert p.dtype == torch.float32 and p.device.type == "cuda"
    assert torch.isfinite(p).all()
    loaded = pickle.loads(pickle.dumps(clf))  # a CUDA-trained model loads on the CPU
    assert np.isfinite(loaded.predict_proba(x)).all()
