"""Crowd labelling: masks, crowd-kit consensus, agreement, task serving, skills, suspension, privacy.

Simulated annotators of known skill work generated tracks whose true region is
known, through the same services the crowd page calls.
"""

from __future__ import annotations

import dataclasses
import json
import math

import numpy as np
import pandas as pd
import pytest
from argon2 import PasswordHasher
from scipy.stats import spearmanr

from reviewer import store
from reviewer.crowd import RegionConsensus, mask_to_region, n_cells, region_mask, task_agreement
from reviewer.crowd.simulate import make_crowd
from reviewer.errors import ValidationError
from reviewer.metrics.intervals import iou
from reviewer.services import auth, crowd, crowd_review, crowd_sim
from reviewer.services.auth import SYSTEM_USER, PermissionDeniedError
from reviewer.services.crowd_views import ANNOTATOR_VIEWS

GENRES = ("pop", "rock", "jazz", "hip-hop")


@pytest.fixture(autouse=True, scope="module")
def fast_hashing():
    """Cheap argon2 parameters: the tests create many accounts (production keeps the defaults)."""
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(auth, "_HASHER", PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1))
        yield


def make_library(engine, *, per_genre: int, seed: int = 0, short: bool = False) -> dict[int, tuple[float, float]]:
    """Songs with a known "most interesting" region each (also stored as a truth hook label)."""
    rng = np.random.default_rng(seed)
    truth = {}
    with store.session_scope(engine) as s:
        for g in GENRES:
            for i in range(per_genre):
                d = float(rng.uniform(120, 240))
                ln = float(rng.uniform(12, 28))
                st = float(rng.uniform(5, d - ln - 5))
                it = store.upsert_item(session=s, key=f"{g}_{i}.mp3", path=f"songs/{g}_{i}.mp3", kind="song",
                                       genre=g, artist=f"{g}-artist{i % 2}", duration=d)
                store.add_label(session=s, item_id=it.id, kind="hook", start=st, end=st + ln, source="truth")
                truth[it.id] = (st, st + ln)
        if short:
            it = store.upsert_item(session=s, key="short.mp3", path="short.mp3", kind="song", genre="pop", duration=4.0)
            truth[it.id] = (0.0, 4.0)
    return truth


@pytest.fixture
def engine():
    e = store.make_engine("sqlite://")
    store.init_db(e)
    return e


# ----------------------------------------------------------------- maths


def test_region_mask_round_trip_within_half_a_cell():
    for s, e in [(10.2, 20.2), (0.0, 5.0), (33.3, 61.9), (170.0, 180.0)]:
        m = region_mask(s, e, duration=180.0)
        assert m.shape == (1, n_cells(180.0)) and m.dtype == bool
        rs, re_ = mask_to_region(m, duration=180.0)
        assert abs(rs - s) <= 0.25 + 1e-9 and abs(re_ - e) <= 0.25 + 1e-9
    assert region_mask(3.1, 3.2, duration=10.0).sum() == 1  # a tiny region still marks its cell
    assert mask_to_region(np.zeros((1, 8), bool), duration=4.0) is None
    with pytest.raises(ValidationError, match="past the item's duration"):
        region_mask(5.0, 50.0, duration=10.0)


def test_longest_run_wins_then_most_votes():
    m = np.array([[1, 1, 0, 1, 1, 1, 0, 1, 1, 1]], bool)
    assert mask_to_region(m, duration=5.0) == (1.5, 3.0)
    votes = np.array([[0, 0, 0, 1, 1, 1, 0, 3, 3, 3]])
    assert mask_to_region(m, duration=5.0, votes=votes) == (3.5, 5.0)


@pytest.mark.parametrize("method", ["mv", "em", "rasa"])
def test_region_consensus_uses_crowd_kit(method):
    df = pd.DataFrame([("a", "w1", 10, 30), ("a", "w2", 11, 29), ("a", "w3", 50, 70), ("b", "w1", 5, 25)],
                      columns=["task", "worker", "start", "end"])
    out = RegionConsensus(method).fit_predict(df, {"a": 100.0, "b": 60.0})
    assert abs(out.loc["a", "start"] - 11.0) <= 1.0 and abs(out.loc["a", "end"] - 29.0) <= 1.0
    assert (out.loc["b", "start"], out.loc["b", "end"]) == (5.0, 25.0)
    assert out.loc["a", "n_workers"] == 3


def test_region_consensus_fallback_and_errors():
    df = pd.DataFrame([("a", "w1", 0, 10), ("a", "w2", 40, 60), ("a", "w3", 80, 90)],
                      columns=["task", "worker", "start", "end"])
    out = RegionConsensus("mv").fit_predict(df, {"a": 100.0})
    assert bool(out.loc["a", "fallback"]) and out.loc["a", "end"] - out.loc["a", "start"] == 20.0
    weighted = RegionConsensus("mv").fit_predict(df, {"a": 100.0}, skills=pd.Series({"w3": 5.0}))
    assert (weighted.loc["a", "start"], weighted.loc["a", "end"]) == (80.0, 90.0)
    with pytest.raises(ValidationError, match="method must be one of"):
        RegionConsensus("wawa")
    with pytest.raises(ValidationError, match="no duration"):
        RegionConsensus("mv").fit(df, {})


def test_answers_that_do_not_overlap_tie():
    rows = [("two", "w1", 10, 30), ("two", "w2", 50, 60), ("three", "w1", 0, 10), ("three", "w2", 40, 60),
            ("three", "w3", 80, 90), ("agree", "w1", 10, 30), ("agree", "w2", 12, 31), ("agree", "w3", 60, 70)]
    df = pd.DataFrame(rows, columns=["task", "worker", "start", "end"])
    durations = {"two": 100.0, "three": 100.0, "agree": 100.0}
    out = RegionConsensus("mv").fit_predict(df, durations)
    assert bool(out.loc["two", "tie"]) and bool(out.loc["three", "tie"])
    assert not bool(out.loc["agree", "tie"])
    # a clearly more skilled worker is not a tie: their region carries a majority of the weight
    weighted = RegionConsensus("mv").fit_predict(df, durations, skills=pd.Series({"w1": 3.0}))
    assert not bool(weighted.loc["two", "tie"]) and (weighted.loc["two", "start"], weighted.loc["two", "end"]) == (10.0, 30.0)


def test_agreement_measures():
    same = task_agreement([(10, 30), (10, 30), (10, 30)], duration=100)
    assert same.mean_iou == 1.0 and same.alpha == pytest.approx(1.0)
    apart = task_agreement([(0, 10), (50, 60)], duration=100)
    assert apart.mean_iou == 0.0 and apart.alpha < 0
    one = task_agreement([(0, 10)], duration=100)
    assert math.isnan(one.mean_iou) and math.isnan(one.alpha)


# ----------------------------------------------------------------- the simulation


@pytest.fixture(scope="module")
def simulated():
    engine = store.make_engine("sqlite://")
    store.init_db(engine)
    truth = make_library(engine, per_genre=7, seed=1)
    gold_ids = [i for n, i in enumerate(sorted(truth)) if n % 7 < 2]  # two golden songs per genre
    pool = crowd.create_pool(SYSTEM_USER, engine=engine, name="interest-1", golden={i: truth[i] for i in gold_ids},
                             golden_rate=0.3, min_golden=3, overlap=3, dynamic_overlap=True, max_overlap=5,
                             target_agreement=0.5, min_listen_seconds=20.0)
    skills = {"expert": 0.95, "good": 0.9, "fair": 0.75, "weak": 0.5, "spam1": 0.0, "spam2": 0.0}
    crowd_members = make_crowd(skills, dislikes={"good": {"jazz"}})
    run = crowd_sim.simulate_pool(engine=engine, pool_id=pool.pool_id, annotators=crowd_members, truth=truth,
                                  rng=np.random.default_rng(7))
    return engine, truth, pool, run, skills, set(gold_ids)


def test_simulated_crowd_consensus_skills_and_suspension(simulated):
    engine, truth, pool, run, skills, gold_ids = simulated
    assert set(run.suspended) >= {"spam1", "spam2"} and not set(run.suspended) & {"expert", "good"}
    res = crowd_review.aggregate_pool(SYSTEM_USER, engine=engine, pool_id=pool.pool_id, method="mv")
    assert len(res.consensus) == pool.n_tasks == 20 and pool.per_genre == {g: 5 for g in GENRES}
    ious = [iou(truth[r.item_id], (r.start, r.end)) for r in res.consensus]
    assert np.mean(ious) >= 0.8 and np.median(ious) >= 0.85, ious
    for method in ("em", "rasa"):
        other = crowd_review.aggregate_pool(SYSTEM_USER, engine=engine, pool_id=pool.pool_id, method=method,
                                            write_labels=False)
        other_ious = [iou(truth[r.item_id], (r.start, r.end)) for r in other.consensus]
        assert np.mean(other_ious) >= 0.7 and np.median(other_ious) >= 0.85, (method, other_ious)
    # golden skill estimates follow the true skills
    by_name = {r.name: r for r in res.skills}
    names = sorted(skills)
    rho = spearmanr([skills[n] for n in names], [by_name[n].golden_iou for n in names]).statistic
    assert rho >= 0.8, {n: by_name[n].golden_iou for n in names}
    assert by_name["spam1"].suspended and "golden IoU" in by_name["spam1"].suspended_reason
    # suspended workers' answers are excluded from aggregation
    spam_ids = {by_name["spam1"].user_id, by_name["spam2"].user_id}
    assert not any(u.id in spam_ids for _, _, u in store_pool_answers(engine, pool.pool_id))
    # consensus is written as new crowd labels, and re-aggregating writes nothing new
    assert res.labels_written == 20
    with store.session_scope(engine) as s:
        labels = store.current_labels(session=s, item_id=res.consensus[0].item_id, kind="interest", source="crowd")
        assert len(labels) == 1 and labels[0].author == "crowd-consensus:mv"
        assert json.loads(labels[0].note)["n_answers"] >= 2
    again = crowd_review.aggregate_pool(SYSTEM_USER, engine=engine, pool_id=pool.pool_id, method="mv")
    assert again.labels_written == 0


def store_pool_answers(engine, pool_id):
    with store.session_scope(engine) as s:
        return store.pool_answers(session=s, pool_id=pool_id)


def test_overlap_dislikes_and_golden_rate(simulated):
    engine, truth, pool, run, skills, gold_ids = simulated
    with store.session_scope(engine) as s:
        tasks = store.list_crowd_tasks(session=s, pool_id=pool.pool_id)
        answers = store.pool_answers(session=s, pool_id=pool.pool_id, is_golden=None, valid_only=False)
        good = store.get_user_by_name(session=s, name="good")
    per_task = {}
    for a, t, u in answers:
        per_task.setdefault(t.id, []).append(u.name)
    for t in tasks:
        names = per_task.get(t.id, [])
        assert len(names) == len(set(names))  # one answer per user per task
        if not t.is_golden:
            valid = [n for n in names if not n.startswith("spam")]
            assert len(valid) <= t.overlap_target
    good_genres = [t.genre for a, t, u in answers if u.id == good.id and a.skip_reason is None]
    skips = [t.genre for a, t, u in answers if u.id == good.id and a.skip_reason == "dislike_genre"]
    assert skips == ["jazz"] and "jazz" not in good_genres  # skipped once, then never offered again
    expert = [t.is_golden for a, t, u in answers if u.name == "expert"]
    assert 0.2 <= sum(expert) / len(expert) <= 0.4  # golden rate 0.3


def test_disagreement_queue_is_sorted_and_reviewers_only(simulated):
    engine, truth, pool, run, skills, gold_ids = simulated
    queue = crowd_review.disagreement_queue(SYSTEM_USER, engine=engine, threshold=0.99)
    assert queue and [r.mean_iou for r in queue] == sorted(r.mean_iou for r in queue)
    assert all(r.n_answers >= 2 and len(r.regions) == r.n_answers for r in queue)
    report = crowd_review.task_report(SYSTEM_USER, engine=engine, task_id=queue[0].task_id)
    assert len(report.answers) >= queue[0].n_answers


# ----------------------------------------------------------------- serving and validation


@pytest.fixture
def small_pool(engine):
    truth = make_library(engine, per_genre=2, seed=2, short=True)
    pool = crowd.create_pool(SYSTEM_USER, engine=engine, name="small", golden_rate=0.0, overlap=2,
                             min_listen_seconds=20.0, dynamic_overlap=True, max_overlap=3, target_agreement=0.6)
    users = [auth.create_user(name=f"ann{i}", password="long enough", engine=engine) for i in range(4)]
    return engine, truth, pool, users


def test_genre_balanced_pool(engine):
    make_library(engine, per_genre=3)
    with store.session_scope(engine) as s:  # one genre gets two more songs: the pool stays balanced
        for i in range(2):
            store.upsert_item(session=s, key=f"extra{i}.mp3", path="x.mp3", kind="song", genre="pop", duration=100.0)
    pool = crowd.create_pool(SYSTEM_USER, engine=engine, name="balanced")
    assert pool.per_genre == {g: 3 for g in GENRES}
    only = crowd.create_pool(SYSTEM_USER, engine=engine, name="two-genres", genres=["pop", "rock"], per_genre=2)
    assert only.per_genre == {"pop": 2, "rock": 2}
    with pytest.raises(ValidationError, match="no episode item"):
        crowd.create_pool(SYSTEM_USER, engine=engine, name="episodes", kind="episode")


def test_answer_validation(small_pool):
    engine, truth, pool, (a, b, *_) = small_pool
    task = crowd.next_task(a, engine=engine, pool_id=pool.pool_id)
    with pytest.raises(ValidationError, match="at least 5.0 s"):
        crowd.submit_answer(a, engine=engine, task_id=task.task_id, start=10, end=12, listened_seconds=60)
    with pytest.raises(ValidationError, match="at most 30.0 s"):
        crowd.submit_answer(a, engine=engine, task_id=task.task_id, start=10, end=50, listened_seconds=60)
    with pytest.raises(ValidationError, match="past the item's duration"):
        crowd.submit_answer(a, engine=engine, task_id=task.task_id, start=task.duration - 3,
                            end=task.duration + 10, listened_seconds=60)
    with pytest.raises(ValidationError, match="not both or neither"):
        crowd.submit_answer(a, engine=engine, task_id=task.task_id, listened_seconds=60)
    with pytest.raises(ValidationError, match="skip reason must be one of"):
        crowd.submit_answer(a, engine=engine, task_id=task.task_id, skip_reason="bored", listened_seconds=60)
    ok = crowd.submit_answer(a, engine=engine, task_id=task.task_id, start=10, end=30, listened_seconds=60)
    assert not ok.too_fast
    with pytest.raises(ValidationError, match="already answered"):
        crowd.submit_answer(a, engine=engine, task_id=task.task_id, start=10, end=30, listened_seconds=60)
    nxt = crowd.next_task(a, engine=engine, pool_id=pool.pool_id)
    assert nxt.task_id != task.task_id
    fast = crowd.submit_answer(a, engine=engine, task_id=nxt.task_id, start=0, end=20, listened_seconds=3)
    assert fast.too_fast and "flagged" in fast.message
    with store.session_scope(engine) as s:  # a too-fast answer does not count towards the overlap
        assert store.pool_answers(session=s, pool_id=pool.pool_id, task_ids=[nxt.task_id]) == []


def test_short_item_is_answered_whole_and_overlap_closes_tasks(small_pool):
    engine, truth, pool, users = small_pool
    with store.session_scope(engine) as s:
        short = next(t for t in store.list_crowd_tasks(session=s, pool_id=pool.pool_id) if t.genre == "pop"
                     and store.get_item(session=s, item_id=t.item_id).duration == 4.0)
    receipts = [crowd.submit_answer(u, engine=engine, task_id=short.id, start=0.0, end=4.0, listened_seconds=4.0)
                for u in users[:2]]
    assert not any(r.too_fast for r in receipts)
    with store.session_scope(engine) as s:
        assert store.get_crowd_task(session=s, task_id=short.id).status == "done"  # 2 agreeing answers
    assert all(crowd.next_task(u, engine=engine, pool_id=pool.pool_id).task_id != short.id for u in users[2:])


def test_dynamic_overlap_raises_the_target_when_answers_disagree(small_pool):
    engine, truth, pool, (a, b, c, d) = small_pool
    t = crowd.next_task(a, engine=engine, pool_id=pool.pool_id)
    crowd.submit_answer(a, engine=engine, task_id=t.task_id, start=0, end=20, listened_seconds=60)
    crowd.submit_answer(b, engine=engine, task_id=t.task_id, start=60, end=80, listened_seconds=60)
    with store.session_scope(engine) as s:
        task = store.get_crowd_task(session=s, task_id=t.task_id)
        assert task.overlap_target == 3 and task.status == "open"
    assert crowd.next_task(c, engine=engine, pool_id=pool.pool_id).task_id == t.task_id  # unfinished first
    crowd.submit_answer(c, engine=engine, task_id=t.task_id, start=61, end=80, listened_seconds=60)
    with store.session_scope(engine) as s:
        task = store.get_crowd_task(session=s, task_id=t.task_id)
        assert task.overlap_target == 3 and task.status == "done"  # max_overlap reached
    assert crowd.next_task(d, engine=engine, pool_id=pool.pool_id).task_id != t.task_id


def test_suspended_annotator_is_locked_out(small_pool):
    engine, truth, pool, (a, *_) = small_pool
    with store.session_scope(engine) as s:
        store.set_user_suspended(session=s, user_id=a.user_id, suspended=True, reason="test")
    with pytest.raises(PermissionDeniedError, match="suspended: test"):
        crowd.next_task(a, engine=engine, pool_id=pool.pool_id)
    assert crowd.my_stats(a, engine=engine).suspended_reason == "test"
    crowd_review.reinstate_user(SYSTEM_USER, engine=engine, user_id=a.user_id)
    assert crowd.next_task(a, engine=engine, pool_id=pool.pool_id) is not None


# ----------------------------------------------------------------- privacy


_FORBIDDEN_FIELDS = {"is_golden", "golden", "golden_start", "golden_end", "answers", "regions", "user_name",
                     "user_id", "n_answers", "mean_iou", "alpha", "skill", "consensus", "overlap_target"}


def test_annotator_views_have_no_field_for_other_answers_or_golden():
    for view in ANNOTATOR_VIEWS:
        names = {f.name for f in dataclasses.fields(view)}
        assert not names & _FORBIDDEN_FIELDS, (view.__name__, names & _FORBIDDEN_FIELDS)


def test_annotator_cannot_read_others_or_golden_through_any_service(engine):
    truth = make_library(engine, per_genre=1, seed=3)
    gold = sorted(truth)[0]
    pool = crowd.create_pool(SYSTEM_USER, engine=engine, name="private", golden={gold: truth[gold]},
                             golden_rate=1.0, min_golden=5, min_listen_seconds=1.0)
    a = auth.create_user(name="alice", password="long enough", engine=engine)
    b = auth.create_user(name="bob", password="long enough", engine=engine)
    # bob answers first; alice then sees the same tasks without any trace of bob's answers
    tb = crowd.next_task(b, engine=engine, pool_id=pool.pool_id)
    crowd.submit_answer(b, engine=engine, task_id=tb.task_id, start=1.0, end=11.0, listened_seconds=5)
    ta = crowd.next_task(a, engine=engine, pool_id=pool.pool_id)
    assert ta.task_id == tb.task_id and ta == dataclasses.replace(tb)  # same view, golden or not
    golden_values = {round(v, 3) for v in truth[gold]}
    results = [
        crowd.available_pools(a, engine=engine),
        ta,
        crowd.submit_answer(a, engine=engine, task_id=ta.task_id, start=2.0, end=12.0, listened_seconds=5),
        crowd.my_answers(a, engine=engine),
        crowd.my_stats(a, engine=engine),
        crowd.next_task(a, engine=engine, pool_id=pool.pool_id),
    ]
    for res in results:
        for rec in res if isinstance(res, list) else [res]:
            if rec is None:
                continue
            assert type(rec) in ANNOTATOR_VIEWS
            values = dataclasses.asdict(rec).values()
            assert not any(isinstance(v, float) and round(v, 3) in golden_values for v in values)
            assert 11.0 not in values and 1.0 not in [v for k, v in dataclasses.asdict(rec).items() if k == "start"]
    assert [m.start for m in crowd.my_answers(a, engine=engine)] == [2.0]
    assert crowd.my_stats(a, engine=engine).answered == 1
    # every reviewer-side service refuses an annotator
    refused = [
        lambda: crowd.pool_summary(a, engine=engine),
        lambda: crowd.create_pool(a, engine=engine, name="mine"),
        lambda: crowd_review.aggregate_pool(a, engine=engine, pool_id=pool.pool_id),
        lambda: crowd_review.pool_skills(a, engine=engine, pool_id=pool.pool_id),
        lambda: crowd_review.task_report(a, engine=engine, task_id=ta.task_id),
        lambda: crowd_review.disagreement_queue(a, engine=engine),
        lambda: crowd_review.reinstate_user(a, engine=engine, user_id=b.user_id),
        lambda: auth.list_accounts(a, engine=engine),
    ]
    for call in refused:
        with pytest.raises(PermissionDeniedError):
            call()
