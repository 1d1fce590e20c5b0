"""Cut a region of a media file (with a pre-roll) into WAV / OGG bytes for a player.

Reading seeks instead of decoding from the start: soundfile seeks in wav, flac,
ogg and mp3; other containers (mp4, mkv, ...) go through ``ffmpeg -ss``. A
1-hour file therefore costs only the length of the clip.
"""

from __future__ import annotations

import io
import logging
import subprocess
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import soundfile as sf

from reviewer.audio_io import SOUNDFILE_EXTENSIONS, ffmpeg_exe
from reviewer.errors import InvalidMediaError, ValidationError

__all__ = ["DEFAULT_PREROLL", "MAX_CLIP_SECONDS", "Clip", "cut_clip", "read_window"]

log = logging.getLogger(__name__)

#: Seconds played before the region starts (issue 4: default 2 s).
DEFAULT_PREROLL = 2.0
#: Longest clip the page will cut.
MAX_CLIP_SECONDS = 600.0


@dataclass(frozen=True)
class Clip:
    """Encoded audio of ``[start, end)`` of an item.

    Attributes
    ----------
    data : bytes
        The encoded file.
    mime : str
        ``"audio/wav"`` or ``"audio/ogg"``.
    start, end : float
        Seconds in the item's time: the clip's first sample is at ``start``
        (the region start minus the pre-roll, clipped at 0).
    region_start, region_end : float
        The region asked for (without pre-roll).
    sr : int
    """

    data: bytes
    mime: str
    start: float
    end: float
    region_start: float
    region_end: float
    sr: int

    def to_item_time(self, t: float) -> float:
        """Convert a player position (seconds into the clip) to the item's time."""
        return self.start + float(t)


def _resample(y: np.ndarray, sr_in: int, sr: int) -> np.ndarray:
    if sr_in == sr or y.size == 0:
        return y
    import soxr

    return soxr.resample(y, sr_in, sr).astype(np.float32)


def _read_soundfile(path: Path, start: float, end: float, sr: int) -> np.ndarray:
    with sf.SoundFile(str(path)) as f:
        sr_in = f.samplerate
        first = int(round(start * sr_in))
        if f.seekable():
            f.seek(min(first, f.frames))
        else:
            f.read(first, dtype="float32")
        block = f.read(max(0, int(round((end - start) * sr_in))), dtype="float32", always_2d=True)
    y = block.mean(axis=1).astype(np.float32) if block.shape[1] > 1 else block[:, 0]
    return _resample(np.ascontiguousarray(y), sr_in, sr)


def _read_ffmpeg(path: Path, start: float, end: float, sr: int) -> np.ndarray:
    exe = ffmpeg_exe()
    if exe is None:
        raise InvalidMediaError(path, "needs ffmpeg to decode this container, and none is installed")
    cmd = [exe, "-nostdin", "-v", "error", "-ss", f"{start:.6f}", "-i", str(path), "-t", f"{end - start:.6f}",
           "-map", "0:a:0", "-vn", "-ac", "1", "-ar", str(sr), "-f", "f32le", "-"]
    proc = subprocess.run(cmd, capture_output=True, check=False)
    if proc.returncode != 0 and not proc.stdout:
        err = proc.stderr.decode(errors="replace").strip().splitlines()
        raise InvalidMediaError(path, f"ffmpeg could not cut [{start:.2f}, {end:.2f}] s ({err[-1] if err else proc.returncode})")
    raw = proc.stdout[: len(proc.stdout) - len(proc.stdout) % 4]
    return np.frombuffer(raw, dtype="<f4").astype(np.float32)


def read_window(path: str | Path, start: float, end: float, *, sr: int = 22050) -> np.ndarray:
    """Decode ``[start, end)`` seconds of a media file as mono float32 at ``sr``.

    Raises
    ------
    InvalidMediaError
        missing or undecodable file.
    ValidationError
        a bad window.
    """
    p = Path(path)
    if not p.is_file():
        raise InvalidMediaError(p, "file does not exist (moved or deleted since it was ingested?)")
    s, e = float(start), float(end)
    if not (np.isfinite(s) and np.isfinite(e)) or s < 0 or s >= e:
        raise ValidationError(f"audio window must satisfy 0 <= start < end; got [{start}, {end}]")
    if p.suffix.lower() in SOUNDFILE_EXTENSIONS:
        try:
            return _read_soundfile(p, s, e, sr)
        except (sf.LibsndfileError, RuntimeError) as exc:
            log.debug("soundfile could not seek in %s (%s); trying ffmpeg", p, exc)
    return _read_ffmpeg(p, s, e, sr)


def cut_clip(
    path: str | Path,
    start: float,
    end: float,
    *,
    duration: float | None = None,
    preroll: float = DEFAULT_PREROLL,
    postroll: float = 0.0,
    sr: int = 22050,
    fmt: str = "wav",
) -> Clip:
    """Encode ``[start - preroll, end + postroll)`` of a file for ``st.audio`` or the audix player.

    Parameters
    ----------
    start, end : float
        The region in seconds.
    duration : float, optional
        The item's length; the clip is clipped to it.
    preroll, postroll : float
        Seconds of context before / after the region (``>= 0``).
    fmt : {"wav", "ogg"}
        16-bit PCM WAV (plays everywhere) or Ogg Vorbis (about 10× smaller).

    Raises
    ------
    ValidationError
        bad bounds, negative pre-roll, a clip longer than :data:`MAX_CLIP_SECONDS`, unknown format.
    InvalidMediaError
        the file cannot be read.
    """
    if fmt not in ("wav", "ogg"):
        raise ValidationError(f"clip format must be 'wav' or 'ogg'; got {fmt!r}")
    pre, post = float(preroll), float(postroll)
    if not (np.isfinite(pre) and np.isfinite(post)) or pre < 0 or post < 0:
        raise ValidationError(f"pre-roll and post-roll must be seconds >= 0; got {preroll!r}, {postroll!r}")
    s, e = float(start), float(end)
    if not (np.isfinite(s) and np.isfinite(e)) or s < 0 or s >= e:
        raise ValidationError(f"clip region must satisfy 0 <= start < end; got [{start}, {end}]")
    c0 = max(0.0, s - pre)
    c1 = e + post if duration is None else min(float(duration), e + post)
    if c1 <= c0:
        raise ValidationError(f"clip [{c0:.3f}, {c1:.3f}] s is empty (region past the item's end?)")
    if c1 - c0 > MAX_CLIP_SECONDS:
        raise ValidationError(f"clip of {c1 - c0:.0f} s is longer than {MAX_CLIP_SECONDS:.0f} s; zoom in on a shorter region")
    y = read_window(path, c0, c1, sr=sr)
    if y.size == 0:
        raise InvalidMediaError(path, f"no audio in [{c0:.2f}, {c1:.2f}] s")
    buf = io.BytesIO()
    if fmt == "wav":
        sf.write(buf, np.clip(y, -1, 1), sr, format="WAV", subtype="PCM_16")
    else:
        sf.write(buf, np.clip(y, -1, 1), sr, format="OGG", subtype="VORBIS")
    return Clip(data=buf.getvalue(), mime=f"audio/{fmt}", start=c0, end=c0 + y.size / sr,
                region_start=s, region_end=e, sr=sr)
