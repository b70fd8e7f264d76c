"""
A scikit-learn model, and a learning curve against random
=========================================================

``SklearnClassifier`` wraps any estimator with ``predict_proba``. Here a random forest
on scikit-learn's digits, with margin sampling against random labeling.
"""

import matplotlib.pyplot as plt
import numpy as np
from sklearn.datasets import load_digits
from sklearn.ensemble import RandomForestClassifier
from sklearn.model_selection import train_test_split

from labelwise import ActiveLearner, SklearnClassifier, get_strategy

X, y = load_digits(return_X_y=True)
X_pool, X_test, y_pool, y_test = train_test_split(X, y, test_size=0.3, random_state=0)


def curve(strategy: str) -> list[float]:
    model = SklearnClassifier(RandomForestClassifier(n_estimators=50, random_state=0))
    learner = ActiveLearner(
        model, get_strategy(strategy), X_pool, classes=list(range(10)), seed=0
    )
    learner.teach(np.arange(30), y_pool[:30])
    accuracy = []
    for _ in range(6):
        learner.fit()
        accuracy.append(float(np.mean(model.predict_proba(X_test).argmax(1) == y_test)))
        batch = learner.query(batch_size=30)
        learner.teach(batch.indices, y_pool[batch.indices])
    return accuracy


labels = 30 * np.arange(1, 7)
for name in ["random", "margin"]:
    acc = curve(name)
    print(name, [f"{a:.3f}" for a in acc])
    plt.plot(labels, acc, marker="o", label=name)
plt.xlabel("labels")
plt.ylabel("test accuracy")
plt.legend()
plt.show()
