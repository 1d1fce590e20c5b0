"""Background jobs: a stub command runs under the supervisor, its status and result are polled; model versions."""

from __future__ import annotations

import sys
import time

import pytest

from reviewer import store
from reviewer.errors import NotFoundError, ValidationError
from reviewer.services import jobs
from reviewer.services.auth import PermissionDeniedError, SessionUser

ENGINEER = SessionUser(user_id=1, name="eng", role="engineer")
ANNOTATOR = SessionUser(user_id=2, name="ann", role="annotator")
STUB = [sys.executable, "-c",
        "import sys, time, json\n"
        "for k in range(1, 4):\n"
        "    print(f'epoch {k}/3', file=sys.stderr, flush=True); time.sleep(0.1)\n"
        "print(json.dumps({'model_version_id': 7, 'test_metrics': {'f1': 0.5}}, indent=2))\n"]


def wait(job_id, settings, timeout=20.0):
    t0 = time.time()
    while time.time() - t0 < timeout:
        job = jobs.job_status(job_id, settings=settings)
        if job.finished:
            return job
        time.sleep(0.1)
    raise AssertionError(f"job {job_id} did not finish: {job}")


def test_training_job_runs_in_the_background_and_reports(settings):
    job = jobs.start_training(ENGINEER, settings=settings, task="intro", command=STUB)
    assert job.state in ("queued", "running") and job.kind == "train" and job.task == "intro"
    with pytest.raises(ValidationError, match="already running"):
        jobs.start_training(ENGINEER, settings=settings, task="intro", command=STUB)
    done = wait(job.job_id, settings)
    assert done.state == "done" and done.returncode == 0 and done.progress == 1.0
    assert done.result == {"model_version_id": 7, "test_metrics": {"f1": 0.5}}
    assert "epoch 3/3" in done.log_tail
    assert (settings.data_dir / "jobs" / job.job_id / "status.json").is_file()
    assert [j.job_id for j in jobs.list_jobs(settings=settings)] == [job.job_id]


def test_failing_job_and_permissions(settings):
    job = jobs.start_job([sys.executable, "-c", "import sys; print('boom', file=sys.stderr); sys.exit(3)"],
                         settings=settings)
    done = wait(job.job_id, settings)
    assert done.state == "failed" and done.returncode == 3 and "boom" in done.message
    with pytest.raises(PermissionDeniedError):
        jobs.start_training(ANNOTATOR, settings=settings, task="intro", command=STUB)
    with pytest.raises(ValidationError, match="task must be one of"):
        jobs.train_command("nope")
    with pytest.raises(ValidationError, match="job id"):
        jobs.job_status("../etc", settings=settings)
    with pytest.raises(NotFoundError):
        jobs.job_status("20260101T000000-abcdef", settings=settings)


def test_train_command_is_the_cli():
    argv = jobs.train_command("chorus", epochs=3)
    assert argv[1:] == ["-m", "reviewer", "-v", "train", "--task", "chorus", "--arch", "transformer", "--json",
                        "--epochs", "3"]


def test_model_versions_compare_and_promote(settings, tmp_path):
    engine = store.make_engine(settings.db_url)
    store.init_db(engine)
    ckpt = tmp_path / "ckpt"
    ckpt.mkdir()
    (ckpt / "model.pt").write_bytes(b"x")
    with store.session_scope(engine) as s:
        old = store.add_model_version(session=s, task="intro", name="transformer", version="v1", path=str(ckpt),
                                     config={}, metrics={"test": {"f1": 0.4}, "held_out_items": 3}, activate=True).id
        new = store.add_model_version(session=s, task="intro", name="transformer", version="v2", path=str(ckpt),
                                      config={}, metrics={"test": {"f1": 0.6}, "held_out_items": 3}).id
        store.add_model_version(session=s, task="intro", name="intro-detector", version="baseline", path=None,
                                config={})
    pair = jobs.compare_versions(engine=engine, task="intro")
    assert pair["active"].model_version_id == old and pair["candidate"].model_version_id == new
    assert pair["candidate"].to_row()["test f1"] == 0.6
    with pytest.raises(PermissionDeniedError):
        jobs.promote(ANNOTATOR, engine=engine, settings=settings, model_version_id=new)
    view = jobs.promote(ENGINEER, engine=engine, settings=settings, model_version_id=new)
    assert view.active
    assert [v.version for v in jobs.model_versions(engine=engine, task="intro") if v.active] == ["v2"]


def test_progress_lines_are_parsed():
    from reviewer.train.trainer import progress_line

    line = "INFO reviewer.train.trainer: " + progress_line(
        3, 40, {"train_loss": 0.5, "val_f1": 0.61, "val_loss": 0.4}, {"val_f1": 0.72, "val_loss": 0.3}, 2)
    p = jobs.parse_progress(line)
    assert (p.epoch, p.epochs, p.best_val, p.best_epoch) == (3, 40, 0.72, 2)
    assert p.fraction == pytest.approx(3 / 40) and p.text() == "epoch 3/40 · best val F1 0.720 (epoch 2)"
    assert jobs.parse_progress("INFO x: early stop at epoch 9 (best 4)") is None
    assert jobs.parse_progress("epoch 2/4: train_loss 0.1").best_val is None
    assert jobs.parse_progress("epoch 7/4").fraction == 1.0


def test_training_logs_progress_the_job_parser_reads(caplog):
    """In-process: every epoch of a real (tiny) training run logs a line parse_progress turns into k/n."""
    import logging

    from test_train import synthetic_items

    from reviewer.train.datasets import split_items
    from reviewer.train.trainer import TrainConfig, fit_and_evaluate

    split = split_items(synthetic_items(4, per_group=2), seed=0)
    cfg = TrainConfig(net={"d_model": 16, "n_layers": 1, "n_heads": 2, "dim_feedforward": 32}, epochs=3,
                      max_seq_len=32, crops_per_item=1, seed=0)
    with caplog.at_level(logging.INFO, logger="reviewer.train.trainer"):
        fit_and_evaluate("intro", split, config=cfg)
    parsed = [p for p in (jobs.parse_progress(r.getMessage()) for r in caplog.records) if p is not None]
    assert [(p.epoch, p.epochs) for p in parsed] == [(1, 3), (2, 3), (3, 3)]
    assert [p.fraction for p in parsed] == pytest.approx([1 / 3, 2 / 3, 1.0])
    assert all(p.best_val is not None and 1 <= p.best_epoch <= p.epoch for p in parsed)


@pytest.mark.slow
def test_a_real_training_job_reports_increasing_progress(settings):
    """`reviewer train` as a background job: epoch k/n lines move the progress bar up to 1."""
    from test_train import synthetic_items

    from reviewer.config import PipelineConfig
    from reviewer.pipeline import save_table, table_path

    engine = store.make_engine(settings.db_url)
    store.init_db(engine)
    with store.session_scope(engine) as s:
        for it in synthetic_items(4, per_group=2):
            row = store.upsert_item(session=s, key=it.key, path=f"/nowhere/{it.key}.wav", kind="episode",
                                    series=it.group.split(":")[1], split=it.split, duration=it.duration)
            store.add_label(session=s, item_id=row.id, kind="intro", start=it.intervals[0][0],
                            end=it.intervals[0][1], source="truth")
            save_table(it.table, table_path(settings, it.key, PipelineConfig()))
    job = jobs.start_training(ENGINEER, settings=settings, task="intro", epochs=3, arch="crnn")
    seen = []
    t0 = time.time()
    while time.time() - t0 < 180:
        st = jobs.job_status(job.job_id, settings=settings)
        if st.progress is not None:
            seen.append(st.progress)
        if st.finished:
            break
        time.sleep(0.2)
    assert st.state == "done", st.log_tail
    assert seen == sorted(seen) and seen[-1] == 1.0  # never moves backwards
    lines = (st.path / "log.txt").read_text().splitlines()
    parsed = [p for p in map(jobs.parse_progress, lines) if p is not None]
    assert [(p.epoch, p.epochs) for p in parsed] == [(1, 3), (2, 3), (3, 3)]
    assert [p.fraction for p in parsed] == sorted(p.fraction for p in parsed)
    assert all(p.best_val is not None for p in parsed) and st.progress_text.startswith("epoch 3/3")
    assert st.result["model_version_id"] >= 1 and st.result["label_sources"]["train"]["truth"] >= 1
