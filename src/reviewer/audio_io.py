"""Decode any media file into mono float32 audio at one sample rate.

wav / flac / mp3 / ogg / opus go through soundfile (libsndfile); video and other
containers (mp4, mkv, webm, m4a, ...) go through an ffmpeg subprocess (Debian
``ffmpeg`` or imageio-ffmpeg's bundled binary). Long files can be streamed in
blocks so memory stays bounded.

Every failure is an :class:`~reviewer.errors.InvalidMediaError` that names the
file and the reason.
"""

from __future__ import annotations

import functools
import hashlib
import logging
import re
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator

import numpy as np
import soundfile as sf

from reviewer.errors import InvalidMediaError
from reviewer.frames import duration_of

log = logging.getLogger(__name__)

SOUNDFILE_EXTENSIONS = frozenset({".wav", ".flac", ".mp3", ".ogg", ".oga", ".opus", ".aif", ".aiff", ".au"})
FFMPEG_EXTENSIONS = frozenset({".mp4", ".mkv", ".webm", ".m4a", ".mov", ".avi", ".aac", ".wma", ".ts", ".m4v", ".3gp"})
MEDIA_EXTENSIONS = SOUNDFILE_EXTENSIONS | FFMPEG_EXTENSIONS


@dataclass(frozen=True)
class Audio:
    """Decoded audio: a recording without labels.

    Attributes
    ----------
    y : np.ndarray [shape=(n,), float32]
        Mono samples in [-1, 1].
    sr : int
        Sample rate in Hz.
    source : str or None
        The file it came from.
    content_hash : str
        SHA-256 of the source file's bytes (or of the samples for in-memory audio).
    source_duration : float
        Duration of the whole source in seconds (``duration`` may be shorter when
        only the first N seconds were decoded).
    """

    y: np.ndarray
    sr: int
    source: str | None
    content_hash: str
    source_duration: float

    @property
    def duration(self) -> float:
        return duration_of(len(self.y), sr=self.sr)

    @property
    def truncated(self) -> bool:
        return self.duration + 1e-3 < self.source_duration

    @classmethod
    def from_array(cls, y: np.ndarray, sr: int, *, source: str | None = None) -> "Audio":
        """Wrap in-memory samples (mono or (n, channels)) as an Audio record."""
        y = np.asarray(y, dtype=np.float32)
        if y.ndim == 2:
            y = y.mean(axis=1, dtype=np.float32)
        if y.ndim != 1:
            raise InvalidMediaError(source or "<array>", f"expected 1-D or (n, channels) samples, got shape {y.shape}")
        h = hashlib.sha256(y.tobytes()).hexdigest()
        return cls(y=y, sr=int(sr), source=source, content_hash=h, source_duration=duration_of(len(y), sr=sr))


def content_hash(path: str | Path, *, block: int = 1 << 20) -> str:
    """SHA-256 hex digest of a file's bytes."""
    h = hashlib.sha256()
    with open(path, "rb") as f:
        while chunk := f.read(block):
            h.update(chunk)
    return h.hexdigest()


@functools.lru_cache(maxsize=1)
def ffmpeg_exe() -> str | None:
    """Path of an ffmpeg binary: Debian's if installed, else imageio-ffmpeg's bundled one."""
    exe = shutil.which("ffmpeg")
    if exe:
        return exe
    try:
        import imageio_ffmpeg

        return imageio_ffmpeg.get_ffmpeg_exe()
    except Exception as exc:  # noqa: BLE001 - any failure means "no ffmpeg"
        log.warning("no ffmpeg available: %s", exc)
        return None


def _check_file(path: Path) -> None:
    if not path.exists():
        raise InvalidMediaError(path, "file does not exist")
    if not path.is_file():
        raise InvalidMediaError(path, "not a regular file")
    if path.stat().st_size == 0:
        raise InvalidMediaError(path, "file is empty (0 bytes)")


def _to_mono(block: np.ndarray) -> np.ndarray:
    if block.ndim == 2:
        return block.mean(axis=1, dtype=np.float32) if block.shape[1] > 1 else block[:, 0]
    return block


def _rebuffer(blocks: Iterator[np.ndarray], size: int) -> Iterator[np.ndarray]:
    """Re-cut a stream of arrays into arrays of exactly ``size`` samples (last may be shorter)."""
    buf: list[np.ndarray] = []
    have = 0
    for b in blocks:
        if b.size == 0:
            continue
        buf.append(b)
        have += b.size
        while have >= size:
            cat = np.concatenate(buf) if len(buf) > 1 else buf[0]
            yield cat[:size]
            rest = cat[size:]
            buf = [rest] if rest.size else []
            have = rest.size
    if have:
        yield np.concatenate(buf) if len(buf) > 1 else buf[0]


def _soundfile_blocks(path: Path, *, sr: int, max_seconds: float | None) -> Iterator[np.ndarray]:
    import soxr

    try:
        f = sf.SoundFile(str(path))
    except (sf.LibsndfileError, RuntimeError, TypeError) as exc:
        raise InvalidMediaError(path, f"not a decodable audio file ({exc})") from exc
    with f:
        in_sr = f.samplerate
        limit = None if max_seconds is None else int(round(max_seconds * in_sr))
        read = 0
        stream = soxr.ResampleStream(in_sr, sr, 1, dtype="float32") if in_sr != sr else None
        step = in_sr * 30
        while True:
            n = step if limit is None else min(step, limit - read)
            if n <= 0:
                break
            try:
                block = f.read(n, dtype="float32", always_2d=True)
            except (sf.LibsndfileError, RuntimeError) as exc:
                raise InvalidMediaError(path, f"decoding failed after {read / in_sr:.1f} s ({exc})") from exc
            last = block.shape[0] < n or (limit is not None and read + block.shape[0] >= limit)
            read += block.shape[0]
            mono = _to_mono(block)
            if stream is not None:
                mono = stream.resample_chunk(mono, last=last)
            yield np.ascontiguousarray(mono, dtype=np.float32)
            if last:
                break


_FFMPEG_NO_AUDIO = re.compile(r"(does not contain any stream|Output file .* does not contain|matches no streams|Stream map '.*' matches no streams)", re.I)


def _ffmpeg_blocks(path: Path, *, sr: int, max_seconds: float | None) -> Iterator[np.ndarray]:
    exe = ffmpeg_exe()
    if exe is None:
        raise InvalidMediaError(path, "needs ffmpeg to decode this container, and none is installed (pip install imageio-ffmpeg)")
    cmd = [exe, "-nostdin", "-v", "error", "-i", str(path)]
    if max_seconds is not None:
        cmd += ["-t", f"{max_seconds:.6f}"]
    cmd += ["-map", "0:a:0", "-vn", "-ac", "1", "-ar", str(sr), "-f", "f32le", "-"]
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    got = 0
    try:
        assert proc.stdout is not None
        while True:
            raw = proc.stdout.read(sr * 4 * 30)
            if not raw:
                break
            usable = len(raw) - len(raw) % 4
            got += usable
            yield np.frombuffer(raw[:usable], dtype="<f4").astype(np.float32)
    finally:
        if proc.poll() is None:
            proc.kill()
        err = proc.stderr.read().decode(errors="replace") if proc.stderr else ""
        proc.wait()
    if proc.returncode != 0 and got == 0:
        if _FFMPEG_NO_AUDIO.search(err):
            raise InvalidMediaError(path, "has no audio stream")
        first = err.strip().splitlines()[-1] if err.strip() else f"ffmpeg exited with {proc.returncode}"
        raise InvalidMediaError(path, f"not a decodable media file ({first})")


def _raw_blocks(path: Path, *, sr: int, max_seconds: float | None) -> Iterator[np.ndarray]:
    ext = path.suffix.lower()
    if ext in SOUNDFILE_EXTENSIONS:
        try:
            yield from _soundfile_blocks(path, sr=sr, max_seconds=max_seconds)
            return
        except InvalidMediaError as exc:
            # libsndfile refused it: a mislabelled container may still decode with ffmpeg
            if ffmpeg_exe() is None:
                raise
            first_error = exc
        try:
            yield from _ffmpeg_blocks(path, sr=sr, max_seconds=max_seconds)
        except InvalidMediaError as second:
            # libsndfile's text for a format it does not know ("File does not exist or is not a regular file")
            # misleads on its own: say what both decoders made of it
            raise InvalidMediaError(path, f"{first_error.reason}; ffmpeg: {second.reason}") from None
    else:
        yield from _ffmpeg_blocks(path, sr=sr, max_seconds=max_seconds)


def iter_audio_blocks(
    path: str | Path, *, sr: int = 16000, block_seconds: float = 300.0, max_seconds: float | None = None
) -> Iterator[np.ndarray]:
    """Stream a media file as consecutive mono float32 blocks at ``sr``.

    Every block but the last has exactly ``round(block_seconds * sr)`` samples.

    Raises
    ------
    InvalidMediaError
        if the file is missing, empty, not media, has no audio stream, decodes to
        zero samples or contains non-finite samples.
    """
    p = Path(path)
    _check_file(p)
    size = max(1, int(round(block_seconds * sr)))
    total = 0
    for block in _rebuffer(_raw_blocks(p, sr=sr, max_seconds=max_seconds), size):
        if not np.isfinite(block).all():
            raise InvalidMediaError(p, f"decoded samples contain NaN or infinity near {total / sr:.1f} s")
        total += block.size
        yield block
    if total == 0:
        raise InvalidMediaError(p, "decodes to zero audio samples (zero-length audio)")


def probe_duration(path: str | Path) -> float:
    """Duration of the whole source in seconds, without decoding it fully when possible."""
    p = Path(path)
    _check_file(p)
    if p.suffix.lower() in SOUNDFILE_EXTENSIONS:
        try:
            info = sf.info(str(p))
            if info.frames > 0 and info.samplerate > 0:
                return float(info.frames) / float(info.samplerate)
        except (sf.LibsndfileError, RuntimeError):
            pass
    exe = ffmpeg_exe()
    if exe is not None:
        res = subprocess.run([exe, "-nostdin", "-hide_banner", "-i", str(p)], capture_output=True, text=True, errors="replace")
        m = re.search(r"Duration:\s*(\d+):(\d+):(\d+(?:\.\d+)?)", res.stderr)
        if m:
            h, mi, s = m.groups()
            return int(h) * 3600 + int(mi) * 60 + float(s)
    # last resort: decode and count
    n = sum(b.size for b in iter_audio_blocks(p, sr=8000))
    return n / 8000.0


def load_audio(path: str | Path, *, sr: int = 16000, max_seconds: float | None = None) -> Audio:
    """Decode a whole file (or its first ``max_seconds``) into an :class:`Audio`.

    Parameters
    ----------
    path : str or Path
        Any supported media file.
    sr : int
        Target sample rate in Hz.
    max_seconds : float or None
        Decode only the first N seconds (seed 001: intros are searched early).

    Raises
    ------
    InvalidMediaError
        naming the file and the reason.
    """
    p = Path(path)
    blocks = list(iter_audio_blocks(p, sr=sr, block_seconds=300.0, max_seconds=max_seconds))
    y = np.concatenate(blocks) if len(blocks) > 1 else blocks[0]
    dur = duration_of(len(y), sr=sr)
    source_duration = dur
    if max_seconds is not None and dur >= max_seconds - 1.0 / sr:
        try:
            source_duration = max(dur, probe_duration(p))
        except InvalidMediaError:
            source_duration = dur
    return Audio(y=y, sr=int(sr), source=str(p), content_hash=content_hash(p), source_duration=source_duration)
