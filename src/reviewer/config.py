"""Algorithm parameters: frozen dataclasses with the seed-000 defaults.

One TOML file configures a run; unknown keys are rejected. Every config has a
``digest()`` that goes into caches, packages and checkpoints, so a result can
always be traced to the exact parameters that produced it.

Runtime paths and the database URL are *not* here: see :mod:`reviewer.settings`.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import tomllib
import typing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Mapping

from reviewer.errors import ConfigError

#: the default DSP extractors (everything but ASR and neural embeddings)
DEFAULT_DSP_EXTRACTORS: tuple[str, ...] = (
    "rms",
    "pitch",
    "spectral",
    "onset",
    "tempo",
    "mel",
    "mfcc",
    "chroma",
    "vocal",
    "quality",
)
#: model-backed extractors: they return a missing marker (instantly) unless a local model is configured
MODEL_EXTRACTORS: tuple[str, ...] = ("wav2vec", "clap", "whisper", "emotion")
#: opt-in: pocketsphinx ASR costs about 1x real time on this hardware, so it is not in the default set
OPT_IN_EXTRACTORS: tuple[str, ...] = ("asr",)
OPTIONAL_EXTRACTORS: tuple[str, ...] = OPT_IN_EXTRACTORS + MODEL_EXTRACTORS


@dataclass(frozen=True)
class AudioConfig:
    """Decoding: every input becomes mono float32 at ``sample_rate``."""

    sample_rate: int = 16000
    #: decode only the first N seconds (seed 001 searches intros in the first 5 minutes); None = all
    max_seconds: float | None = None
    #: long files are processed in blocks of this many seconds to bound memory
    block_seconds: float = 300.0

    def __post_init__(self) -> None:
        if self.sample_rate < 8000 or self.sample_rate > 96000:
            raise ConfigError(f"audio.sample_rate must be in [8000, 96000] Hz, got {self.sample_rate!r}")
        if self.max_seconds is not None and self.max_seconds <= 0:
            raise ConfigError(f"audio.max_seconds must be positive or unset, got {self.max_seconds!r}")
        if self.block_seconds < 10:
            raise ConfigError(f"audio.block_seconds must be >= 10 s, got {self.block_seconds!r}")


@dataclass(frozen=True)
class FeaturesConfig:
    """Which frame extractors run, with shared analysis parameters."""

    extractors: tuple[str, ...] = DEFAULT_DSP_EXTRACTORS + MODEL_EXTRACTORS
    n_fft: int = 2048
    hop_length: int = 512
    asr_confidence_threshold: float = 0.3

    def __post_init__(self) -> None:
        object.__setattr__(self, "extractors", tuple(self.extractors))
        if self.hop_length <= 0 or self.n_fft < self.hop_length:
            raise ConfigError(f"features: need 0 < hop_length <= n_fft, got hop={self.hop_length}, n_fft={self.n_fft}")
        if not 0.0 <= self.asr_confidence_threshold <= 1.0:
            raise ConfigError(f"features.asr_confidence_threshold must be in [0, 1], got {self.asr_confidence_threshold!r}")


@dataclass(frozen=True)
class SegmentConfig:
    """Fixed windows over the item (seed 000 §2)."""

    segment_len: float = 3.0
    hop: float = 1.5

    def __post_init__(self) -> None:
        if not self.segment_len > 0:
            raise ConfigError(f"segments.segment_len must be > 0 s, got {self.segment_len!r}")
        if not 0 < self.hop <= self.segment_len:
            raise ConfigError(f"segments.hop must be in (0, segment_len], got {self.hop!r}")


@dataclass(frozen=True)
class SelectionConfig:
    """Choosing at most ``max_seq_len`` segments (seed 000 §7)."""

    max_seq_len: int = 128
    k_start: int = 16
    k_end: int = 16
    importance_weights: Mapping[str, float] = field(default_factory=lambda: {"rms": 0.6, "voiced_fraction": 0.4})
    #: "boundary_importance" (default) or "uniform"
    strategy: str = "boundary_importance"
    #: training only: share of importance-chosen segments replaced at random
    replace_fraction: float = 0.25

    def __post_init__(self) -> None:
        object.__setattr__(self, "importance_weights", dict(self.importance_weights))
        if self.max_seq_len < 1:
            raise ConfigError(f"selection.max_seq_len must be >= 1, got {self.max_seq_len!r}")
        if self.k_start < 0 or self.k_end < 0 or self.k_start + self.k_end > self.max_seq_len:
            raise ConfigError(
                f"selection: need k_start + k_end <= max_seq_len, got {self.k_start} + {self.k_end} > {self.max_seq_len}"
            )
        if self.strategy not in ("boundary_importance", "uniform"):
            raise ConfigError(f"selection.strategy must be 'boundary_importance' or 'uniform', got {self.strategy!r}")
        if not 0.0 <= self.replace_fraction <= 1.0:
            raise ConfigError(f"selection.replace_fraction must be in [0, 1], got {self.replace_fraction!r}")


@dataclass(frozen=True)
class TransformConfig:
    """PCA of embeddings and scaling (seed 000 §5-6)."""

    pca_dims: Mapping[str, int] = field(
        default_factory=lambda: {"clap": 128, "wav2vec": 64, "yamnet": 128, "whisper": 64}
    )
    #: "StandardScaler" or "RobustScaler"
    scaler_type: str = "StandardScaler"
    #: per-file normalisation (z-score within the file) before the global scaler,
    #: applied to these columns only (loudness depends on the recording)
    per_file_columns: tuple[str, ...] = ("rms_mean", "rms_std", "snr_db")

    def __post_init__(self) -> None:
        object.__setattr__(self, "pca_dims", dict(self.pca_dims))
        object.__setattr__(self, "per_file_columns", tuple(self.per_file_columns))
        if self.scaler_type not in ("StandardScaler", "RobustScaler"):
            raise ConfigError(f"transforms.scaler_type must be StandardScaler or RobustScaler, got {self.scaler_type!r}")
        for k, v in self.pca_dims.items():
            if int(v) < 1:
                raise ConfigError(f"transforms.pca_dims.{k} must be >= 1, got {v!r}")


@dataclass(frozen=True)
class PackageConfig:
    """On-disk packages (seed 000 §8)."""

    #: "npy+json" (one folder of files per item) or "webdataset" (tar shards)
    storage_format: str = "npy+json"
    dtype: str = "float32"
    shard_size: int = 1000

    def __post_init__(self) -> None:
        if self.storage_format not in ("npy+json", "webdataset"):
            raise ConfigError(f"package.storage_format must be 'npy+json' or 'webdataset', got {self.storage_format!r}")
        if self.dtype not in ("float32", "float16"):
            raise ConfigError(f"package.dtype must be float32 or float16, got {self.dtype!r}")


@dataclass(frozen=True)
class PipelineConfig:
    """Everything a pipeline run depends on, one TOML table per section."""

    audio: AudioConfig = field(default_factory=AudioConfig)
    features: FeaturesConfig = field(default_factory=FeaturesConfig)
    segments: SegmentConfig = field(default_factory=SegmentConfig)
    selection: SelectionConfig = field(default_factory=SelectionConfig)
    transforms: TransformConfig = field(default_factory=TransformConfig)
    package: PackageConfig = field(default_factory=PackageConfig)

    def to_dict(self) -> dict[str, Any]:
        return to_dict(self)

    def digest(self) -> str:
        return digest(self)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> "PipelineConfig":
        return from_dict(cls, data)


def to_dict(cfg: Any) -> dict[str, Any]:
    """A JSON-ready copy of a config dataclass (tuples become lists)."""

    def conv(v: Any) -> Any:
        if dataclasses.is_dataclass(v):
            return {f.name: conv(getattr(v, f.name)) for f in dataclasses.fields(v)}
        if isinstance(v, Mapping):
            return {str(k): conv(x) for k, x in sorted(v.items())}
        if isinstance(v, (list, tuple)):
            return [conv(x) for x in v]
        return v

    return conv(cfg)


def digest(cfg: Any, *, length: int = 16) -> str:
    """Stable hex digest of a config (or any JSON-able value)."""
    payload = to_dict(cfg) if dataclasses.is_dataclass(cfg) else cfg
    text = json.dumps(payload, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(text.encode()).hexdigest()[:length]


def from_dict(cls: type, data: Mapping[str, Any], *, where: str = "") -> Any:
    """Build a config dataclass from a mapping, rejecting unknown keys."""
    if not isinstance(data, Mapping):
        raise ConfigError(f"{where or cls.__name__}: expected a table, got {type(data).__name__}")
    hints = typing.get_type_hints(cls)
    names = {f.name for f in dataclasses.fields(cls)}
    unknown = sorted(set(data) - names)
    if unknown:
        raise ConfigError(f"unknown config key(s) {', '.join(repr(where + k) for k in unknown)}; allowed: {sorted(names)}")
    kwargs: dict[str, Any] = {}
    for k, v in data.items():
        hint = hints[k]
        if isinstance(hint, type) and dataclasses.is_dataclass(hint):
            kwargs[k] = from_dict(hint, v, where=f"{where}{k}.")
        else:
            kwargs[k] = v
    try:
        return cls(**kwargs)
    except TypeError as exc:
        raise ConfigError(f"{where or cls.__name__}: {exc}") from exc


def load_config(path: str | Path | None = None) -> PipelineConfig:
    """Read a TOML config; ``None`` gives the defaults.

    Raises
    ------
    ConfigError
        on a missing file, a syntax error or an unknown key.
    """
    if path is None:
        return PipelineConfig()
    p = Path(path)
    if not p.is_file():
        raise ConfigError(f"config file {str(p)!r} does not exist")
    try:
        data = tomllib.loads(p.read_text(encoding="utf-8"))
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"config file {str(p)!r} is not valid TOML: {exc}") from exc
    return PipelineConfig.from_dict(data)
