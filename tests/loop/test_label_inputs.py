"""Labels a person or a script may hand to the label state by mistake."""

from __future__ import annotations

import numpy as np
import pytest

from labelwise import LabelState
from labelwise.exceptions import LabelError


@pytest.mark.parametrize("labels", [[1 + 2j], np.array([0.5 + 0j])], ids=str)
def test_complex_regression_labels_are_refused_and_nothing_is_stored(labels):
    # they were cast to float64, dropping the imaginary part without a word
    state = LabelState(4)
    state.teach([0], [1.5], round=0)
    with pytest.raises(LabelError, match="real numbers; got dtype complex"):
        state.teach([1], labels, round=0)
    with pytest.raises(LabelError, match="real numbers"):
        state.relabel([0], labels)
    assert state.labeled_indices().tolist() == [0]
    assert state.labels().tolist() == [1.5]
