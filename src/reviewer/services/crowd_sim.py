"""Run simulated annotators through the real crowd services (tests, demos, ``reviewer crowd simulate``).

Each simulated annotator gets an account, then they take turns calling
:func:`~reviewer.services.crowd.next_task` and
:func:`~reviewer.services.crowd.submit_answer` — exactly what the crowd page
does — until nobody has a task left. Suspended annotators drop out.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from reviewer import store
from reviewer.crowd.simulate import SimulatedAnnotator
from reviewer.errors import ValidationError
from reviewer.services import auth, crowd
from reviewer.services.auth import PermissionDeniedError

__all__ = ["SimulationRun", "simulate_pool", "truth_regions"]

logger = logging.getLogger(__name__)

_SIM_PASSWORD = "simulated-annotator"


@dataclass(frozen=True)
class SimulationRun:
    """What happened: answers per annotator, who was suspended, how many turns."""

    answers: dict[str, int]
    suspended: tuple[str, ...]
    turns: int


def truth_regions(*, engine, pool_id: int, label_kinds: Sequence[str] = ("interest", "hook", "chorus")) -> dict[int, tuple[float, float]]:
    """Item id → the first current truth label of the first kind found (the simulated crowd's target)."""
    out: dict[int, tuple[float, float]] = {}
    with store.session_scope(engine) as s:
        for task in store.list_crowd_tasks(session=s, pool_id=pool_id):
            for kind in label_kinds:
                labels = store.current_labels(session=s, item_id=task.item_id, kind=kind, source="truth")
                if labels:
                    out[task.item_id] = (labels[0].start, labels[0].end)
                    break
    return out


def simulate_pool(
    *,
    engine,
    pool_id: int,
    annotators: Sequence[SimulatedAnnotator],
    truth: Mapping[int, tuple[float, float]],
    rng: np.random.Generator,
    max_turns: int = 100_000,
) -> SimulationRun:
    """Let the annotators work the pool until no one has a task left.

    Parameters
    ----------
    truth : mapping of item id → (start, end)
        The true region of every item in the pool.
    rng : numpy.random.Generator
        All randomness (answers, turn order) comes from here.

    Raises
    ------
    ValidationError
        An item of the pool without a true region.
    """
    with store.session_scope(engine) as s:
        pool = store.get_pool(session=s, pool_id=pool_id)
        bounds = (pool.min_region, pool.max_region, pool.min_listen_seconds)
        missing = [t.item_id for t in store.list_crowd_tasks(session=s, pool_id=pool_id) if t.item_id not in truth]
    if missing:
        raise ValidationError(f"no true region for item(s) {missing[:5]} of pool {pool_id}")
    users = {}
    for a in annotators:
        with store.session_scope(engine) as s:
            row = store.get_user_by_name(session=s, name=a.name)
        users[a.name] = (auth.SessionUser(row.id, row.name, row.role) if row is not None else
                         auth.create_user(name=a.name, password=_SIM_PASSWORD, engine=engine))
    counts = {a.name: 0 for a in annotators}
    active = list(annotators)
    turns = 0
    while active and turns < max_turns:
        order = rng.permutation(len(active))
        still = []
        for i in order:
            a = active[i]
            user = users[a.name]
            turns += 1
            try:
                task = crowd.next_task(user, engine=engine, pool_id=pool_id)
                if task is None:
                    continue
                ans = a.answer(truth=truth[task.item_id], duration=task.duration, genre=task.genre,
                               min_region=bounds[0], max_region=bounds[1], min_listen=bounds[2], rng=rng)
                crowd.submit_answer(user, engine=engine, task_id=task.task_id, start=ans.start, end=ans.end,
                                    skip_reason=ans.skip_reason, listened_seconds=ans.listened_seconds)
            except PermissionDeniedError:
                continue  # suspended: drops out
            counts[a.name] += 1
            still.append(a)
        active = still
    with store.session_scope(engine) as s:
        suspended = tuple(sorted(u.name for u in store.list_users(session=s, suspended=True) if u.name in counts))
    logger.info("simulation of pool %s: %d turns, answers %s, suspended %s", pool_id, turns, counts, suspended)
    return SimulationRun(answers=counts, suspended=suspended, turns=turns)
