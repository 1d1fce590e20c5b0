"""The measured improvement from human labels on a held-out set (issue 5, "retraining loop").

:func:`measure_label_gain` trains two models of one task with the same
config and seed and evaluates both on the same held-out items:

* **A** — the labels available *without* people: the demo truth of the
  training groups that nobody labelled;
* **B** — the same plus the human labels (Review-page corrections, reviewers'
  settlements of crowd disagreements, imports, crowd consensus) of *further*
  items: the series / artists people labelled. Their truth labels are never
  used, neither by A nor by B, so B's extra items carry human labels only.

The split is fixed before anything trains:

* **held out** — the store's ``test`` items (whole series / artists), scored
  against their reference labels (:func:`reviewer.train.datasets.resolve_item_labels`);
  they never train, validate or fit the transforms;
* **human groups** — non-test series / artists with at least one human label of the task;
* **validation** — whole groups taken from A's pool (never from the human
  groups) among those with a positive segment, the same for A and B;
* **A's training items** — the rest of A's pool.

For the demo there are no real people: :func:`simulate_human_labels` writes
labels of simulated ones into a fraction of the non-test groups — crowd answers
of simulated annotators (:mod:`reviewer.services.crowd_sim`) aggregated by the
real crowd-kit consensus for ``interest``, and simulated Review-page
corrections (the truth with boundary noise, author ``sim-reviewer``) for
``intro`` / ``chorus``. The report says ``"simulated": true`` and every page
showing it says so. Because it writes rows, the CLI runs it on a scratch copy
of the database unless told otherwise (:func:`scratch_copy`).

Reports are JSON files under ``<data_dir>/label_gain/`` (:func:`list_reports`).
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
import logging
import os
import secrets
import sqlite3
from pathlib import Path
from typing import Any, Sequence

import numpy as np

from reviewer import store
from reviewer.config import PipelineConfig
from reviewer.errors import NotFoundError, ValidationError
from reviewer.settings import Settings
from reviewer.train.datasets import (
    TASK_ITEM_KIND,
    TASK_LABEL_KINDS,
    DataSplit,
    TrainingItem,
    count_sources,
    item_group,
    load_training_items,
    split_items,
)
from reviewer.train.trainer import TrainConfig, fit_and_evaluate

__all__ = ["HUMAN_SOURCES", "SHOWN_METRICS", "SIM_REVIEWER", "command", "list_reports", "measure_label_gain",
           "report_dir", "report_rows", "scratch_copy", "simulate_human_labels", "start_measurement"]

log = logging.getLogger(__name__)

#: Label sources that count as human labels (everything but the demo truth).
HUMAN_SOURCES: tuple[str, ...] = ("human", "crowd_resolved", "import", "crowd")
#: Author of simulated Review-page corrections.
SIM_REVIEWER = "sim-reviewer"
#: Held-out metrics the report compares (others stay in the JSON).
SHOWN_METRICS: dict[str, tuple[str, ...]] = {
    "intro": ("f1", "precision", "recall", "region_iou", "intro_within_3s"),
    "chorus": ("f1", "precision", "recall", "region_iou", "chorus_occurrence_f"),
    "interest": ("f1", "precision", "recall", "region_iou"),
}


def report_dir(settings: Settings) -> Path:
    """``<data_dir>/label_gain``: where reports (and scratch databases) go."""
    return settings.data_dir / "label_gain"


def _stamp() -> str:
    return f"{dt.datetime.now(dt.timezone.utc):%Y%m%dT%H%M%S}-{secrets.token_hex(3)}"


def scratch_copy(settings: Settings, *, name: str | None = None) -> Settings:
    """A copy of a SQLite database under :func:`report_dir` (the online backup API), and settings that use it.

    Raises
    ------
    ValidationError
        The database is not a SQLite file (copy it yourself and point ``REVIEWER_DB_URL`` at the copy).
    """
    url = settings.db_url
    prefix = "sqlite:///"
    if not url.startswith(prefix) or url in ("sqlite://", "sqlite:///:memory:"):
        raise ValidationError(f"can only copy a SQLite file database, not {url!r}: copy it yourself and set "
                              "REVIEWER_DB_URL to the copy (or pass --in-place)")
    src = Path(url[len(prefix):])
    if not src.is_file():
        raise NotFoundError(f"no database at {src}")
    out = report_dir(settings) / f"scratch-{name or _stamp()}.db"
    out.parent.mkdir(parents=True, exist_ok=True)
    with sqlite3.connect(str(src)) as a, sqlite3.connect(str(out)) as b:
        a.backup(b)
    log.info("simulated labels go into a scratch copy %s of %s", out, src)
    return settings.with_(db_url=f"{prefix}{out}")


# --------------------------------------------------------------------------- simulated people


def _non_test_groups(session, task: str) -> dict[str, list]:
    groups: dict[str, list] = {}
    for item in store.iter_items(session=session, kind=TASK_ITEM_KIND[task]):
        if item.split != "test":
            groups.setdefault(item_group(item), []).append(item)
    return groups


def _truth(session, item_id: int, kinds: Sequence[str]) -> list:
    return [lb for k in kinds for lb in store.current_labels(session=session, item_id=item_id, kind=k, source="truth")]


def simulate_human_labels(task: str, *, engine, human_fraction: float = 0.5, seed: int = 0,
                          boundary_noise: float = 0.75, crowd_skills: dict[str, float] | None = None) -> dict[str, Any]:
    """Write labels of simulated people on the items of a share of the non-test groups.

    ``intro`` / ``chorus``: a simulated reviewer saves each truth interval with
    Gaussian boundary noise (``boundary_noise`` s) through
    :func:`reviewer.services.review.save_correction` (source ``human``, author
    :data:`SIM_REVIEWER`, note "simulated correction"). ``interest``: one crowd
    pool per genre over the chosen songs, simulated annotators (four good ones
    and a spammer unless ``crowd_skills`` says otherwise) answer through the
    crowd services, and :func:`reviewer.services.crowd_review.aggregate_pool`
    writes the consensus labels.

    Returns
    -------
    dict
        ``{"groups": [...], "items": n, "labels": n, "method": str, ...}`` for the report.
    """
    from reviewer.crowd.simulate import make_crowd
    from reviewer.services import auth, crowd, crowd_review, crowd_sim, review

    if task not in TASK_ITEM_KIND:
        raise ValidationError(f"unknown task {task!r}; expected one of {sorted(TASK_ITEM_KIND)}")
    if not 0.0 < human_fraction < 1.0:
        raise ValidationError(f"human_fraction must be in (0, 1); got {human_fraction!r}")
    rng = np.random.default_rng(seed)
    kinds = TASK_LABEL_KINDS[task][:1]  # intro / chorus / hook truth
    with store.session_scope(engine) as s:
        groups = _non_test_groups(s, task)
        # only groups with something to label (a song without a hook gets no crowd region)
        names = sorted(g for g, items in groups.items() if any(_truth(s, it.id, kinds) for it in items))
        n = min(len(names) - 2, max(1, int(round(human_fraction * len(names)))))
        if n < 1:
            raise ValidationError(f"{task}: {len(names)} non-test group(s); need at least 3 to keep truth-only "
                                  "training and validation groups next to the human ones")
        chosen = sorted(rng.permutation(np.array(names, dtype=object))[:n].tolist())
        targets = {it.id: [(lb.start, lb.end) for lb in _truth(s, it.id, kinds)] for g in chosen for it in groups[g]}
        facts = {it.id: (it.genre or "unknown", float(it.duration or 0.0)) for g in chosen for it in groups[g]}
    info: dict[str, Any] = {"groups": chosen, "items": len(targets), "simulated": True, "seed": seed}
    if task in ("intro", "chorus"):
        written = 0
        for item_id, ivs in sorted(targets.items()):
            for a, b in ivs:
                dur = facts[item_id][1]
                st = float(np.clip(a + rng.normal(0, boundary_noise), 0.0, dur))
                en = float(np.clip(b + rng.normal(0, boundary_noise), 0.0, dur))
                if en - st < 0.5:
                    st, en = a, b
                review.save_correction(engine=engine, item_id=item_id, kind=kinds[0], start=st, end=en,
                                       author=SIM_REVIEWER, note="simulated correction (label-gain demo)")
                written += 1
        info.update(method=f"simulated Review corrections (truth ± N(0, {boundary_noise} s))", labels=written,
                    labelled_items=sum(1 for v in targets.values() if v))
        return info
    skills = crowd_skills or {"sim-good0": 0.9, "sim-good1": 0.85, "sim-good2": 0.8, "sim-good3": 0.75,
                              "sim-spam0": 0.0}
    truth = {i: v[0] for i, v in targets.items() if v}
    by_genre: dict[str, list[int]] = {}
    for item_id in sorted(truth):
        by_genre.setdefault(facts[item_id][0], []).append(item_id)
    written, pools, suspended = 0, [], set()
    stamp = _stamp()
    for genre, ids in sorted(by_genre.items()):
        pool = crowd.create_pool(auth.SYSTEM_USER, engine=engine, name=f"simulated label-gain {stamp} {genre}",
                                 item_ids=ids, genres=[genre], golden_rate=0.0, seed=seed)
        run = crowd_sim.simulate_pool(engine=engine, pool_id=pool.pool_id, annotators=make_crowd(skills),
                                      truth={i: truth[i] for i in ids}, rng=rng)
        res = crowd_review.aggregate_pool(auth.SYSTEM_USER, engine=engine, pool_id=pool.pool_id)
        written += res.labels_written
        pools.append(pool.pool_id)
        suspended |= set(run.suspended) | set(res.newly_suspended)
    info.update(method="simulated crowd (crowd-kit majority vote consensus)", labels=written, pools=pools,
                annotators=skills, suspended=sorted(suspended), labelled_items=len(truth))
    return info


# --------------------------------------------------------------------------- the measurement


def _summ(items: Sequence[TrainingItem]) -> dict[str, Any]:
    return {"items": len(items), "groups": sorted({it.group for it in items}), "label_sources": count_sources(items)}


def _round(metrics: dict) -> dict:
    return {k: (round(float(v), 4) if isinstance(v, (int, float)) and np.isfinite(v) else None)
            for k, v in metrics.items()}


def measure_label_gain(
    task: str,
    *,
    engine,
    settings: Settings,
    train_config: TrainConfig | None = None,
    config: PipelineConfig | None = None,
    val_fraction: float = 0.25,
    seeds: Sequence[int] = (0,),
    simulation: dict[str, Any] | None = None,
    save: bool = True,
    truth_control: bool = False,
) -> dict[str, Any]:
    """Train A (truth only) and B (A + human labels), evaluate both on the same held-out items.

    Parameters
    ----------
    train_config : TrainConfig, optional
        The same for A and B; ``seed`` is replaced by each of ``seeds``.
    val_fraction : float
        Share of A's groups used for validation (early stopping), the same groups for A and B.
    seeds : sequence of int
        One A/B pair per seed (training randomness); the report gives each pair and the mean.
    simulation : dict, optional
        What :func:`simulate_human_labels` returned (recorded; marks the report as simulated).
    save : bool
        Write the report to :func:`report_dir`.
    truth_control : bool
        Also train **B_truth**: B's items with their *truth* labels instead of the human ones (a
        diagnostic: B_truth − A is the gain of the extra items alone, B − B_truth the cost of the
        human labels' noise). Needs truth on the human-labelled items (the demo has it).

    Raises
    ------
    ValidationError
        No held-out items, no human label, or no truth-only training group left.
    """
    tc = train_config or TrainConfig()
    config = config or PipelineConfig()
    everything = load_training_items(task, engine=engine, settings=settings, config=config)
    test = [it for it in everything if it.split == "test"]
    if not test:
        raise ValidationError(f"{task}: no held-out (split 'test') items to measure on")
    test_groups = {it.group for it in test}
    human = [it for it in load_training_items(task, engine=engine, settings=settings, config=config,
                                              sources=HUMAN_SOURCES)
             if it.split != "test" and it.group not in test_groups]
    if not human:
        raise ValidationError(f"{task}: no human label on any non-test item; label some items (Review page, "
                              "crowd) or run with simulated labels on a copy of the database")
    human_groups = {it.group for it in human}
    truth_only = load_training_items(task, engine=engine, settings=settings, config=config, sources=("truth",))
    pool_a = [it for it in truth_only if it.split != "test" and it.group not in test_groups | human_groups]
    if len({it.group for it in pool_a}) < 2:
        raise ValidationError(f"{task}: {len({it.group for it in pool_a})} truth-only group(s) left next to the "
                              f"{len(human_groups)} human-labelled one(s); need 2 (training + validation)")
    # validation groups only among groups with a positive segment: on an all-negative group (a song without a
    # hook) val F1 is 0 every epoch and early stopping picks an arbitrary epoch
    positive = {it.group for it in pool_a if it.targets.any()}
    base = split_items([it for it in pool_a if it.group in positive], val_fraction=val_fraction,
                       seed=int(seeds[0]) if seeds else 0)
    if not base.val:
        raise ValidationError(f"{task}: no validation group with a positive segment")
    base = DataSplit(train=base.train + tuple(it for it in pool_a if it.group not in positive), val=base.val,
                     test=())
    split_a = DataSplit(train=base.train, val=base.val, test=tuple(test))
    split_b = DataSplit(train=base.train + tuple(human), val=base.val, test=tuple(test))
    models = [("A", split_a), ("B", split_b)]
    if truth_control:
        keys = {it.key for it in human}
        twins = tuple(it for it in truth_only if it.key in keys)
        models.append(("B_truth", DataSplit(train=base.train + twins, val=base.val, test=tuple(test))))
    shown = SHOWN_METRICS[task]
    pairs = []
    for seed in seeds:
        cfg = dataclasses.replace(tc, seed=int(seed))
        row = {"seed": int(seed)}
        for name, split in models:
            out = fit_and_evaluate(task, split, config=cfg, transform_config=config.transforms)
            row[name] = {"test": _round(out.test_metrics), "val": _round(out.val_metrics),
                         "best_epoch": out.result.best_epoch, "epochs_run": len(out.result.history),
                         "train_seconds": round(out.result.seconds, 1)}
            log.info("%s seed %d model %s: held-out %s", task, seed, name,
                     {k: row[name]["test"].get(k) for k in shown})
        pairs.append(row)

    def mean(model: str, metric: str) -> float | None:
        vals = [p[model]["test"].get(metric) for p in pairs]
        vals = [v for v in vals if v is not None]
        return round(float(np.mean(vals)), 4) if vals else None

    rows = []
    what = {"A": "demo truth of the training groups only", "B": "A + human labels on further groups",
            "B_truth": "A + the same further items with their truth labels (control)"}
    for name, split in models:
        rows.append({"model": name, "labels": what[name], "train": _summ(split.train),
                     "human_items": sum(1 for it in split.train if it.label_source in HUMAN_SOURCES),
                     "test": {m: mean(name, m) for m in shown}})
    delta = {m: (None if rows[0]["test"][m] is None or rows[1]["test"][m] is None
                 else round(rows[1]["test"][m] - rows[0]["test"][m], 4)) for m in shown}
    wins = {m: sum(1 for p in pairs if (p["B"]["test"].get(m) or 0) > (p["A"]["test"].get(m) or 0)) for m in shown}
    if truth_control:
        t = rows[2]["test"]
        delta_truth = {m: (None if t[m] is None or rows[0]["test"][m] is None else round(t[m] - rows[0]["test"][m], 4))
                       for m in shown}
    else:
        delta_truth = None
    simulated = bool(simulation) or any(it.simulated for it in human)
    report = {
        "task": task, "created_at": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
        "simulated": simulated, "seeds": [int(x) for x in seeds], "train_config": tc.to_dict(),
        "held_out": _summ(test), "val": _summ(base.val), "human": _summ(human),
        "rows": rows, "delta": delta, "b_better_seeds": wins, "pairs": pairs, "simulation": simulation,
        "delta_truth_control": delta_truth,
        "metrics": list(shown), "db": _safe_url(settings.db_url),
    }  # fmt: skip
    if save:
        report["path"] = str(_save(report, settings))
    return report


def _safe_url(url: str) -> str:
    return url if url.startswith("sqlite") else url.split("@")[-1]


def _save(report: dict, settings: Settings) -> Path:
    d = report_dir(settings)
    d.mkdir(parents=True, exist_ok=True)
    path = d / f"{report['task']}-{_stamp()}.json"
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    tmp.write_text(json.dumps(report, indent=2, default=str), encoding="utf-8")
    os.replace(tmp, path)
    return path


def list_reports(*, settings: Settings, task: str | None = None) -> list[dict[str, Any]]:
    """Saved reports, newest first (unreadable files are skipped with a warning)."""
    d = report_dir(settings)
    out = []
    for p in sorted(d.glob("*.json"), reverse=True) if d.is_dir() else []:
        if p.name.startswith("."):
            continue
        try:
            rep = json.loads(p.read_text(encoding="utf-8"))
        except (OSError, json.JSONDecodeError) as exc:
            log.warning("skipping label-gain report %s: %s", p, exc)
            continue
        if task is None or rep.get("task") == task:
            rep["path"] = str(p)
            out.append(rep)
    out.sort(key=lambda r: r.get("created_at", ""), reverse=True)
    return out


# --------------------------------------------------------------------------- for the page


def report_rows(report: dict[str, Any]) -> list[dict[str, Any]]:
    """Model A, model B and the B − A delta as table rows (held-out means over the report's seeds)."""
    sim = " (simulated)" if report.get("simulated") else ""
    metrics = report.get("metrics") or []
    out = []
    for row in report.get("rows", []):
        src = row["train"].get("label_sources", {})
        out.append({"model": row["model"], "training labels": row["labels"] + (sim if row["human_items"] else ""),
                    "train items": row["train"]["items"], "human-labelled items": row["human_items"],
                    "crowd consensus": src.get("crowd", 0), "human corrections": src.get("human", 0),
                    **{f"held-out {m}": row["test"].get(m) for m in metrics}})
    delta = report.get("delta") or {}
    by_model = {r["model"]: r for r in out}
    counts = ("train items", "human-labelled items", "crowd consensus", "human corrections")
    a, b = by_model.get("A"), by_model.get("B")
    out.append({"model": "B − A", "training labels": "difference",
                **{c: (b[c] - a[c]) if a and b else None for c in counts},
                **{f"held-out {m}": delta.get(m) for m in metrics}})
    return out


def wins_text(report: dict[str, Any]) -> str:
    """``"f1 4/5, precision 4/5, ..."``: on how many seeds B beat A, per metric."""
    n = len(report.get("seeds") or [])
    return ", ".join(f"{m} {k}/{n}" for m, k in (report.get("b_better_seeds") or {}).items())


def command(task: str, *, simulate: bool = True, epochs: int | None = None, repeats: int = 1) -> list[str]:
    """``python -m reviewer -v label-gain --task T [--simulate] --json ...`` (a scratch db copy when simulating)."""
    import sys

    if task not in TASK_ITEM_KIND:
        raise ValidationError(f"task must be one of {sorted(TASK_ITEM_KIND)}; got {task!r}")
    argv = [sys.executable, "-m", "reviewer", "-v", "label-gain", "--task", task, "--json",
            "--repeats", str(max(1, int(repeats)))]
    if simulate:
        argv.append("--simulate")
    if epochs is not None:
        argv += ["--epochs", str(max(1, int(epochs)))]
    return argv


def start_measurement(user, *, settings: Settings, task: str, simulate: bool = True, epochs: int | None = None,
                      repeats: int = 1, command_override: Sequence[str] | None = None):
    """Run the measurement as a background job (engineers and admins); see :mod:`reviewer.services.jobs`.

    With ``simulate`` the job writes its simulated labels into a scratch copy of
    the database, never into the one the app uses.
    """
    from reviewer.services import jobs
    from reviewer.services.auth import require_role

    require_role(user, "engineer", "admin")
    argv = list(command_override) if command_override is not None else command(
        task, simulate=simulate, epochs=epochs, repeats=repeats)
    return jobs.start_job(argv, settings=settings, kind="label-gain", task=task, user=user)
