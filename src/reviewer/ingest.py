"""Find media files, infer what they are, and read seed-001 label files.

Series, season and episode come from folder names (``<Series>/Season 01/...``,
``<Series>/S01/...``) or from an ``SxxEyy`` tag in the file name
(``Show.Name.S01E02.mkv``). Item keys are stable ids derived from the path
relative to the ingest root, safe to use in file names.
"""

from __future__ import annotations

import json
import logging
import math
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterable, Mapping

from reviewer.audio_io import MEDIA_EXTENSIONS
from reviewer.errors import ValidationError

log = logging.getLogger(__name__)

_SXXEYY = re.compile(r"[Ss](\d{1,2})[ ._-]?[Ee](\d{1,3})")
_SEASON_DIR = re.compile(r"^(?:season|s|сезон)[ ._-]*(\d{1,2})$", re.I)
_KEY_BAD = re.compile(r"[^A-Za-z0-9._-]+")


@dataclass(frozen=True)
class MediaCandidate:
    """A media file found by :func:`scan_media`, with what its path says about it."""

    path: Path
    key: str
    kind: str
    series: str | None = None
    season: int | None = None
    episode: int | None = None
    artist: str | None = None
    title: str | None = None
    rel_path: str = ""
    extra: Mapping[str, Any] = field(default_factory=dict)


def make_key(rel_path: str) -> str:
    """A file-name-safe stable id from a relative path: ``a/b c.flac`` → ``a__b_c.flac``."""
    parts = [p for p in Path(rel_path).as_posix().split("/") if p not in ("", ".")]
    key = "__".join(_KEY_BAD.sub("_", p).strip("_") or "_" for p in parts)
    if not key:
        raise ValidationError(f"cannot make an item key from path {rel_path!r}")
    return key[:200]


def _clean_name(name: str) -> str:
    return re.sub(r"[._]+", " ", name).strip()


def parse_episode_path(rel: Path) -> dict[str, Any]:
    """Series / season / episode from a relative path.

    ``Show/Season 01/Show_S01E02.flac`` → ``{"series": "Show", "season": 1, "episode": 2}``;
    ``Show.Name.S01E02.mkv`` → ``{"series": "Show Name", "season": 1, "episode": 2}``.
    Returns an empty dict when nothing is recognisable.
    """
    out: dict[str, Any] = {}
    m = _SXXEYY.search(rel.stem)
    if m:
        out["season"], out["episode"] = int(m.group(1)), int(m.group(2))
        prefix = _clean_name(rel.stem[: m.start()]).strip(" -")
        if prefix:
            out["series"] = prefix
    dirs = list(rel.parent.parts)
    if dirs:
        season_m = _SEASON_DIR.match(dirs[-1].replace("_", " "))
        if season_m:
            out.setdefault("season", int(season_m.group(1)))
            if len(dirs) >= 2:
                out["series"] = _clean_name(dirs[-2])
        elif "series" not in out or len(dirs) >= 1:
            # <Series>/<file>: the folder names the series
            out["series"] = _clean_name(dirs[-1]) if dirs[-1].lower() not in ("series", "episodes") else out.get("series")
    if out.get("series") is None:
        out.pop("series", None)
    return out


def infer_kind(rel: Path, *, default: str = "other") -> str:
    """``episode`` for SxxEyy / season folders / a ``series`` folder, ``song`` under ``songs`` / ``music``."""
    low = [p.lower() for p in rel.parts]
    if _SXXEYY.search(rel.stem) or any(_SEASON_DIR.match(p.replace("_", " ")) for p in rel.parent.parts):
        return "episode"
    if any(p in ("series", "episodes", "shows", "tv") for p in low[:-1]):
        return "episode"
    if any(p in ("songs", "music", "tracks") for p in low[:-1]):
        return "song"
    return default


def scan_media(paths: Iterable[str | Path], *, kind: str = "auto", root: str | Path | None = None) -> list[MediaCandidate]:
    """Media files under ``paths`` (files or folders, recursively), sorted by key.

    Parameters
    ----------
    paths : iterable of path
        Files or folders.
    kind : {"auto", "episode", "song", "other"}
        ``auto`` infers the kind from the path.
    root : path or None
        Keys are made relative to this folder (default: each given folder, or a
        file's parent).
    """
    if kind not in ("auto", "episode", "song", "other"):
        raise ValidationError(f"kind must be auto, episode, song or other; got {kind!r}")
    found: dict[str, MediaCandidate] = {}
    for raw in paths:
        p = Path(raw).expanduser().resolve()
        if not p.exists():
            raise ValidationError(f"path {str(p)!r} does not exist")
        base = Path(root).resolve() if root is not None else (p if p.is_dir() else p.parent)
        files = sorted(f for f in p.rglob("*") if f.is_file() and f.suffix.lower() in MEDIA_EXTENSIONS) if p.is_dir() else [p]
        for f in files:
            try:
                rel = f.relative_to(base)
            except ValueError:
                rel = Path(f.name)
            k = kind if kind != "auto" else infer_kind(rel)
            info: dict[str, Any] = {}
            artist = title = None
            if k == "episode":
                info = parse_episode_path(rel)
            elif k == "song":
                title = _clean_name(f.stem)
                artist = _clean_name(rel.parent.name) if rel.parent.parts else None
            key = make_key(rel.as_posix())
            found[key] = MediaCandidate(
                path=f, key=key, kind=k, series=info.get("series"), season=info.get("season"),
                episode=info.get("episode"), artist=artist, title=title or _clean_name(f.stem), rel_path=rel.as_posix(),
            )
    return [found[k] for k in sorted(found)]


def parse_timestamp(value: Any) -> float | None:
    """Seconds from ``"H:MM:SS(.sss)"``, ``"MM:SS"``, a number, or None.

    Raises
    ------
    ValidationError
        for anything else, naming the value.
    """
    if value is None or value == "":
        return None
    if isinstance(value, bool):
        raise ValidationError(f"timestamp must be seconds or 'H:MM:SS', got {value!r}")
    if isinstance(value, (int, float)):
        v = float(value)
    else:
        text = str(value).strip()
        parts = text.split(":")
        try:
            nums = [float(x) for x in parts]
        except ValueError as exc:
            raise ValidationError(f"timestamp {value!r} is not seconds or 'H:MM:SS'") from exc
        if len(nums) > 3:
            raise ValidationError(f"timestamp {value!r} has too many ':' parts")
        v = 0.0
        for n in nums:
            v = v * 60 + n
    if not math.isfinite(v) or v < 0:
        raise ValidationError(f"timestamp {value!r} must be a non-negative finite time")
    return v


def format_timestamp(seconds: float) -> str:
    """``83.5`` → ``"0:01:23.500"`` (the seed-001 label style, with milliseconds)."""
    ms = int(round(float(seconds) * 1000))
    h, rem = divmod(ms, 3_600_000)
    m, rem = divmod(rem, 60_000)
    s, ms = divmod(rem, 1000)
    return f"{h}:{m:02d}:{s:02d}.{ms:03d}"


@dataclass(frozen=True)
class IntroLabel:
    """One entry of a seed-001 label file: the intro of an episode, or none."""

    ref: str
    start: float | None
    end: float | None


def read_intro_labels(path: str | Path) -> list[IntroLabel]:
    """Read a seed-001 ``train_labels.json`` / ``test_labels.json``.

    Accepts ``{id: {"start": "H:MM:SS", "end": "H:MM:SS", ...}}`` (also
    ``start_sec`` / ``end_sec``); ``null`` start and end mean "no intro".
    """
    p = Path(path)
    try:
        data = json.loads(p.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as exc:
        raise ValidationError(f"label file {str(p)!r} is not readable JSON: {exc}") from exc
    if not isinstance(data, Mapping):
        raise ValidationError(f"label file {str(p)!r}: expected an object of id → {{start, end}}, got {type(data).__name__}")
    out = []
    for ref, entry in data.items():
        if not isinstance(entry, Mapping):
            raise ValidationError(f"label file {str(p)!r}: entry {ref!r} is not an object")
        start = entry.get("start_sec", entry.get("start"))
        end = entry.get("end_sec", entry.get("end"))
        s, e = parse_timestamp(start), parse_timestamp(end)
        if (s is None) != (e is None):
            raise ValidationError(f"label file {str(p)!r}: entry {ref!r} has only one of start / end")
        if s is not None and e is not None and s >= e:
            raise ValidationError(f"label file {str(p)!r}: entry {ref!r} start {s:.3f} s is not before end {e:.3f} s")
        out.append(IntroLabel(ref=str(ref), start=s, end=e))
    return out
