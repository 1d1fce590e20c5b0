"""Review services: page data, saving corrections (new rows, stale edits), undo, picking, peaks and clips."""

from __future__ import annotations

import io
import math

import numpy as np
import pytest
import soundfile as sf

from reviewer import store, waveform
from reviewer.errors import InvalidMediaError, NotFoundError, StaleEditError, ValidationError
from reviewer.services import audio_clips, review


@pytest.fixture
def lib(settings, wav_file):
    """A database with one episode (intro truth label) and one song (no labels), files on disk."""
    engine = store.make_engine(settings.db_url)
    store.init_db(engine)
    ep = wav_file("show/e01.wav", duration=20.0)
    song = wav_file("songs/s.wav", duration=12.0, seed=1)
    with store.session_scope(engine) as s:
        a = store.upsert_item(session=s, key="e01", path=str(ep), kind="episode", series="Show", season=1, episode=1,
                              duration=20.0, content_hash="a" * 64)
        b = store.upsert_item(session=s, key="song", path=str(song), kind="song", artist="Band", title="Song",
                              duration=12.0)
        store.add_label(session=s, item_id=a.id, kind="intro", start=2.0, end=8.0, source="truth", author="gt")
        ids = (a.id, b.id)
    return engine, settings, ids


def _predict(engine, item_id, task="intro", start=2.5, end=8.5, confidence=0.8, payload=None):
    with store.session_scope(engine) as s:
        mv = store.add_model_version(session=s, task=task, name="test", version=f"v{item_id}{task}")
        return store.add_prediction(session=s, item_id=item_id, model_version_id=mv.id, task=task, start=start,
                                    end=end, confidence=confidence, payload=payload or {"method": "crnn"}).id


def test_review_data_without_predictions(lib):
    engine, settings, (ep, _song) = lib
    data = review.review_data(ep, engine=engine, settings=settings)
    assert data.item.display_name == "Show S01E01"
    assert data.predictions == {} and "No prediction yet" in data.messages[0]
    assert [lb.kind for lb in data.labels] == ["intro"] and data.primary_kind == "intro"
    assert data.proposal("intro", label_id=data.labels[0].id)[:2] == (2.0, 8.0)
    assert data.timeline is None and "extract" in data.timeline_note
    assert data.overview is not None and len(data.overview) > 100 and not data.reviewed
    assert (waveform.peaks_path(settings.cache_dir, "a" * 64)).exists()


def test_review_data_with_prediction_payload(lib):
    engine, settings, (_ep, song) = lib
    payload = {"method": "ssm", "model_version": "x", "chorus": [[1.0, 3.0], [6.0, 8.0]], "prechorus": [[0.5, 1.0]],
               "segment_times": [[0, 3], [1.5, 4.5]], "segment_scores": [0.2, 0.9]}
    _predict(engine, song, task="hook", start=6.0, end=8.0, confidence=0.6, payload=payload)
    data = review.review_data(str(song), engine=engine, settings=settings)
    pred = data.prediction_for("hook")
    assert pred.confidence_text == "confidence 60%" and pred.chorus == [(1.0, 3.0), (6.0, 8.0)]
    assert pred.segment_scores == [0.2, 0.9] and data.messages == []
    assert data.proposal("chorus")[:2] == (1.0, 3.0) and data.proposal("hook")[:2] == (6.0, 8.0)


@pytest.mark.parametrize("bad", ["abc", "", "0", "-3", None, "1.5"])
def test_bad_item_ids(lib, bad):
    engine, settings, _ = lib
    with pytest.raises(ValidationError, match="item id"):
        review.review_data(bad, engine=engine, settings=settings)


def test_unknown_item(lib):
    engine, settings, _ = lib
    with pytest.raises(NotFoundError, match="no media item"):
        review.review_data(999, engine=engine, settings=settings)


def test_correction_is_a_new_row_superseding_the_old(lib):
    engine, settings, (ep, _) = lib
    base = review.review_data(ep, engine=engine, settings=settings).labels[0]
    saved = review.save_correction(engine=engine, item_id=ep, kind="intro", start=2.25, end=9.5, author="ann",
                                   note="late start", base_label_id=base.id, base_version=base.version)
    assert saved.supersedes_id == base.id and saved.version == 2 and saved.source == "human"
    data = review.review_data(ep, engine=engine, settings=settings)
    assert [(lb.start, lb.end) for lb in data.labels] == [(2.25, 9.5)]
    assert [h.id for h in data.history] == [saved.id, base.id] and data.reviewed
    assert data.history[0].action == f"corrected #{base.id}" and not data.history[1].current
    assert data.history[0].to_row()["who"] == "ann"


def test_stale_edit_is_refused_and_names_the_winner(lib):
    engine, settings, (ep, _) = lib
    base = review.review_data(ep, engine=engine, settings=settings).labels[0]
    review.save_correction(engine=engine, item_id=ep, kind="intro", start=3.0, end=8.0, author="bob",
                           base_label_id=base.id, base_version=base.version)
    with pytest.raises(StaleEditError, match="bob.*still in the form"):
        review.save_correction(engine=engine, item_id=ep, kind="intro", start=4.0, end=8.0, author="ann",
                               base_label_id=base.id, base_version=base.version)
    labels = review.review_data(ep, engine=engine, settings=settings).labels
    assert [(lb.start, lb.author) for lb in labels] == [(3.0, "bob")]


def test_new_label_refused_when_someone_added_one_meanwhile(lib):
    engine, settings, (_, song) = lib
    review.save_correction(engine=engine, item_id=song, kind="hook", start=1.0, end=4.0, author="bob")
    with pytest.raises(StaleEditError, match="bob added a hook label"):
        review.save_correction(engine=engine, item_id=song, kind="hook", start=2.0, end=5.0, author="ann",
                               expect_no_label=True)


@pytest.mark.parametrize(("start", "end", "match"), [
    (5.0, 5.0, "before end"), (6.0, 2.0, "before end"), (-1.0, 3.0, "negative"), (1.0, 25.0, "past the item"),
    (math.nan, 3.0, "finite"), (1.0, math.inf, "finite"), ("x", 3.0, "numbers"),
])
def test_bad_bounds_save_nothing(lib, start, end, match):
    engine, settings, (ep, _) = lib
    with pytest.raises(ValidationError, match=match):
        review.save_correction(engine=engine, item_id=ep, kind="intro", start=start, end=end, author="ann")
    assert len(review.review_data(ep, engine=engine, settings=settings).history) == 1


def test_author_and_type_are_required(lib):
    engine, _, (ep, _) = lib
    with pytest.raises(ValidationError, match="enter your name"):
        review.save_correction(engine=engine, item_id=ep, kind="intro", start=1, end=2, author="  ")
    with pytest.raises(ValidationError, match="label type"):
        review.save_correction(engine=engine, item_id=ep, kind="verse-ish", start=1, end=2, author="ann")


def test_deleted_item_gives_a_clear_message(lib):
    engine, _, (ep, _) = lib
    with store.session_scope(engine) as s:
        store.delete_item(session=s, item_id=ep)
    with pytest.raises(NotFoundError, match="deleted meanwhile"):
        review.save_correction(engine=engine, item_id=ep, kind="intro", start=1, end=2, author="ann")


def test_accept_prediction_reject_and_undo(lib):
    engine, settings, (ep, song) = lib
    with pytest.raises(ValidationError, match="no hook region to accept"):
        review.accept(engine=engine, item_id=song, kind="hook", author="ann")
    pid = _predict(engine, ep)
    base = review.review_data(ep, engine=engine, settings=settings).labels[0]
    acc = review.accept(engine=engine, item_id=ep, kind="intro", author="ann", prediction_id=pid,
                        base_label_id=base.id, base_version=base.version)
    assert (acc.start, acc.end, acc.status) == (2.5, 8.5, "accepted")
    rej = review.reject(engine=engine, item_id=ep, kind="intro", start=acc.start, end=acc.end, author="ann",
                        base_label_id=acc.id, base_version=acc.version)
    assert rej.status == "rejected" and review.review_data(ep, engine=engine, settings=settings).labels == []
    back = review.undo(engine=engine, item_id=ep, author="ann")
    assert (back.start, back.end, back.status, back.supersedes_id) == (2.5, 8.5, "accepted", rej.id)
    assert [(lb.start, lb.end) for lb in review.review_data(ep, engine=engine, settings=settings).labels] == [(2.5, 8.5)]
    with pytest.raises(ValidationError, match="nothing|no change"):
        review.undo(engine=engine, item_id=ep, author="nobody")


def test_undo_of_a_new_label_withdraws_it_and_refuses_after_someone_else(lib):
    engine, settings, (_, song) = lib
    new = review.save_correction(engine=engine, item_id=song, kind="hook", start=1.0, end=4.0, author="ann")
    review.save_correction(engine=engine, item_id=song, kind="hook", start=1.5, end=4.0, author="bob",
                           base_label_id=new.id, base_version=new.version)
    with pytest.raises(StaleEditError, match="bob"):
        review.undo(engine=engine, item_id=song, author="ann")
    undone = review.undo(engine=engine, item_id=song, author="bob")
    assert undone.note.startswith("undo: restores") and undone.start == 1.0


def test_item_choices_filters_and_next_unreviewed(lib):
    engine, _, (ep, song) = lib
    rows, total = review.item_choices(engine=engine)
    assert total == 2 and [r.id for r in rows] == [ep, song]
    assert [r.id for r in review.item_choices(engine=engine, kind="song")[0]] == [song]
    assert [r.id for r in review.item_choices(engine=engine, series="Band")[0]] == [song]
    _predict(engine, ep, start=12.0, end=18.0, confidence=0.4)
    assert [r.id for r in review.item_choices(engine=engine, confidence=(0.3, 0.5))[0]] == [ep]
    assert review.item_choices(engine=engine, confidence=(0.5, 1.0))[0] == []
    dis = review.item_choices(engine=engine, disagreement=True)[0]
    assert [r.id for r in dis] == [ep] and dis[0].agreement == 0.0
    assert review.next_unreviewed(engine=engine) == ep
    review.save_correction(engine=engine, item_id=ep, kind="intro", start=1, end=2, author="ann")
    assert review.next_unreviewed(engine=engine, after_id=song) == song
    assert [r.id for r in review.item_choices(engine=engine, status="reviewed")[0]] == [ep]
    assert review.item_choices(engine=engine, status="reviewed")[0][0].label.startswith("✓")
    with pytest.raises(ValidationError, match="confidence range"):
        review.item_choices(engine=engine, confidence=(0.8, 0.2))
    assert "Band" in review.review_facets(engine=engine)["series"]


def test_iou():
    assert review.iou((0, 10), (5, 15)) == pytest.approx(1 / 3)
    assert review.iou(None, None) == 1.0 and review.iou((0, 1), None) == 0.0


def test_peaks_levels_and_zoom(wav_file, tmp_path):
    path = wav_file("long.wav", duration=30.0, sr=8000)  # the peak rate: no resampling
    peaks = waveform.load_or_build_peaks(path, cache_dir=tmp_path / "cache")
    assert peaks.duration == pytest.approx(30.0, abs=0.01)
    assert peaks.levels[0][0].size == 3000 and peaks.levels[-1][0].size <= waveform.MIN_BINS
    y, _ = sf.read(path, dtype="float32")
    assert float(peaks.levels[-1][1].max()) == pytest.approx(float(y.max()), abs=0.01)
    whole = peaks.window(0, None, max_points=200)
    zoom = peaks.window(10, 12, max_points=200)
    assert len(whole) <= 200 and zoom.seconds_per_bin < whole.seconds_per_bin
    assert zoom.times[0] >= 10 - zoom.seconds_per_bin and zoom.times[-1] <= 12 + zoom.seconds_per_bin
    again = waveform.load_or_build_peaks(path, cache_dir=tmp_path / "cache")
    assert again.content_hash == peaks.content_hash
    with pytest.raises(ValidationError):
        peaks.window(5, 5)
    with pytest.raises(InvalidMediaError):
        waveform.load_or_build_peaks(tmp_path / "missing.wav", cache_dir=tmp_path / "cache")


def test_spectrogram_window_is_small():
    sr = 16000
    y = np.sin(2 * np.pi * 1000 * np.arange(sr * 5) / sr).astype(np.float32)
    spec = waveform.spectrogram(y, sr=sr, offset=10.0, max_frames=100)
    assert spec.db.shape[1] <= 100 and spec.times[0] > 10.0
    assert spec.freqs[int(np.argmax(spec.db[:, 5]))] == pytest.approx(1000, abs=20)


def test_clip_with_preroll(wav_file):
    path = wav_file("c.wav", duration=10.0)
    clip = audio_clips.cut_clip(path, 3.0, 5.0, duration=10.0, preroll=2.0, sr=8000)
    y, sr = sf.read(io.BytesIO(clip.data))
    assert (clip.start, sr, clip.mime) == (1.0, 8000, "audio/wav") and len(y) == pytest.approx(4 * 8000, abs=2)
    assert clip.to_item_time(0.5) == 1.5
    early = audio_clips.cut_clip(path, 0.5, 1.0, preroll=2.0, fmt="ogg")
    assert early.start == 0.0 and early.mime == "audio/ogg"
    with pytest.raises(ValidationError, match="pre-roll"):
        audio_clips.cut_clip(path, 1, 2, preroll=-1)
    with pytest.raises(ValidationError, match="0 <= start < end"):
        audio_clips.cut_clip(path, 2, 1)


def test_two_editors_adding_the_first_label_at_once(lib, monkeypatch):
    """Both saw "no hook label" and save together: one label is saved, the other editor is told to reload."""
    from conftest import race, slowed

    engine, settings, (_, song) = lib
    engine.dispose()
    # widen the window between "no label yet" and the write
    monkeypatch.setattr(review, "_item_or_gone", slowed(review._item_or_gone))

    def save(author, start):
        return lambda: review.save_correction(engine=store.make_engine(settings.db_url), item_id=song, kind="hook",
                                              start=start, end=start + 4, author=author, expect_no_label=True)

    results = race(save("ann", 1.0), save("bob", 2.0))
    lost = [r for r in results if isinstance(r, StaleEditError)]
    assert len(lost) == 1 and sum(isinstance(r, review.LabelView) for r in results) == 1, results
    assert "while you were editing" in str(lost[0])
    check = store.make_engine(settings.db_url)
    with store.session_scope(check) as s:
        assert len(store.current_labels(session=s, item_id=song, kind="hook")) == 1
