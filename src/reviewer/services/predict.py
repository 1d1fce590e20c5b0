"""Run the detectors over items in the store and save their predictions.

Every prediction row is stamped with a model-version row that names the
detector, its configuration digest and the learned parts it used (the active
intro scorer, the hook ranker), so the pages can compare versions and the
debugger can trace a prediction to what made it.
"""

from __future__ import annotations

import dataclasses
import logging
import time
from collections import defaultdict
from pathlib import Path
from typing import Any, Callable

from reviewer import store
from reviewer.config import PipelineConfig, digest
from reviewer.errors import NotFoundError, PackageError, ReviewerError
from reviewer.settings import Settings

log = logging.getLogger(__name__)

RANKER_FILE = "hook_ranker.joblib"


def _model_version(*, engine, task: str, name: str, version: str, config: dict, metrics: dict | None = None,
                   path: str | None = None) -> int:
    """Id of the (task, name, version) model-version row, created (and activated) when new."""
    with store.session_scope(engine) as s:
        for mv in store.list_model_versions(session=s, task=task):
            if mv.name == name and mv.version == version:
                return mv.id
        mv = store.add_model_version(session=s, task=task, name=name, version=version, path=path, config=config,
                                     metrics=metrics, activate=True)
        return mv.id


def _table_or_none(key: str, *, config: PipelineConfig, settings: Settings):
    from reviewer.pipeline import load_table, table_path

    try:
        return load_table(table_path(settings, key, config))
    except PackageError:
        return None


def _already(engine, item_id: int, task: str, mv_id: int) -> bool:
    with store.session_scope(engine) as s:
        return bool(store.predictions_for(session=s, item_id=item_id, task=task, model_version_id=mv_id))


def predict_intros(*, engine, settings: Settings, config: PipelineConfig | None = None, force: bool = False,
                   progress: Callable[[str], None] | None = None, intro_config=None) -> dict[str, Any]:
    """Intro detection per series over every episode in the store; one prediction row per episode.

    ``intro_config`` (an :class:`~reviewer.detect.intro.IntroConfig`, default the shipped one) is part of the
    model version: another search window or length range makes its own version and predicts again.
    """
    from reviewer.detect.intro import Episode, IntroConfig, detect_intros
    from reviewer.models.registry import load_active_scorer

    config = config or PipelineConfig()
    icfg = intro_config if intro_config is not None else IntroConfig()
    scorer = load_active_scorer("intro", engine=engine, settings=settings)
    scorer_version = getattr(scorer, "model_version", "none") if scorer is not None else "none"
    version = f"{digest(icfg, length=8)}+{scorer_version}"
    mv_id = _model_version(engine=engine, task="intro", name="intro-detector", version=version,
                           config={"detector": dataclasses.asdict(icfg), "scorer": scorer_version})
    series: dict[str, list] = defaultdict(list)
    with store.session_scope(engine) as s:
        for item in store.iter_items(session=s, kind="episode"):
            if item.status == "failed":
                continue
            series[item.series or item.key].append((item.id, item.key, item.path))
    done = skipped = failed = 0
    t0 = time.perf_counter()
    for name, eps in sorted(series.items()):
        todo = [e for e in eps if force or not _already(engine, e[0], "intro", mv_id)]
        if not todo:
            skipped += len(eps)
            continue
        episodes = [Episode(key=k, series=name, path=p,
                            table=_table_or_none(k, config=config, settings=settings) if scorer is not None else None)
                    for _i, k, p in eps]
        errors: dict[str, str] = {}
        try:
            preds = detect_intros(episodes, config=icfg, scorer=scorer, errors=errors)
        except ReviewerError as exc:
            log.warning("intro detection failed for series %s: %s", name, exc)
            failed += len(todo)
            continue
        ids = {k: i for i, k, _p in eps}
        wanted = {k for _i, k, _p in todo}
        failed += len(wanted & errors.keys())  # left out of the series, its siblings still matched
        with store.session_scope(engine) as s:
            for p in preds:
                if p.key not in wanted:
                    continue
                store.add_prediction(session=s, item_id=ids[p.key], model_version_id=mv_id, task="intro",
                                     start=p.start, end=p.end, confidence=float(p.confidence), payload=p.to_payload())
                done += 1
        if progress:
            progress(f"{name}: {len(todo)} episode(s)")
    return {"task": "intro", "model_version_id": mv_id, "version": version, "predicted": done, "skipped": skipped,
            "failed": failed, "seconds": time.perf_counter() - t0}


#: shipped default: trained by ``bench/detect_hooks.py --train-seeds 0 3 5`` on 85 generated songs
#: (seed 7, the benchmark's held-out set, never used); see its JSON sidecar for held-out-artist metrics
DEFAULT_RANKER = Path(__file__).resolve().parents[1] / "detect" / "default_models" / RANKER_FILE


def hook_ranker_path(settings: Settings) -> Path:
    """Where ``train-hook-ranker`` writes the ranker trained on this library's labels."""
    return settings.models_dir / "hook" / RANKER_FILE


def active_hook_ranker_path(settings: Settings) -> Path | None:
    """The ranker predictions use: this library's trained one, else the shipped default, else None."""
    for p in (hook_ranker_path(settings), DEFAULT_RANKER):
        if p.is_file():
            return p
    return None


def train_hook_ranker(*, engine, settings: Settings, kind: str = "gbm") -> dict[str, Any]:
    """Train the chorus-candidate ranker on train-split songs with chorus labels (truth, human, crowd).

    Held-out metrics come from artists left out inside the train split (see
    :func:`reviewer.detect.ranker.train_ranker`); test-split songs are never used.
    """
    import numpy as np

    from reviewer.detect.hooks import HookConfig, analyse_song, load_song
    from reviewer.detect.ranker import label_candidate, train_ranker

    X, y, songs, artists = [], [], [], []
    with store.session_scope(engine) as s:
        items = [(i.id, i.key, i.path, i.artist or i.key) for i in store.iter_items(session=s, kind="song", split="train")]
        chorus = {i: [(lab.start, lab.end) for lab in store.current_labels(session=s, item_id=i, kind="chorus")]
                  for i, *_ in items}
    for item_id, key, path, artist in items:
        if not chorus[item_id]:
            continue
        try:
            sa = analyse_song(load_song(path, key=key), config=HookConfig())
        except ReviewerError as exc:
            log.warning("skipping %s: %s", key, exc)
            continue
        for c, f in zip(sa.candidates, sa.features):
            X.append(f)
            y.append(label_candidate(c.occurrences, chorus[item_id]))
            songs.append(key)
            artists.append(artist)
    if len(set(artists)) < 2:
        raise ReviewerError("training the hook ranker needs chorus labels on songs of at least two artists in the train split")
    out = hook_ranker_path(settings)
    out.parent.mkdir(parents=True, exist_ok=True)
    r = train_ranker(np.vstack(X), np.asarray(y), songs=songs, artists=artists, out_path=out, kind=kind)
    metrics = {k: float(v) for k, v in (r.meta.get("metrics") or {}).items() if isinstance(v, (int, float))}
    mv_id = _model_version(engine=engine, task="hook", name="hook-ranker", version=r.model_version,
                           config={"kind": kind, "n_candidates": len(X), "n_songs": len(set(songs))},
                           metrics=metrics, path=str(out))
    return {"model_version": r.model_version, "model_version_id": mv_id, "n_candidates": len(X),
            "n_songs": len(set(songs)), "metrics": metrics, "path": str(out)}


def predict_hooks(*, engine, settings: Settings, force: bool = False,
                  progress: Callable[[str], None] | None = None) -> dict[str, Any]:
    """Chorus occurrences + hook snippet for every song in the store; one prediction row per song."""
    from reviewer.detect.hooks import HookConfig, detect_hooks
    from reviewer.detect.ranker import load_ranker

    hcfg = HookConfig()
    rpath = active_hook_ranker_path(settings)
    ranker = load_ranker(rpath) if rpath is not None else None
    rversion = ranker.model_version if ranker is not None else "heuristic"
    version = f"{digest(hcfg, length=8)}+{rversion}"
    mv_id = _model_version(engine=engine, task="hook", name="hook-detector", version=version,
                           config={"detector": dataclasses.asdict(hcfg), "ranker": rversion})
    with store.session_scope(engine) as s:
        songs = [(i.id, i.key, i.path) for i in store.iter_items(session=s, kind="song") if i.status != "failed"]
    done = skipped = failed = 0
    t0 = time.perf_counter()
    for item_id, key, path in songs:
        if not force and _already(engine, item_id, "hook", mv_id):
            skipped += 1
            continue
        try:
            p = detect_hooks(path, config=hcfg, ranker=ranker)
        except ReviewerError as exc:
            log.warning("hook detection failed for %s: %s", key, exc)
            failed += 1
            continue
        with store.session_scope(engine) as s:
            try:
                store.add_prediction(session=s, item_id=item_id, model_version_id=mv_id, task="hook",
                                     start=p.snippet[0], end=p.snippet[1], confidence=float(p.confidence),
                                     payload=p.to_payload())
            except (ReviewerError, NotFoundError) as exc:
                log.warning("could not store the hook prediction of %s: %s", key, exc)
                failed += 1
                continue
        done += 1
        if progress:
            progress(key)
    return {"task": "hook", "model_version_id": mv_id, "version": version, "predicted": done, "skipped": skipped,
            "failed": failed, "seconds": time.perf_counter() - t0}
