"""
A regression loop with LCMD
===========================

Regression uses the same learner: no classes, real-valued labels, a regressor, and a
BMDAL strategy (here LCMD, the BMDAL paper's recommended default).
"""

import numpy as np

from labelwise import ActiveLearner, LabelState, get_strategy
from labelwise.models import TorchRegressor

rng = np.random.default_rng(0)
X = rng.uniform(-2, 2, size=(1500, 3)).astype(np.float32)
y = np.sin(2 * X[:, 0]) + X[:, 1] ** 2 + 0.1 * rng.normal(size=1500)

# A ``LabelState`` without classes holds real-valued labels.
learner = ActiveLearner(
    TorchRegressor(max_epochs=30),
    get_strategy("lcmd"),
    X,
    state=LabelState(len(X)),
    seed=0,
)
learner.teach(np.arange(40), y[:40])
for round_ in range(3):
    learner.fit()
    rmse = np.sqrt(np.mean((learner.model.predict(X) - y) ** 2))
    print(f"round {round_}: {learner.state.n_labeled} labels, pool RMSE {rmse:.3f}")
    batch = learner.query(batch_size=40)
    learner.teach(batch.indices, y[batch.indices])
