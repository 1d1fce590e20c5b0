"""One base error for the project, with specific subclasses.

Every error names the bad value and, where it helps, what to do about it.
"""

from __future__ import annotations


class ReviewerError(Exception):
    """Base class of every error reviewer raises on purpose."""


class ConfigError(ReviewerError, ValueError):
    """A configuration file or value is invalid (unknown key, wrong type, out of range)."""


class InvalidMediaError(ReviewerError):
    """A media file cannot be decoded into audio.

    Parameters
    ----------
    path : str
        The file that failed.
    reason : str
        Why: empty file, zero-length audio, no audio stream, not a media file, ...
    """

    def __init__(self, path: object, reason: str) -> None:
        self.path = str(path)
        self.reason = reason
        super().__init__(f"invalid media {self.path!r}: {reason}")


class ExtractionError(ReviewerError):
    """A feature extractor failed on an input it should have handled."""


class ModelUnavailableError(ReviewerError):
    """A pretrained model is not configured or cannot be loaded from its local path."""


class ValidationError(ReviewerError, ValueError):
    """A value handed to the backend is out of range (interval bounds, ids, ratings, ...)."""


class NotFoundError(ReviewerError, LookupError):
    """A requested row (item, run, package, label, ...) does not exist."""


class StaleEditError(ReviewerError):
    """Someone else saved this row first: the edit was based on an older version."""


class PackageError(ReviewerError):
    """A package on disk is missing, incomplete or inconsistent with its meta.json."""
