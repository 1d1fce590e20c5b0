"""End to end: ~10 generated items through ingest → extract (pool) → package, plus resume after failure."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from reviewer import store
from reviewer.batch import run_extract_batch
from reviewer.cli import main as cli_main
from reviewer.config import PipelineConfig, SelectionConfig
from reviewer.package import PackageDataset, make_loader, read_package
from reviewer.services.library import ingest_paths
from reviewer.services.pipeline import package_library, pipeline_status
from reviewer.waveform import load_or_build_peaks, peaks_path

from conftest import synth_music

DSP_ONLY = PipelineConfig.from_dict({"features": {"extractors": ["rms", "pitch", "spectral", "onset", "tempo", "mel", "mfcc", "chroma", "vocal", "quality"]}})


@pytest.fixture
def library(tmp_path: Path) -> Path:
    root = tmp_path / "lib"
    for s in range(2):
        for e in range(1, 4):
            p = root / "series" / f"Show{s}" / "Season_01" / f"Show{s}_S01E0{e}.wav"
            p.parent.mkdir(parents=True, exist_ok=True)
            sf.write(p, synth_music(8.0 + 3 * e, 16000, seed=s * 10 + e), 16000)
    for a in range(4):
        p = root / "songs" / f"Artist{a}" / f"Song{a}.flac"
        p.parent.mkdir(parents=True, exist_ok=True)
        sf.write(p, synth_music(20.0 + 10 * a, 22050, seed=100 + a), 22050)
    return root


def _engine(settings):
    engine = store.make_engine(settings.db_url)
    store.init_db(engine)
    return engine


def test_ten_items_end_to_end(library, settings):
    engine = _engine(settings)
    summ = ingest_paths([library], engine=engine, root=library)
    assert summ.added == 10 and summ.kinds == {"episode": 6, "song": 4}
    with store.session_scope(engine) as s:
        ids = store.item_ids(session=s)
        store.assign_splits(session=s, splits={i: ("train" if n < 7 else "test") for n, i in enumerate(ids)})
    config = PipelineConfig.from_dict({**DSP_ONLY.to_dict(), "selection": {"max_seq_len": 16, "k_start": 4, "k_end": 4}})
    res = run_extract_batch(engine=engine, config=config, settings=settings, workers=2)
    assert (res.ok, res.failed, res.skipped) == (10, 0, 0)
    # the extract stage leaves every item's waveform peaks in the cache: the Review page never streams the file
    with store.session_scope(engine) as s:
        for it in store.items_by_id(session=s, item_ids=ids).values():
            cached = peaks_path(settings.cache_dir, it.content_hash)
            assert cached.is_file(), it.key
            assert load_or_build_peaks("/no/such/file.wav", cache_dir=settings.cache_dir,
                                       content_hash=it.content_hash).duration == pytest.approx(it.duration, abs=0.05)

    pk = package_library(engine=engine, config=config, settings=settings)
    assert len(pk.items) == 10
    out = Path(pk.items[0].path)
    for item in pk.items:
        p = read_package(out, item.key)
        assert p.features.shape[0] == 16 and p.features.dtype == np.float32
        assert p.mask.shape == (16,)
        assert int(p.mask.sum()) == min(16, item.num_segments)
        assert np.isfinite(p.features).all()
        meta = json.loads((out / f"{item.key}_meta.json").read_text())
        assert meta["feature_dim"] == p.features.shape[1]
        assert len(meta["segments"]) == int(p.mask.sum())
        assert (out / f"{item.key}_features.npy").stat().st_size > 0
    batch = next(iter(make_loader(PackageDataset(out), batch_size=4)))
    assert batch["features"].shape[:2] == (4, 16) and batch["mask"].shape == (4, 16)

    st = pipeline_status(engine=engine)
    assert st["counts"].get("packaged") == 10


def test_resume_after_failure_and_idempotent(library, settings):
    engine = _engine(settings)
    bad = library / "songs" / "Artist9" / "Broken.wav"
    bad.parent.mkdir(parents=True)
    bad.write_bytes(b"RIFF\x00\x00\x00\x00WAVEjunkjunkjunk")
    ingest_paths([library], engine=engine, root=library)
    cfg = DSP_ONLY
    first = run_extract_batch(engine=engine, config=cfg, settings=settings, workers=1)
    assert first.ok == 10 and first.failed == 1
    assert "Broken" in next(iter(first.failures)) and "InvalidMediaError" in next(iter(first.failures.values()))

    again = run_extract_batch(engine=engine, config=cfg, settings=settings, workers=1)
    assert (again.ok, again.failed, again.skipped) == (0, 1, 10)

    sf.write(bad, synth_music(5.0, 16000), 16000)  # fix the file: only it is processed
    third = run_extract_batch(engine=engine, config=cfg, settings=settings, workers=1)
    assert (third.ok, third.failed, third.skipped) == (1, 0, 10)
    with store.session_scope(engine) as s:
        assert store.status_counts(session=s).get("failed", 0) == 0


def test_cli_ingest_extract_package_status(library, settings, monkeypatch, capsys):
    monkeypatch.setenv("REVIEWER_HOME", str(settings.home))
    monkeypatch.setenv("REVIEWER_DB_URL", settings.db_url)
    monkeypatch.setenv("REVIEWER_DATA_DIR", str(settings.data_dir))
    from reviewer.settings import get_settings

    get_settings.cache_clear()
    cfg = settings.home / "dsp.toml"
    cfg.write_text('[features]\nextractors = ["rms", "pitch", "spectral", "mfcc", "chroma"]\n')
    labels = library / "train_labels.json"
    labels.write_text(json.dumps({"series/Show0/Season_01/Show0_S01E01.wav": {"start": "0:00:01", "end": "0:00:05"}}))
    try:
        assert cli_main(["ingest", str(library), "--labels", str(labels)]) == 0
        assert cli_main(["extract", "--config", str(cfg), "--workers", "1", "-q"]) == 0
        assert cli_main(["extract", "--config", str(cfg), "--workers", "1", "-q"]) == 0
        out = capsys.readouterr().out
        assert "0 ok, 0 failed, 10 skipped" in out
        assert cli_main(["package", "--config", str(cfg), "--format", "webdataset"]) == 0
        assert cli_main(["status"]) == 0
        out = capsys.readouterr().out
        assert "packaged=" in out
        assert cli_main(["extract", "--keys", "nope"]) == 2
    finally:
        get_settings.cache_clear()
