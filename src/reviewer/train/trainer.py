"""Training loop: AdamW, class-balanced BCE, early stopping, deterministic seeds, CPU sized.

:func:`train_net` fits a segment net on training :class:`~reviewer.train.datasets.Example`
sequences and keeps the weights of the epoch with the best validation score
(``monitor``: segment F1, ties broken by the lower validation loss, or the
validation loss alone). Each epoch draws ``crops_per_item`` sequences per
training item (random windows, or the seed-000 selection with stochastic
replacement). The positive class is weighted by ``n_negative / n_positive``
of the training segments.

Randomness is passed in: ``config.seed`` seeds a ``numpy`` generator for the
sampling and the torch RNG inside :func:`torch.random.fork_rng`, so the
global torch state is left as it was and two runs with the same seed give the
same net.
"""

from __future__ import annotations

import copy
import logging
import math
import time
from dataclasses import dataclass, field
from typing import Any, Mapping, Sequence

import numpy as np
import torch
from torch import nn

from reviewer.config import from_dict, to_dict
from reviewer.errors import ConfigError, ValidationError
from reviewer.models.checkpoint import build_net
from reviewer.models.registry import score_sequence
from reviewer.train.datasets import Example, collate, sample_indices

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class TrainConfig:
    """How to train one segment net.

    Attributes
    ----------
    arch : str
        ``"transformer"`` or ``"crnn"``.
    net : Mapping
        Overrides of the net config (``d_model``, ``n_layers``, ...); ``input_dim``,
        ``max_seq_len`` and ``heads`` are set by the trainer.
    epochs, batch_size, patience, min_epochs, crops_per_item : int
    lr, weight_decay, grad_clip : float
    max_seq_len, overlap : int
        Sequence length and the overlap of evaluation windows.
    sequence : str
        ``"windows"`` (contiguous crops) or ``"selection"`` (seed-000 selection).
    strategy : str
        Selection strategy when ``sequence == "selection"``.
    time_features : bool
        Append the segment start time (absolute and relative) to the inputs.
    monitor : str
        ``"val_f1"`` or ``"val_loss"``.
    threshold : float
        Probability threshold for F1.
    seed : int
    max_seconds : float
        Stop after this much CPU time of the process (the best epoch so far is kept); CPU rather than
        wall time so that a busy machine does not change the result.
    """

    arch: str = "transformer"
    net: Mapping[str, Any] = field(default_factory=dict)
    epochs: int = 40
    batch_size: int = 8
    lr: float = 2e-3
    weight_decay: float = 1e-2
    grad_clip: float = 1.0
    patience: int = 8
    min_epochs: int = 5
    crops_per_item: int = 4
    max_seq_len: int = 128
    overlap: int = 32
    sequence: str = "windows"
    strategy: str = "boundary_importance"
    time_features: bool = True
    monitor: str = "val_f1"
    threshold: float = 0.5
    seed: int = 0
    max_seconds: float = 100.0

    def __post_init__(self) -> None:
        if self.arch not in ("transformer", "crnn"):
            raise ConfigError(f"train: arch must be 'transformer' or 'crnn', got {self.arch!r}")
        if self.sequence not in ("windows", "selection"):
            raise ConfigError(f"train: sequence must be 'windows' or 'selection', got {self.sequence!r}")
        if self.monitor not in ("val_f1", "val_loss"):
            raise ConfigError(f"train: monitor must be 'val_f1' or 'val_loss', got {self.monitor!r}")
        if min(self.epochs, self.batch_size, self.crops_per_item, self.max_seq_len) < 1:
            raise ConfigError("train: epochs, batch_size, crops_per_item and max_seq_len must be >= 1")

    def to_dict(self) -> dict[str, Any]:
        return to_dict(self)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> "TrainConfig":
        return from_dict(cls, data)


@dataclass
class TrainResult:
    """The trained net (best epoch, eval mode) and how training went."""

    net: nn.Module
    net_config: dict[str, Any]
    history: list[dict[str, float]]
    best_epoch: int
    best: dict[str, float]
    pos_weight: float
    seconds: float


def net_config_for(config: TrainConfig, *, input_dim: int, head: str) -> dict[str, Any]:
    """The full net config dict: the arch defaults, ``config.net`` overrides, and the data-given fields."""
    fixed = {"input_dim": int(input_dim), "max_seq_len": int(config.max_seq_len), "heads": [head]}
    clash = sorted(set(config.net) & set(fixed))
    if clash:
        raise ConfigError(f"train: net options {clash} are set by the trainer; remove them from the net config")
    return {**dict(config.net), **fixed}


def bce_loss(logits: torch.Tensor, y: torch.Tensor, mask: torch.Tensor, *, pos_weight: float) -> torch.Tensor:
    """Masked, class-balanced binary cross-entropy (mean over real segments)."""
    per = nn.functional.binary_cross_entropy_with_logits(
        logits, y, pos_weight=torch.tensor(pos_weight, dtype=logits.dtype), reduction="none"
    )
    m = mask.to(per.dtype)
    return (per * m).sum() / m.sum().clamp_min(1.0)


@torch.no_grad()
def predict_examples(net: nn.Module, examples: Sequence[Example], *, config: TrainConfig) -> list[np.ndarray]:
    """Probabilities (N,) for every segment of each example, scored in windows as the registry does."""
    net.eval()
    return [score_sequence(net, ex.x, max_seq_len=config.max_seq_len, overlap=config.overlap) for ex in examples]


def validation_scores(net: nn.Module, examples: Sequence[Example], *, config: TrainConfig,
                      pos_weight: float) -> dict[str, float]:
    """``val_loss`` (class-balanced BCE over all segments) and ``val_f1`` at ``config.threshold``."""
    from sklearn.metrics import f1_score

    probs = predict_examples(net, examples, config=config)
    p = np.clip(np.concatenate(probs), 1e-6, 1 - 1e-6)
    y = np.concatenate([ex.y for ex in examples])
    loss = -np.mean(pos_weight * y * np.log(p) + (1 - y) * np.log(1 - p))
    f1 = f1_score(y.astype(int), (p >= config.threshold).astype(int), zero_division=0)
    return {"val_loss": float(loss), "val_f1": float(f1)}


def _better(cur: dict[str, float], best: dict[str, float] | None, monitor: str) -> bool:
    if best is None:
        return True
    if monitor == "val_loss":
        return cur["val_loss"] < best["val_loss"] - 1e-6
    if cur["val_f1"] != best["val_f1"]:
        return cur["val_f1"] > best["val_f1"] + 1e-9
    return cur["val_loss"] < best["val_loss"] - 1e-6


def progress_line(epoch: int, epochs: int, row: Mapping[str, float], best: Mapping[str, float] | None,
                  best_epoch: int) -> str:
    """``epoch k/n: train_loss … val_f1 … val_loss … | best val_f1 … (epoch j)`` — one line per epoch.

    :func:`reviewer.services.jobs.parse_progress` reads ``k/n`` from it (the
    progress bar of a background training job) and the best validation score.
    """
    parts = [f"epoch {epoch}/{epochs}:", f"train_loss {row['train_loss']:.4f}"]
    for k in ("val_f1", "val_loss"):
        if k in row:
            parts.append(f"{k} {row[k]:.4f}")
    if best is not None and "val_f1" in best:
        parts.append(f"| best val_f1 {best['val_f1']:.4f} (epoch {best_epoch})")
    return " ".join(parts)


def train_net(train: Sequence[Example], val: Sequence[Example], *, config: TrainConfig, head: str) -> TrainResult:
    """Train a fresh net of ``config.arch`` on ``train``; early-stop on ``val``.

    Parameters
    ----------
    train, val : sequence of Example
        Inputs ``x`` (N, D) and targets ``y`` (N,). With no validation items the
        last epoch is kept (and a warning logged).
    config : TrainConfig
    head : str
        The segment head name (the task).

    Returns
    -------
    TrainResult
    """
    if not train:
        raise ValidationError("no training items: label some items (or import truth) first")
    widths = {ex.x.shape[1] for ex in list(train) + list(val)}
    if len(widths) != 1:
        raise ValidationError(f"examples have different feature widths {sorted(widths)}")
    n_pos = float(sum(ex.y.sum() for ex in train))
    n_all = float(sum(ex.y.size for ex in train))
    if n_pos == 0:
        raise ValidationError(f"no positive {head} segment in the training items: nothing to learn")
    pos_weight = (n_all - n_pos) / n_pos
    net_cfg = net_config_for(config, input_dim=widths.pop(), head=head)
    rng = np.random.default_rng(config.seed)
    t0, c0 = time.perf_counter(), time.process_time()
    history: list[dict[str, float]] = []
    best: dict[str, float] | None = None
    best_state, best_epoch, stale = None, 0, 0
    if not val:
        log.warning("no validation items: keeping the last epoch (no early stopping)")
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(config.seed)
        net = build_net(config.arch, net_cfg)
        opt = torch.optim.AdamW(net.parameters(), lr=config.lr, weight_decay=config.weight_decay)
        sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=config.epochs, eta_min=config.lr * 0.05)
        for epoch in range(1, config.epochs + 1):
            net.train()
            order = [i for i in rng.permutation(len(train)) for _ in range(config.crops_per_item)]
            order = [order[i] for i in rng.permutation(len(order))]
            total, batches = 0.0, 0
            for b in range(0, len(order), config.batch_size):
                exs = [train[i] for i in order[b : b + config.batch_size]]
                idx = [sample_indices(ex, max_seq_len=config.max_seq_len, rng=rng, sequence=config.sequence,
                                      strategy=config.strategy) for ex in exs]
                x, y, mask = collate(exs, idx)
                loss = bce_loss(net(x, mask)["segment"][..., 0], y, mask, pos_weight=pos_weight)
                opt.zero_grad()
                loss.backward()
                nn.utils.clip_grad_norm_(net.parameters(), config.grad_clip)
                opt.step()
                total, batches = total + float(loss.detach()), batches + 1
            sched.step()
            row = {"epoch": float(epoch), "train_loss": total / max(batches, 1)}
            if val:
                row.update(validation_scores(net, val, config=config, pos_weight=pos_weight))
            history.append(row)
            if not val or _better(row, best, config.monitor):
                best, best_epoch, stale = dict(row), epoch, 0
                best_state = copy.deepcopy(net.state_dict())
            else:
                stale += 1
            log.info("%s", progress_line(epoch, config.epochs, row, best, best_epoch))
            if epoch >= config.min_epochs and stale >= config.patience:
                log.info("early stop at epoch %d (best %d)", epoch, best_epoch)
                break
            if time.process_time() - c0 > config.max_seconds:
                log.warning("training stopped by the %.0f s CPU budget at epoch %d", config.max_seconds, epoch)
                break
    net.load_state_dict(best_state)
    net.eval()
    seconds = time.perf_counter() - t0
    best = {k: (float(v) if isinstance(v, (int, float)) and math.isfinite(v) else v) for k, v in (best or {}).items()}
    return TrainResult(net=net, net_config=net_cfg, history=history, best_epoch=best_epoch, best=best,
                       pos_weight=pos_weight, seconds=seconds)


@dataclass
class FitOutcome:
    """A trained net with its transforms, and its validation and held-out test metrics."""

    result: TrainResult
    transforms: Any
    feature_names: tuple[str, ...]
    inputs: dict[str, Any]
    val_metrics: dict[str, float]
    test_metrics: dict[str, float]
    test_scores: dict[str, np.ndarray]


def fit_and_evaluate(task: str, split, *, config: TrainConfig, transform_config=None) -> FitOutcome:
    """Fit transforms on the train items, train a net, score val and held-out test items like inference does.

    Parameters
    ----------
    task : str
    split : reviewer.train.datasets.DataSplit
        Test items are only scored, never trained on (nor used to fit the transforms).
    config : TrainConfig
    transform_config : reviewer.config.TransformConfig, optional
    """
    from reviewer.config import TransformConfig
    from reviewer.models.checkpoint import Checkpoint, LoadedModel, model_inputs
    from reviewer.models.registry import CheckpointScorer
    from reviewer.train.datasets import make_examples
    from reviewer.train.evaluate import evaluate_scores
    from reviewer.transforms import fit_transforms

    if not split.train:
        raise ValidationError(f"no {task} training items")
    transforms = fit_transforms([it.table for it in split.train], transform_config or TransformConfig())
    train = make_examples(split.train, transforms, time_features=config.time_features)
    val = make_examples(split.val, transforms, time_features=config.time_features)
    result = train_net(train, val, config=config, head=task)
    _, names = model_inputs(split.train[0].table, transforms, time_features=config.time_features)
    seg = split.train[0].table.segments
    inputs = {"segment_len": float(seg.segment_len), "hop": float(seg.hop), "max_seq_len": config.max_seq_len,
              "overlap": config.overlap, "sequence": config.sequence, "strategy": config.strategy,
              "time_features": config.time_features, "threshold": config.threshold}
    ckpt = Checkpoint(arch=config.arch, task=task, net_config=result.net_config, feature_names=tuple(names),
                      transform_digest="", config_digest="", inputs=inputs, model_version="in-memory")
    scorer = CheckpointScorer(task=task, model_version="in-memory", arch=config.arch, path=None,
                              model=LoadedModel(checkpoint=ckpt, net=result.net, transforms=transforms, path=None))
    val_scores = {it.key: scorer.score(it.table) for it in split.val}
    test_scores = {it.key: scorer.score(it.table) for it in split.test}
    val_metrics = evaluate_scores(task, split.val, val_scores, threshold=config.threshold) if split.val else {}
    test_metrics = evaluate_scores(task, split.test, test_scores, threshold=config.threshold) if split.test else {}
    return FitOutcome(result=result, transforms=transforms, feature_names=tuple(names), inputs=inputs,
                      val_metrics=val_metrics, test_metrics=test_metrics, test_scores=test_scores)
