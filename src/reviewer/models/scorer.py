"""The two-method model contract every detector uses for learned per-segment scores.

A *scorer* turns a :class:`~reviewer.aggregate.SegmentTable` into one probability
per segment for its task (``"intro"``, ``"chorus"``, ``"interest"``) and is
stamped with the model version that produced it. Detectors accept ``None`` (no
trained model yet) and fall back to their non-learned evidence.
"""

from __future__ import annotations

from typing import Protocol, runtime_checkable

import numpy as np

from reviewer.aggregate import SegmentTable

TASKS: tuple[str, ...] = ("intro", "chorus", "interest")


@runtime_checkable
class SegmentScorer(Protocol):
    """``score(table) -> (N,) float32 in [0, 1]``; ``task`` and ``model_version`` identify it."""

    task: str
    model_version: str

    def score(self, table: SegmentTable) -> np.ndarray:  # pragma: no cover - protocol
        ...
