"""Text features: TF-IDF against a hand-computed reference, hashing, LSA, errors."""

from __future__ import annotations

import math
from collections import Counter

import numpy as np
import pytest

from labelwise.exceptions import InvalidParameterError, NotFittedError
from labelwise.features import TextVectorizer, text_features

DOCS = [
    "corn prices rise as corn exports grow",
    "wheat exports fall",
    "the central bank raised rates",
    "corn and wheat harvest",
    "bank profits grow",
]


def _tfidf_reference(docs: list[str]) -> tuple[list[str], np.ndarray]:
    """Sublinear tf, smoothed idf, L2 rows: written out by hand."""
    tokens = [d.lower().split() for d in docs]
    vocab = sorted({t for ts in tokens for t in ts})
    n = len(docs)
    df = {w: sum(w in ts for ts in tokens) for w in vocab}
    out = np.zeros((n, len(vocab)))
    for i, ts in enumerate(tokens):
        for w, c in Counter(ts).items():
            idf = math.log((1 + n) / (1 + df[w])) + 1
            out[i, vocab.index(w)] = (1 + math.log(c)) * idf
        out[i] /= np.linalg.norm(out[i])
    return vocab, out


def test_tfidf_matches_the_hand_computed_reference():
    _, ref = _tfidf_reference(DOCS)
    x = TextVectorizer().fit_transform(DOCS)
    assert x.dtype == np.float32 and x.shape == ref.shape
    np.testing.assert_allclose(x, ref, atol=1e-6)


def test_max_features_keeps_the_most_frequent_terms():
    vec = TextVectorizer(max_features=3)
    x = vec.fit_transform(DOCS)
    # corn (4 times), exports, grow, wheat, bank (2 each): ties broken by name
    assert x.shape == (5, 3) and vec.n_features_out_ == 3
    assert vec.terms() == ["bank", "corn", "exports"]
    assert np.allclose(np.linalg.norm(x, axis=1)[x.any(1)], 1.0, atol=1e-6)


def test_transform_ignores_unseen_words_and_is_deterministic():
    vec = TextVectorizer().fit(DOCS)
    a = vec.transform(["corn exports", "zebra quagga"])
    b = TextVectorizer().fit(DOCS).transform(["corn exports", "zebra quagga"])
    assert np.array_equal(a, b)
    assert not a[1].any() and a[0].any()


def test_hashing_is_stateless_and_normalised():
    one = TextVectorizer(method="hashing", max_features=64).fit(DOCS)
    other = TextVectorizer(method="hashing", max_features=64).fit(["unrelated text"])
    x = one.transform(DOCS)
    assert x.shape == (5, 64) and x.dtype == np.float32
    assert np.array_equal(x, other.transform(DOCS))
    np.testing.assert_allclose(np.linalg.norm(x, axis=1), 1.0, atol=1e-6)
    # a term count, not a signed hash: every entry is >= 0
    assert (x >= 0).all()


def test_ngrams_add_word_pairs():
    uni = TextVectorizer().fit_transform(DOCS)
    bi = TextVectorizer(ngrams=2).fit_transform(DOCS)
    assert bi.shape[1] > uni.shape[1]


def test_lsa_keeps_the_top_singular_directions():
    """LSA rows span the exact top-k SVD subspace: same normalised Gram matrix."""
    rng = np.random.default_rng(0)
    topics = [[f"t{t}w{i}" for i in range(6)] for t in range(4)]
    noise = [f"noise{i}" for i in range(20)]
    docs = [
        " ".join([*rng.choice(topics[d % 4], size=10), *rng.choice(noise, size=2)])
        for d in range(40)
    ]
    k = 4
    z = TextVectorizer(lsa=k).fit_transform(docs, rng=0)
    assert z.shape == (40, k) and z.dtype == np.float32
    full = TextVectorizer().fit_transform(docs).astype(np.float64)
    u, s, _ = np.linalg.svd(full, full_matrices=False)
    ref = u[:, :k] * s[:k]
    ref /= np.linalg.norm(ref, axis=1, keepdims=True)
    np.testing.assert_allclose(z @ z.T, ref @ ref.T, atol=1e-3)
    # the same seed gives the same features
    assert np.array_equal(z, TextVectorizer(lsa=k).fit_transform(docs, rng=0))


def test_text_features_shortcut_equals_the_class():
    a = text_features(DOCS, method="hashing", max_features=32)
    b = TextVectorizer(method="hashing", max_features=32).fit_transform(DOCS)
    assert np.array_equal(a, b)


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"method": "bert"}, "method must be one of tfidf, hashing"),
        ({"max_features": 0}, "max_features must be a positive int"),
        ({"ngrams": 1.5}, "ngrams must be a positive int"),
        ({"lsa": 2000}, "lsa must be smaller than max_features"),
        ({"min_df": -1}, "min_df must be a positive int"),
    ],
)
def test_bad_settings_are_named(kwargs, match):
    with pytest.raises(InvalidParameterError, match=match):
        TextVectorizer(**kwargs)


@pytest.mark.parametrize(
    ("texts", "match"),
    [
        ("one string", "got a single str"),
        ([], "is empty"),
        (["fine", None], r"texts\[1\] is a NoneType"),
        (["fine", 3.5], r"texts\[1\] is a float"),
        (["", "  ", "!!"], "No words to learn from in 3 texts"),
    ],
)
def test_bad_texts_are_named(texts, match):
    with pytest.raises(InvalidParameterError, match=match):
        TextVectorizer().fit(texts)


def test_transform_before_fit_and_lsa_wider_than_the_vocabulary():
    with pytest.raises(NotFittedError, match="call fit first"):
        TextVectorizer().transform(["corn"])
    with pytest.raises(InvalidParameterError, match="hashing keeps no terms"):
        TextVectorizer(method="hashing").fit(DOCS).terms()
    with pytest.raises(InvalidParameterError, match="smaller than the vocabulary"):
        TextVectorizer(lsa=100).fit(DOCS)


def test_five_lines_from_texts_to_a_batch():
    """The guide's usage: texts -> features -> learner -> a BADGE batch."""
    from labelwise import ActiveLearner, get_strategy
    from labelwise.models.registry import make_model

    texts = [f"corn harvest {i}" if i % 2 else f"bank rates {i}" for i in range(40)]
    X = text_features(texts)
    learner = ActiveLearner(
        make_model("logreg"), get_strategy("badge"), X, classes=["bank", "corn"], seed=0
    )
    learner.teach(np.array([0, 1, 2, 3]), np.array([0, 1, 0, 1]))
    learner.fit()
    batch = learner.query(batch_size=5)
    assert len(set(batch.indices.tolist())) == 5
    assert not set(batch.indices.tolist()) & {0, 1, 2, 3}
