"""Track-level regression of ``log(views + 1)`` (seed 000 §9–§10), only when items carry the metadata.

Items qualify when ``extra["views"]`` (a count >= 0) and ``extra["upload_date"]``
(ISO date) are present; nothing is invented for items without them (the demo
library has none, so this path is exercised by a unit test on synthetic
metadata). The split is **time based**: the earliest uploads train, later ones
validate, the latest are the test set. The net is the AudioTransformer with
its track head only, reading the seed-000 selection of ≤ ``max_seq_len``
segments; metrics are MAE / RMSE / Spearman from
:func:`reviewer.metrics.ranking.evaluate_regression`.
"""

from __future__ import annotations

import copy
import datetime as dt
import logging
from typing import Any, Sequence

import numpy as np
import torch
from torch import nn

from reviewer.config import SelectionConfig, TransformConfig
from reviewer.errors import ValidationError
from reviewer.metrics.ranking import evaluate_regression
from reviewer.models.audio_transformer import AudioTransformer, AudioTransformerConfig
from reviewer.models.checkpoint import model_inputs
from reviewer.selection import select_segments
from reviewer.train.datasets import TrainingItem
from reviewer.transforms import fit_transforms

log = logging.getLogger(__name__)


def has_views(item: TrainingItem) -> bool:
    """True when the item has ``views`` and a parseable ``upload_date``."""
    ex = item.extra or {}
    if ex.get("views") is None or not ex.get("upload_date"):
        return False
    try:
        dt.date.fromisoformat(str(ex["upload_date"])[:10])
        return float(ex["views"]) >= 0
    except (TypeError, ValueError):
        return False


def time_split(items: Sequence[TrainingItem], *, val_fraction: float = 0.15, test_fraction: float = 0.2
               ) -> tuple[list[TrainingItem], list[TrainingItem], list[TrainingItem]]:
    """Earliest uploads → train, then validation, latest → test."""
    ordered = sorted((it for it in items if has_views(it)), key=lambda it: (str(it.extra["upload_date"])[:10], it.key))
    n = len(ordered)
    if n < 5:
        raise ValidationError(f"need at least 5 items with views and upload_date for a time split, got {n}")
    n_test = max(1, int(round(test_fraction * n)))
    n_val = max(1, int(round(val_fraction * n)))
    return ordered[: n - n_test - n_val], ordered[n - n_test - n_val : n - n_test], ordered[n - n_test :]


def _batch(xs: Sequence[np.ndarray], max_len: int) -> tuple[torch.Tensor, torch.Tensor]:
    d = xs[0].shape[1]
    x = np.zeros((len(xs), max_len, d), np.float32)
    mask = np.zeros((len(xs), max_len), bool)
    for i, a in enumerate(xs):
        x[i, : len(a)], mask[i, : len(a)] = a, True
    return torch.from_numpy(x), torch.from_numpy(mask)


def train_views_regression(items: Sequence[TrainingItem], *, epochs: int = 60, seed: int = 0, max_seq_len: int = 128,
                           net: dict[str, Any] | None = None, patience: int = 10) -> dict[str, Any] | None:
    """Fit the regression on the time split; None when fewer than 5 items carry the metadata.

    Returns
    -------
    dict or None
        ``{"n_train", "n_val", "n_test", "test": {mae, rmse, spearman}, "baseline_test": {...}, "best_epoch"}``;
        the baseline predicts the mean train target.
    """
    if sum(has_views(it) for it in items) < 5:
        log.info("views regression skipped: fewer than 5 items with extra['views'] and extra['upload_date']")
        return None
    train, val, test = time_split(items)
    transforms = fit_transforms([it.table for it in train], TransformConfig())
    sel = SelectionConfig(max_seq_len=max_seq_len, k_start=min(16, max_seq_len // 4), k_end=min(16, max_seq_len // 4))

    def inputs(it: TrainingItem) -> np.ndarray:
        x, _ = model_inputs(it.table, transforms, time_features=False)
        return x[select_segments(it.table, sel).indices]

    def target(group: Sequence[TrainingItem]) -> np.ndarray:
        return np.log1p(np.array([float(it.extra["views"]) for it in group], dtype=np.float32))

    xs = {k: [inputs(it) for it in g] for k, g in (("train", train), ("val", val), ("test", test))}
    ys = {"train": target(train), "val": target(val), "test": target(test)}
    mu, sd = float(ys["train"].mean()), float(ys["train"].std() or 1.0)
    cfg = AudioTransformerConfig(input_dim=xs["train"][0].shape[1], max_seq_len=max_seq_len, heads=(),
                                 track_regression=True, **(net or {}))
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        model = AudioTransformer(cfg)
        opt = torch.optim.AdamW(model.parameters(), lr=2e-3, weight_decay=1e-2)
        xb, mb = _batch(xs["train"], max_seq_len)
        yb = torch.from_numpy((ys["train"] - mu) / sd)
        xv, mv = _batch(xs["val"], max_seq_len)
        best, best_state, best_epoch, stale = float("inf"), None, 0, 0
        for epoch in range(1, epochs + 1):
            model.train()
            loss = nn.functional.mse_loss(model(xb, mb)["track"], yb)
            opt.zero_grad()
            loss.backward()
            opt.step()
            model.eval()
            with torch.no_grad():
                v = float(nn.functional.mse_loss(model(xv, mv)["track"] * sd + mu, torch.from_numpy(ys["val"])))
            if v < best - 1e-6:
                best, best_state, best_epoch, stale = v, copy.deepcopy(model.state_dict()), epoch, 0
            else:
                stale += 1
                if stale >= patience:
                    break
        model.load_state_dict(best_state)
        model.eval()
        with torch.no_grad():
            xt, mt = _batch(xs["test"], max_seq_len)
            pred = (model(xt, mt)["track"] * sd + mu).numpy()
    return {
        "n_train": len(train), "n_val": len(val), "n_test": len(test), "best_epoch": best_epoch,
        "test": evaluate_regression(ys["test"], pred),
        "baseline_test": evaluate_regression(ys["test"], np.full_like(ys["test"], mu)),
    }  # fmt: skip
