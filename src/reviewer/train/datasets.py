"""Training sets from store labels: per-segment targets, group splits without leakage.

Targets (seed 001): a segment is positive when its **centre** lies in a label
interval ``[start, end)`` of the task's kinds:

==========  ========  ===========================================================
task        items     label kinds
==========  ========  ===========================================================
intro       episodes  ``intro``
chorus      songs     ``chorus``
interest    songs     ``hook`` and ``interest`` (the crowd's "most interesting region")
==========  ========  ===========================================================

Each item's labels come from **one** source, by precedence (:func:`resolve_item_labels`):
a human correction from the Review page > an imported label > crowd consensus
(the row :func:`reviewer.services.crowd_review.aggregate_pool` writes) > the
demo truth. Only *labelled* items take part: items with a label of the task,
an episode with ``extra["has_intro"] is False`` (all negative), a song with
imported truth sections (``extra["sections"]``; no label of the task → all
negative). Rejected labels are ignored; a human correction replaces the truth
it supersedes (:func:`reviewer.store.current_labels`).
:func:`count_sources` reports how many items each source labelled.

Splits: ``split == "test"`` items are held out and never trained on. The rest
is split into train / validation **by group** (series for episodes, artist for
songs), so no series or artist is on both sides.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import Any, Iterable, Mapping, Sequence

import numpy as np
import torch

from reviewer.aggregate import SegmentTable
from reviewer.config import PipelineConfig, SelectionConfig
from reviewer.errors import PackageError, ValidationError
from reviewer.segments import Segments
from reviewer.selection import select_segments
from reviewer.settings import Settings

log = logging.getLogger(__name__)

TASK_ITEM_KIND: dict[str, str] = {"intro": "episode", "chorus": "song", "interest": "song"}
TASK_LABEL_KINDS: dict[str, tuple[str, ...]] = {"intro": ("intro",), "chorus": ("chorus",),
                                                "interest": ("hook", "interest")}


@dataclass(frozen=True)
class TrainingItem:
    """One labelled item with its segment table and per-segment targets.

    Attributes
    ----------
    key : str
        The item key (prefixed with ``<source>::`` for items of extra libraries).
    group : str
        ``"series:<name>"``, ``"artist:<name>"`` or ``"item:<key>"`` — the unit of the split.
    split : str or None
        The store's split (``"test"`` = held out).
    table : SegmentTable
    targets : np.ndarray [shape=(N,), float32]
        1.0 for positive segments.
    intervals : tuple of (float, float)
        The positive label intervals in seconds (for region metrics).
    source : str
        Which library the item came from (``"main"`` or an extra one).
    extra : Mapping
        The item's ``extra`` (``views``, ``upload_date``, ...).
    label_source : str
        Where the targets came from: ``"human"``, ``"import"``, ``"crowd"`` or ``"truth"``.
    simulated : bool
        The labels were written by simulated annotators / reviewers (demo measurements).
    """

    key: str
    group: str
    split: str | None
    table: SegmentTable
    targets: np.ndarray
    intervals: tuple[tuple[float, float], ...]
    source: str = "main"
    extra: Mapping[str, Any] = field(default_factory=dict)
    label_source: str = "truth"
    simulated: bool = False

    @property
    def duration(self) -> float:
        return float(self.table.segments.duration)


def segment_targets(segments: Segments, intervals: Iterable[Sequence[float]]) -> np.ndarray:
    """1.0 where a segment centre lies in any ``[start, end)`` interval, else 0.0.

    Returns
    -------
    np.ndarray [shape=(N,), float32]
    """
    centres = (np.asarray(segments.starts, np.float64) + np.asarray(segments.ends, np.float64)) / 2
    out = np.zeros(centres.size, dtype=bool)
    for iv in intervals:
        s, e = float(iv[0]), float(iv[1])
        out |= (centres >= s) & (centres < e)
    return out.astype(np.float32)


def crowd_consensus(segments: Segments, intervals: Sequence[Sequence[float]], *, min_labels: int = 2,
                    agreement: float = 0.5) -> np.ndarray:
    """Segments most crowd labels agree on: share of intervals covering the centre ``>= agreement``.

    Returns all False when fewer than ``min_labels`` intervals are given.
    """
    n = len(segments)
    if len(intervals) < max(1, min_labels):
        return np.zeros(n, dtype=np.float32)
    votes = np.sum([segment_targets(segments, [iv]) for iv in intervals], axis=0)
    return (votes / len(intervals) >= agreement).astype(np.float32)


def item_group(item: Any) -> str:
    """The split unit of a store item: its series, else its artist, else the item itself."""
    if getattr(item, "series", None):
        return f"series:{item.series}"
    if getattr(item, "artist", None):
        return f"artist:{item.artist}"
    return f"item:{item.key}"


#: Label sources in order of precedence: an item's targets come from the first one that labelled it.
SOURCE_PRECEDENCE: tuple[str, ...] = ("human", "crowd_resolved", "import", "crowd", "truth")
#: ``Label.author`` prefix of crowd consensus rows (``reviewer.services.crowd_review.CONSENSUS_AUTHOR_PREFIX``).
CONSENSUS_PREFIX = "crowd-consensus:"


@dataclass(frozen=True)
class ItemLabels:
    """The labels that define an item's targets for one task, and where they came from.

    Attributes
    ----------
    source : str
        ``"human"`` (Review-page corrections), ``"crowd_resolved"``, ``"import"``, ``"crowd"`` (consensus),
        ``"truth"`` (demo / imported ground truth, including the "no intro" /
        "no chorus" facts of ``item.extra``).
    intervals : tuple of (float, float)
        Positive intervals (empty: every segment negative).
    crowd_votes : tuple of (float, float)
        Raw crowd intervals to be voted per segment (only for legacy crowd rows without a consensus).
    simulated : bool
        The labels were written by simulated people (authors ``sim-...``).
    """

    source: str
    intervals: tuple[tuple[float, float], ...]
    crowd_votes: tuple[tuple[float, float], ...] = ()
    simulated: bool = False


def _is_simulated(label, session=None) -> bool:
    """Written by a simulated person: author ``sim-…``, a note saying so, or a consensus of simulated annotators."""
    import json

    author = (label.author or "").lower()
    if author.startswith(("sim-", "sim:")) or '"simulated": true' in (label.note or ""):
        return True
    if session is None or not author.startswith(CONSENSUS_PREFIX) or not label.note:
        return False
    try:
        note = json.loads(label.note)
        pool_id, task_id = int(note["pool_id"]), int(note["task_id"])
    except (ValueError, KeyError, TypeError):
        return False
    from reviewer import store

    names = [u.name for _, _, u in store.pool_answers(session=session, pool_id=pool_id, task_ids=[task_id])]
    return bool(names) and all(n.lower().startswith("sim-") for n in names)


#: Tasks whose labels are several occurrences per item (every chorus of a song), not one region.
MULTI_OCCURRENCE_TASKS = frozenset({"chorus"})


def _with_other_occurrences(rows: list, heads: list, *, lower: Sequence[str]) -> list:
    """``rows`` plus the current occurrences of ``lower`` sources that overlap none of them.

    A reviewer who fixes the second chorus of a song supersedes that one truth
    row; the first and third choruses stay current truth rows and still are
    choruses. Where two sources disagree about the same stretch (they overlap),
    the higher one wins. Raw crowd answers never join (they are votes, not occurrences).
    """
    kept = list(rows)
    for src in (s for s in lower if s != "crowd"):
        for lb in (h for h in heads if h.source == src):
            if all(lb.end <= k.start or lb.start >= k.end for k in kept):
                kept.append(lb)
    return sorted(kept, key=lambda lb: (lb.start, lb.end))


def resolve_item_labels(session, item, task: str, *, sources: Sequence[str] = SOURCE_PRECEDENCE,
                        min_crowd: int = 2) -> ItemLabels | None:
    """Which labels train ``item`` for ``task``: the first source of :data:`SOURCE_PRECEDENCE` that has some.

    Precedence: a human correction (Review page) > a reviewer's settlement of a
    crowd disagreement (``crowd_resolved``) > an imported label > crowd
    consensus > demo truth. Only current (head, not rejected) labels count; a
    correction that supersedes a truth row has already replaced it. For tasks
    with several occurrences per item (:data:`MULTI_OCCURRENCE_TASKS`: every
    chorus) the winning source's rows are joined by the lower sources' current
    occurrences that overlap none of them, so correcting one chorus keeps the others. Crowd
    labels are the consensus rows :func:`reviewer.services.crowd_review.aggregate_pool`
    writes (one per task, author ``crowd-consensus:<method>``); other crowd rows
    (raw per-annotator labels) count only when at least ``min_crowd`` of them
    exist and are then voted per segment (:func:`crowd_consensus`).
    When no label of an allowed source exists, the item's truth facts decide
    (``extra["has_intro"] is False`` → an all-negative episode; a song with
    truth ``extra["sections"]`` but no label of the task → all negative),
    provided ``"truth"`` is allowed. None: the item is not labelled for the task.
    """
    from reviewer import store

    if task not in TASK_ITEM_KIND:
        raise ValidationError(f"unknown task {task!r}; expected one of {sorted(TASK_ITEM_KIND)}")
    bad = [s for s in sources if s not in SOURCE_PRECEDENCE]
    if bad:
        raise ValidationError(f"unknown label source(s) {bad}; expected some of {list(SOURCE_PRECEDENCE)}")
    kinds = TASK_LABEL_KINDS[task]
    heads = [lb for lb in store.current_labels(session=session, item_id=item.id) if lb.kind in kinds]
    allowed = [s for s in SOURCE_PRECEDENCE if s in sources]
    for n, src in enumerate(allowed):
        rows = [lb for lb in heads if lb.source == src]
        if not rows:
            continue
        if task in MULTI_OCCURRENCE_TASKS and src != "crowd":
            rows = _with_other_occurrences(rows, heads, lower=allowed[n + 1:])
        sim = any(_is_simulated(lb, session) for lb in rows)
        if src == "crowd":
            consensus = [lb for lb in rows if (lb.author or "").startswith(CONSENSUS_PREFIX)]
            if consensus:
                return ItemLabels("crowd", tuple((float(lb.start), float(lb.end)) for lb in consensus),
                                  simulated=sim)
            if len(rows) >= max(1, min_crowd):
                return ItemLabels("crowd", (), crowd_votes=tuple((float(lb.start), float(lb.end)) for lb in rows),
                                  simulated=sim)
            continue
        return ItemLabels(src, tuple((float(lb.start), float(lb.end)) for lb in rows), simulated=sim)
    if "truth" in sources:
        extra = item.extra or {}
        if task == "intro" and extra.get("has_intro") is False:
            return ItemLabels("truth", ())
        if task != "intro" and "sections" in extra:
            return ItemLabels("truth", ())
    return None


def count_sources(items: Iterable["TrainingItem"]) -> dict[str, int]:
    """Items per label source (``{"human": n, "crowd": n, "truth": n, ...}``; ``simulated`` counts simulated ones)."""
    out = {s: 0 for s in SOURCE_PRECEDENCE}
    sim = 0
    for it in items:
        out[it.label_source] = out.get(it.label_source, 0) + 1
        sim += bool(it.simulated)
    out["simulated"] = sim
    return out


def load_training_items(task: str, *, engine, settings: Settings, config: PipelineConfig | None = None,
                        source: str = "main", min_crowd: int = 2,
                        sources: Sequence[str] = SOURCE_PRECEDENCE) -> list[TrainingItem]:
    """Labelled items of ``task`` with their segment tables (extracted with ``config``).

    Each item's targets come from one label source (:func:`resolve_item_labels`:
    human correction > import > crowd consensus > demo truth); ``sources``
    restricts which sources may be used (e.g. ``("truth",)`` for a truth-only
    model). ``TrainingItem.label_source`` records the source used and
    :func:`count_sources` counts them. Items whose segment table is not on disk
    are skipped with a warning (run ``reviewer extract``).
    """
    from reviewer import store
    from reviewer.pipeline import load_table, table_path

    if task not in TASK_ITEM_KIND:
        raise ValidationError(f"unknown task {task!r}; expected one of {sorted(TASK_ITEM_KIND)}")
    config = config or PipelineConfig()
    out: list[TrainingItem] = []
    skipped = 0
    with store.session_scope(engine) as s:
        for item in store.iter_items(session=s, kind=TASK_ITEM_KIND[task]):
            resolved = resolve_item_labels(s, item, task, sources=sources, min_crowd=min_crowd)
            if resolved is None:
                continue
            try:
                table = load_table(table_path(settings, item.key, config))
            except PackageError:
                skipped += 1
                continue
            targets = segment_targets(table.segments, resolved.intervals)
            if resolved.crowd_votes:
                targets = np.maximum(targets, crowd_consensus(table.segments, resolved.crowd_votes,
                                                              min_labels=min_crowd))
            key = item.key if source == "main" else f"{source}::{item.key}"  # keys of two libraries may clash
            out.append(TrainingItem(key=key, group=item_group(item), split=item.split, table=table,
                                    targets=targets, intervals=resolved.intervals, source=source,
                                    extra=dict(item.extra or {}), label_source=resolved.source,
                                    simulated=resolved.simulated))
    if skipped:
        log.warning("%s: %d labelled %s item(s) have no segment table; run `reviewer extract`", task, skipped, source)
    log.info("%s: %d labelled item(s) from %s, by label source %s", task, len(out), source, count_sources(out))
    return out


@dataclass(frozen=True)
class DataSplit:
    """Train / validation / held-out test items; groups never cross sides."""

    train: tuple[TrainingItem, ...]
    val: tuple[TrainingItem, ...]
    test: tuple[TrainingItem, ...]

    def groups(self) -> dict[str, set[str]]:
        return {name: {it.group for it in getattr(self, name)} for name in ("train", "val", "test")}

    def summary(self) -> dict[str, Any]:
        return {name: {"items": len(getattr(self, name)), "groups": sorted(g)} for name, g in self.groups().items()}


def split_items(items: Sequence[TrainingItem], *, val_fraction: float = 0.25, seed: int = 0,
                extra: Sequence[TrainingItem] = ()) -> DataSplit:
    """Split by group: ``test`` = held out; the rest into train / val by whole groups.

    Parameters
    ----------
    items : sequence of TrainingItem
        Items of the main library.
    val_fraction : float
        Share of the non-test groups used for validation (at least one group when there are two or more).
    seed : int
        Which groups go to validation (a ``numpy`` generator seeded with it).
    extra : sequence of TrainingItem
        Items of other libraries, used for training/validation only. Items whose
        group (series / artist name) is also a held-out group are dropped, so
        nothing that shares a name with the test set is trained on.
    """
    if not 0.0 <= val_fraction < 1.0:
        raise ValidationError(f"val_fraction must be in [0, 1), got {val_fraction}")
    test = tuple(it for it in items if it.split == "test")
    test_groups = {it.group for it in test}
    leaking = [it for it in items if it.split != "test" and it.group in test_groups]
    if leaking:
        log.warning("not training on %d item(s) whose group also has held-out items: %s",
                    len(leaking), sorted({it.group for it in leaking}))
    dropped = [it for it in extra if it.group in test_groups]
    if dropped:
        log.info("dropping %d extra item(s) whose group is held out: %s", len(dropped), sorted({i.group for i in dropped}))
    pool = [it for it in items if it.split != "test" and it.group not in test_groups] + [it for it in extra if it.group not in test_groups]
    fixed_val = {it.group for it in pool if it.split == "val"}
    groups = sorted({it.group for it in pool} - fixed_val)
    rng = np.random.default_rng(seed)
    n_val = 0 if val_fraction == 0 or len(groups) < 2 else max(1, int(round(val_fraction * len(groups))))
    n_val = min(n_val, len(groups) - 1) if groups else 0
    val_groups = fixed_val | set(rng.permutation(np.array(groups, dtype=object))[:n_val].tolist())
    train = tuple(it for it in pool if it.group not in val_groups)
    val = tuple(it for it in pool if it.group in val_groups)
    return DataSplit(train=train, val=val, test=test)


# --------------------------------------------------------------------------- sequences for the nets


@dataclass(frozen=True)
class Example:
    """One item ready for a net: inputs ``x`` (N, D) float32 and targets ``y`` (N,) float32."""

    item: TrainingItem
    x: np.ndarray
    y: np.ndarray


def sample_indices(example: Example, *, max_seq_len: int, rng: np.random.Generator, sequence: str = "windows",
                   strategy: str = "boundary_importance") -> np.ndarray:
    """Segment indices of one training sequence (≤ ``max_seq_len``), sorted by time.

    ``"windows"``: a random contiguous window (the whole item when short);
    ``"selection"``: the seed-000 selection with stochastic replacement.
    """
    n = example.x.shape[0]
    if n <= max_seq_len:
        return np.arange(n)
    if sequence == "windows":
        start = int(rng.integers(0, n - max_seq_len + 1))
        return np.arange(start, start + max_seq_len)
    if sequence == "selection":
        cfg = SelectionConfig(max_seq_len=max_seq_len, strategy=strategy,
                              k_start=min(16, max_seq_len // 4), k_end=min(16, max_seq_len // 4))
        return select_segments(example.item.table, cfg, rng=rng).indices
    raise ValidationError(f"sequence must be 'windows' or 'selection', got {sequence!r}")


def collate(examples: Sequence[Example], indices: Sequence[np.ndarray]) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Pad sequences into a batch.

    Returns
    -------
    x : torch.Tensor [shape=(B, L, D), float32]
    y : torch.Tensor [shape=(B, L), float32]
    mask : torch.Tensor [shape=(B, L), bool]
        True for real segments (a prefix of each row).
    """
    length = max(len(ix) for ix in indices)
    d = examples[0].x.shape[1]
    x = np.zeros((len(examples), length, d), np.float32)
    y = np.zeros((len(examples), length), np.float32)
    mask = np.zeros((len(examples), length), bool)
    for b, (ex, ix) in enumerate(zip(examples, indices)):
        k = len(ix)
        x[b, :k], y[b, :k], mask[b, :k] = ex.x[ix], ex.y[ix], True
    return torch.from_numpy(x), torch.from_numpy(y), torch.from_numpy(mask)


def make_examples(items: Sequence[TrainingItem], transforms, *, time_features: bool) -> list[Example]:
    """Apply fitted transforms (+ optional time features) to every item: one :class:`Example` each."""
    from reviewer.models.checkpoint import model_inputs

    return [Example(item=it, x=model_inputs(it.table, transforms, time_features=time_features)[0], y=it.targets)
            for it in items]
