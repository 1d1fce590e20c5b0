"""Load trained scorers: from a checkpoint folder, or the active model version of a task.

A :class:`CheckpointScorer` implements :class:`~reviewer.models.scorer.SegmentScorer`:
it applies the checkpoint's saved transforms to a
:class:`~reviewer.aggregate.SegmentTable` and returns one probability per
segment for **every** one of the N segments:

* ``N <= max_seq_len``: one pass over the whole item;
* longer items, ``inputs["sequence"] == "windows"`` (default): overlapping
  windows of ``max_seq_len`` segments (stride ``max_seq_len - overlap``, the
  last window ends at N); each segment's probability is the average over the
  windows that contain it, weighted towards window centres where the net saw
  the most context;
* ``inputs["sequence"] == "selection"``: the seed-000 selection (deterministic)
  picks ``max_seq_len`` segments, the net scores them, and the others get the
  score interpolated between their nearest selected neighbours in time.

Loaded models are cached with :func:`functools.lru_cache`, keyed by the
resolved path and the checkpoint's modification time (a retrain written to the
same path is picked up).
"""

from __future__ import annotations

import functools
import logging
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from torch import nn

from reviewer.aggregate import SegmentTable
from reviewer.config import SelectionConfig
from reviewer.errors import ValidationError
from reviewer.models.checkpoint import (
    MODEL_FILE, LoadedModel, check_compatible, check_feature_names, load_checkpoint, model_inputs,
    resolve_checkpoint_dir,
)  # fmt: skip
from reviewer.models.scorer import TASKS, SegmentScorer
from reviewer.selection import select_segments
from reviewer.settings import Settings

log = logging.getLogger(__name__)


def window_starts(n: int, length: int, overlap: int) -> list[int]:
    """Start indices of windows of ``length`` covering ``n`` steps; the last one ends at ``n``."""
    if n <= length:
        return [0]
    stride = max(1, length - max(0, min(overlap, length - 1)))
    starts = list(range(0, n - length + 1, stride))
    if starts[-1] != n - length:
        starts.append(n - length)
    return starts


@torch.no_grad()
def score_sequence(net: nn.Module, x: np.ndarray, *, max_seq_len: int, overlap: int, head: int = 0) -> np.ndarray:
    """Per-step probabilities of one long sequence, in overlapping windows.

    Parameters
    ----------
    net : nn.Module
        Returns ``{"segment": (B, L, H) logits}``; put in eval mode by the caller.
    x : np.ndarray [shape=(N, D), float32]
    max_seq_len, overlap : int
        Window length and overlap in steps.
    head : int
        Which segment head.

    Returns
    -------
    np.ndarray [shape=(N,), float32]
        Sigmoid probabilities in [0, 1].
    """
    n = x.shape[0]
    if n == 0:
        return np.zeros(0, np.float32)
    length = min(n, max_seq_len)
    starts = window_starts(n, length, overlap)
    batch = torch.from_numpy(np.stack([x[s : s + length] for s in starts]).astype(np.float32))
    probs = torch.sigmoid(net(batch)["segment"][..., head]).numpy().astype(np.float64)  # (W, length)
    pos = np.arange(length)
    weight = 1.0 + np.minimum(pos, length - 1 - pos)  # centre of a window counts most
    total = np.zeros(n)
    wsum = np.zeros(n)
    for k, s in enumerate(starts):
        total[s : s + length] += weight * probs[k]
        wsum[s : s + length] += weight
    return (total / wsum).astype(np.float32)


@dataclass
class CheckpointScorer:
    """A :class:`~reviewer.models.scorer.SegmentScorer` backed by a checkpoint folder.

    Attributes
    ----------
    task : str
    model_version : str
    arch : str
    path : Path
    model : LoadedModel
    """

    task: str
    model_version: str
    arch: str
    path: Path
    model: LoadedModel

    @property
    def max_seq_len(self) -> int:
        return int(self.model.checkpoint.inputs.get("max_seq_len", self.model.net.config.max_seq_len))

    def features(self, table: SegmentTable) -> np.ndarray:
        """The net's input matrix (N, D) for ``table``; raises ValidationError when it does not fit."""
        ck = self.model.checkpoint
        check_compatible(table, ck)
        x, names = model_inputs(table, self.model.transforms, time_features=bool(ck.inputs.get("time_features")))
        check_feature_names(names, ck)
        return x

    def score(self, table: SegmentTable) -> np.ndarray:
        """Probabilities [shape=(N,), float32] in [0, 1], one per segment of ``table``."""
        if not isinstance(table, SegmentTable):
            raise ValidationError(f"score() needs a SegmentTable, got {type(table).__name__}")
        x = self.features(table)
        n = x.shape[0]
        if n == 0:
            return np.zeros(0, np.float32)
        inputs = self.model.checkpoint.inputs
        head = list(self.model.net.config.heads).index(self.task) if self.task in self.model.net.config.heads else 0
        overlap = int(inputs.get("overlap", self.max_seq_len // 4))
        if inputs.get("sequence", "windows") == "selection" and n > self.max_seq_len:
            sel_cfg = SelectionConfig(max_seq_len=self.max_seq_len, strategy=inputs.get("strategy", "boundary_importance"))
            idx = select_segments(table, sel_cfg).indices
            p = score_sequence(self.model.net, x[idx], max_seq_len=self.max_seq_len, overlap=0, head=head)
            centres = (table.segments.starts + table.segments.ends) / 2
            return np.interp(centres, centres[idx], p).astype(np.float32)
        return score_sequence(self.model.net, x, max_seq_len=self.max_seq_len, overlap=overlap, head=head)


@functools.lru_cache(maxsize=8)
def _load_cached(path: str, mtime_ns: int) -> CheckpointScorer:
    model = load_checkpoint(path)
    ck = model.checkpoint
    log.info("loaded %s model %s (%s) from %s", ck.task, ck.model_version, ck.arch, path)
    return CheckpointScorer(task=ck.task, model_version=ck.model_version, arch=ck.arch, path=Path(path), model=model)


def load_scorer(path: str | Path) -> SegmentScorer:
    """The scorer stored in a checkpoint folder (or its ``model.pt``), cached per path.

    Raises
    ------
    PackageError
        when there is no valid checkpoint at ``path``.
    """
    folder = resolve_checkpoint_dir(path).resolve()
    return _load_cached(str(folder), (folder / MODEL_FILE).stat().st_mtime_ns)


def default_model_path(task: str, settings: Settings) -> Path:
    """Where the default (last activated) model of ``task`` is published: ``models_dir/<task>/default``.

    Batch commands that run without a store load it with :func:`load_scorer`.
    """
    if task not in TASKS:
        raise ValidationError(f"unknown task {task!r}; expected one of {TASKS}")
    return settings.models_dir / task / "default"


def load_active_scorer(task: str, *, engine, settings: Settings) -> SegmentScorer | None:
    """The scorer of the active model version of ``task``, or None when no model is active.

    A registered version whose checkpoint folder is gone also gives None (with a
    warning), so detectors fall back to their non-learned evidence.
    """
    from reviewer import store

    if task not in TASKS:
        raise ValidationError(f"unknown task {task!r}; expected one of {TASKS}")
    with store.session_scope(engine) as s:
        mv = store.active_model_version(session=s, task=task)
        path = None if mv is None else mv.path
        ident = None if mv is None else f"{mv.name} {mv.version} (id {mv.id})"
    if mv is None:
        return None
    if not path:
        log.warning("active %s model %s has no checkpoint path", task, ident)
        return None
    p = Path(path)
    if not p.is_absolute():
        p = settings.models_dir / p
    if not (p / MODEL_FILE).is_file() and not p.is_file():
        log.warning("active %s model %s: checkpoint %s is missing; retrain with `reviewer train --task %s`",
                    task, ident, p, task)
        return None
    return load_scorer(p)
