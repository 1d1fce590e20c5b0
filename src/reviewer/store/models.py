"""Model versions and their predictions.

Every prediction is stamped with the model version that made it, so the UI can
compare versions side by side and a retrain never overwrites history.
"""

from __future__ import annotations

import logging
import math
from typing import Any

from sqlalchemy import update
from sqlmodel import Session, col, select

from reviewer.errors import NotFoundError, ValidationError
from reviewer.frames import validate_interval
from reviewer.store.checks import check_text
from reviewer.store.items import get_item
from reviewer.store.tables import ModelVersion, Prediction

__all__ = [
    "activate_model_version",
    "active_model_version",
    "add_model_version",
    "add_prediction",
    "get_model_version",
    "list_model_versions",
    "predictions_for",
]

logger = logging.getLogger(__name__)


def add_model_version(
    *,
    session: Session,
    task: str,
    name: str,
    version: str,
    path: str | None = None,
    config: dict[str, Any] | None = None,
    metrics: dict[str, Any] | None = None,
    activate: bool = False,
) -> ModelVersion:
    """Register a trained model for ``task`` (``"intro"``, ``"chorus"``, ``"interest"``, ...).

    Parameters
    ----------
    activate : bool
        Make it the active model of its task (the previous one is deactivated).

    Raises
    ------
    ValidationError
        Empty task / name / version, or the same (task, name, version) registered before.
    """
    check_text(task, what="task")
    check_text(name, what="model name")
    check_text(version, what="model version")
    dup = session.exec(
        select(ModelVersion).where(ModelVersion.task == task, ModelVersion.name == name,
                                   ModelVersion.version == version)
    ).first()
    if dup is not None:
        raise ValidationError(f"model {name!r} version {version!r} for task {task!r} is already registered (id {dup.id})")
    mv = ModelVersion(task=task, name=name, version=version, path=None if path is None else str(path),
                      config=config, metrics=metrics, is_active=False)
    session.add(mv)
    session.flush()
    if activate:
        activate_model_version(session=session, model_version_id=mv.id)
    return mv


def get_model_version(*, session: Session, model_version_id: int) -> ModelVersion:
    """The model version with id ``model_version_id``.

    Raises
    ------
    NotFoundError
        naming the id.
    """
    mv = session.get(ModelVersion, model_version_id)
    if mv is None:
        raise NotFoundError(f"no model version with id {model_version_id!r}")
    return mv


def activate_model_version(*, session: Session, model_version_id: int) -> ModelVersion:
    """Make one model version the active one of its task and kind (others of the same kind are deactivated).

    Two kinds share a task: trained models (a checkpoint ``path``) and detector
    versions (no path: the detector config + the scorer it used, registered by
    ``reviewer predict``). Activating a detector version must not retire the
    trained scorer it runs with, and promoting a scorer leaves the detector row alone.
    """
    mv = get_model_version(session=session, model_version_id=model_version_id)
    same_kind = col(ModelVersion.path).is_(None) if mv.path is None else col(ModelVersion.path).is_not(None)
    session.exec(
        update(ModelVersion).where(ModelVersion.task == mv.task, ModelVersion.id != mv.id, same_kind)
        .values(is_active=False)
    )
    mv.is_active = True
    session.add(mv)
    session.flush()
    logger.info("active %s model: %s %s (id %s)", mv.task, mv.name, mv.version, mv.id)
    return mv


def active_model_version(*, session: Session, task: str, trained: bool = True) -> ModelVersion | None:
    """The active trained model (a checkpoint path) of ``task``, or with ``trained=False`` the active detector version; or None."""
    kind = col(ModelVersion.path).is_not(None) if trained else col(ModelVersion.path).is_(None)
    return session.exec(
        select(ModelVersion).where(ModelVersion.task == task, col(ModelVersion.is_active).is_(True), kind)
        .order_by(col(ModelVersion.id).desc())
    ).first()


def list_model_versions(*, session: Session, task: str | None = None) -> list[ModelVersion]:
    """Model versions, newest first, optionally of one task."""
    q = select(ModelVersion)
    if task is not None:
        q = q.where(ModelVersion.task == task)
    return list(session.exec(q.order_by(col(ModelVersion.id).desc())).all())


def add_prediction(
    *,
    session: Session,
    item_id: int,
    model_version_id: int | None,
    task: str,
    start: float | None,
    end: float | None,
    confidence: float | None = None,
    payload: dict[str, Any] | None = None,
) -> Prediction:
    """Store one predicted interval of an item.

    Parameters
    ----------
    model_version_id : int or None
        The model that made it (None only for non-ML baselines).
    start, end : float or None
        Seconds, ``0 <= start < end <= item.duration``; both None means "no region"
        (an episode predicted to have no intro).
    confidence : float, optional
        In ``[0, 1]``.
    payload : dict, optional
        Evidence: per-segment scores, candidates, strategy, ...

    Raises
    ------
    ValidationError, NotFoundError
    """
    check_text(task, what="task")
    item = get_item(session=session, item_id=item_id)
    if start is None and end is None:
        s = e = None
    else:
        s, e = validate_interval(start, end, duration=item.duration, what=f"{task} prediction of item {item.key!r}")
    if confidence is not None:
        c = float(confidence)
        if not (math.isfinite(c) and 0.0 <= c <= 1.0):
            raise ValidationError(f"confidence must be in [0, 1]; got {confidence!r}")
        confidence = c
    if model_version_id is not None:
        get_model_version(session=session, model_version_id=model_version_id)
    pred = Prediction(item_id=item_id, model_version_id=model_version_id, task=task, start=s, end=e,
                      confidence=confidence, payload=payload)
    session.add(pred)
    session.flush()
    return pred


def predictions_for(
    *, session: Session, item_id: int, task: str | None = None, model_version_id: int | None = None
) -> list[Prediction]:
    """Predictions of an item, newest first, optionally of one task / model version."""
    q = select(Prediction).where(Prediction.item_id == item_id)
    if task is not None:
        q = q.where(Prediction.task == task)
    if model_version_id is not None:
        q = q.where(Prediction.model_version_id == model_version_id)
    return list(session.exec(q.order_by(col(Prediction.id).desc())).all())
