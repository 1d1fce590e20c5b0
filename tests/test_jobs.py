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
