"""Per-segment aggregates of frame tracks, with missing flags (seed 000 §3-4).

Each track becomes one feature *group* of columns named as in seed 000 §3
(see ``docs/ARCHITECTURE.md``). A frame ``t`` belongs to segment ``[s, e)``
when ``s <= t < e`` (:func:`reviewer.frames.slice_bounds`).

Missing data is a value: a track that is absent from the mapping ("not
extracted") or marked missing gives NaN columns and a True missing flag for
every segment; a present frame track with no frame inside a segment gives NaN
and a True flag for that segment only. Event tracks (onsets, words) are never
missing per segment: no event means a count of 0.

Rules per column: ``voiced_fraction`` is the share of non-NaN ``f0`` frames;
``hum_detected`` is 1 when at least half the segment's frames are flagged;
``onset_count_energy`` counts onsets in the segment and ``onset_density`` is
that count per second; the word columns use only words whose confidence is
``>= asr_confidence_threshold`` (``asr_conf_mean`` is NaN without such words).

Everything is vectorised over segments (cumulative sums over frame indices and
``ufunc.reduceat``), so a 1-hour item (2400 segments) aggregates in well under
a second.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Mapping

import numpy as np

from reviewer.errors import ValidationError
from reviewer.features.base import FrameFeatures
from reviewer.frames import slice_bounds
from reviewer.segments import Segments

log = logging.getLogger(__name__)

#: tracks holding neural embeddings: columns ``<name>_mean_<i>``, reduced by PCA later
EMBEDDING_TRACKS: tuple[str, ...] = ("clap", "wav2vec", "whisper", "yamnet")
#: fixed widths of the vector tracks (the column names depend on them)
VECTOR_DIMS: dict[str, int] = {"spectral_contrast": 7, "mel64": 64, "mfcc": 20, "chroma": 12, "emotion": 3}
#: group order of the table; embedding groups follow (always clap, wav2vec, whisper)
GROUPS: tuple[str, ...] = (
    "rms", "f0", "spectral_centroid", "spectral_bandwidth", "spectral_flatness", "spectral_contrast",
    "tempo", "onsets", "vocal", "snr_db", "hum", "asr_words", "mel64", "mfcc", "chroma", "emotion",
)  # fmt: skip
DEFAULT_EMBEDDINGS: tuple[str, ...] = ("clap", "wav2vec", "whisper")
#: tracks that exist but feed no column (kept quiet in the log)
UNUSED_TRACKS: frozenset[str] = frozenset({"onset_strength"})


def group_columns(group: str, *, dim: int | None = None) -> tuple[str, ...]:
    """Column names of one group (seed 000 §3); ``dim`` is needed for embeddings."""
    fixed: dict[str, tuple[str, ...]] = {
        "rms": ("rms_mean", "rms_std", "rms_max", "rms_min"),
        "f0": ("f0_mean", "f0_std", "voiced_fraction"),
        "spectral_centroid": ("spectral_centroid_mean",),
        "spectral_bandwidth": ("spectral_bandwidth_mean",),
        "spectral_flatness": ("spectral_flatness_mean",),
        "tempo": ("tempo_bpm",),
        "onsets": ("onset_density", "onset_count_energy"),
        "vocal": ("vocal_fraction",),
        "snr_db": ("snr_db",),
        "hum": ("hum_detected",),
        "asr_words": ("words_in_segment", "words_per_sec", "asr_conf_mean"),
        "emotion": ("emotion_valence", "emotion_arousal", "emotion_dom_conf"),
    }
    if group in fixed:
        return fixed[group]
    if group in ("spectral_contrast", "mel64", "chroma"):
        return tuple(f"{group}_mean_{i}" for i in range(VECTOR_DIMS[group]))
    if group == "mfcc":
        n = VECTOR_DIMS["mfcc"]
        return tuple(f"mfcc_mean_{i}" for i in range(n)) + tuple(f"mfcc_std_{i}" for i in range(n))
    if group in EMBEDDING_TRACKS:
        return tuple(f"{group}_mean_{i}" for i in range(int(dim or 0)))
    raise ValidationError(f"unknown feature group {group!r}; known: {list(GROUPS) + list(EMBEDDING_TRACKS)}")


@dataclass(frozen=True)
class SegmentTable:
    """Per-segment features of one item.

    Attributes
    ----------
    segments : Segments
        The N windows the rows belong to.
    columns : tuple of str
        D column names, grouped, in :data:`GROUPS` order then embeddings.
    values : np.ndarray [shape=(N, D), float32]
        Aggregates; NaN where missing.
    groups : Mapping[str, tuple of str]
        Group (track) name → its column names, in column order.
    missing : np.ndarray [shape=(N, G), bool]
        True where a group has no data for a segment; G follows ``groups``.
    missing_reasons : Mapping[str, str or None]
        Group → why the whole track is missing, None when present.
    """

    segments: Segments
    columns: tuple[str, ...]
    values: np.ndarray
    groups: Mapping[str, tuple[str, ...]]
    missing: np.ndarray
    missing_reasons: Mapping[str, str | None]

    def __post_init__(self) -> None:
        n, d, g = len(self.segments), len(self.columns), len(self.groups)
        if self.values.shape != (n, d):
            raise ValidationError(f"segment table values must have shape (N={n}, D={d}), got {self.values.shape}")
        if self.missing.shape != (n, g):
            raise ValidationError(f"segment table missing flags must have shape (N={n}, G={g}), got {self.missing.shape}")
        flat = tuple(c for cols in self.groups.values() for c in cols)
        if flat != tuple(self.columns):
            raise ValidationError("segment table groups must list every column once, in column order")

    def __len__(self) -> int:
        return len(self.segments)

    @property
    def group_names(self) -> tuple[str, ...]:
        return tuple(self.groups)

    def column(self, name: str) -> np.ndarray:
        """One column, shape ``(N,)`` float32."""
        try:
            return self.values[:, self.columns.index(name)]
        except ValueError:
            raise ValidationError(f"no column {name!r} in the segment table") from None

    def missing_for(self, group: str) -> np.ndarray:
        """Missing flags of one group, shape ``(N,)`` bool."""
        try:
            return self.missing[:, self.group_names.index(group)]
        except ValueError:
            raise ValidationError(f"no group {group!r} in the segment table; groups: {list(self.groups)}") from None

    def to_frame(self, *, include_missing: bool = True):
        """A pandas DataFrame: ``index, start, end``, every column, then ``<group>_missing`` flags."""
        import pandas as pd

        data: dict[str, np.ndarray] = {
            "index": np.arange(len(self), dtype=np.int64),
            "start": self.segments.starts,
            "end": self.segments.ends,
        }
        frame = pd.DataFrame(data)
        feats = pd.DataFrame(self.values, columns=list(self.columns))
        parts = [frame, feats]
        if include_missing:
            parts.append(pd.DataFrame(self.missing, columns=[f"{g}_missing" for g in self.groups]))
        return pd.concat(parts, axis=1)


class _Windows:
    """Sums of a track over every segment, in one pass over the frames.

    The segment bounds (frame indices ``lo``/``hi``) cut the frames into
    elementary intervals; ``np.add.reduceat`` sums each interval once, and a
    cumulative sum over the (few thousand) intervals gives any window sum as a
    difference. Cost O(n_frames * d) regardless of the segment overlap.
    """

    def __init__(self, times: np.ndarray, values: np.ndarray, segments: Segments) -> None:
        self.values = values  # (n, d) float32, NaN allowed
        self.lo, self.hi = slice_bounds(times, segments.starts, segments.ends)
        self.n_frames = self.hi - self.lo  # (N,)
        self.bounds = np.unique(np.concatenate([self.lo, self.hi]))
        self.pos_lo = np.searchsorted(self.bounds, self.lo)
        self.pos_hi = np.searchsorted(self.bounds, self.hi)
        self.valid = None if not np.isnan(values).any() else ~np.isnan(values)
        if self.valid is None:
            self.n_valid = np.broadcast_to(self.n_frames[:, None].astype(np.float64), (self.n_frames.size, values.shape[1]))
        else:
            self.n_valid = self._window_sum(self.valid.astype(np.float32))

    def _window_sum(self, x: np.ndarray) -> np.ndarray:
        padded = np.concatenate([x, np.zeros((1, x.shape[1]), dtype=x.dtype)], axis=0)
        elem = np.add.reduceat(padded, self.bounds, axis=0).astype(np.float64)
        cs = np.concatenate([np.zeros((1, x.shape[1])), np.cumsum(elem, axis=0)], axis=0)
        return cs[self.pos_hi] - cs[self.pos_lo]

    def _zeroed(self, x: np.ndarray) -> np.ndarray:
        return x if self.valid is None else np.where(self.valid, x, np.float32(0))

    def mean(self) -> np.ndarray:
        with np.errstate(invalid="ignore", divide="ignore"):
            out = self._window_sum(self._zeroed(self.values)) / self.n_valid
        return np.where(self.n_valid > 0, out, np.nan)

    def std(self) -> np.ndarray:
        """Population std (``np.std``) over valid frames, shifted by the track mean for precision."""
        centre = np.zeros(self.values.shape[1], np.float32)
        if self.valid is None or self.valid.any():
            centre = np.nan_to_num(np.nanmean(self.values, axis=0)).astype(np.float32)
        shifted = self._zeroed(self.values - centre)
        with np.errstate(invalid="ignore", divide="ignore"):
            m = self._window_sum(shifted) / self.n_valid
            var = self._window_sum(shifted * shifted) / self.n_valid - m**2
        return np.where(self.n_valid > 0, np.sqrt(np.maximum(var, 0.0)), np.nan)

    def extreme(self, ufunc: np.ufunc) -> np.ndarray:
        """``np.fmax`` / ``np.fmin`` over each window (NaN-ignoring)."""
        padded = np.concatenate([self.values, np.full((1, self.values.shape[1]), np.nan, np.float32)], axis=0)
        idx = np.empty(2 * self.lo.size, dtype=np.int64)
        idx[0::2], idx[1::2] = self.lo, self.hi
        out = ufunc.reduceat(padded, idx, axis=0)[0::2]
        return np.where(self.n_valid > 0, out, np.nan)


def _as_2d(track: FrameFeatures) -> tuple[np.ndarray, np.ndarray]:
    """Sorted ``(times (n,) float64, values (n, d) float32)`` of a track, validated."""
    times = np.asarray(track.times, dtype=np.float64).reshape(-1)
    values = np.asarray(track.values, dtype=np.float32)
    values = values.reshape(-1, 1) if values.ndim <= 1 else values.reshape(values.shape[0], int(np.prod(values.shape[1:])))
    if values.shape[0] != times.size:
        raise ValidationError(
            f"track {track.name!r}: {times.size} times but {values.shape[0]} value rows (values must be (n,) or (n, d))"
        )
    if times.size > 1 and np.any(np.diff(times) < 0):
        order = np.argsort(times, kind="stable")
        times, values = times[order], values[order]
    return times, values


def _frame_group(group: str, times: np.ndarray, vals: np.ndarray, segments: Segments) -> tuple[np.ndarray, np.ndarray]:
    """Columns ``(N, k)`` and per-segment missing ``(N,)`` of one frame track."""
    w = _Windows(times, vals, segments)
    empty = w.n_frames == 0
    if group == "rms":
        cols = np.column_stack([w.mean(), w.std(), w.extreme(np.fmax), w.extreme(np.fmin)])
    elif group == "f0":
        voiced = np.where(empty, np.nan, w.n_valid[:, 0] / np.maximum(w.n_frames, 1))
        cols = np.column_stack([w.mean(), w.std(), voiced])
    elif group == "hum":
        share = w.mean()
        cols = np.where(np.isnan(share), np.nan, (share >= 0.5).astype(np.float64))
    elif group == "mfcc":  # means then stds
        cols = np.concatenate([w.mean(), w.std()], axis=1)
    else:
        cols = w.mean()
    return cols, empty


def _event_group(
    group: str, times: np.ndarray, vals: np.ndarray, segments: Segments, *, threshold: float
) -> np.ndarray:
    """Columns ``(N, k)`` of an event track (never missing per segment)."""
    lengths = segments.lengths
    if group == "onsets":
        lo, hi = slice_bounds(times, segments.starts, segments.ends)
        count = (hi - lo).astype(np.float64)
        return np.column_stack([count / lengths, count])
    # asr_words: values (k, 2) = [end, confidence]; keep confident words only
    conf = vals[:, 1] if vals.shape[1] >= 2 else np.full(times.size, np.nan)
    keep = conf >= threshold
    t, c = times[keep], conf[keep]
    lo, hi = slice_bounds(t, segments.starts, segments.ends)
    count = (hi - lo).astype(np.float64)
    cs = np.concatenate([[0.0], np.cumsum(c)])
    with np.errstate(invalid="ignore", divide="ignore"):
        conf_mean = np.where(count > 0, (cs[hi] - cs[lo]) / count, np.nan)
    return np.column_stack([count, count / lengths, conf_mean])


def aggregate(
    tracks: Mapping[str, FrameFeatures],
    segments: Segments,
    *,
    asr_confidence_threshold: float = 0.3,
    embedding_dims: Mapping[str, int] | None = None,
) -> SegmentTable:
    """Aggregate frame tracks over segments into a :class:`SegmentTable`.

    Parameters
    ----------
    tracks : Mapping[str, FrameFeatures]
        Track name → track (names as in ``docs/ARCHITECTURE.md``). Absent
        tracks count as missing ("not extracted").
    segments : Segments
        The N windows.
    asr_confidence_threshold : float
        Words with confidence below this are ignored (seed 000 §15).
    embedding_dims : Mapping[str, int], optional
        Width of embedding tracks, used to name the NaN columns of a *missing*
        embedding; a missing embedding with unknown width gets no columns
        (only its missing flag). A present track must match.

    Returns
    -------
    SegmentTable
        values (N, D) float32 with NaN where missing, missing flags (N, G).

    Raises
    ------
    ValidationError
        for a malformed track (times/values length mismatch, wrong vector width).
    """
    if not isinstance(segments, Segments):
        raise ValidationError(f"segments must be a Segments record, got {type(segments).__name__}")
    dims = dict(embedding_dims or {})
    n = len(segments)
    extra = [t for t in EMBEDDING_TRACKS if t not in DEFAULT_EMBEDDINGS and (t in tracks or t in dims)]
    emb = list(DEFAULT_EMBEDDINGS) + extra
    for name in tracks:
        if name not in GROUPS and name not in EMBEDDING_TRACKS and name not in UNUSED_TRACKS:
            log.debug("aggregate: track %r feeds no column; ignored", name)

    groups: dict[str, tuple[str, ...]] = {}
    blocks: list[np.ndarray] = []
    missing_cols: list[np.ndarray] = []
    reasons: dict[str, str | None] = {}
    for group in list(GROUPS) + emb:
        track = tracks.get(group)
        reason: str | None = None
        if track is None:
            reason = "not extracted"
        elif track.is_missing:
            reason = str(track.missing)
        times = vals = None
        if reason is None:
            times, vals = _as_2d(track)
            if group in VECTOR_DIMS and vals.shape[1] != VECTOR_DIMS[group]:
                raise ValidationError(f"track {group!r} must have {VECTOR_DIMS[group]} columns, got {vals.shape[1]}")
            if group in EMBEDDING_TRACKS:
                if group in dims and dims[group] != vals.shape[1]:
                    raise ValidationError(f"track {group!r} has width {vals.shape[1]}, expected {dims[group]}")
                dims[group] = vals.shape[1]
            if times.size == 0 and group not in ("onsets", "asr_words"):
                reason = "empty track (0 frames)"
        cols = group_columns(group, dim=dims.get(group))
        if reason is not None:
            block = np.full((n, len(cols)), np.nan)
            seg_missing = np.ones(n, dtype=bool)
        elif group in ("onsets", "asr_words"):
            block = _event_group(group, times, vals, segments, threshold=asr_confidence_threshold)
            seg_missing = np.zeros(n, dtype=bool)
        else:
            block, seg_missing = _frame_group(group, times, vals, segments)
        groups[group] = cols
        blocks.append(np.asarray(block, dtype=np.float64).reshape(n, len(cols)))
        missing_cols.append(seg_missing)
        reasons[group] = reason

    values = np.concatenate(blocks, axis=1).astype(np.float32) if blocks else np.zeros((n, 0), np.float32)
    columns = tuple(c for cols in groups.values() for c in cols)
    return SegmentTable(
        segments=segments,
        columns=columns,
        values=values,
        groups=groups,
        missing=np.column_stack(missing_cols).astype(bool),
        missing_reasons=reasons,
    )
