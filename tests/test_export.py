"""Dataset export (every format, manifest, atomic + never overwriting, no split leakage) and import round trips."""

from __future__ import annotations

import json
from pathlib import Path

import jams
import numpy as np
import pandas as pd
import pytest

from reviewer import store
from reviewer.errors import NotFoundError, ValidationError
from reviewer.export import ExportFilters, SplitPlan, read_labels, verify_manifest
from reviewer.export.formats import read_audacity
from reviewer.ingest import read_intro_labels
from reviewer.services import datasets
from reviewer.services.auth import SYSTEM_USER, PermissionDeniedError, SessionUser


@pytest.fixture
def library(settings, wav_file):
    """Two series of episodes and three artists' songs with truth, human, crowd labels and predictions."""
    engine = store.make_engine(settings.db_url)
    store.init_db(engine)
    song_wav = wav_file("song.wav", duration=12.0)
    pkg_dir = settings.packages_dir / "abc123"
    pkg_dir.mkdir(parents=True)
    with store.session_scope(engine) as s:
        mv = store.add_model_version(session=s, task="intro", name="crnn", version="3", activate=True)
        for series in ("Alpha", "Beta"):
            for ep in range(1, 4):
                it = store.upsert_item(session=s, key=f"{series}_e{ep}.mp4", path=f"/media/{series}_e{ep}.mp4",
                                       kind="episode", series=series, season=1, episode=ep, duration=600.0,
                                       extra={"upload_date": f"2024-0{ep}-01"})
                if series == "Beta" and ep == 3:
                    store.update_item_extra(session=s, item_id=it.id, extra={"has_intro": False})
                    continue
                truth = store.add_label(session=s, item_id=it.id, kind="intro", start=30.0 + ep, end=75.5 + ep,
                                        source="truth", author="ground-truth")
                if ep == 1:
                    store.add_label(session=s, item_id=it.id, kind="intro", start=31.25, end=77.125, source="human",
                                    author="alice", supersedes_id=truth.id, expected_version=truth.version)
                store.add_prediction(session=s, item_id=it.id, model_version_id=mv.id, task="intro",
                                     start=29.0 + ep, end=76.0 + ep, confidence=0.8)
        for a, artist in enumerate(("Ann", "Bob", "Cid")):
            for n in range(2):
                key = f"{artist}_{n}.wav"
                it = store.upsert_item(session=s, key=key, path=str(song_wav), kind="song", artist=artist,
                                       title=f"Song {n}", genre=("pop", "rock", "jazz")[a], duration=12.0,
                                       extra={"upload_date": f"2023-1{a}-0{n + 1}"})
                store.add_label(session=s, item_id=it.id, kind="hook", start=2.0, end=6.5, source="truth")
                agreement = 0.9 if n == 0 else 0.2
                store.add_label(session=s, item_id=it.id, kind="interest", start=1.5 + a, end=7.0 + a,
                                source="crowd", author="crowd-consensus:mv",
                                note=json.dumps({"mean_iou": agreement, "n_answers": 3}))
                for suffix in ("features.npy", "mask.npy"):
                    np.save(pkg_dir / f"{key}_{suffix}", np.zeros((4, 3), np.float32))
                (pkg_dir / f"{key}_meta.json").write_text(json.dumps({"video_id": key}))
                store.add_package_record(session=s, item_id=it.id, path=str(pkg_dir), config_digest="abc123")
    return engine, settings


def test_export_writes_every_format_with_a_verified_manifest(library, tmp_path):
    engine, settings = library
    res = datasets.export_dataset(SYSTEM_USER, engine=engine, settings=settings, out_root=tmp_path / "ex",
                                  include_clips=True, filters=ExportFilters())
    out = res.path
    assert out.parent == tmp_path / "ex" and out.name.startswith("dataset-")
    assert verify_manifest(out) == []
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["counts"]["items"] == 12 and manifest["counts"]["labels"] == 5 + 12
    assert manifest["digests"]["config_digest"] and manifest["digests"]["model_versions"][0]["name"] == "crnn"
    assert manifest["packages"]["copied"] == 6 and manifest["clips"]["written"] == 12
    for name in ("labels.csv", "labels.jsonl", "labels.parquet", "items.jsonl", "label_studio.json",
                 "label_studio_config.xml"):
        assert (out / name).is_file(), name
    table = pd.read_parquet(out / "labels.parquet")
    assert len(table) == len(pd.read_csv(out / "labels.csv")) == 17
    assert len((out / "labels.jsonl").read_text().splitlines()) == 17
    # the correction replaced the truth it superseded
    alpha1 = table[table.key == "Alpha_e1.mp4"]
    assert list(alpha1.source) == ["human"] and alpha1.end.iloc[0] == 77.125
    # seed-001 intro files: no-intro episodes have null bounds, and they read back
    split_files = sorted(p.name for p in out.glob("*_labels.json"))
    assert split_files and set(split_files) <= {"train_labels.json", "test_labels.json"}
    entries = {e.ref: e for p in out.glob("*_labels.json") for e in read_intro_labels(p)}
    assert entries["Beta_e3.mp4"].start is None and entries["Alpha_e1.mp4"].end == 77.125
    # JAMS for songs only, packages and clips copied
    jam = jams.load(str(out / "jams" / "Ann_0.wav.jams"))
    assert {a.annotation_metadata.data_source for a in jam.annotations} == {"truth", "crowd"}
    assert not list((out / "jams").glob("Alpha*"))
    assert len(list((out / "packages").glob("*_meta.json"))) == 6
    assert len(list((out / "clips").glob("*.wav"))) == 12
    # Label Studio predictions carry the model version
    tasks = {t["data"]["key"]: t for t in json.loads((out / "label_studio.json").read_text())}
    pred = tasks["Alpha_e2.mp4"]["predictions"][0]
    assert pred["model_version"] == "crnn:3" and pred["result"][0]["value"]["labels"] == ["intro"]


def test_manifest_detects_tampering(library, tmp_path):
    engine, settings = library
    res = datasets.export_dataset(SYSTEM_USER, engine=engine, settings=settings, out_root=tmp_path,
                                  formats=("audacity",))
    (res.path / "labels.csv").write_text("tampered")
    (res.path / "extra.txt").write_text("x")
    (res.path / "audacity" / "Ann_0.wav.txt").unlink()
    problems = verify_manifest(res.path)
    assert "checksum mismatch: labels.csv" in problems and "not in manifest: extra.txt" in problems
    assert "missing: audacity/Ann_0.wav.txt" in problems


def test_exports_never_overwrite_and_leave_no_temporary_folder(library, tmp_path):
    engine, settings = library
    first = datasets.export_dataset(SYSTEM_USER, engine=engine, settings=settings, out_root=tmp_path, formats=())
    second = datasets.export_dataset(SYSTEM_USER, engine=engine, settings=settings, out_root=tmp_path, formats=())
    assert first.path != second.path and verify_manifest(first.path) == [] and verify_manifest(second.path) == []
    named = datasets.export_dataset(SYSTEM_USER, engine=engine, settings=settings, out_root=tmp_path, name="v1",
                                    formats=())
    before = (named.path / "manifest.json").read_bytes()
    with pytest.raises(ValidationError, match="exists already; exports are never overwritten"):
        datasets.export_dataset(SYSTEM_USER, engine=engine, settings=settings, out_root=tmp_path, name="v1")
    with pytest.raises(ValidationError, match="nothing to export"):
        datasets.export_dataset(SYSTEM_USER, engine=engine, settings=settings, out_root=tmp_path, name="v2",
                                filters=ExportFilters(series=("Nope",)))
    assert (named.path / "manifest.json").read_bytes() == before
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]
    listed = datasets.list_exports(SYSTEM_USER, settings=settings, root=tmp_path)
    assert {e.name for e in listed} == {first.name, second.name, "v1"}


@pytest.mark.parametrize("by", ["group", "upload_date"])
def test_split_has_no_leakage(library, tmp_path, by):
    engine, settings = library
    res = datasets.export_dataset(SYSTEM_USER, engine=engine, settings=settings, out_root=tmp_path, formats=(),
                                  split=SplitPlan(by=by, test_fraction=0.3, seed=1))
    items = [json.loads(x) for x in (res.path / "items.jsonl").read_text().splitlines()]
    assert {"train", "test"} <= {it["split"] for it in items}
    if by == "group":
        sides: dict[str, set] = {}
        for it in items:
            sides.setdefault(it["group"], set()).add(it["split"])
        assert all(len(v) == 1 for v in sides.values())
    else:
        newest_train = max(it["upload_date"] for it in items if it["split"] == "train")
        oldest_test = min(it["upload_date"] for it in items if it["split"] == "test")
        assert newest_train < oldest_test


def test_filters(library, tmp_path):
    engine, settings = library
    f = ExportFilters(kinds=("song",), sources=("crowd",), min_agreement=0.5)
    res = datasets.export_dataset(SYSTEM_USER, engine=engine, settings=settings, out_root=tmp_path, filters=f,
                                  formats=())
    table = pd.read_csv(res.path / "labels.csv")
    assert set(table.source) == {"crowd"} and len(table) == 3 and (table.agreement >= 0.5).all()
    res = datasets.export_dataset(SYSTEM_USER, engine=engine, settings=settings, out_root=tmp_path, formats=(),
                                  filters=ExportFilters(model_version="crnn:3"))
    assert json.loads((res.path / "manifest.json").read_text())["counts"]["item_kinds"] == {"episode": 5}
    with pytest.raises(ValidationError, match="unknown value"):
        ExportFilters(sources=("robot",))
    with pytest.raises(ValidationError, match="no model version matches"):
        datasets.export_dataset(SYSTEM_USER, engine=engine, settings=settings, out_root=tmp_path,
                                filters=ExportFilters(model_version="nope"))
    trained = datasets.build_training_set(SYSTEM_USER, engine=engine, settings=settings, task="interest",
                                          out_root=tmp_path, min_agreement=0.5)
    t = pd.read_csv(trained.path / "labels.csv")
    assert set(t.kind) == {"hook", "interest"} and len(t[t.kind == "interest"]) == 3


def _intervals(engine, source):
    with store.session_scope(engine) as s:
        out = set()
        for it in store.iter_items(session=s):
            out |= {(it.key, lb.kind, round(lb.start, 6), round(lb.end, 6))
                    for lb in store.current_labels(session=s, item_id=it.id, source=source)}
        return out


@pytest.mark.parametrize("fmt,rel", [("label_studio", "label_studio.json"), ("audacity", "audacity")])
def test_export_import_round_trip(library, tmp_path, fmt, rel):
    engine, settings = library
    exported = _intervals(engine, None)
    res = datasets.export_dataset(SYSTEM_USER, engine=engine, settings=settings, out_root=tmp_path,
                                  formats=(fmt,))
    got = datasets.import_labels(SYSTEM_USER, engine=engine, path=res.path / rel)
    assert got.added == got.intervals == 17
    assert _intervals(engine, "import") == exported  # the same intervals come back
    again = datasets.import_labels(SYSTEM_USER, engine=engine, path=res.path / rel)
    assert again.added == 0  # idempotent


def test_import_errors(library, tmp_path):
    engine, settings = library
    bad = tmp_path / "Nope.wav.txt"
    bad.write_text("1.0\t2.0\tintro\n")
    with pytest.raises(NotFoundError, match="not in the library"):
        datasets.import_labels(SYSTEM_USER, engine=engine, path=bad)
    weird = tmp_path / "x.txt"
    weird.write_text("1.0\t2.0\tbanana\n")
    with pytest.raises(ValidationError, match="x.txt:1: label 'banana'"):
        read_audacity(weird)
    weird.write_text("\\\t100.0\t200.0\n3.5\t3.5\tintro\n")
    with pytest.raises(ValidationError, match="point label"):
        read_labels(weird)
    ann = SessionUser(user_id=5, name="ann", role="annotator")
    with pytest.raises(PermissionDeniedError):
        datasets.export_dataset(ann, engine=engine, settings=settings, out_root=tmp_path)
    with pytest.raises(PermissionDeniedError):
        datasets.import_labels(ann, engine=engine, path=bad)


def test_cli_export_import_and_crowd(library, tmp_path, monkeypatch, capsys):
    from reviewer import cli

    engine, settings = library
    monkeypatch.setattr(cli, "get_settings", lambda: settings)
    assert cli.main(["export", "--out", str(tmp_path / "cli"), "--name", "one", "--kind", "song"]) == 0
    assert verify_manifest(tmp_path / "cli" / "one") == []
    assert cli.main(["import-labels", str(tmp_path / "cli" / "one" / "label_studio.json")]) == 0
    assert cli.main(["export", "--out", str(tmp_path / "cli"), "--name", "one"]) == 2  # refused, not overwritten
    monkeypatch.setenv("PW", "long enough")
    assert cli.main(["user", "add", "carol", "--role", "engineer", "--password-env", "PW"]) == 0
    assert cli.main(["crowd", "create-pool", "songs", "--golden-from", "hook", "--n-golden", "1"]) == 0
    out = capsys.readouterr().out
    assert "user carol (engineer) created" in out and "1 golden" in out
    assert Path(tmp_path / "cli" / "one" / "manifest.json").is_file()
