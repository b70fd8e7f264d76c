"""
Variable-length sequences
=========================

Sensor windows, trajectories or any ``(T, C)`` series of different lengths: pad
them into one NaN-padded array with ``pad_sequences`` and pick a sequence network
(``lstm``, ``gru``, ``tcn``, ``transformer``). The networks mask the padding, and
their pooled embedding is what Core-Set, BADGE and BAIT use.
"""

import functools

import numpy as np

from labelwise import ActiveLearner, TorchClassifier, get_strategy
from labelwise.models import pad_sequences, tcn

# %%
# Two-channel noisy sine waves, 12 to 40 steps long; the class is the frequency.
rng = np.random.default_rng(0)
n = 400
y = rng.integers(3, size=n)
seqs = []
for label in y:
    t = np.arange(rng.integers(12, 41))[:, None]
    wave = np.sin(np.pi * (label + 1) * t / 8 + rng.uniform(0, 2 * np.pi) + [0, 1])
    seqs.append(wave + 0.2 * rng.normal(size=wave.shape))
X = pad_sequences(seqs)  # (400, 40, 2), NaN after each sequence's last step
print("pool:", X.shape, "padded steps:", int(np.isnan(X[:, :, 0]).sum()))

# %%
# A temporal convolutional network and BADGE on the first 300 items, 3 rounds of
# 20 labels; the last 100 are the test set. A padded sequence gets the same
# prediction as the same sequence unpadded.
model = TorchClassifier(functools.partial(tcn, hidden=16), max_epochs=20, device="cpu")
learner = ActiveLearner(model, get_strategy("badge"), X[:300], classes=[0, 1, 2])
learner.teach(np.arange(20), y[:20])
for _ in range(3):
    batch = learner.fit().query(batch_size=20)
    learner.teach(batch.indices, y[batch.indices])
learner.fit()
accuracy = np.mean(learner.predict(X[300:]) == y[300:])
print(f"labels: {learner.state.n_labeled}, test accuracy: {accuracy:.2f}")
short = seqs[300]  # the same item without padding
same = np.allclose(learner.predict_proba(short[None]), learner.predict_proba(X[300:301]))
print("padded == unpadded:", same)
