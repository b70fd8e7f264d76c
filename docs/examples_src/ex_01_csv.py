"""
Your own data from a CSV
========================

A table of features with no labels yet: load it with pandas, standardise it, and let
BADGE pick which rows a person should label next. The "person" here is a hidden column.
"""

import io

import numpy as np
import pandas as pd

from labelwise import ActiveLearner, SklearnClassifier, get_strategy

# %%
# A CSV as it might come from a spreadsheet (made here so the example runs anywhere).
rng = np.random.default_rng(0)
n = 600
x = rng.normal(size=(n, 4))
truth = np.where(x[:, 0] + 0.5 * x[:, 1] > 0, "accept", "reject")
csv = pd.DataFrame(x, columns=["age", "income", "score", "tenure"]).to_csv(index=False)

table = pd.read_csv(io.StringIO(csv))
X = table.to_numpy(dtype=np.float64)
X = (X - X.mean(axis=0)) / X.std(axis=0)

# %%
# A logistic regression as the model; BADGE needs probabilities and an embedding,
# which ``SklearnClassifier`` provides (its embedding is the input features).
classes = ["accept", "reject"]
learner = ActiveLearner(
    SklearnClassifier(), get_strategy("badge"), X, classes=classes, seed=0
)
# ``teach`` takes class indices: map the names a person gave through ``classes``.
answer = np.array([classes.index(name) for name in truth])
start = rng.choice(n, size=10, replace=False)
learner.teach(start, answer[start])
for round_ in range(4):
    learner.fit()
    batch = learner.query(batch_size=10)
    print(f"round {round_}: label rows {sorted(batch.indices.tolist())}")
    learner.teach(batch.indices, answer[batch.indices])

# %%
# How good is the model after 50 labels? (On a real task, use a held-out set.)
learner.fit()
proba = learner.model.predict_proba(X)
predicted = np.array(classes)[proba.argmax(axis=1)]
print(f"agreement with the hidden labels: {np.mean(predicted == truth):.3f}")
print(learner.state)
