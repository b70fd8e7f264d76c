"""Bad hyperparameters and inputs of the model adapters: clear errors, never NaN.

Each case here was once accepted silently (a model trained into NaN, a negative
weight decay ignored) or died in a torch or NumPy traceback.
"""

from __future__ import annotations

import numpy as np
import pytest

from labelwise import InvalidParameterError
from labelwise.models import (
    EmbeddingRegressor,
    SklearnClassifier,
    SklearnRegressor,
    TorchClassifier,
    TorchRegressor,
    mlp,
)
from labelwise.models.loss_prediction import LossPredictionClassifier

INF, NAN = float("inf"), float("nan")


def _data(n=24, d=3, seed=0):
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, d)).astype(np.float32)
    return x, (x[:, 0] > 0).astype(np.int64)


@pytest.mark.parametrize(
    "make",
    [
        lambda **kw: TorchClassifier(mlp, device="cpu", **kw),
        lambda **kw: TorchRegressor(device="cpu", **kw),
        lambda **kw: EmbeddingRegressor(device="cpu", **kw),
        lambda **kw: LossPredictionClassifier(mlp, **kw),
    ],
    ids=["torch-classifier", "torch-regressor", "embedding-regressor", "lloss"],
)
@pytest.mark.parametrize(
    "kw",
    [
        {"lr": INF},
        {"weight_decay": -1.0},
        {"weight_decay": NAN},
        {"weight_decay": INF},
        {"weight_decay": "1e-4"},
    ],
    ids=str,
)
def test_infinite_lr_and_bad_weight_decay_are_refused(make, kw):
    name = next(iter(kw))
    with pytest.raises(InvalidParameterError, match=f"{name} must be a .*finite"):
        make(**kw)


@pytest.mark.parametrize("grad_clip", [-1.0, 0, NAN, INF, "0.1", True])
def test_grad_clip_must_be_a_positive_finite_number(grad_clip):
    # -1 clamped every gradient to -1, 0 zeroed them, NaN trained into NaN
    with pytest.raises(InvalidParameterError, match="grad_clip"):
        TorchClassifier(mlp, grad_clip=grad_clip)


@pytest.mark.parametrize("value", [2.0, -0.1, NAN])
def test_ema_stop_accuracy_must_be_an_accuracy(value):
    with pytest.raises(InvalidParameterError, match="ema_stop_accuracy"):
        TorchClassifier(mlp, ema_alpha=0.9, ema_stop_accuracy=value)


def test_valid_recipe_values_still_train():
    x, y = _data()
    clf = TorchClassifier(
        mlp, max_epochs=2, grad_clip=0.1, weight_decay=1e-4, ema_stop_accuracy=0
    )
    assert np.isfinite(clf.fit(x, y, n_classes=2, rng=0).predict_proba(x)).all()
    reg = TorchRegressor(max_epochs=2, weight_decay=1e-3, device="cpu")
    assert np.isfinite(reg.fit(x, x[:, 0], rng=0).predict(x)).all()


def _wrong_width(x):
    return np.concatenate([x, x[:, :1]], axis=1)  # one feature more than in fit


def test_torch_classifier_refuses_rows_of_another_shape_than_in_fit():
    # died in torch: "mat1 and mat2 shapes cannot be multiplied (24x4 and 3x128)"
    x, y = _data()
    clf = TorchClassifier(mlp, max_epochs=1, device="cpu").fit(x, y, n_classes=2, rng=0)
    wrong = _wrong_width(x)
    msg = (
        r"X has rows of shape \(4,\), but the model was fitted on rows of shape \(3,\)"
    )
    for call in (
        clf.predict_proba,
        clf.embed,
        clf.predict_proba_members,
        lambda v: clf.tensor_outputs(v, "proba"),
    ):
        with pytest.raises(InvalidParameterError, match=msg):
            call(wrong)
    with pytest.raises(InvalidParameterError, match="X_unlabeled has rows of shape"):
        clf.finetune(x, y, wrong)
    with pytest.raises(InvalidParameterError, match="X_labeled has rows of shape"):
        clf.finetune(wrong, y, x)
    assert clf.predict_proba(x).shape == (24, 2)


def test_regressors_and_lloss_refuse_rows_of_another_shape_than_in_fit():
    x, y = _data()
    wrong = _wrong_width(x)
    msg = r"rows of shape \(4,\), but the model was fitted on rows of shape \(3,\)"
    for reg in (TorchRegressor(max_epochs=1), EmbeddingRegressor(max_epochs=1)):
        reg.to("cpu").fit(x, x[:, 0], rng=0)
        with pytest.raises(InvalidParameterError, match=msg):
            reg.predict(wrong)
        with pytest.raises(InvalidParameterError, match=msg):
            reg.grad_features(wrong, last_layers=1)
        with pytest.raises(InvalidParameterError, match="X_valid has rows"):
            reg.fit(x, x[:, 0], X_valid=wrong, y_valid=x[:, 0], rng=0)
    lloss = LossPredictionClassifier(mlp, max_epochs=1).fit(x, y, n_classes=2, rng=0)
    with pytest.raises(InvalidParameterError, match=msg):
        lloss.predict_loss(wrong)


def test_sequence_models_take_any_length_but_not_other_channels():
    from labelwise.models.sequence import gru

    rng = np.random.default_rng(0)
    x = rng.normal(size=(8, 5, 2)).astype(np.float32)
    clf = TorchClassifier(gru, max_epochs=1, device="cpu")
    clf.fit(x, np.arange(8) % 2, n_classes=2, rng=0)
    longer = rng.normal(size=(3, 9, 2)).astype(np.float32)
    assert clf.predict_proba(longer).shape == (3, 2)
    with pytest.raises(
        InvalidParameterError, match=r"takes C = 2, got shape \(3, 5, 3\)"
    ):
        clf.predict_proba(rng.normal(size=(3, 5, 3)).astype(np.float32))


def test_a_model_pickled_without_its_input_shape_still_predicts():
    import pickle

    x, y = _data()
    clf = TorchClassifier(mlp, max_epochs=1, device="cpu").fit(x, y, n_classes=2, rng=0)
    old = pickle.loads(pickle.dumps(clf))
    del old.__dict__["input_shape_"]  # as pickled by a version before the check
    assert np.allclose(old.predict_proba(x), clf.predict_proba(x))


@pytest.mark.parametrize(
    "make",
    [
        lambda: TorchRegressor(max_epochs=1, device="cpu"),
        lambda: EmbeddingRegressor(max_epochs=1, device="cpu"),
        lambda: SklearnRegressor(),
    ],
    ids=["torch", "embedding", "sklearn"],
)
@pytest.mark.parametrize(
    ("y", "match"),
    [
        (np.array(["1.5"] * 24), "real numbers .* got dtype <U3"),
        (np.ones((24, 1)), r"shape \(24,\) to match X .* got \(24, 1\)"),
        (np.ones(5), r"shape \(24,\) to match X"),
        (np.where(np.arange(24) == 7, np.nan, 1.0), r"NaN or infinite .* rows \[7\]"),
        (np.ones(24, dtype=complex), "real numbers .* complex"),
        (np.ones(24, dtype=bool), "real numbers .* bool"),
    ],
    ids=["strings", "column", "short", "nan", "complex", "bool"],
)
def test_regressors_refuse_bad_targets(make, y, match):
    # strings died in NumPy, a column trained ridge into (n, 1) predictions,
    # NaN and the wrong length died in scikit-learn
    x, _ = _data()
    with pytest.raises(InvalidParameterError, match=match):
        make().fit(x, y, rng=0)


def test_torch_regressor_checks_the_validation_set():
    x, _ = _data()
    reg = TorchRegressor(max_epochs=2, device="cpu")
    # NaN validation targets made every RMSE NaN: epoch selection was silently off
    with pytest.raises(InvalidParameterError, match="y_valid contains NaN"):
        reg.fit(x, x[:, 0], X_valid=x, y_valid=np.full(24, np.nan), rng=0)
    with pytest.raises(InvalidParameterError, match="both X_valid and y_valid"):
        reg.fit(x, x[:, 0], X_valid=x, rng=0)
    with pytest.raises(InvalidParameterError, match="both X_valid and y_valid"):
        reg.fit(x, x[:, 0], y_valid=x[:, 0], rng=0)
    with pytest.raises(InvalidParameterError, match="float32's range"):
        reg.fit(x, np.full(24, 1e39), rng=0)
    reg.fit(x, x[:, 0].astype(np.int64), X_valid=x, y_valid=x[:, 1], rng=0)
    assert reg.best_epochs_[0] in (1, 2)


@pytest.mark.parametrize(
    "make",
    [
        lambda: SklearnClassifier(),
        lambda: TorchClassifier(mlp, max_epochs=1, device="cpu"),
        lambda: LossPredictionClassifier(mlp, max_epochs=1),
    ],
    ids=["sklearn", "torch", "lloss"],
)
@pytest.mark.parametrize(
    ("w", "match"),
    [
        (-np.ones(24), "finite, >= 0"),
        (np.zeros(24), "not all zero"),
        (np.full(24, np.nan), "finite"),
        (np.array(["a"] * 24), "must hold numbers; got dtype <U1"),
        (np.ones(5), r"shape \(24,\)"),
    ],
    ids=["negative", "zeros", "nan", "strings", "short"],
)
@pytest.mark.parametrize("n_labeled_classes", [1, 2])
def test_classifiers_refuse_bad_sample_weights(make, w, match, n_labeled_classes):
    # scikit-learn trained on negative weights; with one labeled class the
    # weights were not looked at; strings died in NumPy
    x, y = _data()
    y = y if n_labeled_classes == 2 else np.zeros_like(y)
    with pytest.raises(InvalidParameterError, match=match):
        make().fit(x, y, n_classes=2, rng=0, sample_weight=w)


def test_boolean_sample_weights_are_weights_zero_and_one():
    x, y = _data()
    mask = np.arange(24) % 3 > 0
    a = TorchClassifier(mlp, max_epochs=2, device="cpu")
    b = TorchClassifier(mlp, max_epochs=2, device="cpu")
    a.fit(x, y, n_classes=2, rng=0, sample_weight=mask)
    b.fit(x, y, n_classes=2, rng=0, sample_weight=mask.astype(float))
    assert np.array_equal(a.predict_proba(x), b.predict_proba(x))
    SklearnClassifier().fit(x, y, n_classes=2, rng=0, sample_weight=mask)


@pytest.mark.parametrize(
    ("params", "match"),
    [
        ({"hidden": 0}, "mlp: hidden"),  # trained into constant 0.5 predictions
        ({"hidden": -3}, "mlp: hidden"),  # died in torch: negative dimension
        ({"layers": 0}, "mlp: layers"),  # silently built one layer
        ({"layers": -2}, "mlp: layers"),
        ({"dropout": -0.5}, "mlp: dropout"),  # silently no dropout
        ({"dropout": 2.0}, "mlp: dropout"),  # died in torch
    ],
    ids=str,
)
def test_mlp_refuses_impossible_sizes(params, match):
    from labelwise.models.registry import make_model

    with pytest.raises(InvalidParameterError, match=match):
        mlp((4,), 2, **params)
    with pytest.raises(InvalidParameterError, match="mlp: dropout must be a number"):
        mlp((4,), 2, dropout="0.1")
    x, y = _data()
    model = make_model("mlp", device="cpu", epochs=1, **params)
    with pytest.raises(InvalidParameterError, match=match):
        model.fit(x, y, n_classes=2, rng=0)


@pytest.mark.parametrize("widths", [(0,), (512, -1), (2.5,)])
def test_bmdal_mlp_refuses_impossible_widths(widths):
    from labelwise.models.regression import bmdal_mlp

    # a width of 0 died with ZeroDivisionError
    with pytest.raises(InvalidParameterError, match="hidden width"):
        bmdal_mlp((3,), widths=widths)
    import torch

    assert bmdal_mlp((3,), widths=())(torch.zeros(2, 3)).shape == (2, 1)  # linear


def test_nan_in_tabular_inputs_is_named_as_nan_not_as_bad_padding():
    # an MLP user with a missing value was told about padded sequences
    x, y = _data()
    x[5, 0] = np.nan
    clf = TorchClassifier(mlp, max_epochs=1, device="cpu")
    with pytest.raises(InvalidParameterError, match="NaN or infinite values") as err:
        clf.fit(x, y, n_classes=2, rng=0)
    assert "not a valid batch of padded sequences" not in str(err.value)
    assert "rows [5]" in str(err.value)


def test_bad_padding_for_a_sequence_network_still_explains_padding():
    from labelwise.models.sequence import gru

    x = np.random.default_rng(0).normal(size=(6, 4, 2)).astype(np.float32)
    x[1, 1] = np.nan  # a padded step before a real one
    clf = TorchClassifier(gru, max_epochs=1, device="cpu")
    with pytest.raises(InvalidParameterError, match="padding before a real step"):
        clf.fit(x, np.arange(6) % 2, n_classes=2, rng=0)


def _forest_pipeline(regression=False):
    from sklearn.ensemble import RandomForestClassifier, RandomForestRegressor
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    forest = RandomForestRegressor if regression else RandomForestClassifier
    return make_pipeline(StandardScaler(), forest(n_estimators=4))


def test_a_fixed_seed_fixes_nested_scikit_learn_estimators():
    # a random forest inside a pipeline or a calibrated classifier drew from
    # fresh entropy: the same rng gave different predictions every fit
    from sklearn.calibration import CalibratedClassifierCV
    from sklearn.ensemble import RandomForestClassifier

    x, y = _data(n=60)
    for make in (
        lambda: _forest_pipeline(),
        lambda: CalibratedClassifierCV(RandomForestClassifier(n_estimators=4), cv=2),
    ):
        a, b, c = (
            SklearnClassifier(make()).fit(x, y, n_classes=2, rng=seed).predict_proba(x)
            for seed in (4, 4, 5)
        )
        assert np.array_equal(a, b) and not np.array_equal(a, c)
    a, b = (
        SklearnRegressor(_forest_pipeline(True)).fit(x, x[:, 0], rng=4).predict(x)
        for _ in range(2)
    )
    assert np.array_equal(a, b)


def test_scikit_learn_adapters_refuse_estimator_classes_and_unweighted_fits():
    from sklearn.linear_model import LogisticRegression, Ridge
    from sklearn.neighbors import KNeighborsClassifier

    with pytest.raises(InvalidParameterError, match=r"Call it: LogisticRegression\(\)"):
        SklearnClassifier(LogisticRegression)
    with pytest.raises(InvalidParameterError, match=r"Call it: Ridge\(\)"):
        SklearnRegressor(Ridge)
    x, y = _data()
    # died in scikit-learn with a TypeError / ValueError
    for est in (KNeighborsClassifier(3), _forest_pipeline()):
        with pytest.raises(InvalidParameterError, match="takes no sample_weight"):
            SklearnClassifier(est).fit(
                x, y, n_classes=2, rng=0, sample_weight=np.ones(24)
            )


class _KwargsWrapper:
    """A wrapper whose ``fit(X, y, **kwargs)`` passes sample weights on."""

    def __init__(self, C=1.0):
        self.C = C

    def get_params(self, deep=True):
        return {"C": self.C}

    def set_params(self, **params):
        self.C = params.get("C", self.C)
        return self

    def fit(self, X, y, **kwargs):
        from sklearn.linear_model import LogisticRegression

        self.inner_ = LogisticRegression(C=self.C).fit(X, y, **kwargs)
        self.classes_ = self.inner_.classes_
        return self

    def predict_proba(self, X):
        return self.inner_.predict_proba(X)


def test_sample_weights_pass_through_a_fit_that_takes_kwargs():
    # has_fit_parameter alone refused a fit(X, y, **kwargs) that worked before
    from sklearn.linear_model import LogisticRegression

    x, y = _data()
    w = np.linspace(0.2, 3.0, 24)
    got = SklearnClassifier(_KwargsWrapper()).fit(
        x, y, n_classes=2, rng=0, sample_weight=w
    )
    ref = LogisticRegression().fit(x.reshape(24, -1), y, sample_weight=w)
    np.testing.assert_allclose(
        got.predict_proba(x), ref.predict_proba(x.reshape(24, -1)), rtol=1e-5
    )


def test_nan_in_a_tensor_input_is_refused_not_trained_into_nan():
    # arrays were checked, tensors not: one NaN made every prediction NaN
    import torch

    x, y = _data()
    xt = torch.from_numpy(x.copy())
    xt[3, 1] = float("nan")
    msg = r"NaN or infinite values in 1 row\(s\), first at rows \[3\]"
    clf = TorchClassifier(mlp, max_epochs=1, device="cpu")
    with pytest.raises(InvalidParameterError, match=msg):
        clf.fit(xt, y, n_classes=2, rng=0)
    with pytest.raises(InvalidParameterError, match=msg):
        TorchRegressor(max_epochs=1, device="cpu").fit(xt, x[:, 0], rng=0)
    clf.fit(torch.from_numpy(x), y, n_classes=2, rng=0)
    with pytest.raises(InvalidParameterError, match=msg):
        clf.tensor_outputs(xt, "proba")
    assert torch.isfinite(clf.tensor_outputs(torch.from_numpy(x), "proba")).all()


def test_the_tensor_finiteness_check_works_in_chunks_without_a_pool_sized_mask(
    monkeypatch,
):
    # a pool tensor on the GPU got a boolean mask of its own size beside it
    import torch

    from labelwise.kernels import _inputs
    from labelwise.models import _placement

    monkeypatch.setattr(_inputs, "CHECK_ELEMENTS", 40)
    seen = []
    real = torch.isfinite

    def spy(t):
        seen.append(t.numel())
        return real(t)

    monkeypatch.setattr(torch, "isfinite", spy)
    x = torch.zeros(50, 2, 3)
    _placement.check_finite_tensor(x)
    assert max(seen) <= 40 and sum(seen) == x.numel()
    for row in (0, 6, 49):  # first chunk, a chunk's first row, the last row
        bad = x.clone()
        bad[row, 1, 2] = float("inf")
        with pytest.raises(InvalidParameterError, match=rf"first at rows \[{row}\]"):
            _placement.check_finite_tensor(bad)


def test_a_network_instance_or_a_name_is_refused_where_a_factory_belongs():
    # died in the module's forward: "forward() takes 2 positional arguments but 3
    # were given", or "'str' object is not callable"
    from labelwise.models import bmdal_mlp

    for make, net in (
        (TorchClassifier, mlp((3,), 2)),
        (LossPredictionClassifier, mlp((3,), 2)),
        (TorchRegressor, bmdal_mlp((3,))),
    ):
        with pytest.raises(InvalidParameterError, match=r"factory .* instance"):
            make(net)
        with pytest.raises(InvalidParameterError, match="make_model"):
            make("mlp")


def test_a_regression_network_with_several_outputs_is_refused():
    # it was trained and read on its first output column without a word
    x, _ = _data()
    reg = TorchRegressor(lambda shape: mlp(shape, 3), max_epochs=1, device="cpu")
    with pytest.raises(InvalidParameterError, match=r"output shape \(n, 1\)"):
        reg.fit(x, x[:, 0], rng=0)
    reg = TorchRegressor(lambda shape: 3, max_epochs=1, device="cpu")
    with pytest.raises(InvalidParameterError, match="returned int, not a torch"):
        reg.fit(x, x[:, 0], rng=0)


def test_load_embeddings_names_empty_and_truncated_files(tmp_path):
    # an empty file was a bare EOFError; a truncated one was reported as
    # "hold Python objects (dtype object)"
    from labelwise.models import load_embeddings

    np.save(tmp_path / "ok.npy", np.ones((5, 3), np.float32))
    raw = (tmp_path / "ok.npy").read_bytes()
    (tmp_path / "cut.npy").write_bytes(raw[:-7])
    (tmp_path / "empty.npy").write_bytes(b"")
    for name in ("cut.npy", "empty.npy"):
        with pytest.raises(InvalidParameterError, match="truncated") as err:
            load_embeddings(tmp_path / name)
        assert "Python objects" not in str(err.value)
    assert load_embeddings(tmp_path / "ok.npy").shape == (5, 3)
