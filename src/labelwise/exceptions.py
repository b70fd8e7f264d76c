"""Errors and warnings raised by labelwise.

Every error message says what was wrong, what was received and how to fix it.
"""

from __future__ import annotations


class LabelwiseError(Exception):
    """Base class of all labelwise errors."""


class InvalidParameterError(LabelwiseError, ValueError, TypeError):
    """A parameter or input has the wrong type, shape or value."""


class UnsupportedModelError(LabelwiseError, TypeError):
    """A strategy needs a model capability (method) that the model lacks."""


class NotFittedError(LabelwiseError, RuntimeError):
    """The model was used before ``fit`` was called."""


class ConvergenceError(InvalidParameterError):
    """A numerical solver did not converge on the given data.

    Raised by the batched logistic fits (`labelwise.kernels.fit_logistic_plus_one`),
    for example on features of very different scales; the strategies that use
    them refit copies of the model instead, with a `FallbackWarning`, unless
    told ``batched=True``.
    """


class LabelError(InvalidParameterError):
    """Labels passed to ``teach`` are invalid; no label was stored."""


class DatasetUnavailableError(LabelwiseError, RuntimeError):
    """No source of a dataset could be reached or verified."""


class ChecksumError(LabelwiseError, RuntimeError):
    """A downloaded artifact or parsed dataset does not match its pinned checksum."""


class WorkerLostError(LabelwiseError, RuntimeError):
    """A benchmark worker process died abruptly (e.g. killed for memory).

    Every finished round is kept; rerunning the same grid resumes it.
    """


class LabelwiseWarning(UserWarning):
    """Base class of all labelwise warnings."""


class BatchSizeWarning(LabelwiseWarning):
    """The requested batch was larger than the unlabeled pool and was shrunk."""


class NumericsWarning(LabelwiseWarning):
    """A numerical problem (non-positive pivot, non-finite value) was met."""


class FallbackWarning(LabelwiseWarning):
    """A selection used a documented fallback; the fallback is recorded in ``info``."""
