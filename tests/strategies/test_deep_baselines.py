"""LLOSS, VAAL, DAL, UncertainGCN and CoreGCN on small problems."""

import numpy as np
import pytest

from labelwise import InvalidParameterError, UnsupportedModelError
from labelwise.exceptions import FallbackWarning
from labelwise.models.loss_prediction import LossPredictionClassifier
from labelwise.models.pytorch import TorchClassifier, mlp
from labelwise.pool import LabelState
from labelwise.strategies import get_strategy
from labelwise.testing import ProbaOnlyModel, make_pool


class IdentityEmbedder:
    """A fixed model whose embedding is the input itself."""

    def fit(self, X, y, *, n_classes, rng=None):
        return self

    def predict_proba(self, X):
        return np.full((len(X), 2), 0.5)

    def embed(self, X):
        return np.asarray(X, dtype=np.float32).reshape(len(X), -1)


def two_clusters(seed=0):
    """Cluster A (80 items, 20 labeled) and cluster B (40 items, none labeled).

    Features are nonnegative and the clusters nearly orthogonal.
    """
    rng = np.random.default_rng(seed)
    a = np.abs(rng.normal(size=(80, 6))) * 0.5
    a[:, 0] += 4
    b = np.abs(rng.normal(size=(40, 6))) * 0.5
    b[:, 1] += 4
    X = np.concatenate([a, b]).astype(np.float32)
    state = LabelState(120, classes=["a", "b"])
    state.teach(np.arange(20), np.zeros(20, int), round=0)
    return X, state


def in_b(idx):
    return float(np.mean(np.asarray(idx) >= 80))


def _check_batch(sel, state, size):
    idx = sel.indices
    assert idx.shape == (size,)
    assert np.unique(idx).size == size
    assert not state.labeled_mask[idx].any()


# ------------------------------------------------------------------ VAAL


# the code's summed KL squashes the latent means, so on 120 points the
# discriminator separates slowly; the per-entry mean shows the direction quickly
VAAL_SMALL = {"epochs": 100, "width": 16, "disc_hidden": 32, "kl_reduction": "mean"}


def test_vaal_picks_the_unlabeled_only_cluster():
    X, state = two_clusters()
    sel = get_strategy("vaal", **VAAL_SMALL).select(
        IdentityEmbedder(), X, state, 10, rng=0
    )
    _check_batch(sel, state, 10)
    assert in_b(sel.indices) >= 0.8, sel.indices
    # the direction follows the labeled set: label B instead, picks leave B
    state_b = LabelState(120, classes=["a", "b"])
    state_b.teach(np.arange(80, 100), np.ones(20, int), round=0)
    sel_b = get_strategy("vaal", **VAAL_SMALL).select(
        IdentityEmbedder(), X, state_b, 10, rng=0
    )
    assert in_b(sel_b.indices) <= 0.2, sel_b.indices


def test_vaal_losses_fall_with_the_paper_losses():
    X, state = two_clusters()
    sel = get_strategy("vaal", epochs=50, width=16, disc_hidden=32).select(
        IdentityEmbedder(), X, state, 10, rng=0
    )
    vae, disc = sel.info["vae_loss"], sel.info["disc_loss"]
    assert sel.info["iterations"] == (20 + 100) * 50 // 128
    assert vae[-1] < 0.5 * vae[0]
    assert disc[-1] < disc[0]


def test_vaal_runs_the_conv_vae_on_images_and_is_seeded():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(40, 1, 28, 28)).astype(np.float32)
    state = LabelState(40, classes=["a", "b"])
    state.teach(np.arange(8), np.arange(8) % 2, round=0)
    s = get_strategy("vaal", width=2, disc_hidden=8, max_iterations=3, subset=20)
    a = s.select(object(), X, state, 5, rng=1)
    b = s.select(object(), X, state, 5, rng=1)
    _check_batch(a, state, 5)
    assert np.array_equal(a.indices, b.indices)
    assert a.info["iterations"] == 3 and a.info["n_candidates"] == 20


def test_vaal_without_labels_falls_back_to_random():
    X, _ = two_clusters()
    with pytest.warns(FallbackWarning, match="random"):
        sel = get_strategy("vaal").select(object(), X, LabelState(120), 5, rng=0)
    assert sel.info["fallback"] == "random"


# ------------------------------------------------------------------- DAL


def test_dal_picks_the_unlabeled_only_cluster_in_sub_batches():
    X, state = two_clusters()
    sel = get_strategy("dal", n_subqueries=4, max_epochs=200).select(
        IdentityEmbedder(), X, state, 10, rng=0
    )
    _check_batch(sel, state, 10)
    assert in_b(sel.indices) >= 0.8, sel.indices
    assert sel.info["n_subqueries"] == 4
    assert len(sel.info["epochs"]) == 4


def test_dal_stops_early_on_a_separable_problem_and_caps_sub_batches():
    rng = np.random.default_rng(3)
    X = np.concatenate([rng.normal(size=(10, 3)), rng.normal(size=(90, 3)) + 8])
    state = LabelState(100, classes=["a", "b"])
    state.teach(np.arange(10), np.zeros(10, int), round=0)
    sel = get_strategy("dal", lr=1e-2).select(IdentityEmbedder(), X, state, 3, rng=0)
    assert sel.info["n_subqueries"] == 3  # min(20, batch)
    assert max(sel.info["epochs"]) < 500
    assert min(sel.info["train_accuracy"]) > 0.98


# -------------------------------------------------------------- the GCNs


def test_gcn_training_separates_labeled_nodes_and_its_loss_falls():
    X, state = two_clusters()
    s = get_strategy("uncertain-gcn")
    nodes, conf, feats, info = s._gcn_outputs(
        IdentityEmbedder(), X, state, 8, np.random.default_rng(0)
    )
    assert nodes.size == 120 and np.array_equal(nodes[-20:], np.arange(20))
    assert feats.shape == (120, 129)
    assert info["gcn_loss"][-1] < info["gcn_loss"][0]
    assert conf[-20:].mean() > conf[:-20].mean()
    # nodes of the unlabeled-only cluster look least "labeled"
    assert conf[nodes >= 80].mean() < conf[(nodes < 80) & (nodes >= 20)].mean()


def test_uncertain_gcn_picks_the_confidences_closest_to_the_margin():
    X, state = two_clusters()
    strat = get_strategy("uncertain-gcn", s_margin=0.3)
    sel = strat.select(IdentityEmbedder(), X, state, 8, rng=5)
    _check_batch(sel, state, 8)
    nodes, conf, _, _ = strat._gcn_outputs(
        IdentityEmbedder(), X, state, 8, np.random.default_rng(5)
    )
    gap = np.abs(conf[:100] - 0.3)
    expected = nodes[np.argsort(gap, kind="stable")[:8]]
    assert set(sel.indices.tolist()) == set(expected.tolist())


def test_core_gcn_starts_in_the_unlabeled_only_cluster():
    X, state = two_clusters()
    sel = get_strategy("core-gcn").select(IdentityEmbedder(), X, state, 6, rng=0)
    _check_batch(sel, state, 6)
    assert sel.indices[0] >= 80
    assert in_b(sel.indices) >= 0.5
    assert np.all(np.diff(sel.scores) <= 1e-6)  # covering radii shrink


def test_gcn_subset_bounds_the_candidates():
    X, state = two_clusters()
    sel = get_strategy("core-gcn", subset=30, steps=5).select(
        IdentityEmbedder(), X, state, 4, rng=0
    )
    assert sel.info["n_candidates"] == 30


# ------------------------------------------------------------------ LLOSS


def test_lloss_takes_the_top_predicted_losses():
    X, state = make_pool(n_samples=80, n_labeled=30, seed=2)
    model = LossPredictionClassifier(mlp, max_epochs=5)
    model.fit(X[state.labeled_indices()], state.labels(), n_classes=3, rng=0)
    sel = get_strategy("lloss", subset=None).select(model, X, state, 6, rng=0)
    _check_batch(sel, state, 6)
    pool = state.unlabeled_indices()
    pred = model.predict_loss(X[pool])
    assert set(sel.indices.tolist()) == set(pool[np.argsort(-pred)[:6]].tolist())
    assert np.allclose(np.sort(sel.scores), np.sort(pred)[-6:])


def test_lloss_trains_a_loss_module_for_a_plain_torch_classifier():
    X, state = make_pool(n_samples=80, n_labeled=30, seed=2)
    model = TorchClassifier(mlp, max_epochs=5)
    model.fit(X[state.labeled_indices()], state.labels(), n_classes=3, rng=0)
    strat = get_strategy("lloss", subset=25)
    sel = strat.select(model, X, state, 6, rng=0)
    _check_batch(sel, state, 6)
    assert sel.info["refit"] == "LossPredictionClassifier"
    assert sel.info["n_candidates"] == 25
    again = strat.select(model, X, state, 6, rng=0)
    assert np.array_equal(sel.indices, again.indices)


def test_lloss_rejects_models_without_a_loss_module():
    X, state = make_pool()
    with pytest.raises(UnsupportedModelError, match="LossPredictor"):
        get_strategy("lloss").select(ProbaOnlyModel(), X, state, 3, rng=0)


@pytest.mark.parametrize(
    ("name", "params"),
    [
        ("lloss", {"subset": 0}),
        ("lloss", {"class_weights": [1.0, -1.0]}),
        ("lloss", {"class_weights": [[1.0, 2.0]]}),
        ("lloss", {"class_weights": "heavy"}),
        ("lloss", {"class_weights": [1.0, float("nan")]}),
        ("vaal", {"kl_reduction": "max"}),
        ("vaal", {"beta": -1}),
        ("dal", {"stop_accuracy": 1.5}),
        ("dal", {"device": "tpu"}),
        ("uncertain-gcn", {"s_margin": 2.0}),
        ("core-gcn", {"adjacency": "dense"}),
        ("core-gcn", {"dropout": 1.0}),
    ],
)
def test_bad_parameters_are_rejected(name, params):
    with pytest.raises(InvalidParameterError):
        get_strategy(name, **params)


# ---------------------------------------------------------------- devices

SMALL = {
    "vaal": {"epochs": 5, "width": 8, "disc_hidden": 8},
    "dal": {"max_epochs": 5, "n_subqueries": 2},
    "uncertain-gcn": {"steps": 5},
    "core-gcn": {"steps": 5},
}


@pytest.mark.parametrize("name", sorted(SMALL))
def test_auxiliary_networks_run_on_the_asked_device(name, device):
    X, state = two_clusters()
    sel = get_strategy(name, device=device, **SMALL[name]).select(
        IdentityEmbedder(), X, state, 4, rng=0
    )
    _check_batch(sel, state, 4)


def test_lloss_model_on_the_asked_device(device):
    X, state = make_pool(n_samples=40, n_labeled=20, seed=2)
    model = LossPredictionClassifier(mlp, max_epochs=2, device=device)
    model.fit(X[state.labeled_indices()], state.labels(), n_classes=3, rng=0)
    assert model.device.type == device
    assert model.tensor_outputs(X, "proba").device.type == device
    sel = get_strategy("lloss").select(model, X, state, 4, rng=0)
    _check_batch(sel, state, 4)


# ------------------------------------------------- candidate subset vs batch
SUBSET_SMALL = {
    "lloss": {},
    "vaal": {"epochs": 1, "width": 4, "disc_hidden": 8},
    "uncertain-gcn": {"steps": 2, "hidden": 8},
    "core-gcn": {"steps": 2, "hidden": 8},
}


@pytest.mark.parametrize("name", sorted(SUBSET_SMALL))
def test_a_batch_larger_than_the_candidate_subset_is_filled(name):
    # subset = 5 candidates but a batch of 12: the draw grows to the batch
    X, state = make_pool(n_samples=40, n_labeled=10, seed=3)
    model = LossPredictionClassifier(mlp, max_epochs=2)
    model.fit(X[state.labeled_indices()], state.labels(), n_classes=3, rng=0)
    strat = get_strategy(name, subset=5, **SUBSET_SMALL[name])
    sel = strat.select(model, X, state, 12, rng=0)
    _check_batch(sel, state, 12)
    assert sel.info["n_candidates"] == 12
    again = strat.select(model, X, state, 12, rng=0)
    assert np.array_equal(sel.indices, again.indices)


def _lloss_reference(model_kw, X, state, batch, *, sample_weight=None, **lp_kw):
    """LLOSS's picks when its refit is the given LossPredictionClassifier."""
    from labelwise.strategies.base import top_k

    gen = np.random.default_rng(0)
    lab = state.labeled_indices()
    lp = LossPredictionClassifier(mlp, device="cpu", **model_kw, **lp_kw)
    lp.fit(X[lab], state.labels(), n_classes=3, rng=gen, sample_weight=sample_weight)
    unl = state.unlabeled_indices()
    return unl[top_k(lp.predict_loss(X[unl]), batch, gen.random(unl.size))]


def _weighted_model():
    """A pool, the model's settings, a TorchClassifier trained with class weights."""
    X, state = make_pool(n_samples=60, n_labeled=20, seed=4)
    kw = {"max_epochs": 3, "lr": 1e-2}
    model = TorchClassifier(mlp, device="cpu", **kw)
    cw = np.array([5.0, 0.2, 1.0])
    y = state.labels()
    model.fit(X[state.labeled_indices()], y, n_classes=3, rng=0, sample_weight=cw[y])
    return X, state, kw, model, cw


def test_lloss_refit_is_trained_with_the_simulations_class_weights():
    from labelwise.strategies import SimulationContext

    X, state, kw, model, cw = _weighted_model()
    y = state.labels()
    strat = get_strategy("lloss", subset=None)
    strat.prepare_simulation(SimulationContext(class_weights=cw))
    sel = strat.select(model, X, state, 8, rng=0)
    expected = _lloss_reference(kw, X, state, 8, sample_weight=cw[y])
    assert np.array_equal(np.sort(sel.indices), np.sort(expected))
    unweighted = _lloss_reference(kw, X, state, 8)
    assert not np.array_equal(np.sort(expected), np.sort(unweighted))


def test_lloss_refit_takes_its_own_class_weights_outside_a_simulation():
    # an ActiveLearner trains its model with class weights; LLOSS's loss module
    # refit takes the same ones from the strategy (no simulation context), and
    # a simulation's class weights replace them
    from labelwise.strategies import SimulationContext

    X, state, kw, model, cw = _weighted_model()
    y = state.labels()
    strat = get_strategy("lloss", subset=None, class_weights=cw.tolist())
    sel = strat.select(model, X, state, 8, rng=0)
    expected = _lloss_reference(kw, X, state, 8, sample_weight=cw[y])
    assert np.array_equal(np.sort(sel.indices), np.sort(expected))
    strat.prepare_simulation(SimulationContext(class_weights=np.ones(3)))
    ones = strat.select(model, X, state, 8, rng=0)
    weighted_ones = _lloss_reference(kw, X, state, 8, sample_weight=np.ones(len(y)))
    assert np.array_equal(np.sort(ones.indices), np.sort(weighted_ones))
    strat.prepare_simulation(SimulationContext())  # none given: its own again
    assert np.array_equal(strat.select(model, X, state, 8, rng=0).indices, sel.indices)


def test_lloss_refit_keeps_the_models_sgd_optimizer():
    X, state = make_pool(n_samples=60, n_labeled=20, seed=4)
    kw = {"max_epochs": 3, "lr": 0.1}
    model = TorchClassifier(mlp, device="cpu", optimizer="sgd", **kw)
    model.fit(X[state.labeled_indices()], state.labels(), n_classes=3, rng=0)
    sel = get_strategy("lloss", subset=None).select(model, X, state, 8, rng=0)
    expected = _lloss_reference(kw, X, state, 8, optimizer="sgd")
    assert np.array_equal(np.sort(sel.indices), np.sort(expected))


def test_lloss_refuses_class_weights_of_the_wrong_length():
    from labelwise.strategies import SimulationContext

    X, state = make_pool(n_samples=40, n_labeled=10, seed=4)
    model = TorchClassifier(mlp, device="cpu", max_epochs=1)
    model.fit(X[state.labeled_indices()], state.labels(), n_classes=3, rng=0)
    strat = get_strategy("lloss", subset=None)
    strat.prepare_simulation(SimulationContext(class_weights=np.ones(2)))
    with pytest.raises(InvalidParameterError, match="class_weights"):
        strat.select(model, X, state, 3, rng=0)


def test_vaal_says_so_when_its_vae_diverges_on_unscaled_inputs():
    # features of magnitude ~1e3 overflow the VAE's exp(log σ²); the error was
    # top_k's generic "Scores contain NaN or infinite values."
    X, state = make_pool(n_samples=60, n_labeled=10, seed=0)
    strat = get_strategy("vaal", epochs=5, width=8, disc_hidden=8)
    with pytest.raises(InvalidParameterError, match=r"diverged.*[Ss]tandardise"):
        strat.select(IdentityEmbedder(), X * 1e3, state, 5, rng=0)


def test_a_bad_parameter_message_reads_as_one_sentence():
    # the registry appended ". Valid parameters" to a message ending in "."
    with pytest.raises(InvalidParameterError) as err:
        get_strategy("lloss", subset=0)
    assert "got 0. From the CLI" in str(err.value)
    assert (
        "scores the whole pool. Valid parameters: ['class_weights', 'subset']."
        in str(err.value)
    )
    assert ".." not in str(err.value)
