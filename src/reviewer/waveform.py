"""Waveform peaks at several zoom levels, cached on disk by content hash, plus spectrogram windows.

A waveform is drawn from min/max *peaks*: for every bin of ``seconds_per_bin``
the smallest and largest sample. Level 0 has 10 ms bins; each next level is
4× coarser, down to a level with ≤ 512 bins. The page asks for a window and
gets the finest level that shows it in at most ``max_points`` bins, so a
1-hour file stays a few thousand numbers on screen however far you zoom.

Peaks are built once by streaming the file (bounded memory) and saved as
``<cache_dir>/peaks/<content_hash>-v<PEAKS_VERSION>.npz`` (float16).
"""

from __future__ import annotations

import functools
import logging
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from reviewer.audio_io import content_hash as file_hash
from reviewer.audio_io import iter_audio_blocks
from reviewer.errors import InvalidMediaError, ValidationError

__all__ = [
    "PEAKS_VERSION",
    "Peaks",
    "Spectrogram",
    "WaveformView",
    "build_peaks",
    "load_or_build_peaks",
    "peaks_path",
    "spectrogram",
]

log = logging.getLogger(__name__)

#: Bump when the on-disk format or the bin layout changes.
PEAKS_VERSION = 1
#: Decoding rate for peaks (enough for the envelope; cheap to stream).
PEAK_SR = 8000
#: Samples per bin at level 0 (10 ms at 8 kHz).
BASE_BIN = 80
#: Each level is this many times coarser than the previous one.
LEVEL_FACTOR = 4
#: Coarsest level has at most this many bins.
MIN_BINS = 512


@dataclass(frozen=True)
class WaveformView:
    """Min/max peaks of one visible window.

    Attributes
    ----------
    times : np.ndarray [shape=(n,), float32]
        Bin centres in seconds.
    mins, maxs : np.ndarray [shape=(n,), float32]
        Smallest / largest sample of each bin, in [-1, 1].
    seconds_per_bin : float
    start, end : float
        The window in seconds.
    """

    times: np.ndarray
    mins: np.ndarray
    maxs: np.ndarray
    seconds_per_bin: float
    start: float
    end: float

    def __len__(self) -> int:
        return int(self.times.size)


@dataclass(frozen=True)
class Peaks:
    """Every zoom level of one file's peaks.

    Attributes
    ----------
    duration : float
        Seconds of decoded audio.
    levels : tuple of (mins, maxs) pairs
        ``levels[k]`` has bins of ``seconds_per_bin(k)``; arrays are float16.
    """

    content_hash: str
    duration: float
    levels: tuple[tuple[np.ndarray, np.ndarray], ...]

    @staticmethod
    def seconds_per_bin(level: int) -> float:
        """Bin width of ``level`` in seconds."""
        return BASE_BIN * LEVEL_FACTOR**level / PEAK_SR

    def level_for(self, start: float, end: float, *, max_points: int = 2000) -> int:
        """The finest level that shows ``[start, end)`` in at most ``max_points`` bins."""
        span = max(end - start, 1e-3)
        for k in range(len(self.levels)):
            if span / self.seconds_per_bin(k) <= max_points:
                return k
        return len(self.levels) - 1

    def window(self, start: float = 0.0, end: float | None = None, *, max_points: int = 2000) -> WaveformView:
        """The peaks of ``[start, end)`` at the finest level that fits ``max_points``.

        Raises
        ------
        ValidationError
            for a window outside the audio or with start >= end.
        """
        end = self.duration if end is None else float(end)
        start = float(start)
        if not (np.isfinite(start) and np.isfinite(end)) or start < 0 or start >= end:
            raise ValidationError(f"waveform window must satisfy 0 <= start < end; got [{start}, {end}]")
        end = min(end, self.duration)
        start = min(start, max(0.0, end - 1e-3))
        k = self.level_for(start, end, max_points=max_points)
        spb = self.seconds_per_bin(k)
        mins, maxs = self.levels[k]
        lo = max(0, int(np.floor(start / spb)))
        hi = min(mins.size, int(np.ceil(end / spb)))
        idx = np.arange(lo, hi)
        return WaveformView(
            times=((idx + 0.5) * spb).astype(np.float32),
            mins=mins[lo:hi].astype(np.float32),
            maxs=maxs[lo:hi].astype(np.float32),
            seconds_per_bin=spb,
            start=start,
            end=end,
        )


def _coarsen(mins: np.ndarray, maxs: np.ndarray, factor: int) -> tuple[np.ndarray, np.ndarray]:
    n = mins.size
    pad = (-n) % factor
    if pad:
        mins = np.concatenate([mins, np.full(pad, mins[-1], mins.dtype)])
        maxs = np.concatenate([maxs, np.full(pad, maxs[-1], maxs.dtype)])
    return mins.reshape(-1, factor).min(axis=1), maxs.reshape(-1, factor).max(axis=1)


def build_peaks(path: str | Path, *, content_hash: str | None = None) -> Peaks:
    """Stream a media file once and compute every level of its peaks.

    Parameters
    ----------
    path : str or Path
        Any file :func:`reviewer.audio_io.iter_audio_blocks` decodes.
    content_hash : str, optional
        Stored with the peaks (computed from the file when omitted).

    Raises
    ------
    InvalidMediaError
        when the file cannot be decoded.
    """
    mins_parts: list[np.ndarray] = []
    maxs_parts: list[np.ndarray] = []
    carry = np.zeros(0, dtype=np.float32)
    total = 0
    for block in iter_audio_blocks(path, sr=PEAK_SR, block_seconds=120.0):
        total += block.size
        buf = np.concatenate([carry, block]) if carry.size else block
        usable = buf.size - buf.size % BASE_BIN
        if usable:
            frames = buf[:usable].reshape(-1, BASE_BIN)
            mins_parts.append(frames.min(axis=1))
            maxs_parts.append(frames.max(axis=1))
        carry = buf[usable:]
    if carry.size:
        mins_parts.append(np.array([carry.min()], dtype=np.float32))
        maxs_parts.append(np.array([carry.max()], dtype=np.float32))
    mins = np.concatenate(mins_parts)
    maxs = np.concatenate(maxs_parts)
    levels = [(mins.astype(np.float16), maxs.astype(np.float16))]
    while levels[-1][0].size > MIN_BINS:
        mins, maxs = _coarsen(mins, maxs, LEVEL_FACTOR)
        levels.append((mins.astype(np.float16), maxs.astype(np.float16)))
    digest = content_hash or file_hash(path)
    log.debug("peaks for %s: %d levels, %.1f s", path, len(levels), total / PEAK_SR)
    return Peaks(content_hash=digest, duration=total / PEAK_SR, levels=tuple(levels))


def peaks_path(cache_dir: str | Path, content_hash: str) -> Path:
    """Where the peaks of a file with ``content_hash`` live."""
    if not content_hash or any(c in content_hash for c in "/\\."):
        raise ValidationError(f"content hash must be a plain hex digest; got {content_hash!r}")
    return Path(cache_dir) / "peaks" / f"{content_hash}-v{PEAKS_VERSION}.npz"


def _save(peaks: Peaks, path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    arrays = {"duration": np.array([peaks.duration])}
    for k, (mn, mx) in enumerate(peaks.levels):
        arrays[f"min{k}"] = mn
        arrays[f"max{k}"] = mx
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    with open(tmp, "wb") as f:
        np.savez(f, **arrays)
    os.replace(tmp, path)


@functools.lru_cache(maxsize=16)
def _load(path: str, mtime: float, content_hash: str) -> Peaks:
    with np.load(path) as z:
        n = sum(1 for name in z.files if name.startswith("min"))
        levels = tuple((z[f"min{k}"], z[f"max{k}"]) for k in range(n))
        return Peaks(content_hash=content_hash, duration=float(z["duration"][0]), levels=levels)


def load_or_build_peaks(path: str | Path, *, cache_dir: str | Path, content_hash: str | None = None) -> Peaks:
    """The peaks of ``path`` from the disk cache, built (and saved) on first use.

    Raises
    ------
    InvalidMediaError
        when the media file is gone or undecodable and nothing is cached.
    """
    digest = content_hash
    if digest is None:
        if not Path(path).exists():
            raise InvalidMediaError(path, "file does not exist")
        digest = file_hash(path)
    target = peaks_path(cache_dir, digest)
    if target.exists():
        try:
            return _load(str(target), target.stat().st_mtime, digest)
        except (OSError, KeyError, ValueError) as exc:
            log.warning("peaks cache %s is unreadable (%s); rebuilding", target, exc)
    peaks = build_peaks(path, content_hash=digest)
    _save(peaks, target)
    return peaks


@dataclass(frozen=True)
class Spectrogram:
    """A log-magnitude spectrogram of a window.

    Attributes
    ----------
    times : np.ndarray [shape=(t,)]
        Frame centres in seconds (absolute, in the item's time).
    freqs : np.ndarray [shape=(f,)]
        Bin frequencies in Hz.
    db : np.ndarray [shape=(f, t), float32]
        Magnitude in dB relative to the window's peak (≤ 0).
    """

    times: np.ndarray
    freqs: np.ndarray
    db: np.ndarray


def spectrogram(
    y: np.ndarray, *, sr: int, offset: float = 0.0, n_fft: int = 1024, max_frames: int = 600, max_hz: float = 8000.0
) -> Spectrogram:
    """The spectrogram of samples ``y`` (a decoded window starting at ``offset`` seconds).

    Parameters
    ----------
    y : np.ndarray [shape=(n,)]
        Mono samples.
    sr : int
        Sample rate in Hz.
    max_frames : int
        At most this many frames: the hop grows with the window so the array stays small.
    """
    y = np.asarray(y, dtype=np.float32)
    if y.ndim != 1 or y.size < n_fft:
        raise ValidationError(f"spectrogram needs at least {n_fft} mono samples; got shape {y.shape}")
    hop = max(n_fft // 4, int(np.ceil((y.size - n_fft) / max(1, max_frames - 1))))
    n = 1 + (y.size - n_fft) // hop
    idx = np.arange(n_fft)[None, :] + hop * np.arange(n)[:, None]
    frames = y[idx] * np.hanning(n_fft).astype(np.float32)
    mag = np.abs(np.fft.rfft(frames, axis=1)).T
    freqs = np.fft.rfftfreq(n_fft, 1.0 / sr)
    keep = freqs <= max_hz
    db = 20 * np.log10(np.maximum(mag[keep], 1e-10))
    db = np.maximum(db - db.max(), -80.0).astype(np.float32)
    times = offset + (np.arange(n) * hop + n_fft / 2) / sr
    return Spectrogram(times=times.astype(np.float32), freqs=freqs[keep].astype(np.float32), db=db)
