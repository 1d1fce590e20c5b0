"""Neural embedding extractors: wav2vec, CLAP, Whisper encoder, emotion.

Models are loaded **only** from the local folder ``settings.model_path(name)``
(``REVIEWER_WAV2VEC_PATH``, ``REVIEWER_CLAP_PATH``, ``REVIEWER_WHISPER_PATH``,
``REVIEWER_EMOTION_PATH``) with ``local_files_only=True``; nothing is ever
downloaded. Without a configured folder, or when loading or inference fails,
the extractor returns a missing track with the reason: never an exception,
never invented values. Loaded models are cached per process
(:func:`functools.lru_cache` keyed by folder and its digest).

Framing (all times are global seconds, frames never straddle a grid cell):

* ``wav2vec`` — last hidden states of any ``AutoModel`` speech encoder
  (wav2vec2, HuBERT, WavLM), run on ``chunk_seconds`` chunks, mean-pooled
  into ``pool_seconds`` cells: values ``(n, hidden_size)``, times = cell centres.
* ``whisper`` — Whisper encoder states (20 ms) of 30 s chunks, restricted to the
  real audio and mean-pooled into ``pool_seconds`` cells: ``(n, d_model)``.
* ``clap`` — CLAP audio embedding (projected, L2-normalised) of sliding windows
  of ``window_seconds`` every ``hop_seconds``: ``(n, projection_dim)``, times =
  window centres.
* ``emotion`` — an ``AutoModelForAudioClassification`` head on the same sliding
  windows, values ``(n, 3)`` = ``[valence, arousal, dominant confidence]``.
  Valence and arousal are the model's outputs for labels named ``valence`` and
  ``arousal`` (dimensional models) and NaN otherwise; the dominant confidence
  is the top softmax probability over the remaining (categorical) labels and
  NaN when there are none. Without a model: missing.
"""

from __future__ import annotations

import functools
import hashlib
import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, ClassVar

import numpy as np

from reviewer.errors import ModelUnavailableError
from reviewer.features.base import FrameFeatures, register

log = logging.getLogger(__name__)

EMBEDDING_NAMES: tuple[str, ...] = ("wav2vec", "clap", "whisper", "emotion")
_ENV = {n: f"REVIEWER_{n.upper()}_PATH" for n in EMBEDDING_NAMES}


# ------------------------------------------------------------------ models
def _model_dir(name: str, settings: Any) -> Path | None:
    if settings is None or not hasattr(settings, "model_path"):
        return None
    p = settings.model_path(name)
    return Path(p) if p else None


def _dir_digest(path: Path) -> str:
    """sha256 over config.json bytes plus every file's relative name and size (cheap, no weight hashing)."""
    h = hashlib.sha256()
    cfg = path / "config.json"
    if cfg.is_file():
        h.update(cfg.read_bytes())
    for f in sorted(p for p in path.rglob("*") if p.is_file() and not p.name.startswith(".")):
        h.update(f"{f.relative_to(path).as_posix()}:{f.stat().st_size};".encode())
    return h.hexdigest()[:16]


def model_digest(name: str, settings: Any) -> str | None:
    """Digest of the configured model folder for ``name``, or None when none is usable."""
    d = _model_dir(name, settings)
    if d is None or not d.is_dir():
        return None
    return _dir_digest(d)


def _availability(name: str, settings: Any) -> tuple[Path | None, str | None]:
    """(folder, None) when a model folder is configured, else (None, reason)."""
    d = _model_dir(name, settings)
    if d is None:
        return None, f"no {name} model configured (set {_ENV[name]} to a local model folder)"
    if not d.is_dir():
        return None, f"{_ENV[name]}={str(d)!r} is not a folder"
    return d, None


def _load_feature_extractor(path: str):
    from transformers import AutoFeatureExtractor

    try:
        return AutoFeatureExtractor.from_pretrained(path, local_files_only=True)
    except (OSError, ValueError, KeyError) as exc:
        log.info("no feature extractor in %s (%s); using defaults", path, exc)
        return None


@functools.lru_cache(maxsize=4)
def _load(kind: str, path: str, digest: str) -> tuple[Any, Any]:
    """Load ``(model, feature_extractor)`` of ``kind`` from a local folder, once per process.

    Raises
    ------
    ModelUnavailableError
        if transformers is missing or the folder does not hold a loadable model.
    """
    try:
        import torch  # noqa: F401
        import transformers
    except ImportError as exc:
        raise ModelUnavailableError(f"transformers/torch not installed: {exc}") from exc
    loaders: dict[str, Callable[..., Any]] = {
        "wav2vec": transformers.AutoModel.from_pretrained,
        "whisper": transformers.AutoModel.from_pretrained,
        "clap": transformers.ClapModel.from_pretrained,
        "emotion": transformers.AutoModelForAudioClassification.from_pretrained,
    }
    try:
        model = loaders[kind](path, local_files_only=True)
    except Exception as exc:  # noqa: BLE001 - any loading failure makes the model unavailable
        raise ModelUnavailableError(f"cannot load {kind} model from {path!r}: {type(exc).__name__}: {exc}") from exc
    model.eval()
    fe = _load_feature_extractor(path)
    log.info("loaded %s model from %s (digest %s)", kind, path, digest)
    return model, fe


def _get_model(name: str, settings: Any) -> tuple[Any, Any, str] | str:
    """The loaded model, its feature extractor and digest, or the reason it is missing."""
    d, reason = _availability(name, settings)
    if reason:
        return reason
    digest = _dir_digest(d)
    try:
        model, fe = _load(name, str(d), digest)
    except ModelUnavailableError as exc:
        return str(exc)
    return model, fe, digest


# ------------------------------------------------------------------ framing helpers
def pool_to_grid(states: np.ndarray, *, t_first: float, step: float, cell: float, t_end: float) -> tuple[np.ndarray, np.ndarray]:
    """Mean-pool a sequence of states into cells of a global time grid.

    Parameters
    ----------
    states : np.ndarray [shape=(T, d)]
        State ``i`` covers ``[t_first + i * step, t_first + (i + 1) * step)`` seconds.
    cell : float
        Cell length in seconds; cell ``k`` is ``[k * cell, (k + 1) * cell)``.
    t_end : float
        States whose centre is at or past ``t_end`` (padding) are ignored.

    Returns
    -------
    times : np.ndarray [shape=(n,), float64]
        Cell centres in seconds.
    values : np.ndarray [shape=(n, d), float32]
    """
    centres = t_first + (np.arange(len(states)) + 0.5) * step
    ok = centres < t_end
    if not ok.any():
        return np.zeros(0), np.zeros((0, states.shape[1]), dtype=np.float32)
    centres, states = centres[ok], states[ok]
    idx = np.floor(centres / cell + 1e-9).astype(np.int64)
    cells, inv = np.unique(idx, return_inverse=True)
    sums = np.zeros((len(cells), states.shape[1]), dtype=np.float64)
    np.add.at(sums, inv, states)
    counts = np.bincount(inv, minlength=len(cells))[:, None]
    return (cells + 0.5) * cell, (sums / counts).astype(np.float32)


def _aligned_chunks(t0: float, n: int, sr: int, chunk_seconds: float) -> list[tuple[int, int]]:
    """Sample ranges of ``y`` cut at global multiples of ``chunk_seconds``."""
    out = []
    start = 0
    while start < n:
        t = t0 + start / sr
        nxt = (np.floor(t / chunk_seconds + 1e-9) + 1) * chunk_seconds
        end = min(n, max(start + 1, int(round((nxt - t0) * sr))))
        out.append((start, end))
        start = end
    return out


def _windows(t0: float, n: int, sr: int, window: float, hop: float) -> list[tuple[float, int, int]]:
    """Windows of the global grid ``[k hop, k hop + window)`` lying inside ``y``: (centre, start, end)."""
    dur = n / sr
    k0 = int(np.ceil(t0 / hop - 1e-9))
    out = []
    k = k0
    while k * hop + window <= t0 + dur + 1e-9:
        s = int(round((k * hop - t0) * sr))
        out.append((k * hop + window / 2, s, min(n, s + int(round(window * sr)))))
        k += 1
    if not out and dur > 0 and t0 == 0:
        out.append((dur / 2, 0, n))  # an item shorter than one window: one embedding of all of it
    return out


def _resample(y: np.ndarray, sr: int, target: int | None) -> np.ndarray:
    if not target or target == sr:
        return y
    import soxr

    return soxr.resample(y, sr, int(target)).astype(np.float32)


def _frames(name: str, times: list[np.ndarray], values: list[np.ndarray], *, dim: int, **meta) -> FrameFeatures:
    t = np.concatenate(times) if times else np.zeros(0)
    v = np.concatenate(values, axis=0) if values else np.zeros((0, dim), dtype=np.float32)
    return FrameFeatures(name=name, times=t.astype(np.float64), values=v.astype(np.float32), kind="frames", meta=meta)


def _guard(name: str, fn: Callable[[], FrameFeatures]) -> list[FrameFeatures]:
    """Run inference; any failure becomes a missing track with the reason."""
    try:
        return [fn()]
    except Exception as exc:  # noqa: BLE001 - a model failure must not crash extraction
        log.warning("%s inference failed: %s", name, exc)
        return [FrameFeatures.missing_track(name, f"{name} inference failed: {type(exc).__name__}: {exc}")]


# ------------------------------------------------------------------ wav2vec
@dataclass(frozen=True)
class Wav2VecConfig:
    """wav2vec-style encoder states mean-pooled into ``pool_seconds`` cells."""

    pool_seconds: float = 0.5
    chunk_seconds: float = 10.0
    context_seconds: ClassVar[float] = 1.0


@register("wav2vec", config=Wav2VecConfig, tracks=("wav2vec",), dsp=False, description="wav2vec2 hidden states pooled to 0.5 s")
def extract_wav2vec(audio, *, ctx, config: Wav2VecConfig, settings=None) -> list[FrameFeatures]:
    """wav2vec hidden states, shape (n, hidden_size), one row per ``pool_seconds`` cell."""
    got = _get_model("wav2vec", settings)
    if isinstance(got, str):
        return [FrameFeatures.missing_track("wav2vec", got)]
    model, fe, digest = got

    def run() -> FrameFeatures:
        import torch

        target = int(getattr(fe, "sampling_rate", 16000) or 16000)
        normalize = bool(getattr(fe, "do_normalize", True)) if fe is not None else True
        times, values = [], []
        for s, e in _aligned_chunks(ctx.t0, len(ctx.y), ctx.sr, config.chunk_seconds):
            x = _resample(ctx.y[s:e], ctx.sr, target)
            if len(x) < 400:  # shorter than the conv receptive field
                continue
            if normalize:
                x = (x - x.mean()) / np.sqrt(x.var() + 1e-7)
            with torch.inference_mode():
                h = model(torch.from_numpy(np.ascontiguousarray(x, dtype=np.float32))[None]).last_hidden_state[0].float().numpy()
            dur = len(x) / target
            t_first = ctx.t0 + s / ctx.sr
            tt, vv = pool_to_grid(h, t_first=t_first, step=dur / len(h), cell=config.pool_seconds, t_end=t_first + dur)
            times.append(tt)
            values.append(vv)
        dim = int(getattr(model.config, "hidden_size", 0))
        return _frames("wav2vec", times, values, dim=dim, model=digest, pool_seconds=config.pool_seconds)

    return _guard("wav2vec", run)


# ------------------------------------------------------------------ whisper
@dataclass(frozen=True)
class WhisperConfig:
    """Whisper encoder states (of 30 s chunks) mean-pooled into ``pool_seconds`` cells."""

    pool_seconds: float = 0.5
    context_seconds: ClassVar[float] = 1.0


@register("whisper", config=WhisperConfig, tracks=("whisper",), dsp=False, description="Whisper encoder states pooled to 0.5 s")
def extract_whisper(audio, *, ctx, config: WhisperConfig, settings=None) -> list[FrameFeatures]:
    """Whisper encoder states, shape (n, d_model), one row per ``pool_seconds`` cell."""
    got = _get_model("whisper", settings)
    if isinstance(got, str):
        return [FrameFeatures.missing_track("whisper", got)]
    model, fe, digest = got
    if fe is None:
        return [FrameFeatures.missing_track("whisper", "whisper model folder has no preprocessor_config.json (WhisperFeatureExtractor)")]

    def run() -> FrameFeatures:
        import torch

        target = int(fe.sampling_rate)
        n_positions = int(getattr(model.config, "max_source_positions", 1500))
        n_mel_frames = 2 * n_positions
        chunk_seconds = n_mel_frames * fe.hop_length / target
        encoder = model.get_encoder() if hasattr(model, "get_encoder") else model.encoder
        times, values = [], []
        for s, e in _aligned_chunks(ctx.t0, len(ctx.y), ctx.sr, chunk_seconds):
            x = _resample(ctx.y[s:e], ctx.sr, target)
            feats = fe(x, sampling_rate=target, return_tensors="np").input_features  # (1, n_mels, frames)
            if feats.shape[-1] < n_mel_frames:
                feats = np.pad(feats, ((0, 0), (0, 0), (0, n_mel_frames - feats.shape[-1])))
            feats = feats[..., :n_mel_frames]
            with torch.inference_mode():
                h = encoder(torch.from_numpy(feats.astype(np.float32))).last_hidden_state[0].float().numpy()
            t_first = ctx.t0 + s / ctx.sr
            tt, vv = pool_to_grid(h, t_first=t_first, step=chunk_seconds / len(h), cell=config.pool_seconds, t_end=t_first + len(x) / target)
            times.append(tt)
            values.append(vv)
        dim = int(getattr(model.config, "d_model", 0))
        return _frames("whisper", times, values, dim=dim, model=digest, pool_seconds=config.pool_seconds)

    return _guard("whisper", run)


# ------------------------------------------------------------------ clap
@dataclass(frozen=True)
class ClapConfig:
    """CLAP audio embeddings of sliding windows (times = window centres)."""

    window_seconds: float = 3.0
    hop_seconds: float = 1.5
    batch: int = 8
    context_seconds: ClassVar[float] = 3.0


@register("clap", config=ClapConfig, tracks=("clap",), dsp=False, description="CLAP audio embedding over sliding windows")
def extract_clap(audio, *, ctx, config: ClapConfig, settings=None) -> list[FrameFeatures]:
    """CLAP embeddings, shape (n, projection_dim), L2-normalised."""
    got = _get_model("clap", settings)
    if isinstance(got, str):
        return [FrameFeatures.missing_track("clap", got)]
    model, fe, digest = got
    if fe is None:
        return [FrameFeatures.missing_track("clap", "clap model folder has no preprocessor_config.json (ClapFeatureExtractor)")]

    def run() -> FrameFeatures:
        import torch

        target = int(fe.sampling_rate)
        wins = _windows(ctx.t0, len(ctx.y), ctx.sr, config.window_seconds, config.hop_seconds)
        times, values = [], []
        for i in range(0, len(wins), config.batch):
            batch = wins[i : i + config.batch]
            xs = [_resample(ctx.y[s:e], ctx.sr, target) for _, s, e in batch]
            inputs = fe(xs, sampling_rate=target, return_tensors="pt")
            with torch.inference_mode():
                out = model.get_audio_features(**{k: v for k, v in inputs.items() if k in ("input_features", "is_longer")})
            emb = out if isinstance(out, torch.Tensor) else out.pooler_output
            times.append(np.array([c for c, _, _ in batch]))
            values.append(emb.float().numpy())
        dim = int(getattr(model.config, "projection_dim", 0))
        return _frames("clap", times, values, dim=dim, model=digest, window_seconds=config.window_seconds, hop_seconds=config.hop_seconds)

    return _guard("clap", run)


# ------------------------------------------------------------------ emotion
@dataclass(frozen=True)
class EmotionConfig:
    """Audio-classification head on sliding windows → [valence, arousal, dominant confidence]."""

    window_seconds: float = 3.0
    hop_seconds: float = 1.5
    context_seconds: ClassVar[float] = 3.0


def emotion_row(logits: np.ndarray, labels: list[str]) -> np.ndarray:
    """Map one output vector to ``[valence, arousal, dominant_confidence]`` (NaN where the model has no such output)."""
    low = [l.lower() for l in labels]
    row = np.full(3, np.nan, dtype=np.float32)
    dims = {"valence": 0, "arousal": 1}
    for name, j in dims.items():
        if name in low:
            row[j] = float(logits[low.index(name)])
    cat = [i for i, l in enumerate(low) if l not in dims and l != "dominance"]
    if cat:
        z = logits[cat] - np.max(logits[cat])
        p = np.exp(z) / np.exp(z).sum()
        row[2] = float(p.max())
    return row


@register("emotion", config=EmotionConfig, tracks=("emotion",), dsp=False, description="valence, arousal, dominant confidence (missing without a model)")
def extract_emotion(audio, *, ctx, config: EmotionConfig, settings=None) -> list[FrameFeatures]:
    """Emotion per window, shape (n, 3); missing unless a model is configured."""
    got = _get_model("emotion", settings)
    if isinstance(got, str):
        return [FrameFeatures.missing_track("emotion", got)]
    model, fe, digest = got

    def run() -> FrameFeatures:
        import torch

        target = int(getattr(fe, "sampling_rate", 16000) or 16000)
        id2label = getattr(model.config, "id2label", {}) or {}
        labels = [str(id2label.get(i, id2label.get(str(i), f"label{i}"))) for i in range(int(model.config.num_labels))]
        times, rows = [], []
        for c, s, e in _windows(ctx.t0, len(ctx.y), ctx.sr, config.window_seconds, config.hop_seconds):
            x = _resample(ctx.y[s:e], ctx.sr, target)
            if fe is not None:
                inputs = {k: v for k, v in fe(x, sampling_rate=target, return_tensors="pt").items() if k in ("input_values", "input_features", "attention_mask")}
            else:
                inputs = {"input_values": torch.from_numpy(x)[None]}
            with torch.inference_mode():
                logits = model(**inputs).logits[0].float().numpy()
            times.append(c)
            rows.append(emotion_row(logits, labels))
        v = np.stack(rows) if rows else np.zeros((0, 3), dtype=np.float32)
        return FrameFeatures(
            name="emotion",
            times=np.asarray(times, dtype=np.float64),
            values=v.astype(np.float32),
            kind="frames",
            labels=("valence", "arousal", "dominant_confidence"),
            meta={"model": digest, "model_labels": labels},
        )

    return _guard("emotion", run)
