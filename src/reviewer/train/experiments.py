"""Seed 000 §12 experiments (Exp 0–4), runnable from a TOML file or a dict.

Adapted honestly to what exists here: no CLAP / wav2vec weights are available
without local models, so their groups are *missing* (NaN + flags). An
experiment names the feature groups it wants; groups that are missing in every
training table are reported in ``missing_groups`` and the variant runs on the
rest (Exp 0 falls back to the ``mel64`` spectral summary as its "embedding").

==========  ==================================================================
name        variants
==========  ==================================================================
exp0        embedding groups only (clap; fallback mel64)
exp1        exp0 + engineered features (rms, f0/voiced_fraction, onsets)
exp2        exp1 + wav2vec (missing here → same inputs as exp1, reported)
exp3        segment_len {1, 3, 5} (hop = len / 2) × sequence {uniform selection,
            boundary+importance selection}
exp4        all DSP groups ± ASR words (opt-in ``asr`` extractor; run on a subset)
==========  ==================================================================

Every variant trains on the train split and reports metrics on held-out test
items only (:func:`reviewer.train.trainer.fit_and_evaluate`).
"""

from __future__ import annotations

import dataclasses
import logging
import time
import tomllib
from pathlib import Path
from typing import Any, Mapping, Sequence

import numpy as np

from reviewer.aggregate import SegmentTable
from reviewer.config import PipelineConfig, SegmentConfig
from reviewer.errors import ConfigError
from reviewer.settings import Settings
from reviewer.train.datasets import DataSplit, TrainingItem, segment_targets
from reviewer.train.trainer import TrainConfig, fit_and_evaluate

log = logging.getLogger(__name__)

ENGINEERED = ("rms", "f0", "onsets")
EXPERIMENTS: dict[str, dict[str, Any]] = {
    "exp0": {"variants": [{"name": "embeddings", "groups": ["clap"], "fallback": ["mel64"]}]},
    "exp1": {"variants": [{"name": "embeddings+engineered", "groups": ["clap", *ENGINEERED], "fallback": ["mel64"]}]},
    "exp2": {"variants": [{"name": "embeddings+engineered+wav2vec", "groups": ["clap", "wav2vec", *ENGINEERED],
                           "fallback": ["mel64"]}]},
    "exp3": {"variants": [
        {"name": f"len{seg:g}-{strategy}", "segment_len": seg, "sequence": "selection", "strategy": strategy}
        for seg in (1.0, 3.0, 5.0) for strategy in ("uniform", "boundary_importance")
    ]},
    "exp4": {"variants": [{"name": "dsp", "drop": ["asr_words"]}, {"name": "dsp+asr", "asr": True}],
             "subset": 8},
}  # fmt: skip


def restrict_groups(table: SegmentTable, groups: Sequence[str]) -> SegmentTable:
    """A copy of ``table`` with only ``groups`` (in table order); unknown groups are ignored."""
    keep = [g for g in table.groups if g in set(groups)]
    cols = [c for g in keep for c in table.groups[g]]
    idx = [table.columns.index(c) for c in cols]
    gidx = [table.group_names.index(g) for g in keep]
    return SegmentTable(segments=table.segments, columns=tuple(cols), values=table.values[:, idx],
                        groups={g: table.groups[g] for g in keep}, missing=table.missing[:, gidx],
                        missing_reasons={g: table.missing_reasons[g] for g in keep})


def _with_table(item: TrainingItem, table: SegmentTable) -> TrainingItem:
    return dataclasses.replace(item, table=table, targets=segment_targets(table.segments, item.intervals))


def _map_split(split: DataSplit, fn) -> DataSplit:
    return DataSplit(*(tuple(fn(it) for it in getattr(split, n)) for n in ("train", "val", "test")))


def _present(split: DataSplit, group: str) -> bool:
    return any(g == group and not it.table.missing_for(g).all() for it in split.train for g in it.table.groups)


def _retable(split: DataSplit, *, settings: Settings, config: PipelineConfig, paths: Mapping[str, str]) -> DataSplit:
    """Re-cut every item with ``config`` (frame features come from the cache)."""
    from reviewer.pipeline import extract_item, load_table

    split = DataSplit(*(tuple(it for it in getattr(split, n) if it.key in paths) for n in ("train", "val", "test")))

    def fn(it: TrainingItem) -> TrainingItem:
        res = extract_item(paths[it.key], key=it.key, config=config, settings=settings)
        return _with_table(it, load_table(Path(res.table_path)))

    return _map_split(split, fn)


def run_variant(task: str, split: DataSplit, variant: Mapping[str, Any], *, train_config: TrainConfig,
                settings: Settings, paths: Mapping[str, str], base: PipelineConfig) -> dict[str, Any]:
    """Train and evaluate one variant; returns its spec, notes and held-out metrics."""
    notes: list[str] = []
    cfg = base
    if "segment_len" in variant:
        seg = float(variant["segment_len"])
        cfg = dataclasses.replace(base, segments=SegmentConfig(segment_len=seg, hop=seg / 2))
        split = _retable(split, settings=settings, config=cfg, paths=paths)
    if variant.get("asr"):
        extractors = tuple(dict.fromkeys(base.features.extractors + ("asr",)))
        cfg = dataclasses.replace(base, features=dataclasses.replace(base.features, extractors=extractors))
        split = _retable(split, settings=settings, config=cfg, paths=paths)
    if "groups" in variant:
        wanted = list(variant["groups"])
        missing = [g for g in wanted if not _present(split, g)]
        use = [g for g in wanted if g not in missing]
        if not any(g in use for g in ("clap", "wav2vec", "whisper")) and variant.get("fallback"):
            use += list(variant["fallback"])
            notes.append(f"no embedding group available; using {variant['fallback']} instead")
        if missing:
            notes.append(f"missing (no local model): {missing}")
        split = _map_split(split, lambda it: _with_table(it, restrict_groups(it.table, use)))
    if "drop" in variant:
        split = _map_split(split, lambda it: _with_table(
            it, restrict_groups(it.table, [g for g in it.table.groups if g not in variant["drop"]])))
    tc = dataclasses.replace(train_config, **{k: variant[k] for k in ("sequence", "strategy") if k in variant})
    t0 = time.perf_counter()
    out = fit_and_evaluate(task, split, config=tc, transform_config=cfg.transforms)
    return {"name": variant["name"], "task": task, "notes": notes, "n_features": len(out.feature_names),
            "segment_len": cfg.segments.segment_len, "sequence": tc.sequence, "strategy": tc.strategy,
            "best_epoch": out.result.best_epoch, "seconds": round(time.perf_counter() - t0, 1),
            "test": out.test_metrics, "val": out.val_metrics}


def load_experiment_config(source: str | Path | Mapping[str, Any] | None) -> dict[str, dict[str, Any]]:
    """Experiments from a TOML file (``[exp0] variants = [...]``) or a dict; None gives :data:`EXPERIMENTS`."""
    if source is None:
        return {k: dict(v) for k, v in EXPERIMENTS.items()}
    if isinstance(source, Mapping):
        data = dict(source)
    else:
        p = Path(source)
        if not p.is_file():
            raise ConfigError(f"experiment config {str(p)!r} does not exist")
        data = tomllib.loads(p.read_text(encoding="utf-8"))
    for name, spec in data.items():
        if not isinstance(spec, Mapping) or not isinstance(spec.get("variants"), list):
            raise ConfigError(f"experiment {name!r} needs a 'variants' list")
        unknown = set(spec) - {"variants", "subset", "tasks"}
        if unknown:
            raise ConfigError(f"experiment {name!r}: unknown key(s) {sorted(unknown)}")
    return data


def run_experiment(name: str, *, engine, settings: Settings, tasks: Sequence[str] = ("intro", "chorus"),
                   experiments: Mapping[str, Mapping[str, Any]] | None = None,
                   train_config: TrainConfig | None = None, extra_sources: Sequence[Settings] = (),
                   seed: int = 0) -> list[dict[str, Any]]:
    """Run every variant of experiment ``name`` for each task; a list of result rows."""
    from reviewer import store
    from reviewer.services.training import load_split

    specs = load_experiment_config(experiments) if not isinstance(experiments, dict) else experiments
    if name not in specs:
        raise ConfigError(f"unknown experiment {name!r}; known: {sorted(specs)}")
    spec = specs[name]
    base = PipelineConfig()
    tc = train_config or TrainConfig()
    rows = []
    for task in spec.get("tasks", tasks):
        split = load_split(task, engine=engine, settings=settings, config=base, extra_sources=extra_sources, seed=seed)
        if spec.get("subset"):  # slow extractors: a deterministic subset, test items kept whole
            rng = np.random.default_rng(seed)
            k = int(spec["subset"])
            pick = lambda items: tuple(items[i] for i in sorted(rng.permutation(len(items))[:k]))  # noqa: E731
            split = DataSplit(pick(split.train), pick(split.val) if split.val else (), split.test)
        paths = _item_paths(engine, [it.key for n in ("train", "val", "test") for it in getattr(split, n)])
        for variant in spec["variants"]:
            log.info("%s %s %s ...", name, task, variant["name"])
            row = run_variant(task, split, variant, train_config=tc, settings=settings, paths=paths, base=base)
            row["experiment"] = name
            rows.append(row)
    return rows


def _item_paths(engine, keys: Sequence[str]) -> dict[str, str]:
    from reviewer import store

    with store.session_scope(engine) as s:
        return {k: it.path for k, it in store.items_by_key(session=s, keys=keys).items()}
