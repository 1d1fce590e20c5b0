"""From segment tables to model-ready vectors: per-file z-score, PCA, scaler (seed 000 §5-6, §8).

Order of operations, identical at fit and apply time:

1. **per-file normalisation** — the columns in ``config.per_file_columns``
   (loudness-like, recording dependent) are z-scored within the item, NaN ignored;
2. **PCA per embedding group** — ``<g>_mean_*`` columns of every group named in
   ``config.pca_dims`` become ``<g>_pca_*``; ``n_components`` is clipped to what
   the train rows allow and recorded; rows where the group is missing stay NaN;
3. **scaler** (StandardScaler or RobustScaler) over all remaining columns,
   fitted ignoring NaN;
4. NaN → 0, then the ``<group>_missing`` flags (0/1) are appended.

Steps 2-3 are fitted on the train split only. ``save`` writes ``scaler.joblib``,
``pca_<group>.joblib`` and ``transforms.json`` with a SHA-256 per artifact and
an overall digest; ``load`` verifies them before unpickling anything.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import tempfile
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Sequence

import joblib
import numpy as np
from sklearn.decomposition import PCA
from sklearn.preprocessing import RobustScaler, StandardScaler

from reviewer.aggregate import SegmentTable
from reviewer.config import TransformConfig, to_dict
from reviewer.errors import PackageError, ValidationError

log = logging.getLogger(__name__)

SCHEMA_VERSION = 1
META_FILE = "transforms.json"
SCALER_FILE = "scaler.joblib"


@dataclass
class FittedTransforms:
    """Everything needed to turn a :class:`SegmentTable` into feature vectors.

    Attributes
    ----------
    config : TransformConfig
    input_columns : tuple of str
        Table columns that pass to the scaler unchanged (non-PCA).
    pca_inputs : dict[str, tuple of str]
        Embedding group → its ``<g>_mean_*`` input columns.
    pcas : dict[str, PCA]
        Fitted PCA per embedding group (a group with < 2 usable train rows has none).
    pca_info : dict[str, dict]
        Per group: ``requested``, ``n_components``, ``input_dim``, ``n_rows``, ``explained_variance``.
    scaler : StandardScaler or RobustScaler
    scaled_columns : tuple of str
        Columns the scaler sees: ``input_columns`` then ``<g>_pca_*``.
    flag_groups : tuple of str
        Groups with a ``<group>_missing`` flag column, in order.
    n_train_rows : int
        Segments the scaler was fitted on.
    digest : str
        Overall SHA-256 of the saved artifacts ("" until saved or loaded).
    """

    config: TransformConfig
    input_columns: tuple[str, ...]
    pca_inputs: dict[str, tuple[str, ...]]
    pcas: dict[str, PCA]
    pca_info: dict[str, dict[str, Any]]
    scaler: Any
    scaled_columns: tuple[str, ...]
    flag_groups: tuple[str, ...]
    n_train_rows: int
    digest: str = ""
    artifact_digests: dict[str, str] = field(default_factory=dict)

    @property
    def columns_out(self) -> tuple[str, ...]:
        """Names of the final vector: scaled columns then ``<group>_missing`` flags."""
        return self.scaled_columns + tuple(f"{g}_missing" for g in self.flag_groups)

    def transform(self, table: SegmentTable) -> tuple[np.ndarray, tuple[str, ...]]:
        """Same as :func:`apply_transforms`."""
        return apply_transforms(table, self)

    def save(self, out_dir: str | Path) -> str:
        """Write the artifacts to ``out_dir``; return the overall digest (see :func:`save`)."""
        return save(self, out_dir)

    @classmethod
    def load(cls, in_dir: str | Path) -> "FittedTransforms":
        """Read and verify artifacts written by :meth:`save` (see :func:`load`)."""
        return load(in_dir)


def per_file_normalise(table: SegmentTable, columns: Sequence[str]) -> np.ndarray:
    """Copy of ``table.values`` (float64) with ``columns`` z-scored within the item.

    NaN are ignored and kept; a constant column becomes 0 where present.
    """
    values = table.values.astype(np.float64, copy=True)
    for name in columns:
        if name not in table.columns:
            continue
        j = table.columns.index(name)
        col = values[:, j]
        if np.isnan(col).all():
            continue
        mu, sd = np.nanmean(col), np.nanstd(col)
        values[:, j] = (col - mu) / sd if sd > 1e-12 else col - mu
    return values


def _matrix(table: SegmentTable, columns: Sequence[str], values: np.ndarray) -> np.ndarray:
    """``(N, len(columns))`` from a table, NaN for columns the table does not have."""
    index = {c: j for j, c in enumerate(table.columns)}
    out = np.full((len(table), len(columns)), np.nan)
    for k, c in enumerate(columns):
        j = index.get(c)
        if j is not None:
            out[:, k] = values[:, j]
    return out


def _group_missing(table: SegmentTable, group: str) -> np.ndarray:
    if group in table.groups:
        return table.missing_for(group)
    return np.ones(len(table), dtype=bool)


def _pca_block(table: SegmentTable, values: np.ndarray, fitted: FittedTransforms, group: str) -> np.ndarray:
    k = fitted.pca_info[group]["n_components"]
    out = np.full((len(table), k), np.nan)
    pca = fitted.pcas.get(group)
    if pca is None or k == 0:
        return out
    x = _matrix(table, fitted.pca_inputs[group], values)
    ok = ~_group_missing(table, group) & np.isfinite(x).all(axis=1)
    if ok.any():
        out[ok] = pca.transform(x[ok])
    return out


def fit_transforms(tables: Sequence[SegmentTable], config: TransformConfig) -> FittedTransforms:
    """Fit PCA per embedding group and the scaler on the **train** tables.

    Parameters
    ----------
    tables : sequence of SegmentTable
        The train split, one table per item (never validation or test items).
    config : TransformConfig
        ``pca_dims``, ``scaler_type``, ``per_file_columns``.

    Returns
    -------
    FittedTransforms

    Raises
    ------
    ValidationError
        on no tables, no rows, or an embedding group with inconsistent widths.
    """
    tables = list(tables)
    if not tables or sum(len(t) for t in tables) == 0:
        raise ValidationError("fit_transforms needs at least one train segment table with rows")
    groups: dict[str, None] = {}
    columns: dict[str, None] = {}
    for t in tables:
        groups.update(dict.fromkeys(t.groups))
        columns.update(dict.fromkeys(t.columns))
    pca_inputs: dict[str, tuple[str, ...]] = {}
    for g in config.pca_dims:
        widths = {len(t.groups[g]) for t in tables if g in t.groups and t.groups[g]}
        if len(widths) > 1:
            raise ValidationError(f"embedding group {g!r} has different widths across train tables: {sorted(widths)}")
        if widths:
            pca_inputs[g] = tuple(f"{g}_mean_{i}" for i in range(widths.pop()))
    pca_cols = {c for cols in pca_inputs.values() for c in cols}
    input_columns = tuple(c for c in columns if c not in pca_cols)
    normed = [per_file_normalise(t, config.per_file_columns) for t in tables]

    pcas: dict[str, PCA] = {}
    pca_info: dict[str, dict[str, Any]] = {}
    for g, cols in pca_inputs.items():
        blocks = [_matrix(t, cols, v)[~_group_missing(t, g)] for t, v in zip(tables, normed)]
        x = np.concatenate(blocks, axis=0)
        x = x[np.isfinite(x).all(axis=1)]
        requested = int(config.pca_dims[g])
        k = min(requested, x.shape[0], x.shape[1]) if x.shape[0] >= 2 else 0
        info: dict[str, Any] = {"requested": requested, "n_components": k, "input_dim": len(cols), "n_rows": int(x.shape[0])}
        if k > 0:
            pca = PCA(n_components=k, random_state=0).fit(x)
            pcas[g] = pca
            info["explained_variance"] = float(np.sum(pca.explained_variance_ratio_))
        if k < requested:
            log.info("PCA %s: %d components instead of %d (%d train rows, %d dims)", g, k, requested, x.shape[0], len(cols))
        pca_info[g] = info

    pca_out = tuple(f"{g}_pca_{i}" for g in pca_inputs for i in range(pca_info[g]["n_components"]))
    scaler = StandardScaler() if config.scaler_type == "StandardScaler" else RobustScaler()
    fitted = FittedTransforms(
        config=config,
        input_columns=input_columns,
        pca_inputs=pca_inputs,
        pcas=pcas,
        pca_info=pca_info,
        scaler=scaler,
        scaled_columns=input_columns + pca_out,
        flag_groups=tuple(groups),
        n_train_rows=int(sum(len(t) for t in tables)),
    )
    x = np.concatenate([_pre_scale(t, v, fitted) for t, v in zip(tables, normed)], axis=0)
    x[:, np.isnan(x).all(axis=0)] = 0.0  # an all-missing column: identity scaling
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        scaler.fit(x)
    return fitted


def _pre_scale(table: SegmentTable, values: np.ndarray, fitted: FittedTransforms) -> np.ndarray:
    parts = [_matrix(table, fitted.input_columns, values)]
    parts += [_pca_block(table, values, fitted, g) for g in fitted.pca_inputs]
    return np.concatenate(parts, axis=1)


def apply_transforms(table: SegmentTable, fitted: FittedTransforms) -> tuple[np.ndarray, tuple[str, ...]]:
    """Turn one item's table into its feature matrix.

    Returns
    -------
    features : np.ndarray [shape=(N, D), float32]
        Scaled columns (NaN → 0) then ``<group>_missing`` flags (0/1).
    columns : tuple of str
        ``fitted.columns_out`` (length D).
    """
    values = per_file_normalise(table, fitted.config.per_file_columns)
    x = _pre_scale(table, values, fitted)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        scaled = fitted.scaler.transform(x) if len(table) else x
    scaled = np.nan_to_num(scaled, nan=0.0, posinf=0.0, neginf=0.0)
    flags = np.zeros((len(table), len(fitted.flag_groups)))
    for j, g in enumerate(fitted.flag_groups):
        flags[:, j] = _group_missing(table, g)
    out = np.concatenate([scaled, flags], axis=1).astype(np.float32)
    return out, fitted.columns_out


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def _overall_digest(meta: dict[str, Any]) -> str:
    body = {k: v for k, v in meta.items() if k != "digest"}
    return hashlib.sha256(json.dumps(body, sort_keys=True, separators=(",", ":")).encode()).hexdigest()


def _atomic_dump(obj: Any, path: Path) -> None:
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    os.close(fd)
    try:
        joblib.dump(obj, tmp)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def save(fitted: FittedTransforms, out_dir: str | Path) -> str:
    """Write ``scaler.joblib``, ``pca_<group>.joblib`` and ``transforms.json`` to ``out_dir``.

    Returns
    -------
    str
        The overall SHA-256 digest (also stored in ``fitted.digest``).
    """
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    files = {SCALER_FILE: fitted.scaler} | {f"pca_{g}.joblib": p for g, p in fitted.pcas.items()}
    artifacts: dict[str, str] = {}
    for name, obj in files.items():
        _atomic_dump(obj, out / name)
        artifacts[name] = _sha256(out / name)
    meta: dict[str, Any] = {
        "schema_version": SCHEMA_VERSION,
        "config": to_dict(fitted.config),
        "input_columns": list(fitted.input_columns),
        "pca_inputs": {g: list(c) for g, c in fitted.pca_inputs.items()},
        "pca_info": fitted.pca_info,
        "scaled_columns": list(fitted.scaled_columns),
        "flag_groups": list(fitted.flag_groups),
        "columns_out": list(fitted.columns_out),
        "n_train_rows": fitted.n_train_rows,
        "artifacts": artifacts,
    }
    meta["digest"] = _overall_digest(meta)
    tmp = out / f".{META_FILE}.tmp"
    tmp.write_text(json.dumps(meta, indent=2, sort_keys=True), encoding="utf-8")
    os.replace(tmp, out / META_FILE)
    fitted.digest, fitted.artifact_digests = meta["digest"], dict(artifacts)
    log.info("saved transforms to %s (digest %s)", out, meta["digest"][:12])
    return meta["digest"]


def load(in_dir: str | Path) -> FittedTransforms:
    """Read artifacts written by :func:`save`, verifying every digest first.

    Raises
    ------
    PackageError
        when ``transforms.json`` or an artifact is missing, or a digest does not match.
    """
    src = Path(in_dir)
    meta_path = src / META_FILE
    if not meta_path.is_file():
        raise PackageError(f"no {META_FILE} in {str(src)!r}: not a transforms directory")
    try:
        meta = json.loads(meta_path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as exc:
        raise PackageError(f"{str(meta_path)!r} is not valid JSON: {exc}") from exc
    if meta.get("digest") != _overall_digest(meta):
        raise PackageError(f"{str(meta_path)!r}: overall digest mismatch (the file was edited or truncated)")
    if SCALER_FILE not in meta.get("artifacts", {}):
        raise PackageError(f"{str(meta_path)!r} lists no {SCALER_FILE}")
    objs: dict[str, Any] = {}
    for name, expected in meta["artifacts"].items():
        path = src / name
        if not path.is_file():
            raise PackageError(f"transforms artifact {name!r} is missing from {str(src)!r}")
        actual = _sha256(path)
        if actual != expected:
            raise PackageError(f"transforms artifact {name!r}: SHA-256 {actual[:12]}… does not match {expected[:12]}…")
        objs[name] = joblib.load(path)
    from reviewer.config import from_dict

    fitted = FittedTransforms(
        config=from_dict(TransformConfig, meta["config"]),
        input_columns=tuple(meta["input_columns"]),
        pca_inputs={g: tuple(c) for g, c in meta["pca_inputs"].items()},
        pcas={g: objs[f"pca_{g}.joblib"] for g in meta["pca_inputs"] if f"pca_{g}.joblib" in objs},
        pca_info=meta["pca_info"],
        scaler=objs[SCALER_FILE],
        scaled_columns=tuple(meta["scaled_columns"]),
        flag_groups=tuple(meta["flag_groups"]),
        n_train_rows=int(meta["n_train_rows"]),
        digest=meta["digest"],
        artifact_digests=dict(meta["artifacts"]),
    )
    if fitted.columns_out != tuple(meta["columns_out"]):
        raise PackageError(f"{str(meta_path)!r}: columns_out does not match the stored columns")
    return fitted
