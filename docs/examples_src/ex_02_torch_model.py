"""
A custom torch model
====================

Any ``torch.nn.Module`` split into a feature extractor and a linear head works with
``TorchClassifier``; Core-Set and BADGE then use the features as the embedding.
"""

import numpy as np
import torch
from torch import nn

from labelwise import ActiveLearner, TorchClassifier, get_strategy
from labelwise.models import SplitNetwork


# %%
# The network builder: called with the input shape and the number of classes, it
# returns a ``SplitNetwork(features, head)``.
def small_net(input_shape: tuple[int, ...], n_classes: int) -> SplitNetwork:
    (d,) = input_shape
    features = nn.Sequential(nn.Linear(d, 32), nn.Tanh(), nn.Linear(32, 16), nn.Tanh())
    return SplitNetwork(features, nn.Linear(16, n_classes))


torch.manual_seed(0)
rng = np.random.default_rng(0)
X = rng.normal(size=(800, 6)).astype(np.float32)
y = (np.sin(2 * X[:, 0]) + X[:, 1] > 0).astype(int)

learner = ActiveLearner(
    TorchClassifier(small_net, max_epochs=40), get_strategy("coreset"), X, classes=[0, 1]
)
learner.teach(np.arange(20), y[:20])
for _ in range(3):
    learner.fit()
    batch = learner.query(batch_size=20)
    learner.teach(batch.indices, y[batch.indices])
learner.fit()
print("embedding shape:", learner.model.embed(X[:5]).shape)
print(f"accuracy on the pool: {np.mean(learner.model.predict_proba(X).argmax(1) == y):.3f}")
