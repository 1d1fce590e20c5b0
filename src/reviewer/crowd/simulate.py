"""Simulated annotators of known skill, for tests and ``reviewer crowd simulate``.

A :class:`SimulatedAnnotator` answers a task whose true region is known:

* with probability ``skill`` it answers near the truth (boundaries jittered by
  a normal error whose spread shrinks with skill);
* otherwise it picks a random region of allowed length anywhere in the item
  (a spammer has skill near 0);
* it skips genres it dislikes (``"dislike_genre"``) and, when ``hasty``,
  submits before the minimum listening time.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from reviewer.errors import ValidationError

__all__ = ["SimulatedAnnotator", "SimulatedAnswer", "make_crowd"]


@dataclass(frozen=True)
class SimulatedAnswer:
    """What a simulated annotator submits: a region or a skip reason, and the listening time."""

    start: float | None
    end: float | None
    skip_reason: str | None
    listened_seconds: float


@dataclass(frozen=True)
class SimulatedAnnotator:
    """An annotator with a true skill in [0, 1].

    Attributes
    ----------
    name : str
    skill : float
        Probability of answering near the truth.
    dislikes : frozenset of str
        Genres they skip.
    hasty : bool
        Submits after a few seconds of listening.
    """

    name: str
    skill: float
    dislikes: frozenset = field(default_factory=frozenset)
    hasty: bool = False

    def __post_init__(self) -> None:
        if not 0.0 <= float(self.skill) <= 1.0:
            raise ValidationError(f"simulated skill must be in [0, 1]; got {self.skill!r}")

    def answer(
        self,
        *,
        truth: tuple[float, float],
        duration: float,
        genre: str | None,
        min_region: float,
        max_region: float,
        min_listen: float,
        rng: np.random.Generator,
    ) -> SimulatedAnswer:
        """An answer to a task whose true region is ``truth``."""
        listened = 3.0 if self.hasty else float(min_listen) + float(rng.uniform(0, 30))
        if genre is not None and genre in self.dislikes:
            return SimulatedAnswer(None, None, "dislike_genre", listened)
        lo, hi = min(min_region, duration), min(max_region, duration)
        if rng.random() < self.skill:
            spread = 0.5 + 6.0 * (1.0 - self.skill)
            s = truth[0] + rng.normal(0, spread)
            e = truth[1] + rng.normal(0, spread)
        else:
            length = rng.uniform(lo, hi)
            s = rng.uniform(0, max(0.0, duration - length))
            e = s + length
        s = float(np.clip(s, 0.0, duration))
        e = float(np.clip(e, 0.0, duration))
        if e - s < lo:  # keep the answer inside the pool's bounds
            e = min(duration, s + lo)
            s = max(0.0, e - lo)
        if e - s > hi:
            e = s + hi
        return SimulatedAnswer(round(s, 3), round(e, 3), None, listened)


def make_crowd(
    skills: dict[str, float],
    *,
    dislikes: dict[str, set[str]] | None = None,
    hasty: set[str] | frozenset = frozenset(),
) -> list[SimulatedAnnotator]:
    """Annotators from ``name → skill``, with optional disliked genres and hasty ones."""
    dislikes = dislikes or {}
    return [SimulatedAnnotator(name=n, skill=float(s), dislikes=frozenset(dislikes.get(n, ())), hasty=n in hasty)
            for n, s in skills.items()]
