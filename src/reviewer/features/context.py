"""A per-block shared analysis context for frame extractors.

Every DSP extractor needs some of the same intermediate arrays (the STFT
magnitude, the power spectrum, a mel spectrogram, a resampled copy of the
signal). :class:`AnalysisContext` computes each of them once, lazily, on first
use, and hands the same array to every extractor that asks, so one block of
audio is transformed by one STFT no matter how many extractors run on it.

Arrays are float32. All spectrogram frames follow librosa's ``center=True``
convention: local frame ``j`` is centred at sample ``j * hop_length`` of the
block, i.e. at global time ``t0 + j * hop_length / sr`` where ``t0`` is the
block's start within the item (see :meth:`AnalysisContext.frame_times`).
"""

from __future__ import annotations

import functools
import logging
from dataclasses import dataclass, field
from typing import Any, Callable

import numpy as np

from reviewer.errors import ExtractionError
from reviewer.frames import frames_to_time, n_frames

log = logging.getLogger(__name__)

#: the mel resolution shared by the mel, mfcc, onset, vocal and quality extractors
N_MELS = 64
#: floor of the power spectrogram before taking logarithms (−100 dB)
POWER_AMIN = 1e-10


@dataclass
class AnalysisContext:
    """Lazily memoised analyses of one block of mono audio.

    Parameters
    ----------
    y : np.ndarray [shape=(n,), float32]
        The block's samples (including any context margin around the kept part).
    sr : int
        Sample rate in Hz.
    n_fft : int
        STFT window length in samples.
    hop_length : int
        STFT hop in samples; one track frame per hop.
    start_sample : int
        Global index of ``y[0]`` within the item; must be a multiple of
        ``hop_length`` so frame grids of consecutive blocks coincide.
    """

    y: np.ndarray
    sr: int
    n_fft: int = 2048
    hop_length: int = 512
    start_sample: int = 0
    _memo: dict[Any, np.ndarray] = field(default_factory=dict, repr=False)

    def __post_init__(self) -> None:
        self.y = np.ascontiguousarray(self.y, dtype=np.float32)
        if self.y.ndim != 1:
            raise ExtractionError(f"AnalysisContext needs mono samples of shape (n,), got {self.y.shape}")
        if self.start_sample % self.hop_length:
            raise ExtractionError(
                f"block start {self.start_sample} is not a multiple of hop_length={self.hop_length}; frame grids would not align"
            )

    # ------------------------------------------------------------------ grid
    @property
    def t0(self) -> float:
        """Global time in seconds of the block's first sample."""
        return self.start_sample / float(self.sr)

    @property
    def start_frame(self) -> int:
        """Global frame index of the block's first frame."""
        return self.start_sample // self.hop_length

    @property
    def n_frames(self) -> int:
        """Number of centred frames in the block (``1 + len(y) // hop_length``)."""
        return n_frames(len(self.y), hop_length=self.hop_length)

    def frame_times(self, n: int | None = None) -> np.ndarray:
        """Global centre times of the block's frames.

        Returns
        -------
        times : np.ndarray [shape=(n,), float64]
            Seconds.
        """
        n = self.n_frames if n is None else n
        return np.asarray(frames_to_time(self.start_frame + np.arange(n), sr=self.sr, hop_length=self.hop_length))

    def memo(self, key: Any, make: Callable[[], np.ndarray]) -> np.ndarray:
        """Return the array stored under ``key``, computing it with ``make()`` once."""
        try:
            return self._memo[key]
        except KeyError:
            value = make()
            self._memo[key] = value
            return value

    def release(self) -> None:
        """Drop every memoised array (free memory between blocks)."""
        self._memo.clear()

    # -------------------------------------------------------------- spectra
    @property
    def stft_mag(self) -> np.ndarray:
        """STFT magnitude, periodic Hann window, ``center=True`` with zero padding.

        Returns
        -------
        S : np.ndarray [shape=(1 + n_fft // 2, n_frames), float32]
            A transposed view of a frame-major array (rows of ``S.T`` are frames).
        """

        def make() -> np.ndarray:
            return stft_magnitude(self.y, n_fft=self.n_fft, hop_length=self.hop_length).T

        return self.memo("stft_mag", make)

    @property
    def power(self) -> np.ndarray:
        """Power spectrogram ``|STFT|**2``, shape ``(1 + n_fft // 2, n_frames)``, float32."""
        return self.memo("power", lambda: np.square(self.stft_mag))

    @property
    def fft_freqs(self) -> np.ndarray:
        """Centre frequency in Hz of each STFT bin, shape ``(1 + n_fft // 2,)``."""
        return self.memo("fft_freqs", lambda: np.fft.rfftfreq(self.n_fft, d=1.0 / self.sr).astype(np.float32))

    @property
    def mel_power(self) -> np.ndarray:
        """64-band mel power spectrogram (Slaney mel, 0..sr/2 Hz), shape ``(64, n_frames)``, float32."""

        def make() -> np.ndarray:
            fb = mel_filterbank(self.sr, self.n_fft, N_MELS)
            return fb @ self.power

        return self.memo("mel_power", make)

    @property
    def mel_db(self) -> np.ndarray:
        """Log mel power in dB re 1.0 (absolute, floored at −100 dB), shape ``(64, n_frames)``, float32.

        The reference is fixed (not the block maximum) so values do not depend on
        how the item was cut into blocks.
        """

        def make() -> np.ndarray:
            out = np.maximum(self.mel_power, POWER_AMIN)
            np.log10(out, out=out)
            out *= 10.0
            return out

        return self.memo("mel_db", make)

    @property
    def mel_freqs(self) -> np.ndarray:
        """Centre frequency in Hz of each of the 64 mel bands."""

        def make() -> np.ndarray:
            import librosa

            return librosa.mel_frequencies(n_mels=N_MELS + 2, fmin=0.0, fmax=self.sr / 2.0)[1:-1].astype(np.float32)

        return self.memo("mel_freqs", make)

    def resampled(self, target_sr: int) -> np.ndarray:
        """The block resampled to ``target_sr`` Hz with soxr (linear phase, no delay), float32."""
        if target_sr == self.sr:
            return self.y

        def make() -> np.ndarray:
            import soxr

            return soxr.resample(self.y, self.sr, target_sr, quality="HQ").astype(np.float32, copy=False)

        return self.memo(("resampled", int(target_sr)), make)


@functools.lru_cache(maxsize=8)
def mel_filterbank(sr: int, n_fft: int, n_mels: int) -> np.ndarray:
    """Mel filterbank (librosa Slaney), shape ``(n_mels, 1 + n_fft // 2)``, float32, cached per process."""
    import librosa

    fb = librosa.filters.mel(sr=sr, n_fft=n_fft, n_mels=n_mels, fmin=0.0, fmax=sr / 2.0, dtype=np.float32)
    fb.flags.writeable = False
    return fb


@functools.lru_cache(maxsize=8)
def chroma_filterbank(sr: int, n_fft: int) -> np.ndarray:
    """Chroma filterbank (librosa, tuning fixed at 0, row 0 = C), shape ``(12, 1 + n_fft // 2)``, float32."""
    import librosa

    fb = librosa.filters.chroma(sr=sr, n_fft=n_fft, n_chroma=12, tuning=0.0, dtype=np.float32)
    fb.flags.writeable = False
    return fb


def stft_magnitude(y: np.ndarray, *, n_fft: int, hop_length: int, chunk: int = 1024) -> np.ndarray:
    """Frame-major STFT magnitude with scipy's float32 FFT (librosa's ``stft`` conventions).

    Equivalent to ``np.abs(librosa.stft(y, n_fft=n_fft, hop_length=hop_length,
    center=True, pad_mode="constant")).T`` but computed in float32 chunks of
    ``chunk`` frames, several times faster and with bounded temporary memory.

    Parameters
    ----------
    y : np.ndarray [shape=(n,), float32]
    n_fft, hop_length : int
        Window and hop in samples.

    Returns
    -------
    S : np.ndarray [shape=(1 + n // hop_length, 1 + n_fft // 2), float32]
    """
    import librosa
    import scipy.fft

    yp = np.pad(np.asarray(y, dtype=np.float32), (n_fft // 2, n_fft // 2))
    nf = n_frames(len(y), hop_length=hop_length)
    frames = librosa.util.frame(yp, frame_length=n_fft, hop_length=hop_length, axis=0)[:nf]
    window = _hann(n_fft)
    out = np.empty((nf, 1 + n_fft // 2), dtype=np.float32)
    for i in range(0, nf, chunk):
        X = scipy.fft.rfft(frames[i : i + chunk] * window, axis=1, workers=1)
        np.abs(X, out=out[i : i + chunk])
    return out


@functools.lru_cache(maxsize=8)
def _hann(n: int) -> np.ndarray:
    import scipy.signal

    w = scipy.signal.get_window("hann", n, fftbins=True).astype(np.float32)
    w.flags.writeable = False
    return w
