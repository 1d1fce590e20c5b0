"""The generated intro-training library `reviewer bootstrap` trains the default intro scorer on, besides the demo."""

from __future__ import annotations

import pytest

from reviewer import store
from reviewer.errors import ValidationError
from reviewer.services.library import build_demo_library, build_training_library, training_library_settings
from reviewer.services.training import train_task
from reviewer.train.datasets import load_training_items


def test_training_library_lives_in_its_own_home_and_rejects_tiny_sizes(settings):
    lib = training_library_settings(settings)
    assert lib.home == settings.data_dir / "scorer_library"
    assert lib.data_dir.is_relative_to(lib.home) and lib.db_url != settings.db_url
    with pytest.raises(ValidationError, match="2 series"):
        build_training_library(settings=settings, n_series=1)
    with pytest.raises(ValidationError, match="2 episodes"):
        build_training_library(settings=settings, episodes_per_series=1)
    assert not lib.home.exists()  # nothing built for a refused size


@pytest.mark.slow
def test_training_library_feeds_the_intro_scorer(settings):
    said: list[str] = []
    lib = build_training_library(settings=settings, quick=True, log_fn=said.append)
    items = load_training_items("intro", engine=store.make_engine(lib.db_url), settings=lib)
    assert len(items) == 6  # quick: 2 series × 3 episodes, every one labelled and extracted
    assert len({it.group for it in items}) == 2
    again: list[str] = []
    build_training_library(settings=settings, quick=True, log_fn=again.append)
    assert any("0 extracted, 6 already done" in s for s in again)  # a rerun reuses the library

    engine = store.make_engine(settings.db_url)
    store.init_db(engine)
    build_demo_library(engine=engine, settings=settings, quick=True, seed=0)
    from reviewer.batch import run_extract_batch
    from reviewer.config import PipelineConfig

    run_extract_batch(engine=engine, config=PipelineConfig(), settings=settings, workers=1)
    alone = train_task("intro", engine=engine, settings=settings, arch="crnn", epochs=1)
    both = train_task("intro", engine=engine, settings=settings, arch="crnn", epochs=1, extra_sources=[lib])
    n = lambda s: s.split["train"]["items"] + s.split["val"]["items"]  # noqa: E731
    # the demo's held-out series stays held out: the extra library's series of that name is dropped, the other added
    assert both.split["test"] == alone.split["test"]
    assert n(both) == n(alone) + 3
