"""English word recognition with pocketsphinx (its model ships in the wheel).

The ``asr`` extractor splits the block into speech regions with pocketsphinx's
own voice activity detector (:class:`pocketsphinx.Segmenter`), decodes each
region with the default US-English acoustic model, language model and
dictionary, and returns the ``asr_words`` event track:

* ``times`` : word start in seconds (global),
* ``values`` : shape ``(k, 2)`` float32, ``[end in seconds, confidence in 0..1]``
  where the confidence is the word's lattice posterior probability,
* ``labels`` : the words (alternate pronunciation markers such as ``(2)`` removed).

Fillers (``<s>``, ``</s>``, ``<sil>``, ``[NOISE]``) are dropped. Audio without
speech yields an empty (present) track. If pocketsphinx is not installed or
fails, the track is missing with the reason. Free decoding is weak on
synthetic speech; the confidence lets aggregation ignore doubtful words.
"""

from __future__ import annotations

import functools
import io
import logging
import re
from dataclasses import dataclass
from typing import ClassVar

import numpy as np

from reviewer.features.base import FrameFeatures, register

log = logging.getLogger(__name__)

ASR_SR = 16000
_ALT = re.compile(r"\(\d+\)$")


@dataclass(frozen=True)
class AsrConfig:
    """Pocketsphinx decoding options.

    ``vad_mode`` is the aggressiveness (0..3) of the voice activity detector;
    regions shorter than ``min_region_seconds`` are skipped.
    """

    vad_mode: int = 2
    min_region_seconds: float = 0.3
    context_seconds: ClassVar[float] = 3.0


@functools.lru_cache(maxsize=1)
def model_digest() -> str | None:
    """Identity of the bundled model: ``pocketsphinx-<version>``, or None if unavailable."""
    try:
        from importlib.metadata import version

        return f"pocketsphinx-{version('pocketsphinx')}"
    except ImportError:
        return None
    except Exception as exc:  # noqa: BLE001 - metadata lookup failures mean "unknown model"
        log.debug("pocketsphinx version unknown: %s", exc)
        return None


@functools.lru_cache(maxsize=2)
def _decoder(sr: int):
    """One pocketsphinx Decoder per process (loading the model takes ~0.5 s)."""
    from pocketsphinx import Decoder

    return Decoder(samprate=sr, loglevel="FATAL")


def _to_int16(y: np.ndarray) -> np.ndarray:
    return (np.clip(y, -1.0, 1.0) * 32767.0).astype("<i2")


def recognize(y: np.ndarray, *, sr: int, config: AsrConfig) -> tuple[np.ndarray, np.ndarray, tuple[str, ...]]:
    """Words in ``y`` with start, end (seconds from ``y[0]``) and confidence.

    Parameters
    ----------
    y : np.ndarray [shape=(n,), float32]
        Mono samples at ``sr`` Hz (resampled to 16 kHz for the model).

    Returns
    -------
    starts : np.ndarray [shape=(k,), float64]
    values : np.ndarray [shape=(k, 2), float32]
        End time (s) and confidence (0..1).
    words : tuple of str
    """
    from pocketsphinx import Segmenter

    if sr != ASR_SR:
        import soxr

        y = soxr.resample(y, sr, ASR_SR).astype(np.float32)
    pcm = _to_int16(y)
    decoder = _decoder(ASR_SR)
    frate = int(decoder.config["frate"])
    logmath = decoder.get_logmath()
    starts: list[float] = []
    rows: list[tuple[float, float]] = []
    words: list[str] = []
    segmenter = Segmenter(sample_rate=ASR_SR, vad_mode=config.vad_mode)
    for region in segmenter.segment(io.BytesIO(pcm.tobytes())):
        if region.end_time - region.start_time < config.min_region_seconds:
            continue
        decoder.start_utt()
        decoder.process_raw(region.pcm, full_utt=True)
        decoder.end_utt()
        if decoder.hyp() is None:
            continue
        decoder.get_lattice()  # computes word posteriors used by seg().prob
        for seg in decoder.seg():
            w = seg.word
            if w.startswith("<") or w.startswith("[") or w.startswith("++"):
                continue
            conf = float(seg.prob)
            if not 0.0 <= conf <= 1.0:  # a log-domain value: convert
                conf = float(logmath.exp(int(seg.prob)))
            starts.append(region.start_time + seg.start_frame / frate)
            rows.append((region.start_time + (seg.end_frame + 1) / frate, min(max(conf, 0.0), 1.0)))
            words.append(_ALT.sub("", w))
    return (
        np.asarray(starts, dtype=np.float64),
        np.asarray(rows, dtype=np.float32).reshape(-1, 2),
        tuple(words),
    )


@register("asr", config=AsrConfig, tracks=("asr_words",), dsp=False, description="pocketsphinx English words with times and confidence")
def extract_asr(audio, *, ctx, config: AsrConfig, settings=None) -> list[FrameFeatures]:
    """Word events: times = starts (s), values (k, 2) = [end (s), confidence], labels = words."""
    try:
        starts, values, words = recognize(ctx.y, sr=ctx.sr, config=config)
    except ImportError as exc:
        return [FrameFeatures.missing_track("asr_words", f"pocketsphinx is not installed ({exc})", kind="events")]
    except (RuntimeError, ValueError, OSError) as exc:
        log.warning("pocketsphinx failed on %s: %s", getattr(audio, "source", None), exc)
        return [FrameFeatures.missing_track("asr_words", f"pocketsphinx failed: {exc}", kind="events")]
    values = values.copy()
    values[:, 0] += ctx.t0
    return [
        FrameFeatures(
            name="asr_words",
            times=starts + ctx.t0,
            values=values,
            kind="events",
            labels=words,
            meta={"model": model_digest(), "columns": ["end", "confidence"]},
        )
    ]
