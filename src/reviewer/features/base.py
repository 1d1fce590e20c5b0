"""Frame-level feature tracks and the extractor registry.

A *track* is one timestamped array produced by a frame extractor: ``times`` in
seconds (frame centres, or event times) and ``values`` with one row per time.
An extractor whose model or input is unavailable returns tracks marked
``missing`` with a reason; aggregation turns them into NaN plus a missing flag.
Missing data is a value, never an exception.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable, Mapping

import numpy as np

from reviewer.errors import ConfigError


@dataclass(frozen=True)
class FrameFeatures:
    """One timestamped track.

    Attributes
    ----------
    name : str
        Track name, e.g. ``"rms"``, ``"chroma"``, ``"onsets"``, ``"asr_words"``.
    times : np.ndarray [shape=(n,), float64]
        Seconds: frame centres for ``kind="frames"``, event times for ``kind="events"``.
    values : np.ndarray [shape=(n,) or (n, d), float32]
        One row per time. Empty (shape ``(0,)``) when missing.
    kind : str
        ``"frames"`` (regularly sampled) or ``"events"`` (onsets, words).
    labels : tuple of str
        Column names of a vector track (``("C", "C#", ...)``) or, for word
        events, the words themselves.
    missing : str or None
        Why the track is unavailable; None when present.
    meta : dict
        Extra facts (model digest, hop, sample rate, ...), JSON-able.
    """

    name: str
    times: np.ndarray
    values: np.ndarray
    kind: str = "frames"
    labels: tuple[str, ...] = ()
    missing: str | None = None
    meta: Mapping[str, Any] = field(default_factory=dict)

    @property
    def is_missing(self) -> bool:
        return self.missing is not None

    @property
    def dim(self) -> int:
        """Columns per row (1 for a scalar track)."""
        return 1 if self.values.ndim <= 1 else int(self.values.shape[1])

    @classmethod
    def missing_track(cls, name: str, reason: str, *, kind: str = "frames", **meta: Any) -> "FrameFeatures":
        return cls(
            name=name,
            times=np.zeros(0, dtype=np.float64),
            values=np.zeros(0, dtype=np.float32),
            kind=kind,
            missing=reason,
            meta=dict(meta),
        )


#: extractor function signature: (audio, *, ctx, config, settings) -> list of tracks
ExtractorFn = Callable[..., list[FrameFeatures]]


@dataclass(frozen=True)
class ExtractorSpec:
    """A registered extractor: its name, config class, the tracks it yields."""

    name: str
    fn: ExtractorFn
    config_cls: type
    tracks: tuple[str, ...]
    #: True for extractors in the default DSP set (no model, no ASR)
    dsp: bool = True
    description: str = ""


_REGISTRY: dict[str, ExtractorSpec] = {}


def register(name: str, *, config: type, tracks: tuple[str, ...], dsp: bool = True, description: str = ""):
    """Decorator: register an extractor under ``name`` with its dataclass ``config``."""

    def deco(fn: ExtractorFn) -> ExtractorFn:
        if name in _REGISTRY and _REGISTRY[name].fn is not fn:
            raise ConfigError(f"extractor {name!r} is registered twice")
        _REGISTRY[name] = ExtractorSpec(name, fn, config, tuple(tracks), dsp, description or (fn.__doc__ or "").strip())
        return fn

    return deco


#: modules whose import registers the built-in extractors
BUILTIN_MODULES: tuple[str, ...] = ("reviewer.features.dsp", "reviewer.features.asr", "reviewer.features.embeddings")


def _ensure_builtin() -> None:
    import importlib

    for mod in BUILTIN_MODULES:
        importlib.import_module(mod)


def get_extractor(name: str) -> ExtractorSpec:
    _ensure_builtin()
    try:
        return _REGISTRY[name]
    except KeyError:
        raise ConfigError(f"unknown extractor {name!r}; registered: {sorted(_REGISTRY)}") from None


def registered() -> dict[str, ExtractorSpec]:
    _ensure_builtin()
    return dict(_REGISTRY)
