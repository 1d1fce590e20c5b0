"""On-disk cache of extracted tracks: one ``.npz`` per (item, extractor).

The key of an entry is a digest of everything the tracks depend on: the item's
content hash, the extractor name, its config digest, the digest of the model it
loaded (if any), the sample rate, hop and FFT size, and how much of the item was
decoded. Writes are atomic (temporary file in the same folder, then
``os.replace``); a file that cannot be read back is logged, deleted and treated
as a miss, so the caller recomputes it. Tracks marked missing are never cached
(their cause, e.g. an unconfigured model, may go away).

Layout: ``<root>/<hash[:2]>/<hash>/<extractor>-<key>.npz`` holding, for track
``i``, arrays ``t{i}_times`` and ``t{i}_values``, plus one JSON string
``__meta__`` with names, kinds, labels, per-track meta and item facts.
"""

from __future__ import annotations

import json
import logging
import os
import tempfile
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Mapping

import numpy as np

from reviewer.config import digest
from reviewer.features.base import FrameFeatures

log = logging.getLogger(__name__)

#: bump when the on-disk layout or any extractor's semantics change
CACHE_VERSION = 1


def cache_key(
    *,
    content_hash: str,
    extractor: str,
    config_digest: str,
    model_digest: str | None,
    sr: int,
    hop_length: int,
    n_fft: int,
    max_seconds: float | None,
) -> str:
    """Digest (16 hex chars) identifying one cache entry."""
    return digest(
        {
            "v": CACHE_VERSION,
            "content_hash": content_hash,
            "extractor": extractor,
            "config": config_digest,
            "model": model_digest,
            "sr": int(sr),
            "hop_length": int(hop_length),
            "n_fft": int(n_fft),
            "max_seconds": max_seconds,
        }
    )


@dataclass(frozen=True)
class CachedTracks:
    """What a cache entry holds: the tracks and item facts stored with them."""

    tracks: list[FrameFeatures]
    facts: Mapping[str, Any]


@dataclass(frozen=True)
class FeatureCache:
    """A folder of cached tracks.

    Parameters
    ----------
    root : Path
        Cache folder, e.g. ``settings.cache_dir / "features"``.
    """

    root: Path

    @classmethod
    def from_settings(cls, settings) -> "FeatureCache":
        """The project's feature cache: ``settings.cache_dir / "features"``."""
        return cls(Path(settings.cache_dir) / "features")

    def path_for(self, content_hash: str, extractor: str, key: str) -> Path:
        return Path(self.root) / content_hash[:2] / content_hash / f"{extractor}-{key}.npz"

    def load(self, content_hash: str, extractor: str, key: str) -> CachedTracks | None:
        """The cached tracks, or None on a miss or an unreadable (corrupt) file."""
        path = self.path_for(content_hash, extractor, key)
        if not path.is_file():
            return None
        try:
            with np.load(path, allow_pickle=False) as data:
                meta = json.loads(str(data["__meta__"][()]))
                tracks = []
                for i, t in enumerate(meta["tracks"]):
                    tracks.append(
                        FrameFeatures(
                            name=t["name"],
                            times=np.asarray(data[f"t{i}_times"], dtype=np.float64),
                            values=np.asarray(data[f"t{i}_values"]),
                            kind=t["kind"],
                            labels=tuple(t["labels"]),
                            missing=None,
                            meta=t["meta"],
                        )
                    )
            return CachedTracks(tracks=tracks, facts=meta.get("facts", {}))
        except (OSError, ValueError, KeyError, TypeError, EOFError, zipfile.BadZipFile, json.JSONDecodeError) as exc:
            log.warning("ignoring corrupt feature cache file %s (%s); it will be recomputed", path, exc)
            try:
                path.unlink()
            except OSError:
                pass
            return None

    def save(self, content_hash: str, extractor: str, key: str, tracks: list[FrameFeatures], *, facts: Mapping[str, Any] | None = None) -> Path | None:
        """Store ``tracks`` atomically; returns the path, or None when not cacheable (a missing track)."""
        if any(t.is_missing for t in tracks):
            return None
        path = self.path_for(content_hash, extractor, key)
        path.parent.mkdir(parents=True, exist_ok=True)
        arrays: dict[str, np.ndarray] = {}
        meta_tracks = []
        for i, t in enumerate(tracks):
            arrays[f"t{i}_times"] = np.asarray(t.times, dtype=np.float64)
            arrays[f"t{i}_values"] = np.asarray(t.values)
            meta_tracks.append({"name": t.name, "kind": t.kind, "labels": list(t.labels), "meta": dict(t.meta)})
        meta = {"version": CACHE_VERSION, "extractor": extractor, "tracks": meta_tracks, "facts": dict(facts or {})}
        arrays["__meta__"] = np.array(json.dumps(meta, default=_json_default))
        fd, tmp = tempfile.mkstemp(prefix=f".{extractor}-", suffix=".tmp", dir=path.parent)
        try:
            with os.fdopen(fd, "wb") as f:
                np.savez(f, **arrays)
            os.replace(tmp, path)
        except BaseException:
            try:
                os.unlink(tmp)
            except OSError:
                pass
            raise
        return path


def _json_default(v: Any) -> Any:
    if isinstance(v, np.generic):
        return v.item()
    if isinstance(v, np.ndarray):
        return v.tolist()
    return str(v)
