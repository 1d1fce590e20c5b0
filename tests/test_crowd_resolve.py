"""Resolving crowd disagreements (services/crowd_resolve.py): queue, detail, resolution, roles, stale views."""

from __future__ import annotations

import json

import pytest
from argon2 import PasswordHasher

from reviewer import store
from reviewer.errors import StaleEditError, ValidationError
from reviewer.services import auth, crowd, crowd_resolve, crowd_review
from reviewer.services.auth import SYSTEM_USER, PermissionDeniedError

PASSWORD = "long enough"


@pytest.fixture(autouse=True)
def fast_hashing(monkeypatch):
    monkeypatch.setattr(auth, "_HASHER", PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1))


@pytest.fixture
def engine():
    e = store.make_engine("sqlite://")
    store.init_db(e)
    return e


def disagreeing_pool(engine, *, regions=((10.0, 25.0), (70.0, 90.0), (12.0, 26.0))):
    """Two songs, three annotators who disagree on the first task and agree on the second; one engineer."""
    with store.session_scope(engine) as s:
        for i in range(2):
            store.upsert_item(session=s, key=f"song{i}.wav", path=f"/nowhere/song{i}.wav", kind="song", genre="pop",
                              title=f"song {i}", duration=120.0)
    crowd.create_pool(SYSTEM_USER, engine=engine, name="hooks", golden_rate=0.0, overlap=3, min_listen_seconds=5.0)
    annotators = [auth.create_user(name=f"ann{k}", password=PASSWORD, engine=engine) for k in range(3)]
    engineer = auth.create_user(name="eve", password=PASSWORD, role="engineer", engine=engine)
    tasks = []
    for k, who in enumerate(annotators):
        for n in range(2):
            task = crowd.next_task(who, engine=engine)
            s, e = regions[k] if n == 0 else (40.0, 55.0)
            crowd.submit_answer(who, engine=engine, task_id=task.task_id, start=s, end=e, listened_seconds=60)
            if k == 0:
                tasks.append(task.task_id)
    return tasks, annotators, engineer


def test_detail_shows_every_answer_consensus_and_agreement(engine):
    (bad, good), anns, eve = disagreeing_pool(engine)
    queue = crowd_review.disagreement_queue(eve, engine=engine, threshold=0.5)
    assert [r.task_id for r in queue] == [bad]
    d = crowd_resolve.disagreement_detail(eve, engine=engine, task_id=bad)
    assert [(a.user_name, a.start, a.end) for a in d.answers] == [
        ("ann0", 10.0, 25.0), ("ann1", 70.0, 90.0), ("ann2", 12.0, 26.0)]
    assert d.consensus_source == "computed" and d.consensus is not None
    assert 9.5 <= d.consensus[0] <= 12.5 and 24.5 <= d.consensus[1] <= 26.5  # the two overlapping answers win
    assert 0.2 < d.mean_iou < 0.5 and d.alpha < 0.6
    assert d.resolution is None and len(d.answer_ids) == 3
    # after aggregation the consensus label is shown
    crowd_review.aggregate_pool(eve, engine=engine, pool_id=d.pool_id)
    d2 = crowd_resolve.disagreement_detail(eve, engine=engine, task_id=bad)
    assert d2.consensus_source == "label"


@pytest.mark.parametrize("aggregated", [False, True])
def test_resolve_consensus_removes_the_task_from_the_queue(engine, aggregated):
    (bad, _), _, eve = disagreeing_pool(engine)
    if aggregated:
        crowd_review.aggregate_pool(eve, engine=engine, pool_id=1)
    d = crowd_resolve.disagreement_detail(eve, engine=engine, task_id=bad)
    res = crowd_resolve.resolve_disagreement(eve, engine=engine, task_id=bad, choice="consensus",
                                             seen_answers=d.answer_ids, seen_resolution=d.resolution_id,
                                             comment="two of three agree")
    assert (res.start, res.end) == d.consensus and res.author == "eve" and res.choice == "consensus"
    assert crowd_review.disagreement_queue(eve, engine=engine, threshold=0.5) == []
    assert [r.task_id for r in crowd_review.disagreement_queue(eve, engine=engine, threshold=0.5,
                                                               include_resolved=True)] == [bad]
    with store.session_scope(engine) as s:
        heads = store.current_labels(session=s, item_id=d.item_id, kind="interest")
        assert [(lb.source, lb.author, lb.start, lb.end) for lb in heads] == [
            ("crowd_resolved", "eve", res.start, res.end)]
        lb = heads[0]
        assert lb.created_at is not None
        note = json.loads(lb.note)
        assert note["task_id"] == bad and note["choice"] == "consensus" and note["comment"] == "two of three agree"
        assert note["answer_ids"] == list(d.answer_ids)
        # aggregated: the resolution supersedes the consensus label (its history stays)
        assert (lb.supersedes_id is not None) == aggregated
    assert crowd_resolve.disagreement_detail(eve, engine=engine, task_id=bad).resolution.label_id == res.label_id


def test_resolve_with_an_annotators_region_or_a_corrected_one(engine):
    (bad, _), _, eve = disagreeing_pool(engine)
    d = crowd_resolve.disagreement_detail(eve, engine=engine, task_id=bad)
    pick = next(a for a in d.answers if a.user_name == "ann1")
    res = crowd_resolve.resolve_disagreement(eve, engine=engine, task_id=bad, choice="annotator",
                                             answer_id=pick.answer_id, seen_answers=d.answer_ids)
    assert (res.start, res.end, res.annotator, res.choice) == (70.0, 90.0, "ann1", "annotator")
    # re-resolving needs the current resolution id: a corrected region supersedes the first resolution
    d = crowd_resolve.disagreement_detail(eve, engine=engine, task_id=bad)
    with pytest.raises(ValidationError, match="needs a start and an end"):
        crowd_resolve.resolve_disagreement(eve, engine=engine, task_id=bad, choice="corrected", start=None,
                                           end=80.0, seen_answers=d.answer_ids, seen_resolution=d.resolution_id)
    with pytest.raises(ValidationError, match="past the item.s duration"):
        crowd_resolve.resolve_disagreement(eve, engine=engine, task_id=bad, choice="corrected", start=100.0,
                                           end=130.0, seen_answers=d.answer_ids, seen_resolution=d.resolution_id)
    res2 = crowd_resolve.resolve_disagreement(eve, engine=engine, task_id=bad, choice="corrected", start=68.5,
                                              end=88.25, seen_answers=d.answer_ids, seen_resolution=d.resolution_id)
    assert (res2.start, res2.end, res2.version) == (68.5, 88.25, 2)
    with pytest.raises(ValidationError, match="resolution choice must be one of"):
        crowd_resolve.resolve_disagreement(eve, engine=engine, task_id=bad, choice="majority",
                                           seen_answers=d.answer_ids)


def test_annotators_are_refused_with_a_clear_error(engine):
    (bad, _), anns, eve = disagreeing_pool(engine)
    d = crowd_resolve.disagreement_detail(eve, engine=engine, task_id=bad)
    for call in (lambda: crowd_resolve.disagreement_detail(anns[0], engine=engine, task_id=bad),
                 lambda: crowd_review.disagreement_queue(anns[0], engine=engine),
                 lambda: crowd_resolve.resolve_disagreement(anns[0], engine=engine, task_id=bad, choice="consensus",
                                                            seen_answers=d.answer_ids)):
        with pytest.raises(PermissionDeniedError, match="'ann0' has the role 'annotator'; this needs one of: engineer, pm, admin"):
            call()
    with pytest.raises(PermissionDeniedError, match="log in"):
        crowd_resolve.disagreement_detail(None, engine=engine, task_id=bad)
    assert crowd_review.disagreement_queue(eve, engine=engine, threshold=0.5)[0].task_id == bad  # nothing written


def test_stale_resolutions_are_refused(engine):
    (bad, _), anns, eve = disagreeing_pool(engine)
    pm = auth.create_user(name="pat", password=PASSWORD, role="pm", engine=engine)
    seen_by_eve = crowd_resolve.disagreement_detail(eve, engine=engine, task_id=bad)
    seen_by_pat = crowd_resolve.disagreement_detail(pm, engine=engine, task_id=bad)
    first = crowd_resolve.resolve_disagreement(pm, engine=engine, task_id=bad, choice="consensus",
                                               seen_answers=seen_by_pat.answer_ids)
    with pytest.raises(StaleEditError, match=f"task {bad} was already resolved by pat"):
        crowd_resolve.resolve_disagreement(eve, engine=engine, task_id=bad, choice="corrected", start=1.0, end=9.0,
                                           seen_answers=seen_by_eve.answer_ids)
    with store.session_scope(engine) as s:  # the first resolution is untouched
        heads = store.current_labels(session=s, item_id=seen_by_eve.item_id, kind="interest")
        assert [(lb.id, lb.author) for lb in heads] == [(first.label_id, "pat")]


def test_new_answers_since_opening_make_the_view_stale(engine):
    (bad, _), anns, eve = disagreeing_pool(engine)
    crowd_review.disagreement_queue(eve, engine=engine)
    d = crowd_resolve.disagreement_detail(eve, engine=engine, task_id=bad)
    late = auth.create_user(name="late", password=PASSWORD, engine=engine)
    with store.session_scope(engine) as s:  # give the task room for a fourth answer
        task = store.get_crowd_task(session=s, task_id=bad)
        task.overlap_target, task.status = 4, "open"
        s.add(task)
    task = crowd.next_task(late, engine=engine)
    assert task.task_id == bad
    crowd.submit_answer(late, engine=engine, task_id=bad, start=11.0, end=24.0, listened_seconds=60)
    with pytest.raises(StaleEditError, match=f"answers of task {bad} changed since you opened it \\(1 new"):
        crowd_resolve.resolve_disagreement(eve, engine=engine, task_id=bad, choice="consensus",
                                           seen_answers=d.answer_ids)
    d2 = crowd_resolve.disagreement_detail(eve, engine=engine, task_id=bad)
    assert len(d2.answer_ids) == 4
    crowd_resolve.resolve_disagreement(eve, engine=engine, task_id=bad, choice="consensus",
                                       seen_answers=d2.answer_ids)


def test_skipped_answers_cannot_be_picked(engine):
    (bad, _), anns, eve = disagreeing_pool(engine)
    skipper = auth.create_user(name="skipper", password=PASSWORD, engine=engine)
    with store.session_scope(engine) as s:
        task = store.get_crowd_task(session=s, task_id=bad)
        task.overlap_target, task.status = 4, "open"
        s.add(task)
    crowd.submit_answer(skipper, engine=engine, task_id=bad, skip_reason="cannot_judge", listened_seconds=60)
    d = crowd_resolve.disagreement_detail(eve, engine=engine, task_id=bad)
    skip = next(a for a in d.answers if a.user_name == "skipper")
    assert not skip.valid and skip.answer_id not in d.answer_ids
    with pytest.raises(ValidationError, match="skipper skipped task .* \\(cannot_judge\\)"):
        crowd_resolve.resolve_disagreement(eve, engine=engine, task_id=bad, choice="annotator",
                                           answer_id=skip.answer_id, seen_answers=d.answer_ids)
    with pytest.raises(ValidationError, match="is not an answer to task"):
        crowd_resolve.resolve_disagreement(eve, engine=engine, task_id=bad, choice="annotator", answer_id=99999,
                                           seen_answers=d.answer_ids)


def test_two_reviewers_resolving_at_once_one_wins(tmp_path, monkeypatch):
    """Both open the same unresolved task and press resolve together: one resolution is saved, the other refused."""
    from conftest import race, slowed

    url = f"sqlite:///{tmp_path / 'crowd.db'}"
    setup = store.make_engine(url)
    store.init_db(setup)
    (bad, _), _, eve = disagreeing_pool(setup)
    fay = auth.create_user(name="fay", password=PASSWORD, role="engineer", engine=setup)
    d = crowd_resolve.disagreement_detail(eve, engine=setup, task_id=bad)
    setup.dispose()
    # widen the window between "nobody resolved it yet" and the write
    monkeypatch.setattr(crowd_resolve, "_task_heads", slowed(crowd_resolve._task_heads))

    def resolve(user, start):
        return lambda: crowd_resolve.resolve_disagreement(
            user, engine=store.make_engine(url), task_id=bad, choice="corrected", start=start, end=start + 15.0,
            seen_answers=d.answer_ids, seen_resolution=None)

    results = race(resolve(eve, 11.0), resolve(fay, 13.0))
    won = [r for r in results if not isinstance(r, Exception)]
    lost = [r for r in results if isinstance(r, StaleEditError)]
    assert len(won) == 1 and len(lost) == 1, results
    assert "already resolved by" in str(lost[0])
    check = store.make_engine(url)
    with store.session_scope(check) as s:
        heads = [lb for lb in store.current_labels(session=s, item_id=won[0].item_id) if lb.source == "crowd_resolved"]
    assert [(lb.author, lb.start) for lb in heads] == [(won[0].author, won[0].start)]


def test_two_answers_that_tie_get_no_consensus_label(engine):
    """Two annotators who do not overlap: no consensus is written or offered; a reviewer settles it."""
    with store.session_scope(engine) as s:
        store.upsert_item(session=s, key="song0.wav", path="/nowhere/song0.wav", kind="song", genre="pop",
                          title="song 0", duration=120.0)
    crowd.create_pool(SYSTEM_USER, engine=engine, name="hooks", golden_rate=0.0, overlap=2, min_listen_seconds=5.0)
    eve = auth.create_user(name="eve", password=PASSWORD, role="engineer", engine=engine)
    for k, region in enumerate(((10.0, 25.0), (70.0, 90.0))):
        who = auth.create_user(name=f"ann{k}", password=PASSWORD, engine=engine)
        task = crowd.next_task(who, engine=engine)
        crowd.submit_answer(who, engine=engine, task_id=task.task_id, start=region[0], end=region[1],
                            listened_seconds=60)
    res = crowd_review.aggregate_pool(eve, engine=engine, pool_id=1)
    assert res.labels_written == 0 and res.consensus == ()
    assert "tie" in res.skipped_tasks[task.task_id]
    d = crowd_resolve.disagreement_detail(eve, engine=engine, task_id=task.task_id)
    assert d.consensus is None and len(d.answer_ids) == 2
    with pytest.raises(ValidationError, match="no consensus"):
        crowd_resolve.resolve_disagreement(eve, engine=engine, task_id=task.task_id, choice="consensus",
                                           seen_answers=d.answer_ids)
    pick = next(a for a in d.answers if a.user_name == "ann1")
    done = crowd_resolve.resolve_disagreement(eve, engine=engine, task_id=task.task_id, choice="annotator",
                                              answer_id=pick.answer_id, seen_answers=d.answer_ids)
    assert (done.start, done.end) == (70.0, 90.0)
