"""Features from raw data that the models take: dense float32 rows.

`labelwise.features.text` turns texts into TF-IDF, hashed or LSA features.
"""

from labelwise.features.text import VECTORIZERS, TextVectorizer, text_features

__all__ = ["VECTORIZERS", "TextVectorizer", "text_features"]
