"""Many processes writing labels and crowd answers to one SQLite file at once.

Each process has its own engine and commits every write separately. Checked:
no fresh label is lost, a contested label's correction chain stays linear
(every racing edit based on an old version is refused with StaleEditError),
and the database keeps one answer per (task, user) however many processes try.
"""

from __future__ import annotations

import multiprocessing as mp
import time

import pytest
from sqlalchemy import func
from sqlmodel import select

from reviewer import store
from reviewer.errors import StaleEditError, ValidationError
from reviewer.store.crowd_tables import CrowdAnswer
from reviewer.store.tables import Label


def _worker(url: str, worker: int, n: int, item_ids: list[int], contested: list[int], task_ids: list[int],
            user_id: int, start_at: float) -> dict:
    engine = store.make_engine(url)
    out = {"worker": worker, "errors": [], "edits": 0, "stale": 0, "answers": 0, "refused": 0}
    while time.time() < start_at:
        time.sleep(0.001)
    for i in range(n):
        item_id = item_ids[i % len(item_ids)]
        try:
            with store.session_scope(engine) as s:
                store.add_label(session=s, item_id=item_id, kind="interest", start=i * 0.1, end=i * 0.1 + 5.0,
                                source="human", author=f"worker{worker}")
            if i % 5 == 0:  # correct the contested label, based on the head we just read
                target = contested[(i // 5) % len(contested)]
                with store.session_scope(engine) as s:
                    head = store.current_labels(session=s, item_id=target, kind="intro")[0]
                    seen = (head.id, head.version)
                time.sleep(0.002)  # give the others a chance to move the chain on
                try:
                    with store.session_scope(engine) as s:
                        store.add_label(session=s, item_id=target, kind="intro", start=10.0, end=40.0 + i * 0.01,
                                        source="human", author=f"worker{worker}", supersedes_id=seen[0],
                                        expected_version=seen[1])
                    out["edits"] += 1
                except StaleEditError:
                    out["stale"] += 1
            if i < len(task_ids):  # every process answers the same tasks for the same user
                try:
                    with store.session_scope(engine) as s:
                        store.add_answer(session=s, task_id=task_ids[i], user_id=user_id, start=1.0, end=9.0,
                                         listened_seconds=30.0)
                    out["answers"] += 1
                except ValidationError:
                    out["refused"] += 1
        except Exception as exc:  # noqa: BLE001 - collected and reported by the test
            out["errors"].append(f"{type(exc).__name__}: {exc}")
    engine.dispose()
    return out


def _run(tmp_path, n_procs: int, n_writes: int) -> None:
    url = f"sqlite:///{tmp_path / 'db' / 'crowd_concurrent.db'}"
    engine = store.make_engine(url)
    store.init_db(engine)
    with store.session_scope(engine) as s:
        ids = [store.upsert_item(session=s, key=f"song{i}.mp3", path=f"song{i}.mp3", kind="song", genre="pop",
                                 duration=600.0).id for i in range(4)]
        contested = [ids[0], ids[1]]
        for item_id in contested:
            store.add_label(session=s, item_id=item_id, kind="intro", start=10.0, end=40.0, source="truth")
        user = store.add_user(session=s, name="shared", password_hash="$argon2id$placeholder")
        pool = store.add_pool(session=s, name="race")
        task_ids = [store.add_crowd_task(session=s, pool_id=pool.id, item_id=i).id for i in ids]
        user_id = user.id
    ctx = mp.get_context("spawn")
    start_at = time.time() + 3.0
    with ctx.Pool(n_procs) as pool:
        results = pool.starmap(_worker, [(url, w, n_writes, ids, contested, task_ids, user_id, start_at)
                                         for w in range(n_procs)])
    errors = [e for r in results for e in r["errors"]]
    assert not errors, errors[:5]
    edits = sum(r["edits"] for r in results)
    stale = sum(r["stale"] for r in results)
    attempts = n_procs * len(range(0, n_writes, 5))
    assert edits + stale == attempts and edits >= len(contested)
    # whether a given race produced a stale edit depends on the scheduler; refusing one is checked
    # deterministically below (a regression: asserting stale > 0 here failed on a loaded machine)
    with store.session_scope(engine) as s:
        head = store.current_labels(session=s, item_id=contested[0], kind="intro")[0]
        old = (head.id, head.version)
        store.add_label(session=s, item_id=contested[0], kind="intro", start=11.0, end=41.0, source="human",
                        author="first", supersedes_id=old[0], expected_version=old[1])
    with pytest.raises(StaleEditError, match="first"):
        with store.session_scope(engine) as s:
            store.add_label(session=s, item_id=contested[0], kind="intro", start=12.0, end=42.0, source="human",
                            author="second", supersedes_id=old[0], expected_version=old[1])
    with store.session_scope(engine) as s:
        per_author = dict(s.exec(select(Label.author, func.count()).where(Label.kind == "interest")
                                 .group_by(Label.author)).all())
        assert per_author == {f"worker{w}": n_writes for w in range(n_procs)}  # nothing lost
        n_chain = 0
        for item_id in contested:  # each correction chain is linear: versions 1..k, one head
            chain = store.label_history(session=s, item_id=item_id, kind="intro")
            assert [lb.version for lb in chain] == list(range(1, len(chain) + 1))
            assert len(store.current_labels(session=s, item_id=item_id, kind="intro")) == 1
            n_chain += len(chain) - 1
        assert n_chain == edits + 1  # + the deterministic correction above
        per_task = dict(s.exec(select(CrowdAnswer.task_id, func.count()).group_by(CrowdAnswer.task_id)).all())
        assert per_task == {t: 1 for t in task_ids}
    assert sum(r["answers"] for r in results) == len(task_ids)
    assert sum(r["refused"] for r in results) == len(task_ids) * (n_procs - 1)
    engine.dispose()


def test_two_processes_100_writes_each(tmp_path):
    _run(tmp_path, n_procs=2, n_writes=100)


@pytest.mark.slow
def test_eight_processes_200_writes_each(tmp_path):
    _run(tmp_path, n_procs=8, n_writes=200)
