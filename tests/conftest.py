"""Shared fixtures: synthetic audio files and isolated settings (temporary data dir + database)."""

from __future__ import annotations

import os
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")

import numpy as np
import pytest
import soundfile as sf

from reviewer.settings import Settings


def synth_music(duration: float, sr: int = 22050, *, seed: int = 0) -> np.ndarray:
    """A few seconds of tones + clicks + noise: enough for every DSP extractor to say something."""
    rng = np.random.default_rng(seed)
    t = np.arange(int(duration * sr)) / sr
    y = 0.2 * np.sin(2 * np.pi * 220 * t) + 0.1 * np.sin(2 * np.pi * 330 * t)
    beat = (np.mod(t, 0.5) < 0.01).astype(np.float64)
    y += 0.3 * beat * rng.standard_normal(t.size)
    y += 0.01 * rng.standard_normal(t.size)
    return (y * np.clip(t / 0.5, 0, 1)).astype(np.float32)


def race(*calls, timeout: float = 60.0) -> list:
    """Run ``calls`` in threads released at the same instant; each one's result or the exception it raised."""
    import threading

    results: list = [None] * len(calls)
    go = threading.Barrier(len(calls))

    def run(k, fn):
        go.wait()
        try:
            results[k] = fn()
        except Exception as exc:  # noqa: BLE001 - the caller asserts on it
            results[k] = exc

    threads = [threading.Thread(target=run, args=(k, fn)) for k, fn in enumerate(calls)]
    for th in threads:
        th.start()
    for th in threads:
        th.join(timeout=timeout)
    return results


def slowed(fn, seconds: float = 0.5):
    """``fn`` that sleeps after returning its result: widens a check-then-write window in race tests."""
    import time

    def wrapper(*args, **kwargs):
        out = fn(*args, **kwargs)
        time.sleep(seconds)
        return out

    return wrapper


@pytest.fixture(autouse=True)
def _restore_main_module():
    """AppTest leaves a page script as ``sys.modules["__main__"]``; spawned workers would re-run it.

    Regression: the spawn pool of tests/test_store_concurrency.py respawned dying
    workers forever after the page tests had run.
    """
    import sys

    main = sys.modules.get("__main__")
    yield
    if main is not None:
        sys.modules["__main__"] = main


@pytest.fixture
def wav_file(tmp_path: Path):
    """Factory: write synthetic audio to a file and return its path."""

    def make(name: str = "a.wav", duration: float = 6.0, sr: int = 22050, seed: int = 0, channels: int = 1) -> Path:
        y = synth_music(duration, sr, seed=seed)
        if channels > 1:
            y = np.stack([y] * channels, axis=1)
        p = tmp_path / name
        p.parent.mkdir(parents=True, exist_ok=True)
        sf.write(p, y, sr)
        return p

    return make


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    """Settings pointing at a temporary data dir and SQLite file; no models configured."""
    home = tmp_path / "home"
    (home / "db").mkdir(parents=True)
    return Settings(home=home, data_dir=home / "data", db_url=f"sqlite:///{(home / 'db' / 'test.db').as_posix()}", workers=1)


@pytest.fixture
def app_env(settings, monkeypatch) -> Settings:
    """Point the app (and ``get_settings()``) at the temporary home, data dir and database."""
    from reviewer.settings import get_settings

    monkeypatch.setenv("REVIEWER_HOME", str(settings.home))
    monkeypatch.setenv("REVIEWER_DB_URL", settings.db_url)
    monkeypatch.setenv("REVIEWER_DATA_DIR", str(settings.data_dir))
    get_settings.cache_clear()
    yield settings
    get_settings.cache_clear()
