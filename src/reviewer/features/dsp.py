"""The default DSP frame extractors (no model, no ASR).

Each extractor is a function ``(audio, *, ctx, config, settings) -> list[FrameFeatures]``
registered with :func:`reviewer.features.base.register` and a frozen config
dataclass. They read shared analyses from the :class:`~reviewer.features.context.AnalysisContext`
(one STFT per block) and return tracks on the global frame grid
(``hop_length`` samples, frame centres, see :mod:`reviewer.frames`).

Every config has a class attribute ``context_seconds``: how much audio either
side of a frame can change its value. The streaming runner
(:mod:`reviewer.features.run`) pads each block by at least that much so tracks
are seamless across block boundaries. No value depends on block-wide
statistics (no normalisation by the block maximum, no tuning estimate).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import ClassVar

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view
from scipy import ndimage

from reviewer.features.base import FrameFeatures, register
from reviewer.features.context import POWER_AMIN, AnalysisContext, chroma_filterbank

log = logging.getLogger(__name__)

CHROMA_LABELS: tuple[str, ...] = ("C", "C#", "D", "D#", "E", "F", "F#", "G", "G#", "A", "A#", "B")
_EPS = np.float32(1e-12)


def _meta(ctx: AnalysisContext, **extra) -> dict:
    return {"sr": int(ctx.sr), "hop_length": int(ctx.hop_length), **extra}


def _frames(name: str, ctx: AnalysisContext, values: np.ndarray, *, labels: tuple[str, ...] = (), **meta) -> FrameFeatures:
    """Wrap ``values`` (frames along axis 0) as a frame track on the context's grid."""
    values = np.ascontiguousarray(values, dtype=np.float32)
    n = min(values.shape[0], ctx.n_frames)
    return FrameFeatures(name=name, times=ctx.frame_times(n), values=values[:n], kind="frames", labels=labels, meta=_meta(ctx, **meta))


# ---------------------------------------------------------------- rms
@dataclass(frozen=True)
class RmsConfig:
    """RMS over a window of ``frame_length`` samples centred on each frame (None = n_fft)."""

    frame_length: int | None = None
    context_seconds: ClassVar[float] = 0.2


def _autocorrelate_rows(x: np.ndarray, *, nfft: int, max_lag: int, chunk: int = 4096) -> np.ndarray:
    """Autocorrelation of every row of ``x`` (shape (m, L)) for lags 0..max_lag, float32, chunked."""
    import scipy.fft

    out = np.empty((x.shape[0], max_lag + 1), dtype=np.float32)
    for i in range(0, x.shape[0], chunk):
        X = scipy.fft.rfft(np.asarray(x[i : i + chunk], dtype=np.float32), n=nfft, axis=1, workers=1)
        p = np.square(X.real) + np.square(X.imag)
        out[i : i + chunk] = scipy.fft.irfft(p, n=nfft, axis=1, workers=1)[:, : max_lag + 1]
    return out


def frame_rms(y: np.ndarray, *, frame_length: int, hop_length: int) -> np.ndarray:
    """Linear RMS of centred, zero-padded windows.

    Parameters
    ----------
    y : np.ndarray [shape=(n,)]
    frame_length, hop_length : int
        Window and hop in samples.

    Returns
    -------
    rms : np.ndarray [shape=(1 + n // hop_length,), float32]
    """
    n = len(y)
    nf = 1 + n // hop_length
    if frame_length % (2 * hop_length) == 0:
        # the window spans whole hops: sum per-hop energies (float32 per hop, float64 across)
        k = frame_length // (2 * hop_length)
        n_hops = -(-n // hop_length)
        e = np.zeros(n_hops * hop_length, dtype=np.float32)
        e[:n] = y
        np.square(e, out=e)
        per_hop = e.reshape(n_hops, hop_length).sum(axis=1, dtype=np.float64)
        padded = np.concatenate([np.zeros(k), per_hop, np.zeros(k + 1)])
        c = np.concatenate([[0.0], np.cumsum(padded)])
        j = np.arange(nf)
        ms = np.maximum(c[j + 2 * k] - c[j], 0.0) / frame_length
        return np.sqrt(ms).astype(np.float32)
    c = np.zeros(n + 1, dtype=np.float64)
    np.cumsum(np.square(y, dtype=np.float64), out=c[1:])
    centres = np.arange(nf, dtype=np.int64) * hop_length
    lo = np.clip(centres - frame_length // 2, 0, n)
    hi = np.clip(centres - frame_length // 2 + frame_length, 0, n)
    ms = np.maximum(c[hi] - c[lo], 0.0) / frame_length
    return np.sqrt(ms).astype(np.float32)


@register("rms", config=RmsConfig, tracks=("rms",), description="linear RMS per frame")
def extract_rms(audio, *, ctx: AnalysisContext, config: RmsConfig, settings=None) -> list[FrameFeatures]:
    """Linear RMS per frame, shape (n,)."""
    fl = config.frame_length or ctx.n_fft
    return [_frames("rms", ctx, ctx.memo(("rms", fl), lambda: frame_rms(ctx.y, frame_length=fl, hop_length=ctx.hop_length)), frame_length=fl)]


# ---------------------------------------------------------------- pitch
@dataclass(frozen=True)
class PitchConfig:
    """YIN on a downsampled signal plus a voicing decision.

    ``f0`` is NaN where unvoiced: the YIN aperiodicity (minimum of the cumulative
    mean normalised difference) is above ``voicing_threshold`` or the frame is
    quieter than ``silence_db`` dBFS.
    """

    fmin: float = 60.0
    fmax: float = 1000.0
    #: analysis rate for YIN (Hz); the signal is resampled when it divides sr and hop
    yin_sr: int = 8000
    #: YIN window in seconds
    frame_seconds: float = 0.064
    trough_threshold: float = 0.1
    voicing_threshold: float = 0.25
    silence_db: float = -50.0
    context_seconds: ClassVar[float] = 0.5


def yin_with_aperiodicity(
    y: np.ndarray, *, sr: int, frame_length: int, hop_length: int, fmin: float, fmax: float, trough_threshold: float = 0.1
) -> tuple[np.ndarray, np.ndarray]:
    """YIN f0 and aperiodicity of centred frames (de Cheveigné & Kawahara 2002).

    Parameters
    ----------
    y : np.ndarray [shape=(n,), float32]
    sr : int
        Sample rate in Hz of ``y``.
    frame_length, hop_length : int
        Samples at ``sr``.
    fmin, fmax : float
        Search range in Hz.

    Returns
    -------
    f0 : np.ndarray [shape=(1 + n // hop_length,), float32]
        Hz (always finite; the voicing decision is the caller's).
    aperiodicity : np.ndarray [shape=(1 + n // hop_length,), float32]
        Value of the normalised difference at the chosen period, in [0, ~2]; low = periodic.
    """
    import librosa

    min_period = max(2, int(np.floor(sr / fmax)))
    max_period = min(int(np.ceil(sr / fmin)), frame_length - 2)
    yp = np.pad(np.asarray(y, dtype=np.float32), (frame_length // 2, frame_length // 2))
    nf = 1 + len(y) // hop_length
    frames = librosa.util.frame(yp, frame_length=frame_length, hop_length=hop_length, axis=0)[:nf]  # (nf, L)
    nfft = 1 << int(np.ceil(np.log2(2 * frame_length)))
    acf = _autocorrelate_rows(frames, nfft=nfft, max_lag=max_period)
    # energy term: sum_{m<k} y(m)^2 (librosa's formulation)
    energy = np.cumsum(np.square(frames[:, :max_period]), axis=1)
    d = np.empty((nf, max_period + 1), dtype=np.float32)
    d[:, 0] = 0.0
    d[:, 1:] = 2.0 * (acf[:, :1] - acf[:, 1:]) - energy
    cum = np.cumsum(d[:, 1:], axis=1) / np.arange(1, max_period + 1, dtype=np.float32)
    cmndf = d[:, min_period:] / (cum[:, min_period - 1 :] + _EPS)  # (nf, P) periods min..max
    # first trough below the threshold, else the global minimum
    left = np.concatenate([np.full((nf, 1), np.inf, np.float32), cmndf[:, :-1]], axis=1)
    right = np.concatenate([cmndf[:, 1:], np.full((nf, 1), np.inf, np.float32)], axis=1)
    trough = (cmndf <= left) & (cmndf < right) & (cmndf < trough_threshold)
    has = trough.any(axis=1)
    idx = np.where(has, np.argmax(trough, axis=1), np.argmin(cmndf, axis=1))
    rows = np.arange(nf)
    ap = cmndf[rows, idx]
    # parabolic refinement
    i0 = np.clip(idx - 1, 0, cmndf.shape[1] - 1)
    i2 = np.clip(idx + 1, 0, cmndf.shape[1] - 1)
    a, b, c = cmndf[rows, i0], ap, cmndf[rows, i2]
    den = a - 2 * b + c
    with np.errstate(divide="ignore", invalid="ignore"):
        shift = np.where((np.abs(den) > 1e-9) & (idx > 0) & (idx < cmndf.shape[1] - 1), 0.5 * (a - c) / den, 0.0)
    shift = np.clip(shift, -1.0, 1.0)
    period = min_period + idx + shift
    f0 = (sr / np.maximum(period, 1.0)).astype(np.float32)
    return f0, np.nan_to_num(ap, nan=2.0).astype(np.float32)


@register("pitch", config=PitchConfig, tracks=("f0",), description="YIN f0 in Hz, NaN where unvoiced")
def extract_pitch(audio, *, ctx: AnalysisContext, config: PitchConfig, settings=None) -> list[FrameFeatures]:
    """f0 in Hz per frame (NaN where unvoiced), shape (n,)."""
    sr, hop = ctx.sr, ctx.hop_length
    ysr = sr
    if config.yin_sr < sr and sr % config.yin_sr == 0 and hop % (sr // config.yin_sr) == 0 and config.fmax < config.yin_sr / 4:
        ysr = config.yin_sr
    y = ctx.resampled(ysr)
    yhop = hop * ysr // sr
    frame_length = int(round(config.frame_seconds * ysr))
    frame_length = max(frame_length, int(np.ceil(2.2 * ysr / config.fmin)))
    f0, ap = yin_with_aperiodicity(
        y, sr=ysr, frame_length=frame_length, hop_length=yhop, fmin=config.fmin, fmax=config.fmax, trough_threshold=config.trough_threshold
    )
    n = min(len(f0), ctx.n_frames)
    f0, ap = f0[:n], ap[:n]
    rms = frame_rms(y, frame_length=frame_length, hop_length=yhop)[:n]
    loud = 20.0 * np.log10(np.maximum(rms, 1e-10)) > config.silence_db
    voiced = (ap < config.voicing_threshold) & loud & (f0 >= config.fmin * 0.95) & (f0 <= config.fmax * 1.05)
    f0 = np.where(voiced, f0, np.nan).astype(np.float32)
    return [_frames("f0", ctx, f0, yin_sr=int(ysr), frame_length=int(frame_length))]


# ---------------------------------------------------------------- spectral
@dataclass(frozen=True)
class SpectralConfig:
    """Centroid (Hz), bandwidth (Hz, p=2), flatness (power, ratio) and 7-row contrast (dB)."""

    contrast_fmin: float = 100.0
    contrast_bands: int = 6
    contrast_quantile: float = 0.02
    context_seconds: ClassVar[float] = 0.2


def spectral_contrast(S: np.ndarray, *, freqs: np.ndarray, fmin: float, n_bands: int, quantile: float) -> np.ndarray:
    """Octave-band spectral contrast in dB (librosa's definition, vectorised).

    Parameters
    ----------
    S : np.ndarray [shape=(d, n)]
        Magnitude spectrogram.
    freqs : np.ndarray [shape=(d,)]
        Bin frequencies in Hz.

    Returns
    -------
    contrast : np.ndarray [shape=(n_bands + 1, n), float32]
    """
    octa = np.zeros(n_bands + 2)
    octa[1:] = fmin * (2.0 ** np.arange(0, n_bands + 1))
    out = np.empty((n_bands + 1, S.shape[1]), dtype=np.float32)
    for k, (f_low, f_high) in enumerate(zip(octa[:-1], octa[1:])):
        current = (freqs >= f_low) & (freqs <= f_high)
        idx = np.flatnonzero(current)
        if k > 0:
            idx = np.r_[idx[0] - 1, idx]
        if k == n_bands:
            idx = np.r_[idx, np.arange(idx[-1] + 1, len(freqs))]
        sub = np.sort(S[idx], axis=0)
        nq = max(1, int(np.rint(quantile * len(idx))))
        valley = sub[:nq].mean(axis=0)
        peak = sub[-nq:].mean(axis=0)
        out[k] = 10.0 * (np.log10(np.maximum(peak, POWER_AMIN)) - np.log10(np.maximum(valley, POWER_AMIN)))
    return out


@register(
    "spectral",
    config=SpectralConfig,
    tracks=("spectral_centroid", "spectral_bandwidth", "spectral_flatness", "spectral_contrast"),
    description="spectral centroid / bandwidth (Hz), flatness (ratio), contrast (dB, 7 bands)",
)
def extract_spectral(audio, *, ctx: AnalysisContext, config: SpectralConfig, settings=None) -> list[FrameFeatures]:
    """Spectral shape per frame from the shared STFT magnitude."""
    S = ctx.stft_mag
    freqs = ctx.fft_freqs
    total = S.sum(axis=0)
    safe = np.maximum(total, _EPS)
    centroid = (freqs @ S) / safe
    # bandwidth: sqrt(sum S (f - c)^2 / sum S) = sqrt(E[f^2] - c^2)
    m2 = (np.square(freqs) @ S) / safe
    bandwidth = np.sqrt(np.maximum(m2 - np.square(centroid), 0.0))
    silent = total <= 1e-8
    centroid[silent] = 0.0
    bandwidth[silent] = 0.0
    P = np.maximum(ctx.power, POWER_AMIN)
    log_mean = np.log(P).mean(axis=0)
    flatness = np.exp(log_mean) / P.mean(axis=0)
    fmax_ok = config.contrast_fmin * 2.0**config.contrast_bands < ctx.sr / 2.0
    fmin = config.contrast_fmin if fmax_ok else (ctx.sr / 2.0) / 2.0 ** (config.contrast_bands + 0.1)
    contrast = spectral_contrast(S, freqs=freqs, fmin=fmin, n_bands=config.contrast_bands, quantile=config.contrast_quantile)
    return [
        _frames("spectral_centroid", ctx, centroid, unit="Hz"),
        _frames("spectral_bandwidth", ctx, bandwidth, unit="Hz"),
        _frames("spectral_flatness", ctx, flatness, unit="ratio"),
        _frames("spectral_contrast", ctx, contrast.T, labels=tuple(f"band{i}" for i in range(contrast.shape[0])), unit="dB", fmin=float(fmin)),
    ]


# ---------------------------------------------------------------- onset
@dataclass(frozen=True)
class OnsetConfig:
    """Onset strength (mean positive log-mel flux, dB) and peak-picked onset events.

    Peaks are picked on the envelope divided by its running maximum over
    ``norm_seconds`` either side (floored at ``min_strength``), so quiet passages
    are judged against their surroundings and silence yields no onsets.
    """

    norm_seconds: float = 5.0
    min_strength: float = 6.0
    delta: float = 0.1
    pre_max_s: float = 0.03
    post_max_s: float = 0.03
    pre_avg_s: float = 0.10
    post_avg_s: float = 0.10
    wait_s: float = 0.03
    context_seconds: ClassVar[float] = 5.5


def onset_envelope(ctx: AnalysisContext) -> np.ndarray:
    """Onset strength per frame, shape ``(n_frames,)``, float32, memoised on the context.

    Mean over the 64 mel bands of ``max(0, S_db[t - 2] - S_db[t - 3])`` (librosa's
    ``onset_strength`` with lag 1 and the centring shift of ``n_fft // (2 hop)`` frames).
    """

    def make() -> np.ndarray:
        S = ctx.mel_db
        n = S.shape[1]
        flux = np.maximum(S[:, 1:] - S[:, :-1], 0.0).mean(axis=0)
        shift = 1 + ctx.n_fft // (2 * ctx.hop_length)
        env = np.zeros(n, dtype=np.float32)
        if n > shift:
            env[shift:] = flux[: n - shift]
        return env

    return ctx.memo("onset_env", make)


@register("onset", config=OnsetConfig, tracks=("onset_strength", "onsets"), description="onset strength per frame and onset events")
def extract_onset(audio, *, ctx: AnalysisContext, config: OnsetConfig, settings=None) -> list[FrameFeatures]:
    """Onset strength (n,) and onset events (times in s, values = strength)."""
    import librosa

    env = onset_envelope(ctx)
    fps = ctx.sr / ctx.hop_length
    w = max(1, int(round(config.norm_seconds * fps)))
    ref = np.maximum(ndimage.maximum_filter1d(env, size=2 * w + 1, mode="nearest"), config.min_strength)
    norm = env / ref

    def fr(s: float, plus: int = 0) -> int:
        return max(plus, int(round(s * fps)) + plus)

    peaks = librosa.util.peak_pick(
        norm,
        pre_max=fr(config.pre_max_s, 0) or 1,
        post_max=fr(config.post_max_s, 1),
        pre_avg=fr(config.pre_avg_s, 0) or 1,
        post_avg=fr(config.post_avg_s, 1),
        delta=config.delta,
        wait=fr(config.wait_s, 0),
    )
    peaks = peaks[norm[peaks] > config.delta] if len(peaks) else peaks
    times = ctx.frame_times()[peaks] if len(peaks) else np.zeros(0)
    events = FrameFeatures(
        name="onsets", times=np.asarray(times, dtype=np.float64), values=env[peaks].astype(np.float32), kind="events", meta=_meta(ctx)
    )
    return [_frames("onset_strength", ctx, env, unit="dB"), events]


# ---------------------------------------------------------------- tempo
@dataclass(frozen=True)
class TempoConfig:
    """Local tempo from an autocorrelation tempogram of the onset envelope.

    Every ``stride`` frames the envelope in a Hann window of ``window_seconds``
    is autocorrelated, weighted by a log-normal prior around ``start_bpm``
    (``std_octaves`` wide, as in librosa), and the best lag (refined
    parabolically) gives the BPM; frames in between are linearly interpolated.
    NaN where the window has no onset energy.
    """

    window_seconds: float = 12.0
    stride: int = 8
    min_bpm: float = 30.0
    max_bpm: float = 300.0
    start_bpm: float = 120.0
    std_octaves: float = 1.0
    context_seconds: ClassVar[float] = 7.0


@register("tempo", config=TempoConfig, tracks=("tempo",), description="local tempo in BPM per frame")
def extract_tempo(audio, *, ctx: AnalysisContext, config: TempoConfig, settings=None) -> list[FrameFeatures]:
    """Local BPM per frame, shape (n,)."""
    env = onset_envelope(ctx).astype(np.float32)
    n = len(env)
    fps = ctx.sr / ctx.hop_length
    win = int(round(config.window_seconds * fps))
    half = win // 2
    # evaluation frames on the global stride grid
    first = (-ctx.start_frame) % config.stride
    eval_idx = np.arange(first, n, config.stride)
    padded = np.pad(env, (half, win - half))
    segs = sliding_window_view(padded, win)[eval_idx] * np.hanning(win).astype(np.float32)
    nfft = 1 << int(np.ceil(np.log2(2 * win)))
    acf = _autocorrelate_rows(segs, nfft=nfft, max_lag=win - 1)
    lags = np.arange(win, dtype=np.float64)
    with np.errstate(divide="ignore"):
        bpm = 60.0 * fps / lags
    valid = (bpm >= config.min_bpm) & (bpm <= config.max_bpm)
    prior = np.zeros(win)
    prior[valid] = -0.5 * ((np.log2(bpm[valid]) - np.log2(config.start_bpm)) / config.std_octaves) ** 2
    energy = acf[:, 0]
    norm = acf / np.maximum(energy[:, None], 1e-12)
    score = np.where(valid[None, :], np.log1p(1e6 * np.maximum(norm, 0.0)) + prior[None, :], -np.inf)
    best = np.argmax(score, axis=1)
    rows = np.arange(len(best))
    lo = np.clip(best - 1, 0, win - 1)
    hi = np.clip(best + 1, 0, win - 1)
    a, b, c = norm[rows, lo], norm[rows, best], norm[rows, hi]
    den = a - 2 * b + c
    with np.errstate(divide="ignore", invalid="ignore"):
        shift = np.where(np.abs(den) > 1e-9, 0.5 * (a - c) / den, 0.0)
    lag = best + np.clip(np.nan_to_num(shift), -0.5, 0.5)
    local = (60.0 * fps / np.maximum(lag, 1.0)).astype(np.float64)
    local[energy <= 1e-6] = np.nan
    tempo = np.interp(np.arange(n), eval_idx, local) if len(eval_idx) else np.full(n, np.nan)
    # interp does not propagate NaN sensibly at edges: mark frames nearest a NaN evaluation as NaN
    nearest = np.clip(np.rint((np.arange(n) - first) / config.stride).astype(int), 0, max(len(local) - 1, 0))
    if len(local):
        tempo[np.isnan(local[nearest])] = np.nan
    return [_frames("tempo", ctx, tempo, unit="BPM")]


# ---------------------------------------------------------------- mel / mfcc / chroma
@dataclass(frozen=True)
class MelConfig:
    """64-band log mel power in dB re 1.0 (floored at −100 dB)."""

    context_seconds: ClassVar[float] = 0.2


@register("mel", config=MelConfig, tracks=("mel64",), description="64-band log mel (dB)")
def extract_mel(audio, *, ctx: AnalysisContext, config: MelConfig, settings=None) -> list[FrameFeatures]:
    """Log mel spectrogram, shape (n, 64), dB."""
    S = ctx.mel_db
    return [_frames("mel64", ctx, S.T, labels=tuple(f"mel{i}" for i in range(S.shape[0])), unit="dB")]


@dataclass(frozen=True)
class MfccConfig:
    """MFCCs: orthonormal DCT-II of the 64-band log mel (dB)."""

    n_mfcc: int = 20
    context_seconds: ClassVar[float] = 0.2


@register("mfcc", config=MfccConfig, tracks=("mfcc",), description="20 MFCCs from the 64-band log mel")
def extract_mfcc(audio, *, ctx: AnalysisContext, config: MfccConfig, settings=None) -> list[FrameFeatures]:
    """MFCC per frame, shape (n, n_mfcc)."""
    from scipy.fft import dct

    M = dct(ctx.mel_db, axis=0, type=2, norm="ortho")[: config.n_mfcc]
    return [_frames("mfcc", ctx, M.T, labels=tuple(f"mfcc{i}" for i in range(config.n_mfcc)))]


@dataclass(frozen=True)
class ChromaConfig:
    """12-bin chroma from the shared power spectrum (tuning fixed at A440), max-normalised per frame."""

    context_seconds: ClassVar[float] = 0.2


@register("chroma", config=ChromaConfig, tracks=("chroma",), description="12-bin chroma, labels C..B")
def extract_chroma(audio, *, ctx: AnalysisContext, config: ChromaConfig, settings=None) -> list[FrameFeatures]:
    """Chroma per frame, shape (n, 12), each row max-normalised (0 for silence)."""
    C = chroma_filterbank(ctx.sr, ctx.n_fft) @ ctx.power
    peak = C.max(axis=0)
    C = np.where(peak > 1e-8, C / np.maximum(peak, _EPS), 0.0)
    return [_frames("chroma", ctx, C.T, labels=CHROMA_LABELS)]


# ---------------------------------------------------------------- vocal
@dataclass(frozen=True)
class VocalConfig:
    """Share of energy in the vocal-band harmonic foreground (cheap heuristic).

    On the shared 64-band mel power: a harmonic/percussive split by median
    filtering (``harmonic_frames`` along time vs ``percussive_bands`` along
    frequency, soft mask), and a repeating background estimated as the median
    over ``background_seconds`` (computed on frames decimated by ``decimate``).
    The vocal foreground is the part of the harmonic energy in
    ``[fmin, fmax]`` Hz that rises above the background; ``vocal`` is its share
    of the frame's total energy, smoothed over ``smooth_frames``. Sustained
    tones and pads count as background, percussion as non-harmonic.
    """

    fmin: float = 150.0
    fmax: float = 4000.0
    harmonic_frames: int = 9
    percussive_bands: int = 7
    background_seconds: float = 4.0
    decimate: int = 4
    smooth_frames: int = 5
    context_seconds: ClassVar[float] = 2.5


@register("vocal", config=VocalConfig, tracks=("vocal",), description="share of energy in the vocal-band harmonic foreground")
def extract_vocal(audio, *, ctx: AnalysisContext, config: VocalConfig, settings=None) -> list[FrameFeatures]:
    """Vocal share per frame in [0, 1], shape (n,)."""
    S = ctx.mel_power
    n = S.shape[1]
    band = (ctx.mel_freqs >= config.fmin) & (ctx.mel_freqs <= config.fmax)
    Sb = S[band]
    H = ndimage.median_filter(Sb, size=(1, config.harmonic_frames), mode="nearest")
    P = ndimage.median_filter(Sb, size=(config.percussive_bands, 1), mode="nearest")
    H2, P2 = np.square(H), np.square(P)
    mask = H2 / np.maximum(H2 + P2, 1e-30)
    harmonic = Sb * mask
    # repeating background on a decimated, globally aligned grid
    dec = max(1, config.decimate)
    first = (-ctx.start_frame) % dec
    fps = ctx.sr / ctx.hop_length
    k = max(3, int(round(config.background_seconds * fps / dec)) | 1)
    small = Sb[:, first::dec]
    if small.shape[1]:
        B_small = ndimage.median_filter(small, size=(1, k), mode="nearest")
        pos = np.clip(np.rint((np.arange(n) - first) / dec).astype(int), 0, small.shape[1] - 1)
        B = B_small[:, pos]
    else:
        B = np.zeros_like(Sb)
    fg = np.minimum(harmonic, np.maximum(Sb - B, 0.0)).sum(axis=0)
    total = S.sum(axis=0)
    v = np.where(total > 1e-10, fg / np.maximum(total, 1e-30), 0.0)
    if config.smooth_frames > 1:
        v = ndimage.uniform_filter1d(v, size=config.smooth_frames, mode="nearest")
    return [_frames("vocal", ctx, np.clip(v, 0.0, 1.0))]


# ---------------------------------------------------------------- quality
@dataclass(frozen=True)
class QualityConfig:
    """Local SNR (dB) by minimum statistics, and mains hum detection.

    ``snr_db``: per mel band, the noise floor is the minimum of the smoothed
    power over ``noise_window_seconds`` around the frame; the SNR is
    ``10 log10(sum S / sum N)`` clipped to ``[0, max_snr_db]``. Stationary
    sounds (a steady tone, constant noise) count as noise: 0 dB.

    ``hum``: the signal is resampled to ``hum_sr`` and analysed with a
    ``hum_window_seconds`` window (≈1 Hz bins); a harmonic of 50 or 60 Hz below
    ``hum_fmax`` is present when its peak exceeds the median of its
    neighbourhood by ``peak_db``. A hop is humming when the fundamental or at
    least ``min_harmonics`` harmonics are present, and ``hum`` = 1 where that
    holds for ``persist_fraction`` of ``persist_seconds``.
    """

    noise_window_seconds: float = 5.0
    smooth_frames: int = 3
    max_snr_db: float = 100.0
    hum_sr: int = 1000
    hum_window_seconds: float = 1.024
    hum_stride: int = 8
    hum_fmax: float = 480.0
    peak_db: float = 15.0
    min_harmonics: int = 2
    min_level_db: float = -100.0
    persist_seconds: float = 2.0
    persist_fraction: float = 0.75
    context_seconds: ClassVar[float] = 4.0


def _hum_scores(y1k: np.ndarray, *, sr: int, n_fft: int, hop: int, config: QualityConfig) -> np.ndarray:
    """Per-hop hum flags (0/1), centred frames at ``k * hop`` samples of ``y1k``."""
    import librosa

    if len(y1k) < n_fft:  # shorter than one analysis window: no hum decision possible
        return np.zeros(1 + len(y1k) // hop, dtype=np.float32)
    P = np.square(np.abs(librosa.stft(y1k, n_fft=n_fft, hop_length=hop, center=True, pad_mode="constant", dtype=np.complex64)))
    df = sr / n_fft
    best = np.zeros(P.shape[1], dtype=np.float32)
    level_floor = 10 ** (config.min_level_db / 10.0)
    for base in (50.0, 60.0):
        count = np.zeros(P.shape[1], dtype=np.float32)
        fund = np.zeros(P.shape[1], dtype=bool)
        for k in range(1, int(config.hum_fmax // base) + 1):
            f = base * k
            c = int(round(f / df))
            w = max(1, int(round(1.5 / df)))
            lo_n, hi_n = int(round(4.0 / df)), int(round(20.0 / df))
            peak = P[max(0, c - w) : c + w + 1].max(axis=0)
            neigh_idx = np.r_[np.arange(max(0, c - hi_n), max(0, c - lo_n + 1)), np.arange(c + lo_n, min(P.shape[0], c + hi_n + 1))]
            bg = np.median(P[neigh_idx], axis=0)
            present = (peak > bg * 10 ** (config.peak_db / 10.0)) & (peak > level_floor * n_fft)
            count += present
            if k == 1:
                fund = present
        hum = (fund | (count >= config.min_harmonics)).astype(np.float32)
        best = np.maximum(best, hum)
    return best


@register("quality", config=QualityConfig, tracks=("snr_db", "hum"), description="local SNR estimate (dB) and mains hum 0/1")
def extract_quality(audio, *, ctx: AnalysisContext, config: QualityConfig, settings=None) -> list[FrameFeatures]:
    """snr_db (n,) in dB and hum (n,) 0/1."""
    S = ctx.mel_power
    n = S.shape[1]
    fps = ctx.sr / ctx.hop_length
    Ss = ndimage.uniform_filter1d(S, size=config.smooth_frames, axis=1, mode="nearest") if config.smooth_frames > 1 else S
    w = max(3, int(round(config.noise_window_seconds * fps)) | 1)
    N = ndimage.minimum_filter1d(Ss, size=w, axis=1, mode="nearest")
    snr = 10.0 * np.log10((Ss.sum(axis=0) + 1e-10) / (N.sum(axis=0) + 1e-10))
    snr = np.clip(snr, 0.0, config.max_snr_db)

    # hum on a low-rate copy, hops aligned to the global frame grid
    hum = np.zeros(n, dtype=np.float32)
    hsr = config.hum_sr
    if ctx.sr % hsr == 0 and (ctx.hop_length * hsr) % ctx.sr == 0:
        y1 = ctx.resampled(hsr)
        small_hop = ctx.hop_length * hsr // ctx.sr
        stride = config.hum_stride
        first = (-ctx.start_frame) % stride  # first local frame on the global stride grid
        offset = first * small_hop
        hn_fft = int(round(config.hum_window_seconds * hsr))
        flags = _hum_scores(y1[offset:], sr=hsr, n_fft=hn_fft, hop=small_hop * stride, config=config)
        if len(flags):
            hop_s = small_hop * stride / hsr
            m = max(1, int(round(config.persist_seconds / hop_s)))
            share = ndimage.uniform_filter1d(flags, size=m, mode="nearest")
            on = share >= config.persist_fraction
            # a hop belongs to a humming stretch if any persistent window covers it
            on = ndimage.maximum_filter1d(on.astype(np.float32), size=m, mode="nearest") > 0.5
            pos = np.clip(np.rint((np.arange(n) - first) / stride).astype(int), 0, len(on) - 1)
            hum = on[pos].astype(np.float32)
    else:
        log.warning("hum detection needs sr divisible by %d Hz; got %d: hum left at 0", hsr, ctx.sr)
    return [_frames("snr_db", ctx, snr, unit="dB"), _frames("hum", ctx, hum)]
