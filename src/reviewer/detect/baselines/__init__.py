"""Non-learned baselines the detectors are measured against."""

from reviewer.detect.baselines.intro_chromaprint import ChromaprintConfig, chromaprint_intros, fingerprint, match_fingerprints

__all__ = ["ChromaprintConfig", "chromaprint_intros", "fingerprint", "match_fingerprints"]
