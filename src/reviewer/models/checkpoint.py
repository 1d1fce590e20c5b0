"""Checkpoints that rebuild their net exactly and refuse inputs they were not trained on.

A checkpoint is a folder::

    <dir>/model.pt          torch.save of plain types + the state dict (loads with weights_only=True)
    <dir>/transforms/       the fitted PCA + scaler (reviewer.transforms.save), digests verified on load

``model.pt`` holds the architecture name and the net's config dict (so
:func:`build_net` rebuilds the same module), the task, the feature names the
net reads (transform output columns plus optional time features), the
transform artifact digest, the pipeline config digest, how segment tables were
cut into sequences (``inputs``), the held-out metrics and the model version.

:func:`model_inputs` turns a :class:`~reviewer.aggregate.SegmentTable` into
the net's input matrix and raises :class:`~reviewer.errors.ValidationError`
when the table does not fit the checkpoint (other segment length or hop,
missing columns, other feature names).
"""

from __future__ import annotations

import datetime as dt
import logging
import os
import shutil
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Mapping, Sequence

import numpy as np
import torch
from torch import nn

from reviewer.aggregate import SegmentTable
from reviewer.errors import PackageError, ValidationError
from reviewer.models.audio_transformer import AudioTransformer, AudioTransformerConfig
from reviewer.models.crnn import CRNN, CRNNConfig
from reviewer.transforms import FittedTransforms, apply_transforms
from reviewer.transforms import load as load_transforms

log = logging.getLogger(__name__)

FORMAT = "reviewer-checkpoint"
SCHEMA_VERSION = 1
MODEL_FILE = "model.pt"
TRANSFORMS_DIR = "transforms"
#: extra input columns appended after the transformed features when ``inputs["time_features"]``
TIME_FEATURES: tuple[str, ...] = ("time_start_5min", "time_relative")
#: nets by architecture name: (config class, module class)
ARCHS: dict[str, tuple[type, type]] = {
    "transformer": (AudioTransformerConfig, AudioTransformer),
    "crnn": (CRNNConfig, CRNN),
}
MAX_CHECKPOINT_BYTES = 5 * 1024 * 1024


def build_net(arch: str, net_config: Mapping[str, Any]) -> nn.Module:
    """A freshly initialised net of ``arch`` (``"transformer"`` or ``"crnn"``) from its config dict."""
    if arch not in ARCHS:
        raise ValidationError(f"unknown architecture {arch!r}; expected one of {sorted(ARCHS)}")
    cfg_cls, net_cls = ARCHS[arch]
    return net_cls(cfg_cls.from_dict(dict(net_config)))


@dataclass
class Checkpoint:
    """Everything stored in ``model.pt`` (see the module docstring)."""

    arch: str
    task: str
    net_config: dict[str, Any]
    feature_names: tuple[str, ...]
    transform_digest: str
    config_digest: str
    inputs: dict[str, Any]
    model_version: str
    metrics: dict[str, Any] = field(default_factory=dict)
    created_at: str = ""
    state_dict: dict[str, torch.Tensor] = field(default_factory=dict, repr=False)

    def to_payload(self) -> dict[str, Any]:
        return {
            "format": FORMAT, "schema_version": SCHEMA_VERSION, "arch": self.arch, "task": self.task,
            "net_config": dict(self.net_config), "feature_names": list(self.feature_names),
            "transform_digest": self.transform_digest, "config_digest": self.config_digest,
            "inputs": dict(self.inputs), "model_version": self.model_version, "metrics": dict(self.metrics),
            "created_at": self.created_at, "state_dict": self.state_dict,
        }  # fmt: skip


@dataclass
class LoadedModel:
    """A checkpoint with its rebuilt net (eval mode) and verified transforms."""

    checkpoint: Checkpoint
    net: nn.Module
    transforms: FittedTransforms
    path: Path


def model_inputs(table: SegmentTable, transforms: FittedTransforms, *, time_features: bool) -> tuple[np.ndarray, tuple[str, ...]]:
    """A segment table as the net's input matrix.

    Parameters
    ----------
    table : SegmentTable
        N segments of one item.
    transforms : FittedTransforms
        Fitted on the train split.
    time_features : bool
        Append :data:`TIME_FEATURES`: segment start in units of 5 minutes, and start / duration.

    Returns
    -------
    features : np.ndarray [shape=(N, D), float32]
    names : tuple of str
        D column names.

    Raises
    ------
    ValidationError
        when the table lacks columns the transforms read.
    """
    need = list(transforms.input_columns) + [c for cols in transforms.pca_inputs.values() for c in cols]
    have = set(table.columns)
    lacking = [c for c in need if c not in have]
    if lacking:
        raise ValidationError(
            f"segment table lacks {len(lacking)} column(s) the model was trained on, e.g. {lacking[:5]}: "
            "extract it with the same feature set"
        )
    x, names = apply_transforms(table, transforms)
    if time_features:
        starts = np.asarray(table.segments.starts, dtype=np.float64)
        dur = max(float(table.segments.duration), 1e-6)
        extra = np.column_stack([starts / 300.0, starts / dur]).astype(np.float32)
        x = np.concatenate([x, extra], axis=1)
        names = tuple(names) + TIME_FEATURES
    return x, tuple(names)


def check_compatible(table: SegmentTable, checkpoint: Checkpoint) -> None:
    """Refuse a table cut with another segment length or hop than the model's training tables."""
    seg = table.segments
    want_len, want_hop = checkpoint.inputs.get("segment_len"), checkpoint.inputs.get("hop")
    if want_len is not None and abs(float(seg.segment_len) - float(want_len)) > 1e-6:
        raise ValidationError(
            f"segment table has segment_len={seg.segment_len} s but the {checkpoint.task} model "
            f"{checkpoint.model_version} was trained on {want_len} s segments"
        )
    if want_hop is not None and abs(float(seg.hop) - float(want_hop)) > 1e-6:
        raise ValidationError(
            f"segment table has hop={seg.hop} s but the {checkpoint.task} model {checkpoint.model_version} "
            f"was trained with hop={want_hop} s"
        )


def check_feature_names(names: Sequence[str], checkpoint: Checkpoint) -> None:
    """Raise ValidationError unless ``names`` equal the checkpoint's feature names (same order)."""
    names = tuple(names)
    if names == checkpoint.feature_names:
        return
    missing = [n for n in checkpoint.feature_names if n not in names]
    extra = [n for n in names if n not in checkpoint.feature_names]
    raise ValidationError(
        f"feature names do not match the {checkpoint.task} model {checkpoint.model_version}: "
        f"{len(names)} given vs {len(checkpoint.feature_names)} expected; missing {missing[:5]}, "
        f"unexpected {extra[:5]}" + ("" if missing or extra else " (same names, other order)")
    )


def save_checkpoint(out_dir: str | Path, *, net: nn.Module, arch: str, task: str, transforms: FittedTransforms,
                    feature_names: Sequence[str], config_digest: str, inputs: Mapping[str, Any], model_version: str,
                    metrics: Mapping[str, Any] | None = None) -> Path:
    """Write ``model.pt`` and ``transforms/`` into ``out_dir``; return the folder.

    Raises
    ------
    ValidationError
        for an unknown architecture or a checkpoint above 5 MB.
    """
    if arch not in ARCHS:
        raise ValidationError(f"unknown architecture {arch!r}; expected one of {sorted(ARCHS)}")
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    tdigest = transforms.save(out / TRANSFORMS_DIR)
    ckpt = Checkpoint(
        arch=arch, task=task, net_config=net.config.to_dict(), feature_names=tuple(feature_names),
        transform_digest=tdigest, config_digest=config_digest, inputs=dict(inputs), model_version=model_version,
        metrics=_plain(dict(metrics or {})), created_at=dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
        state_dict={k: v.detach().cpu().clone() for k, v in net.state_dict().items()},
    )  # fmt: skip
    fd, tmp = tempfile.mkstemp(dir=out, prefix=f".{MODEL_FILE}.")
    os.close(fd)
    try:
        torch.save(ckpt.to_payload(), tmp)
        size = os.path.getsize(tmp)
        if size > MAX_CHECKPOINT_BYTES:
            raise ValidationError(f"checkpoint is {size / 1e6:.1f} MB, above the 5 MB limit: use a smaller net")
        os.replace(tmp, out / MODEL_FILE)
    finally:
        Path(tmp).unlink(missing_ok=True)
    log.info("saved %s %s checkpoint %s (%d bytes) to %s", task, arch, model_version, size, out)
    return out


def _plain(obj: Any) -> Any:
    """JSON-like copy with numpy scalars turned into Python numbers (weights_only loads need plain types)."""
    if isinstance(obj, Mapping):
        return {str(k): _plain(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_plain(v) for v in obj]
    if isinstance(obj, np.generic):
        return obj.item()
    return obj


def resolve_checkpoint_dir(path: str | Path) -> Path:
    """The checkpoint folder for ``path`` (the folder itself or its ``model.pt``)."""
    p = Path(path)
    if p.is_file() and p.name == MODEL_FILE:
        p = p.parent
    if not (p / MODEL_FILE).is_file():
        raise PackageError(f"no checkpoint at {str(path)!r}: expected a folder with {MODEL_FILE} and {TRANSFORMS_DIR}/")
    return p


def load_checkpoint(path: str | Path) -> LoadedModel:
    """Read a checkpoint folder, rebuild its net (eval mode) and verify its transforms.

    Raises
    ------
    PackageError
        when the folder is incomplete, the file is not a reviewer checkpoint, the
        state dict does not fit the stored config, or the transforms digest differs.
    """
    folder = resolve_checkpoint_dir(path)
    try:
        raw = torch.load(folder / MODEL_FILE, map_location="cpu", weights_only=True)
    except Exception as exc:  # noqa: BLE001 - torch raises many types for a bad file
        raise PackageError(f"{str(folder / MODEL_FILE)!r} is not a readable checkpoint: {exc}") from exc
    if not isinstance(raw, dict) or raw.get("format") != FORMAT:
        raise PackageError(f"{str(folder / MODEL_FILE)!r} is not a {FORMAT} file")
    if raw.get("schema_version") != SCHEMA_VERSION:
        raise PackageError(f"{str(folder)!r}: checkpoint schema {raw.get('schema_version')} != {SCHEMA_VERSION}")
    ckpt = Checkpoint(
        arch=raw["arch"], task=raw["task"], net_config=dict(raw["net_config"]),
        feature_names=tuple(raw["feature_names"]), transform_digest=raw["transform_digest"],
        config_digest=raw["config_digest"], inputs=dict(raw["inputs"]), model_version=raw["model_version"],
        metrics=dict(raw.get("metrics") or {}), created_at=raw.get("created_at", ""), state_dict=raw["state_dict"],
    )  # fmt: skip
    net = build_net(ckpt.arch, ckpt.net_config)
    try:
        net.load_state_dict(ckpt.state_dict, strict=True)
    except RuntimeError as exc:
        raise PackageError(f"{str(folder)!r}: weights do not fit the stored {ckpt.arch} config: {exc}") from exc
    net.eval()
    transforms = load_transforms(folder / TRANSFORMS_DIR)
    if transforms.digest != ckpt.transform_digest:
        raise PackageError(
            f"{str(folder)!r}: transforms digest {transforms.digest[:12]} does not match the checkpoint's "
            f"{ckpt.transform_digest[:12]} (the transforms folder was replaced)"
        )
    width = ckpt.net_config.get("input_dim")
    if width != len(ckpt.feature_names):
        raise PackageError(f"{str(folder)!r}: net input_dim={width} but {len(ckpt.feature_names)} feature names")
    return LoadedModel(checkpoint=ckpt, net=net, transforms=transforms, path=folder)


def copy_checkpoint(src: str | Path, dst: str | Path) -> Path:
    """Copy a checkpoint folder to ``dst`` (replacing it atomically enough: copy, then swap)."""
    src_dir = resolve_checkpoint_dir(src)
    dst = Path(dst)
    dst.parent.mkdir(parents=True, exist_ok=True)
    tmp = dst.with_name(f".{dst.name}.tmp")
    shutil.rmtree(tmp, ignore_errors=True)
    shutil.copytree(src_dir, tmp)
    old = dst.with_name(f".{dst.name}.old")
    shutil.rmtree(old, ignore_errors=True)
    if dst.exists():
        os.replace(dst, old)
    os.replace(tmp, dst)
    shutil.rmtree(old, ignore_errors=True)
    return dst
