"""
Texts: Reuters stories about corn, TF-IDF and logistic regression
=================================================================

``reuters-corn`` holds 1 554 + 604 Reuters-21578 news stories (from Debian's
``weka`` package), 3 % of them about corn. ``load`` turns the texts into
TF-IDF features (`labelwise.features.text`); the stories themselves stay in
``texts_train``. Labels start with 3 corn stories and 17 others; each round
adds 20 chosen by the strategy. Logistic regression with balanced class
weights (a rare class needs them: with scikit-learn's defaults the model calls
every story "other" for several rounds) and ``C=10`` (TF-IDF rows have norm
1, so the default ``C=1`` regularises hard). The score is F1 on the corn class
of the test stories.
"""

import warnings

import matplotlib.pyplot as plt
import numpy as np
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import f1_score

from labelwise import ActiveLearner, SklearnClassifier, get_strategy
from labelwise.datasets import load
from labelwise.exceptions import FallbackWarning

warnings.simplefilter("ignore", FallbackWarning)
d = load("reuters-corn")
print(d)
print(d.texts_train[int(np.flatnonzero(d.y_train == 1)[0])][:300], "...")

rng = np.random.default_rng(0)
corn, other = np.flatnonzero(d.y_train == 1), np.flatnonzero(d.y_train == 0)
start = np.concatenate(
    [rng.choice(corn, 3, replace=False), rng.choice(other, 17, replace=False)]
)


def curve(strategy: str) -> list[float]:
    model = SklearnClassifier(
        LogisticRegression(C=10.0, class_weight="balanced", max_iter=1000)
    )
    learner = ActiveLearner(
        model, get_strategy(strategy), d.X_train, classes=d.classes, seed=0
    )
    learner.teach(start, d.y_train[start])
    scores = []
    for _ in range(8):
        learner.fit()
        scores.append(float(f1_score(d.y_test, learner.predict(d.X_test))))
        batch = learner.query(batch_size=20)
        learner.teach(batch.indices, d.y_train[batch.indices])
    return scores


labels = 20 * np.arange(1, 9)
for name in ["random", "margin", "badge"]:
    f1 = curve(name)
    print(f"{name:>7}", " ".join(f"{v:.2f}" for v in f1))
    plt.plot(labels, f1, marker="o", label=name)
plt.xlabel("labels")
plt.ylabel("F1 (corn), test stories")
plt.legend()
plt.show()
