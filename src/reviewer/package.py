"""Per-item packages for the sequence models (seed 000 §8-9, §14).

A package is ``features`` (max_seq_len × D, zero padded), ``mask`` (max_seq_len,
1 for real segments) and ``meta`` (the seed-000 §14 JSON plus the chosen
indices, reasons, feature names and the digests that make it traceable).

Two layouts with one reader interface (:class:`PackageDataset`):

* ``npy+json``: ``<id>_features.npy``, ``<id>_mask.npy``, ``<id>_meta.json`` in
  one folder, each written atomically (meta last: its presence means complete);
* ``webdataset``: tar shards ``shard-000000.tar`` with members
  ``<key>.features.npy``, ``<key>.mask.npy``, ``<key>.meta.json``, readable by
  ``webdataset.WebDataset``. ``<key>`` is the item id with ``%`` and ``.``
  percent-encoded (webdataset splits member names at the first dot); the real
  id is ``meta["video_id"]``.

``PackageDataset``, ``make_loader`` and ``collate_packages`` live in
:mod:`reviewer.loader` (torch) and are importable from here too, lazily.
"""

from __future__ import annotations

import io
import json
import logging
import os
import re
import tarfile
import tempfile
import time
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Iterator, Mapping, Sequence

import numpy as np

from reviewer.aggregate import SegmentTable
from reviewer.errors import PackageError, ValidationError
from reviewer.selection import Selection

log = logging.getLogger(__name__)

SCHEMA_VERSION = 1
_ID_RE = re.compile(r"^[A-Za-z0-9._-]{1,200}$")
REQUIRED_META = (
    "video_id", "duration", "selection_strategy", "segments", "feature_file", "mask_file",
    "feature_dim", "max_seq_len", "chosen_indices", "feature_names", "schema_version",
)  # fmt: skip
SUFFIXES = ("features.npy", "mask.npy", "meta.json")


def check_item_id(item_id: str) -> str:
    """Return ``item_id`` if it is file-name safe (``[A-Za-z0-9._-]``, 1-200 chars)."""
    if not isinstance(item_id, str) or not _ID_RE.match(item_id) or item_id in (".", ".."):
        raise ValidationError(f"item id {item_id!r} must be 1-200 characters from [A-Za-z0-9._-]")
    return item_id


def _check(features: np.ndarray, mask: np.ndarray, meta: Mapping[str, Any], where: str) -> None:
    """Shapes and mask vs meta; PackageError naming what disagrees."""
    lacking = [k for k in REQUIRED_META if k not in meta]
    if lacking:
        raise PackageError(f"{where}: meta.json lacks {lacking}")
    L, D = int(meta["max_seq_len"]), int(meta["feature_dim"])
    if features.ndim != 2 or features.shape != (L, D):
        raise PackageError(
            f"{where}: features shape {features.shape} does not match meta (max_seq_len={L}, feature_dim={D})"
        )
    if mask.shape != (L,):
        raise PackageError(f"{where}: mask shape {mask.shape} does not match meta max_seq_len={L}")
    if len(meta["feature_names"]) != D:
        raise PackageError(f"{where}: {len(meta['feature_names'])} feature names for feature_dim={D}")
    k = len(meta["segments"])
    if len(meta["chosen_indices"]) != k or not np.array_equal(mask, (np.arange(L) < k).astype(mask.dtype)):
        raise PackageError(f"{where}: mask must be 1 for the {k} segments in meta and 0 after, got {int(mask.sum())} ones")


@dataclass(frozen=True)
class Package:
    """One item ready for a model.

    Attributes
    ----------
    item_id : str
    features : np.ndarray [shape=(max_seq_len, D), float32]
        Chosen segments in time order, zero rows after them.
    mask : np.ndarray [shape=(max_seq_len,), uint8]
        1 for a real segment, 0 for padding.
    meta : dict
        JSON-able; see :func:`build_package`.
    """

    item_id: str
    features: np.ndarray
    mask: np.ndarray
    meta: dict[str, Any]

    def __post_init__(self) -> None:
        _check(self.features, self.mask, self.meta, f"package {self.item_id!r}")

    @property
    def max_seq_len(self) -> int:
        return int(self.mask.shape[0])

    @property
    def feature_dim(self) -> int:
        return int(self.features.shape[1])

    @property
    def feature_names(self) -> list[str]:
        return list(self.meta["feature_names"])

    @property
    def indices(self) -> np.ndarray:
        """Chosen segment indices, shape ``(k,)``."""
        return np.asarray(self.meta["chosen_indices"], dtype=np.int64)


def build_package(
    item_id: str,
    table: SegmentTable,
    selection: Selection,
    features: np.ndarray,
    columns: Sequence[str],
    *,
    config: Any | None = None,
    duration: float | None = None,
    config_digest: str | None = None,
    artifact_digests: Mapping[str, str] | None = None,
    transforms_digest: str | None = None,
    dtype: str | None = None,
) -> Package:
    """Pick the selected rows of ``features``, pad them and describe them.

    Parameters
    ----------
    item_id : str
        File-name-safe id (``[A-Za-z0-9._-]``).
    table : SegmentTable
        The item's N segments (for times and missing reasons).
    selection : Selection
        Chosen segments (``selection.n_segments == N``).
    features : np.ndarray [shape=(N, D)]
        Transformed features of *every* segment (:func:`reviewer.transforms.apply_transforms`).
    columns : sequence of str
        D feature names.
    config : PipelineConfig, optional
        Gives ``config_digest`` and ``dtype`` (``config.package.dtype``) when not passed.
    duration : float, optional
        Seconds; defaults to ``table.segments.duration``.
    artifact_digests : Mapping[str, str], optional
        SHA-256 of the transform artifacts (``FittedTransforms.artifact_digests``).

    Returns
    -------
    Package
        ``meta`` keys: the seed-000 §14 schema (``video_id, duration,
        selection_strategy, segments, feature_file, mask_file, feature_dim``) plus
        ``schema_version, max_seq_len, num_segments, n_segments_total,
        chosen_indices, reasons, stochastic, feature_names, missing_reasons,
        dtype, config_digest, transforms_digest, artifact_digests, created_at``.
    """
    check_item_id(item_id)
    features = np.asarray(features)
    n = len(table)
    if features.ndim != 2 or features.shape[0] != n:
        raise ValidationError(f"features must have shape (N={n}, D), got {features.shape}")
    if len(columns) != features.shape[1]:
        raise ValidationError(f"{len(columns)} column names for {features.shape[1]} feature columns")
    if selection.n_segments != n:
        raise ValidationError(f"selection was made over {selection.n_segments} segments, the table has {n}")
    if config is not None:
        config_digest = config_digest or config.digest()
        dtype = dtype or config.package.dtype
    dtype = dtype or "float32"
    if dtype not in ("float32", "float16"):
        raise ValidationError(f"package dtype must be float32 or float16, got {dtype!r}")
    duration = float(table.segments.duration if duration is None else duration)
    if not duration > 0:
        raise ValidationError(f"duration must be positive seconds, got {duration!r}")

    L, D, k = selection.max_seq_len, features.shape[1], len(selection)
    out = np.zeros((L, D), dtype=dtype)
    out[:k] = features[selection.indices]
    mask = np.zeros(L, dtype=np.uint8)
    mask[:k] = 1
    meta: dict[str, Any] = {
        "schema_version": SCHEMA_VERSION,
        "video_id": item_id,
        "duration": duration,
        "selection_strategy": selection.strategy,
        "segments": table.segments.subset(selection.indices),
        "feature_file": f"{item_id}_features.npy",
        "mask_file": f"{item_id}_mask.npy",
        "feature_dim": int(D),
        "max_seq_len": int(L),
        "num_segments": int(k),
        "n_segments_total": int(n),
        "chosen_indices": [int(i) for i in selection.indices],
        "reasons": [r.to_dict() for r in selection.reasons],
        "stochastic": bool(selection.stochastic),
        "feature_names": list(columns),
        "missing_reasons": dict(table.missing_reasons),
        "dtype": dtype,
        "config_digest": config_digest,
        "transforms_digest": transforms_digest,
        "artifact_digests": dict(artifact_digests or {}),
        "created_at": datetime.now(timezone.utc).isoformat(timespec="seconds"),
    }
    return Package(item_id=item_id, features=out, mask=mask, meta=meta)


def _npy_bytes(arr: np.ndarray) -> bytes:
    buf = io.BytesIO()
    np.save(buf, arr, allow_pickle=False)
    return buf.getvalue()


def _atomic_write(path: Path, data: bytes) -> None:
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def write_package(pkg: Package, out_dir: str | Path) -> dict[str, Path]:
    """Write ``<id>_features.npy``, ``<id>_mask.npy``, ``<id>_meta.json`` atomically (meta last)."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    paths = {
        "features": out / pkg.meta["feature_file"],
        "mask": out / pkg.meta["mask_file"],
        "meta": out / f"{pkg.item_id}_meta.json",
    }
    _atomic_write(paths["features"], _npy_bytes(pkg.features))
    _atomic_write(paths["mask"], _npy_bytes(pkg.mask))
    _atomic_write(paths["meta"], json.dumps(pkg.meta, indent=1).encode("utf-8"))
    log.debug("wrote package %s to %s", pkg.item_id, out)
    return paths


def _load_npy(data: bytes | Path, where: str) -> np.ndarray:
    try:
        return np.load(io.BytesIO(data) if isinstance(data, bytes) else data, allow_pickle=False)
    except (ValueError, OSError, EOFError) as exc:
        raise PackageError(f"{where}: not a readable .npy file ({exc})") from exc


def _load_meta(data: bytes, where: str) -> dict[str, Any]:
    try:
        meta = json.loads(data.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise PackageError(f"{where}: meta.json is not valid JSON ({exc})") from exc
    if not isinstance(meta, dict):
        raise PackageError(f"{where}: meta.json must hold an object")
    return meta


def read_package(out_dir: str | Path, item_id: str) -> Package:
    """Read and validate an npy+json package.

    Raises
    ------
    PackageError
        when a file is missing or unreadable, or shapes disagree with meta.json.
    """
    check_item_id(item_id)
    src = Path(out_dir)
    meta_path = src / f"{item_id}_meta.json"
    if not meta_path.is_file():
        raise PackageError(f"no package {item_id!r} in {str(src)!r} (missing {meta_path.name})")
    meta = _load_meta(meta_path.read_bytes(), str(meta_path))
    arrays = {}
    for key, default in (("feature_file", f"{item_id}_features.npy"), ("mask_file", f"{item_id}_mask.npy")):
        path = src / str(meta.get(key, default))
        if not path.is_file():
            raise PackageError(f"package {item_id!r}: {path.name} is missing (incomplete write?)")
        arrays[key] = _load_npy(path, str(path))
    return Package(item_id=item_id, features=arrays["feature_file"], mask=arrays["mask_file"], meta=meta)


# --------------------------------------------------------------------------- webdataset shards


def shard_key(item_id: str) -> str:
    """Tar member key of an item: ``%`` and ``.`` percent-encoded (webdataset splits at the first dot)."""
    return check_item_id(item_id).replace("%", "%25").replace(".", "%2E")


class ShardWriter:
    """Write packages into WebDataset-compatible tar shards of ``shard_size`` items.

    Shards are named ``<prefix>-000000.tar`` and appear only when complete
    (written as a hidden temp file, renamed on rollover or :meth:`close`).
    Use as a context manager.
    """

    def __init__(self, out_dir: str | Path, shard_size: int = 1000, *, prefix: str = "shard") -> None:
        if int(shard_size) < 1:
            raise ValidationError(f"shard_size must be >= 1, got {shard_size!r}")
        self.out_dir = Path(out_dir)
        self.out_dir.mkdir(parents=True, exist_ok=True)
        self.shard_size = int(shard_size)
        self.prefix = prefix
        self.shards: list[Path] = []
        self._seen: set[str] = set()
        self._tar: tarfile.TarFile | None = None
        self._tmp: Path | None = None
        self._count = 0

    def __enter__(self) -> "ShardWriter":
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()

    def _open(self) -> None:
        final = self.out_dir / f"{self.prefix}-{len(self.shards):06d}.tar"
        self._tmp = final.with_name(f".{final.name}.tmp")
        self._tar = tarfile.open(self._tmp, "w")
        self._count = 0

    def _finish(self) -> None:
        if self._tar is None or self._tmp is None:
            return
        self._tar.close()
        final = self.out_dir / self._tmp.name[1:].removesuffix(".tmp")
        os.replace(self._tmp, final)
        self.shards.append(final)
        self._tar, self._tmp = None, None

    def write(self, pkg: Package) -> None:
        """Append one package (three members with the same key)."""
        if pkg.item_id in self._seen:
            raise ValidationError(f"item {pkg.item_id!r} is already in these shards")
        if self._tar is None:
            self._open()
        key = shard_key(pkg.item_id)
        meta = dict(pkg.meta, feature_file=f"{key}.features.npy", mask_file=f"{key}.mask.npy")
        payload = (_npy_bytes(pkg.features), _npy_bytes(pkg.mask), json.dumps(meta).encode("utf-8"))
        for suffix, data in zip(SUFFIXES, payload):
            info = tarfile.TarInfo(f"{key}.{suffix}")
            info.size, info.mtime, info.mode = len(data), int(time.time()), 0o644
            self._tar.addfile(info, io.BytesIO(data))
        self._seen.add(pkg.item_id)
        self._count += 1
        if self._count >= self.shard_size:
            self._finish()

    def close(self) -> list[Path]:
        """Finish the open shard; return every shard written."""
        self._finish()
        return list(self.shards)


def _split_member(name: str) -> tuple[str, str] | None:
    base = name.rsplit("/", 1)[-1]
    key, dot, suffix = base.partition(".")
    return (key, suffix) if dot and suffix in SUFFIXES else None


def _package_from_members(members: Mapping[str, bytes], where: str) -> Package:
    lacking = [s for s in SUFFIXES if s not in members]
    if lacking:
        raise PackageError(f"{where}: shard sample lacks {lacking}")
    meta = _load_meta(members["meta.json"], where)
    return Package(
        item_id=str(meta.get("video_id", "")),
        features=_load_npy(members["features.npy"], where),
        mask=_load_npy(members["mask.npy"], where),
        meta=meta,
    )


def iter_shard(path: str | Path) -> Iterator[Package]:
    """Packages of one tar shard, in order."""
    path = Path(path)
    try:
        with tarfile.open(path, "r") as tar:
            current, members = None, {}
            for info in tar:
                parts = _split_member(info.name) if info.isfile() else None
                if parts is None:
                    continue
                key, suffix = parts
                if key != current and members:
                    yield _package_from_members(members, f"{path.name}:{current}")
                    members = {}
                current = key
                members[suffix] = tar.extractfile(info).read()
            if members:
                yield _package_from_members(members, f"{path.name}:{current}")
    except tarfile.TarError as exc:
        raise PackageError(f"shard {str(path)!r} is not a readable tar file: {exc}") from exc


def find_shards(source: str | Path | Sequence[str | Path]) -> list[Path]:
    """Tar shards named by ``source``: a ``.tar`` file, a list of them, or a folder holding them."""
    if isinstance(source, (list, tuple)):
        return [Path(p) for p in source]
    p = Path(source)
    return [p] if p.is_file() else sorted(p.glob("*.tar"))


# --------------------------------------------------------------------------- torch Dataset / DataLoader

_LOADER_NAMES = ("PackageDataset", "collate_packages", "make_loader")


def __getattr__(name: str) -> Any:
    # the torch side lives in reviewer.loader and is imported on first use, so
    # that importing this module (CLI, services, pages) never imports torch
    if name in _LOADER_NAMES:
        from reviewer import loader

        return getattr(loader, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
