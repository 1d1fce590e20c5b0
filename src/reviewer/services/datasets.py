"""What a "Datasets & models" page and the CLI call: training sets, exports, imports.

::

    res = build_training_set(user, engine=engine, settings=settings, task="interest")
    res = export_dataset(user, engine=engine, settings=settings, filters=ExportFilters(kinds=("song",)))
    problems = verify_export(res.path)                      # [] when every checksum matches
    imported = import_labels(user, engine=engine, path="labels.json")

Exports go to ``settings.data_dir / "exports"`` unless told otherwise, each
in a new folder that is never overwritten. Engineers, PMs and admins may
export; importing labels needs an engineer or admin.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Sequence

from reviewer import store
from reviewer.config import load_config
from reviewer.errors import ConfigError, PackageError, ValidationError
from reviewer.export import dataset as export_dataset_mod
from reviewer.export.dataset import MANIFEST, ExportResult, file_sha256, verify_manifest
from reviewer.export.importer import ImportResult
from reviewer.export.importer import import_labels as _import_labels
from reviewer.export.select import ExportFilters, SplitPlan
from reviewer.services.auth import REVIEWER_ROLES, SessionUser, require_role
from reviewer.settings import Settings

__all__ = ["TRAINING_LABELS", "ExportInfo", "build_training_set", "export_dataset", "exports_dir", "import_labels",
           "list_exports", "verify_export"]

logger = logging.getLogger(__name__)

#: Label kinds of a training set per task (what the detectors learn).
TRAINING_LABELS: dict[str, dict[str, Any]] = {
    "intro": {"kinds": ("episode",), "label_kinds": ("intro",)},
    "chorus": {"kinds": ("song",), "label_kinds": ("chorus", "prechorus")},
    "interest": {"kinds": ("song",), "label_kinds": ("hook", "interest")},
}


@dataclass(frozen=True)
class ExportInfo:
    """An export on disk, for listing on a page."""

    name: str
    path: Path
    created_at: str | None
    counts: dict[str, Any]
    filters: dict[str, Any]


def exports_dir(settings: Settings) -> Path:
    """Where exports go by default: ``<data_dir>/exports``."""
    return settings.data_dir / "exports"


def _digests(session, settings: Settings) -> dict[str, Any]:
    try:
        config_digest = load_config(settings.config_path).digest()
    except (ConfigError, OSError) as exc:
        config_digest = f"unavailable: {exc}"
    models = []
    for mv in store.list_model_versions(session=session):
        entry = {"id": mv.id, "task": mv.task, "name": mv.name, "version": mv.version, "active": mv.is_active}
        path = Path(mv.path) if mv.path else None
        if path is not None and path.is_file():
            entry["sha256"] = file_sha256(path)
        elif path is not None and path.is_dir():
            files = sorted(p for p in path.rglob("*") if p.is_file())
            entry["sha256"] = {p.relative_to(path).as_posix(): file_sha256(p) for p in files}
        models.append(entry)
    return {"config_digest": config_digest, "model_versions": models}


def export_dataset(
    user: SessionUser,
    *,
    engine,
    settings: Settings,
    filters: ExportFilters = ExportFilters(),
    split: SplitPlan = SplitPlan(),
    formats: Sequence[str] = ("seed001", "label_studio", "audacity", "jams", "packages"),
    include_clips: bool = False,
    out_root: str | Path | None = None,
    name: str | None = None,
) -> ExportResult:
    """Export a labelled dataset into a new folder (see :mod:`reviewer.export.dataset`).

    Raises
    ------
    PermissionDeniedError
        An annotator.
    ValidationError
        Nothing matches, an existing name, bad filters.
    """
    require_role(user, *REVIEWER_ROLES)
    fmts = tuple(formats) + (("clips",) if include_clips and "clips" not in formats else ())
    root = Path(out_root) if out_root is not None else exports_dir(settings)
    with store.session_scope(engine) as s:
        digests = _digests(s, settings)
        digests["exported_by"] = user.name
        return export_dataset_mod.write_dataset(session=s, root=root, filters=filters, split=split, formats=fmts,
                                                name=name, digests=digests)


def build_training_set(
    user: SessionUser,
    *,
    engine,
    settings: Settings,
    task: str = "interest",
    include_truth: bool = True,
    min_agreement: float | None = None,
    split: SplitPlan = SplitPlan(by="group", test_fraction=0.2, val_fraction=0.1),
    out_root: str | Path | None = None,
    name: str | None = None,
) -> ExportResult:
    """A training set for one task from human corrections and crowd consensus (plus the demo truth).

    Parameters
    ----------
    task : str
        ``"intro"`` (episodes), ``"chorus"`` or ``"interest"`` (songs).
    include_truth : bool
        Also take ``truth`` labels (the demo library's ground truth).
    min_agreement : float, optional
        Leave out crowd consensus whose answers agreed less than this (mean pairwise IoU).
    """
    if task not in TRAINING_LABELS:
        raise ValidationError(f"task must be one of {sorted(TRAINING_LABELS)}; got {task!r}")
    spec = TRAINING_LABELS[task]
    sources = ("human", "crowd", "crowd_resolved", "import") + (("truth",) if include_truth else ())
    filters = ExportFilters(kinds=spec["kinds"], label_kinds=spec["label_kinds"], sources=sources,
                            min_agreement=min_agreement)
    return export_dataset(user, engine=engine, settings=settings, filters=filters, split=split,
                          out_root=out_root, name=name or None)


def import_labels(user: SessionUser, *, engine, path: str | Path, fmt: str = "auto") -> ImportResult:
    """Import a Label Studio JSON or Audacity label file (or folder) as ``"import"`` labels."""
    require_role(user, "engineer", "admin")
    with store.session_scope(engine) as s:
        return _import_labels(session=s, path=path, fmt=fmt, author=f"{user.name}:{Path(path).name}")


def verify_export(path: str | Path) -> list[str]:
    """Checksum problems of an export (empty: intact)."""
    return verify_manifest(path)


def list_exports(user: SessionUser, *, settings: Settings, root: str | Path | None = None) -> list[ExportInfo]:
    """Exports under ``root`` (default :func:`exports_dir`), newest first."""
    require_role(user, *REVIEWER_ROLES)
    root = Path(root) if root is not None else exports_dir(settings)
    out = []
    for d in sorted(root.glob("*"), reverse=True) if root.is_dir() else []:
        if not d.is_dir() or d.name.startswith("."):
            continue
        try:
            m = json.loads((d / MANIFEST).read_text(encoding="utf-8"))
        except (OSError, json.JSONDecodeError) as exc:
            logger.warning("%s: %s", d, PackageError(f"unreadable manifest: {exc}"))
            continue
        out.append(ExportInfo(name=d.name, path=d, created_at=m.get("created_at"), counts=m.get("counts", {}),
                              filters=m.get("filters", {})))
    return out
