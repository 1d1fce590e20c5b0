"""Training service: labels in the store → a trained, evaluated, registered model version.

:func:`train_task` loads the labelled items of a task, splits them by series /
artist (held-out ``test`` items are never trained on), fits the transforms on
the train items, trains the net with early stopping on the validation items,
writes the checkpoint to ``settings.models_dir/<task>/<version>/``, scores the
held-out items **through the saved checkpoint** (exactly what inference does)
and evaluates them with :mod:`reviewer.metrics`, then adds a
:class:`~reviewer.store.ModelVersion` row with those metrics. With
``activate=True`` the version becomes the task's active model and is copied to
:func:`~reviewer.models.registry.default_model_path` for store-less batch runs.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import hashlib
import logging
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Sequence

from reviewer import store
from reviewer.config import PipelineConfig
from reviewer.errors import ValidationError
from reviewer.models.checkpoint import copy_checkpoint, save_checkpoint
from reviewer.models.registry import default_model_path, load_scorer
from reviewer.pipeline import extract_digest
from reviewer.settings import Settings
from reviewer.train.datasets import DataSplit, count_sources, load_training_items, split_items
from reviewer.train.evaluate import evaluate_scores
from reviewer.train.trainer import TrainConfig, fit_and_evaluate

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class TrainSummary:
    """What :func:`train_task` did.

    ``test_metrics`` are measured on held-out items only (never on training data);
    ``val_metrics`` on the validation groups used for early stopping.
    ``label_sources``: per side (train / val / test), how many items each label
    source labelled (human correction > crowd consensus > demo truth, see
    :func:`reviewer.train.datasets.resolve_item_labels`).
    """

    task: str
    arch: str
    version: str
    path: str
    model_version_id: int
    activated: bool
    split: dict[str, Any]
    best_epoch: int
    epochs_run: int
    val_metrics: dict[str, float]
    test_metrics: dict[str, float]
    train_seconds: float
    n_parameters: int
    checkpoint_bytes: int
    label_sources: dict[str, dict[str, int]] = dataclasses.field(default_factory=dict)


def _engine_for(settings: Settings):
    engine = store.make_engine(settings.db_url)
    store.init_db(engine)
    return engine


def load_split(task: str, *, engine, settings: Settings, config: PipelineConfig | None = None,
               extra_sources: Sequence[Settings] = (), val_fraction: float = 0.25, seed: int = 0,
               sources: Sequence[str] | None = None) -> DataSplit:
    """Labelled items of the main store split by group, plus train-only items from other libraries.

    Parameters
    ----------
    extra_sources : sequence of Settings
        Other libraries (their own database and data dir), e.g. a second demo
        library built with another seed. Their items only ever train or validate;
        those sharing a series / artist name with a held-out group are dropped.
    sources : sequence of str, optional
        Label sources that may be used (default: all, by precedence).
    """
    config = config or PipelineConfig()
    kw = {} if sources is None else {"sources": tuple(sources)}
    items = load_training_items(task, engine=engine, settings=settings, config=config, **kw)
    extra = []
    for k, other in enumerate(extra_sources):
        extra += load_training_items(task, engine=_engine_for(other), settings=other, config=config,
                                     source=f"extra{k}:{other.home}", **kw)
    return split_items(items, val_fraction=val_fraction, seed=seed, extra=extra)


def label_source_counts(task: str, *, engine) -> dict[str, dict[str, int]]:
    """How many items of each label source a ``task`` training set would use, per store split.

    Same precedence as training (:func:`reviewer.train.datasets.resolve_item_labels`:
    human correction > crowd consensus > demo truth); no segment table is read.

    Returns
    -------
    dict
        ``{"train": {"human": n, "crowd": n, "truth": n, ..., "simulated": n}, "test": {...}}``
        (``train`` = every non-test item, validation included).
    """
    from reviewer.train.datasets import SOURCE_PRECEDENCE, TASK_ITEM_KIND, resolve_item_labels

    if task not in TASK_ITEM_KIND:
        raise ValidationError(f"task must be one of {sorted(TASK_ITEM_KIND)}; got {task!r}")
    out = {side: {**{src: 0 for src in SOURCE_PRECEDENCE}, "simulated": 0} for side in ("train", "test")}
    with store.session_scope(engine) as s:
        for item in store.iter_items(session=s, kind=TASK_ITEM_KIND[task]):
            got = resolve_item_labels(s, item, task)
            if got is None:
                continue
            side = out["test" if item.split == "test" else "train"]
            side[got.source] += 1
            side["simulated"] += bool(got.simulated)
    return out


def new_version(task: str, arch: str) -> str:
    """``<task>-<arch>-<UTC timestamp>-<6 hex>``."""
    now = dt.datetime.now(dt.timezone.utc)
    salt = hashlib.sha256(f"{task}{arch}{now.isoformat()}{time.perf_counter_ns()}".encode()).hexdigest()[:6]
    return f"{task}-{arch}-{now:%Y%m%dT%H%M%S}-{salt}"


def train_task(task: str, *, engine, settings: Settings, arch: str = "transformer", epochs: int | None = None,
               activate: bool = False, train_config: TrainConfig | None = None, config: PipelineConfig | None = None,
               extra_sources: Sequence[Settings] = (), seed: int | None = None) -> TrainSummary:
    """Train, evaluate on held-out items, save and register a model for ``task``.

    Parameters
    ----------
    task : str
        ``"intro"``, ``"chorus"`` or ``"interest"``.
    arch : str
        ``"transformer"`` or ``"crnn"`` (ignored when ``train_config`` is given).
    epochs, seed : int, optional
        Override ``train_config.epochs`` / ``train_config.seed``.
    activate : bool
        Make it the active model of the task and publish it to the default path.
    config : PipelineConfig, optional
        The config the segment tables were extracted with (default: seed-000 defaults).
    extra_sources : sequence of Settings
        Extra libraries for training data (see :func:`load_split`).

    Raises
    ------
    ValidationError
        when there are no labelled training items or no positive segment.
    """
    tc = train_config or TrainConfig(arch=arch)
    changes = {k: v for k, v in (("epochs", epochs), ("seed", seed)) if v is not None}
    tc = dataclasses.replace(tc, **changes)
    config = config or PipelineConfig()
    split = load_split(task, engine=engine, settings=settings, config=config, extra_sources=extra_sources, seed=tc.seed)
    sources = {side: count_sources(getattr(split, side)) for side in ("train", "val", "test")}
    log.info("%s split: %s; items by label source: %s", task, split.summary(), sources)
    if not split.train:
        raise ValidationError(f"no labelled {task} items to train on (import truth labels or label some items)")
    if not split.test:
        log.warning("%s: no held-out test items: the model version gets no held-out metrics", task)
    outcome = fit_and_evaluate(task, split, config=tc, transform_config=config.transforms)
    version = new_version(task, tc.arch)
    out_dir = settings.models_dir / task / version
    save_checkpoint(out_dir, net=outcome.result.net, arch=tc.arch, task=task, transforms=outcome.transforms,
                    feature_names=outcome.feature_names, config_digest=extract_digest(config),
                    inputs=outcome.inputs, model_version=version,
                    metrics={"test": outcome.test_metrics, "val": outcome.val_metrics})
    # held-out metrics through the saved checkpoint: exactly the inference path
    scorer = load_scorer(out_dir)
    test_scores = {it.key: scorer.score(it.table) for it in split.test}
    test_metrics = evaluate_scores(task, split.test, test_scores, threshold=tc.threshold) if split.test else {}
    size = (out_dir / "model.pt").stat().st_size
    n_params = sum(p.numel() for p in outcome.result.net.parameters())
    record = {
        "arch": tc.arch, "train_config": tc.to_dict(), "net_config": outcome.result.net_config,
        "config_digest": extract_digest(config), "split": split.summary(), "best_epoch": outcome.result.best_epoch,
        "label_sources": sources,
    }  # fmt: skip
    with store.session_scope(engine) as s:
        mv = store.add_model_version(session=s, task=task, name=tc.arch, version=version, path=str(out_dir),
                                     config=_json_safe(record),
                                     metrics=_json_safe({"test": test_metrics, "val": outcome.val_metrics,
                                                         "held_out_items": len(split.test)}),
                                     activate=activate)
        mv_id = int(mv.id)
    if activate:
        copy_checkpoint(out_dir, default_model_path(task, settings))
    return TrainSummary(
        task=task, arch=tc.arch, version=version, path=str(out_dir), model_version_id=mv_id, activated=activate,
        split=split.summary(), best_epoch=outcome.result.best_epoch, epochs_run=len(outcome.result.history),
        val_metrics=outcome.val_metrics, test_metrics=test_metrics, train_seconds=outcome.result.seconds,
        n_parameters=n_params, checkpoint_bytes=size, label_sources=sources,
    )  # fmt: skip


def _json_safe(obj: Any) -> Any:
    """NaN / inf → None so the JSON column stays valid JSON."""
    import math

    if isinstance(obj, dict):
        return {str(k): _json_safe(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_json_safe(v) for v in obj]
    if isinstance(obj, float) and not math.isfinite(obj):
        return None
    if isinstance(obj, Path):
        return str(obj)
    return obj
