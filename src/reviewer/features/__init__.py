"""Frame feature extractors, registered by name (see :mod:`reviewer.features.base`)."""

from reviewer.features.base import ExtractorSpec, FrameFeatures, get_extractor, register, registered

__all__ = ["ExtractorSpec", "FrameFeatures", "get_extractor", "register", "registered"]
