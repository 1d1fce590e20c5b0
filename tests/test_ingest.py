import json
from pathlib import Path

import pytest

from reviewer.errors import ValidationError
from reviewer.ingest import (
    format_timestamp,
    infer_kind,
    make_key,
    parse_episode_path,
    parse_timestamp,
    read_intro_labels,
    scan_media,
)


@pytest.mark.parametrize(
    "rel,expected",
    [
        ("Show/Season_01/Show_S01E02.flac", {"series": "Show", "season": 1, "episode": 2}),
        ("Show.Name.S02E10.mkv", {"series": "Show Name", "season": 2, "episode": 10}),
        ("Dark/Season 2/e.mp4", {"series": "Dark", "season": 2}),
    ],
)
def test_parse_episode_path(rel, expected):
    assert parse_episode_path(Path(rel)) == expected


def test_infer_kind():
    assert infer_kind(Path("x/Show.S01E01.mp4")) == "episode"
    assert infer_kind(Path("songs/Artist/t.mp3")) == "song"
    assert infer_kind(Path("misc/t.mp3")) == "other"


def test_keys_are_file_name_safe():
    assert make_key("a b/c?d.flac") == "a_b__c_d.flac"
    with pytest.raises(ValidationError):
        make_key("")


def test_scan_media_skips_non_media(tmp_path, wav_file):
    wav_file("series/Show/Season_01/Show_S01E01.wav")
    wav_file("songs/Band/Song.wav")
    (tmp_path / "notes.txt").write_text("x")
    found = scan_media([tmp_path])
    assert [c.kind for c in found] == ["episode", "song"]
    assert found[0].series == "Show" and found[0].episode == 1
    assert found[1].artist == "Band"


def test_timestamps_round_trip():
    assert parse_timestamp("0:01:23.5") == 83.5
    assert parse_timestamp("01:05") == 65.0
    assert parse_timestamp(12) == 12.0
    assert parse_timestamp(None) is None
    assert parse_timestamp(format_timestamp(3723.25)) == pytest.approx(3723.25)
    with pytest.raises(ValidationError, match="abc"):
        parse_timestamp("abc")
    with pytest.raises(ValidationError):
        parse_timestamp(-1)


def test_read_intro_labels(tmp_path):
    p = tmp_path / "train_labels.json"
    p.write_text(json.dumps({"a": {"start": "0:00:19", "end": "0:00:41"}, "b": {"start": None, "end": None},
                             "c": {"start_sec": 1.5, "end_sec": 20.25, "start": "0:00:01"}}))
    labels = {x.ref: x for x in read_intro_labels(p)}
    assert (labels["a"].start, labels["a"].end) == (19.0, 41.0)
    assert labels["b"].start is None
    assert labels["c"].start == 1.5


def test_read_intro_labels_rejects_reversed(tmp_path):
    p = tmp_path / "l.json"
    p.write_text(json.dumps({"a": {"start": "0:00:41", "end": "0:00:19"}}))
    with pytest.raises(ValidationError, match="not before end"):
        read_intro_labels(p)
