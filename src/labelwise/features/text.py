"""Text to features: TF-IDF (default), feature hashing, and LSA on either.

Every labelwise model and strategy takes dense ``float32`` rows (the
scikit-learn adapter's embedding is its input, which Core-Set, BADGE and BAIT
use), so `TextVectorizer` returns dense rows of a capped width rather than a
sparse matrix:

- ``tfidf`` (default): scikit-learn's ``TfidfVectorizer`` over the
  ``max_features`` most frequent terms (sublinear term frequency, smoothed
  idf, rows L2-normalised). The vocabulary is learned by `TextVectorizer.fit`.
- ``hashing``: scikit-learn's ``HashingVectorizer`` into ``max_features``
  buckets (term counts, no alternating sign, rows L2-normalised). Nothing to
  learn, so any texts map to the same columns; distinct words may share a
  bucket when the vocabulary is much larger than ``max_features``.
- ``lsa=K`` on either: a truncated SVD to ``K`` columns (latent semantic
  analysis; Deerwester et al., JASIS 1990), rows L2-normalised again. Use it
  for the embedding strategies (``coreset``, ``badge``, ``bait``) on large pools: their
  cost grows with the width (BAIT's with its square), and the SVD keeps the
  directions that carry most of the variance.

Memory: the dense output takes ``n_texts * width * 4`` bytes (10 000 texts at
the default width of 2 000: 80 MB).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from labelwise._typing import RNGLike
from labelwise._validation import check_positive, check_rng, child_seed
from labelwise.exceptions import InvalidParameterError, NotFittedError

VECTORIZERS = ("tfidf", "hashing")
"""Names of the text vectorizers (``method=``)."""


def check_texts(texts: Any, *, name: str = "texts") -> list[str]:
    """Validate a sequence of strings; return it as a list.

    Args:
        texts: A list, tuple, NumPy array or pandas Series of ``str``.
        name: Name used in error messages.

    Returns:
        The texts as a list of ``str``.

    Raises:
        InvalidParameterError: a single string, an empty sequence, or an
            element that is not a string (naming its position and type).
    """
    if isinstance(texts, str | bytes):
        raise InvalidParameterError(
            f"{name} must be a sequence of strings; got a single "
            f"{type(texts).__name__}. Wrap it in a list: [{name}]."
        )
    try:
        out = list(texts)
    except TypeError:
        raise InvalidParameterError(
            f"{name} must be a sequence of strings; got {type(texts).__name__}."
        ) from None
    if not out:
        raise InvalidParameterError(f"{name} is empty; give at least one text.")
    for i, t in enumerate(out):
        if not isinstance(t, str):
            raise InvalidParameterError(
                f"{name}[{i}] is a {type(t).__name__} ({t!r:.40}), not a str. "
                "Convert missing values to '' or drop them first."
            )
    return [str(t) for t in out]


class TextVectorizer:
    """Texts to dense ``float32`` features for the models and strategies.

    See the module docstring for the three kinds of features and their costs.

    Args:
        method: ``"tfidf"`` (default) or ``"hashing"``.
        max_features: Width before LSA: the largest vocabulary kept
            (``tfidf``, the most frequent terms) or the number of hash buckets
            (``hashing``). Defaults to 2 000.
        lsa: Reduce to this many columns with a truncated SVD; ``None`` (the
            default) keeps the ``max_features`` columns. Must be smaller than
            the vocabulary learned by `fit`.
        ngrams: Use word n-grams for n = 1 .. ``ngrams``. Defaults to 1.
        min_df: ``tfidf``: keep only terms in at least this many texts.
            Defaults to 1.

    Attributes:
        n_features_out_: Width of the features (after `fit`).

    Examples:
        >>> vec = TextVectorizer(max_features=50)
        >>> X = vec.fit_transform(["corn prices rise", "wheat exports fall", "corn"])
        >>> X.shape, X.dtype
        ((3, 6), dtype('float32'))
    """

    def __init__(
        self,
        *,
        method: str = "tfidf",
        max_features: int = 2000,
        lsa: int | None = None,
        ngrams: int = 1,
        min_df: int = 1,
    ):
        if method not in VECTORIZERS:
            raise InvalidParameterError(
                f"method must be one of {', '.join(VECTORIZERS)}; got {method!r}."
            )
        check_positive(max_features, "max_features", integer=True)
        check_positive(ngrams, "ngrams", integer=True)
        check_positive(min_df, "min_df", integer=True)
        if lsa is not None:
            check_positive(lsa, "lsa", integer=True)
            if lsa >= max_features:
                raise InvalidParameterError(
                    f"lsa must be smaller than max_features ({max_features}); got "
                    f"{lsa}. Lower lsa, or raise max_features."
                )
        self.method = method
        self.max_features = int(max_features)
        self.lsa = None if lsa is None else int(lsa)
        self.ngrams = int(ngrams)
        self.min_df = int(min_df)
        self.n_features_out_: int | None = None
        self._vectorizer: Any = None
        self._svd: Any = None

    def __repr__(self) -> str:
        return (
            f"TextVectorizer(method={self.method!r}, max_features="
            f"{self.max_features}, lsa={self.lsa}, ngrams={self.ngrams}, "
            f"min_df={self.min_df})"
        )

    def _make(self) -> Any:
        from sklearn.feature_extraction.text import HashingVectorizer, TfidfVectorizer

        if self.method == "hashing":
            return HashingVectorizer(
                n_features=self.max_features,
                ngram_range=(1, self.ngrams),
                alternate_sign=False,
                norm="l2",
            )
        return TfidfVectorizer(
            max_features=self.max_features,
            ngram_range=(1, self.ngrams),
            min_df=self.min_df,
            sublinear_tf=True,
            dtype=np.float32,
        )

    def fit(self, texts: Sequence[str], *, rng: RNGLike = None) -> TextVectorizer:
        """Learn the vocabulary (``tfidf``) and the SVD (``lsa``) from ``texts``.

        Args:
            texts: ``n`` strings.
            rng: Seed or generator of the randomized SVD (``lsa`` only; TF-IDF
                and hashing are deterministic).

        Returns:
            ``self``.

        Raises:
            InvalidParameterError: bad ``texts``; no word in any text; ``lsa``
                not smaller than the vocabulary found.
        """
        self._fit_transform(check_texts(texts), rng)
        return self

    def fit_transform(self, texts: Sequence[str], *, rng: RNGLike = None) -> np.ndarray:
        """`fit`, then `transform` the same texts: ``(n, n_features_out_)`` float32."""
        return self._fit_transform(check_texts(texts), rng)

    def _fit_transform(self, docs: list[str], rng: RNGLike) -> np.ndarray:
        vec = self._make()
        try:
            sparse = vec.fit_transform(docs)
        except ValueError as exc:  # "empty vocabulary; perhaps ..."
            raise InvalidParameterError(
                f"No words to learn from in {len(docs)} texts ({exc}). Words are "
                "runs of two or more letters or digits; check that the texts are "
                "not empty or only punctuation, or lower min_df."
            ) from None
        self._vectorizer, self._svd = vec, None
        if self.lsa is not None:
            from sklearn.decomposition import TruncatedSVD

            width = sparse.shape[1]
            if self.lsa >= min(width, len(docs)):
                raise InvalidParameterError(
                    f"lsa={self.lsa} must be smaller than the vocabulary ({width} "
                    f"terms) and the number of texts ({len(docs)}). Lower lsa."
                )
            seed = child_seed(check_rng(rng)) % (2**32)
            self._svd = TruncatedSVD(n_components=self.lsa, random_state=seed)
            self._svd.fit(sparse)
        out = self._dense(sparse)
        self.n_features_out_ = int(out.shape[1])
        return out

    def transform(self, texts: Sequence[str]) -> np.ndarray:
        """Features of ``texts`` with what `fit` learned.

        Args:
            texts: ``m`` strings; words unseen by `fit` are ignored.

        Returns:
            ``(m, n_features_out_)`` float32. A text without a known word is
            a row of zeros.

        Raises:
            NotFittedError: before `fit`.
        """
        if self._vectorizer is None:
            raise NotFittedError("TextVectorizer is not fitted; call fit first.")
        return self._dense(self._vectorizer.transform(check_texts(texts)))

    def terms(self) -> list[str]:
        """The vocabulary, in column order (``tfidf`` without ``lsa``).

        Raises:
            NotFittedError: before `fit`.
            InvalidParameterError: for ``hashing`` (no vocabulary is kept).
        """
        if self._vectorizer is None:
            raise NotFittedError("TextVectorizer is not fitted; call fit first.")
        if self.method == "hashing":
            raise InvalidParameterError(
                "hashing keeps no terms (each word goes to a bucket); use "
                "method='tfidf' to see the vocabulary."
            )
        return [str(t) for t in self._vectorizer.get_feature_names_out()]

    def _dense(self, sparse: Any) -> np.ndarray:
        if self._svd is None:
            out: np.ndarray = np.asarray(sparse.toarray(), dtype=np.float32)
            return out
        z = np.asarray(self._svd.transform(sparse), dtype=np.float64)
        norms = np.linalg.norm(z, axis=1, keepdims=True)
        z /= np.where(norms > 0, norms, 1.0)
        return z.astype(np.float32)


def text_features(
    texts: Sequence[str],
    *,
    method: str = "tfidf",
    max_features: int = 2000,
    lsa: int | None = None,
    rng: RNGLike = None,
) -> np.ndarray:
    """Dense ``float32`` features of ``texts`` (a `TextVectorizer` fitted on them).

    Args:
        texts: ``n`` strings.
        method: ``"tfidf"`` or ``"hashing"``.
        max_features: Width before LSA (see `TextVectorizer`).
        lsa: Truncated-SVD width, or ``None``.
        rng: Seed or generator of the SVD (``lsa`` only).

    Returns:
        ``(n, width)`` float32, rows L2-normalised (a text without any kept
        word is a row of zeros).

    Examples:
        >>> text_features(["a cat", "a dog", "two cats"]).shape
        (3, 4)
    """
    vec = TextVectorizer(method=method, max_features=max_features, lsa=lsa)
    return vec.fit_transform(texts, rng=rng)
