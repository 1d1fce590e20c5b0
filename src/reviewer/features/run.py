"""Run frame extractors over one item, streaming long files in blocks.

:func:`extract_tracks` decodes the source block by block
(:func:`reviewer.audio_io.iter_audio_blocks`), pads every block with enough
audio either side (the largest ``context_seconds`` of the extractors that run,
rounded to whole hops), runs each extractor on the padded block through one
shared :class:`~reviewer.features.context.AnalysisContext`, and keeps only the
frames and events whose times fall in the block's own span. Blocks start on the
global frame grid, so frame times are continuous and every frame appears
exactly once; values near a seam equal those of whole-file processing up to
float rounding.

Memory is bounded by one padded block plus the output tracks (about 160 MB
of float32 per hour for the default DSP set).
"""

from __future__ import annotations

import logging
import math
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterator, Mapping

import numpy as np

from reviewer.audio_io import Audio, content_hash as file_content_hash, iter_audio_blocks, probe_duration
from reviewer.config import AudioConfig, FeaturesConfig, digest
from reviewer.errors import ExtractionError, InvalidMediaError
from reviewer.features.base import ExtractorSpec, FrameFeatures, get_extractor
from reviewer.features.cache import FeatureCache, cache_key
from reviewer.features.context import AnalysisContext
from reviewer.frames import duration_of

log = logging.getLogger(__name__)

#: decoded chunk size handed from the decoder to the block cutter
_DECODE_CHUNK_SECONDS = 30.0


@dataclass(frozen=True)
class ExtractionResult:
    """The tracks of one item and how long each extractor took.

    Attributes
    ----------
    tracks : dict of str to FrameFeatures
        Track name → track (``"rms"``, ``"f0"``, ``"mel64"``, ...; see docs/ARCHITECTURE.md).
    timings : dict of str to float
        Wall seconds per extractor, plus ``"decode"`` (decoding and hashing).
        Shared analyses (the STFT) are charged to the first extractor that asks.
    duration : float
        Seconds of audio analysed.
    source_duration : float
        Seconds in the whole source (longer than ``duration`` when truncated).
    sr : int
        Sample rate in Hz of the analysis.
    content_hash : str
        SHA-256 of the source (file bytes, or samples for in-memory audio).
    cache_hits : tuple of str
        Extractors whose tracks came from the cache.
    """

    tracks: dict[str, FrameFeatures]
    timings: dict[str, float]
    duration: float
    source_duration: float
    sr: int
    content_hash: str
    cache_hits: tuple[str, ...] = field(default=())

    @property
    def missing(self) -> dict[str, str]:
        """Track name → reason, for tracks that are missing."""
        return {k: t.missing for k, t in self.tracks.items() if t.missing is not None}


def _model_digest(name: str, settings: Any) -> str | None:
    """Identity of the model an optional extractor would load (None for DSP extractors)."""
    if name in ("wav2vec", "clap", "whisper", "emotion"):
        from reviewer.features.embeddings import model_digest

        return model_digest(name, settings)
    if name == "asr":
        from reviewer.features.asr import model_digest as asr_digest

        return asr_digest()
    return None


def _round_up(x: int, m: int) -> int:
    return int(math.ceil(x / m) * m)


def _windows(chunks: Iterator[np.ndarray], *, block: int, context: int, timer: list[float]) -> Iterator[tuple[np.ndarray, int, int, int | None]]:
    """Cut a stream of sample chunks into padded blocks.

    Yields ``(samples, start_sample, keep_start, keep_end)``; ``keep_end`` is None
    for the last block. ``timer[0]`` accumulates the time spent pulling chunks.
    """
    buf = np.zeros(0, dtype=np.float32)
    buf_start = 0
    ks = 0
    it = iter(chunks)
    while True:
        t0 = time.perf_counter()
        chunk = next(it, None)
        timer[0] += time.perf_counter() - t0
        if chunk is None:
            break
        buf = np.concatenate([buf, np.asarray(chunk, dtype=np.float32)]) if buf.size else np.asarray(chunk, dtype=np.float32)
        while buf_start + buf.size >= ks + block + context:
            s0 = max(0, ks - context)
            yield buf[s0 - buf_start : ks + block + context - buf_start], s0, ks, ks + block
            ks += block
            drop = max(0, ks - context) - buf_start
            if drop > 0:
                buf = buf[drop:].copy()
                buf_start += drop
    s0 = max(0, ks - context)
    yield buf[s0 - buf_start :], s0, ks, None


def _chunks_of(y: np.ndarray, size: int) -> Iterator[np.ndarray]:
    for i in range(0, len(y), size):
        yield y[i : i + size]


def _trim(track: FrameFeatures, lo: float, hi: float) -> FrameFeatures:
    """Keep rows with ``lo <= time < hi``."""
    if track.is_missing:
        return track
    t = track.times
    keep = (t >= lo) & (t < hi)
    if keep.all():
        return track
    labels = track.labels
    if track.kind == "events" and len(labels) == len(t):
        labels = tuple(l for l, k in zip(labels, keep) if k)
    return FrameFeatures(track.name, t[keep], track.values[keep], track.kind, labels, None, track.meta)


def _concat(pieces: list[FrameFeatures]) -> FrameFeatures:
    """Join per-block pieces of one track in time order."""
    first = pieces[0]
    if len(pieces) == 1:
        return first
    times = np.concatenate([p.times for p in pieces])
    nonempty = [p.values for p in pieces if len(p.values)]
    if nonempty:
        values = np.concatenate(nonempty, axis=0)
    else:
        values = first.values
    labels = first.labels
    if first.kind == "events" and all(len(p.labels) == len(p.times) for p in pieces):
        labels = tuple(l for p in pieces for l in p.labels)
    return FrameFeatures(first.name, times, values, first.kind, labels, None, first.meta)


def extract_tracks(
    source: str | Path | Audio,
    *,
    audio_config: AudioConfig,
    features_config: FeaturesConfig,
    settings: Any,
    cache: FeatureCache | None = None,
    names: tuple[str, ...] | list[str] | None = None,
    configs: Mapping[str, Any] | None = None,
) -> ExtractionResult:
    """Extract frame tracks from a media file or in-memory audio.

    Parameters
    ----------
    source : str, Path or Audio
        A media file (decoded in streamed blocks) or decoded audio.
    audio_config : AudioConfig
        Sample rate, ``max_seconds`` and ``block_seconds``.
    features_config : FeaturesConfig
        Extractors to run (unless ``names`` is given), ``n_fft`` and ``hop_length``.
    settings : Settings
        Model paths for the optional extractors.
    cache : FeatureCache or None
        Read tracks from / write tracks to this cache.
    names : sequence of str or None
        Extractors to run instead of ``features_config.extractors``.
    configs : mapping of str to config dataclass, optional
        Per-extractor configs replacing the defaults.

    Returns
    -------
    ExtractionResult

    Raises
    ------
    ConfigError
        for an unknown extractor name.
    InvalidMediaError
        if the source cannot be decoded.
    ExtractionError
        if a DSP extractor fails on a block.
    """
    names = tuple(features_config.extractors if names is None else names)
    specs: dict[str, ExtractorSpec] = {n: get_extractor(n) for n in dict.fromkeys(names)}
    cfgs = {n: (configs or {}).get(n) or s.config_cls() for n, s in specs.items()}
    sr, hop, n_fft = audio_config.sample_rate, features_config.hop_length, features_config.n_fft
    timings: dict[str, float] = {"decode": 0.0}

    t0 = time.perf_counter()
    if isinstance(source, Audio):
        if source.sr != sr:
            raise ExtractionError(f"audio is at {source.sr} Hz but audio_config.sample_rate is {sr} Hz; decode at {sr} Hz")
        item_hash = source.content_hash
        source_name = source.source or "<array>"
        if source.y.size == 0:
            raise InvalidMediaError(source_name, "zero-length audio (no samples)")
    else:
        path = Path(source)
        if not path.is_file():
            raise InvalidMediaError(path, "file does not exist")
        item_hash = file_content_hash(path)
        source_name = str(path)
    timings["decode"] += time.perf_counter() - t0

    # ---- cache lookups
    results: dict[str, list[FrameFeatures]] = {}
    keys: dict[str, str] = {}
    hits: list[str] = []
    facts: Mapping[str, Any] = {}
    if cache is not None:
        for n, spec in specs.items():
            keys[n] = cache_key(
                content_hash=item_hash,
                extractor=n,
                config_digest=digest(cfgs[n]),
                model_digest=_model_digest(n, settings),
                sr=sr,
                hop_length=hop,
                n_fft=n_fft,
                max_seconds=audio_config.max_seconds,
            )
            got = cache.load(item_hash, n, keys[n])
            if got is not None:
                results[n] = got.tracks
                facts = got.facts
                hits.append(n)
                timings[n] = 0.0
    todo = [n for n in specs if n not in results]
    if not todo and facts.get("duration") is not None:
        return ExtractionResult(
            tracks={t.name: t for n in specs for t in results[n]},
            timings=timings,
            duration=float(facts["duration"]),
            source_duration=float(facts.get("source_duration", facts["duration"])),
            sr=sr,
            content_hash=item_hash,
            cache_hits=tuple(hits),
        )

    # ---- streamed extraction
    block = max(hop, (int(round(audio_config.block_seconds * sr)) // hop) * hop)
    ctx_seconds = max([float(getattr(specs[n].config_cls, "context_seconds", 0.0)) for n in todo] + [0.0])
    context = _round_up(max(int(math.ceil(ctx_seconds * sr)), n_fft), hop)
    chunk = int(_DECODE_CHUNK_SECONDS * sr)
    if isinstance(source, Audio):
        chunks: Iterator[np.ndarray] = _chunks_of(source.y, chunk)
    else:
        chunks = iter_audio_blocks(Path(source), sr=sr, block_seconds=_DECODE_CHUNK_SECONDS, max_seconds=audio_config.max_seconds)
    pieces: dict[str, dict[str, list[FrameFeatures]]] = {n: {} for n in todo}
    missing: dict[str, list[FrameFeatures]] = {}
    for n in todo:
        timings.setdefault(n, 0.0)
    decode_timer = [0.0]
    total = 0
    half_hop = 0.5 * hop / sr
    for win, s0, keep_start, keep_end in _windows(chunks, block=block, context=context, timer=decode_timer):
        total = s0 + win.size if keep_end is None else total
        lo = -np.inf if keep_start == 0 else keep_start / sr - half_hop
        hi = np.inf if keep_end is None else keep_end / sr - half_hop
        ctx = AnalysisContext(win, sr, n_fft=n_fft, hop_length=hop, start_sample=s0)
        block_audio = Audio(y=ctx.y, sr=sr, source=source_name, content_hash=item_hash, source_duration=duration_of(win.size, sr=sr))
        for n in todo:
            if n in missing:
                continue
            t1 = time.perf_counter()
            try:
                out = specs[n].fn(block_audio, ctx=ctx, config=cfgs[n], settings=settings)
            except ExtractionError:
                raise
            except Exception as exc:  # noqa: BLE001 - re-raised with the item, block and extractor named
                raise ExtractionError(
                    f"extractor {n!r} failed on {source_name!r} in the block starting at {s0 / sr:.1f} s: {type(exc).__name__}: {exc}"
                ) from exc
            timings[n] += time.perf_counter() - t1
            if any(t.is_missing for t in out):
                missing[n] = out
                continue
            for t in out:
                pieces[n].setdefault(t.name, []).append(_trim(t, lo, hi))
        ctx.release()
    timings["decode"] += decode_timer[0]
    if total == 0:
        raise InvalidMediaError(source_name, "decodes to zero audio samples (zero-length audio)")

    duration = duration_of(total, sr=sr)
    if isinstance(source, Audio):
        source_duration = max(source.source_duration, duration)
    elif audio_config.max_seconds is not None and duration >= audio_config.max_seconds - 1.0 / sr:
        try:
            source_duration = max(duration, probe_duration(Path(source)))
        except InvalidMediaError:
            source_duration = duration
    else:
        source_duration = duration
    item_facts = {"duration": duration, "source_duration": source_duration, "sr": sr}

    for n in todo:
        if n in missing:
            results[n] = missing[n]
            continue
        results[n] = [_concat(p) for p in pieces[n].values()]
        if cache is not None:
            cache.save(item_hash, n, keys[n], results[n], facts=item_facts)

    tracks: dict[str, FrameFeatures] = {}
    for n in specs:
        for t in results[n]:
            tracks[t.name] = t
    return ExtractionResult(
        tracks=tracks,
        timings=timings,
        duration=duration,
        source_duration=source_duration,
        sr=sr,
        content_hash=item_hash,
        cache_hits=tuple(hits),
    )
