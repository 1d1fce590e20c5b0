"""Background jobs (training runs) and the model versions they produce.

A page must never block on training, so :func:`start_training` launches
``python -m reviewer -v train --task T --json`` through a small supervisor
process (``python -m reviewer.services.jobs <job dir>``) and returns at once.
Everything about a job lives in its own folder ``<data_dir>/jobs/<job id>/``::

    job.json      what to run (command, kind, task, who, when)
    status.json   state, progress, message, return code, result — rewritten atomically
    log.txt       the command's stdout + stderr

The page polls :func:`job_status` (e.g. from an ``st.fragment(run_every=...)``);
the supervisor keeps going when the page is closed. A job whose supervisor died
(machine restart, killed) is reported ``"lost"``.

Model versions: :func:`model_versions` lists a task's versions with their
held-out metrics, :func:`compare_versions` puts a new version next to the active
one, :func:`promote` activates it (and publishes its checkpoint for batch runs)
and :func:`repredict` re-runs the detector of the task over the items it covers.

::

    job = start_training(user, settings=settings, task="intro", epochs=5)
    job_status(job.job_id, settings=settings).state        # "running" → "done"
    promote(user, engine=engine, settings=settings, model_version_id=job.result["model_version_id"])
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import os
import re
import secrets
import subprocess
import sys
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Callable, Sequence

from reviewer import store
from reviewer.errors import NotFoundError, ValidationError
from reviewer.services.auth import SessionUser, require_role
from reviewer.settings import Settings

__all__ = [
    "JOB_STATES",
    "TRAIN_TASKS",
    "JobStatus",
    "ModelVersionView",
    "Progress",
    "compare_versions",
    "job_status",
    "jobs_dir",
    "list_jobs",
    "model_versions",
    "parse_progress",
    "promote",
    "repredict",
    "start_job",
    "start_repredict",
    "start_training",
    "stop_job",
    "train_command",
]

logger = logging.getLogger(__name__)

#: ``JobStatus.state`` values: queued → running → done / failed / stopped; ``lost`` when the supervisor vanished.
JOB_STATES = ("queued", "running", "done", "failed", "stopped", "lost")
#: Tasks ``reviewer train`` knows.
TRAIN_TASKS = ("intro", "chorus", "interest")
_EPOCH = re.compile(r"epoch\s+(\d+)(?:\s*/\s*(\d+))?", re.IGNORECASE)
_BEST = re.compile(r"best val_f1\s+([0-9.]+)\s*\(epoch\s+(\d+)\)", re.IGNORECASE)
_ID = re.compile(r"^[0-9]{8}T[0-9]{6}-[0-9a-f]{6}$")
LOG_TAIL_LINES = 30


@dataclass(frozen=True)
class JobStatus:
    """One background job as the page shows it.

    Attributes
    ----------
    job_id : str
        ``<UTC timestamp>-<6 hex>``; also the folder name under :func:`jobs_dir`.
    kind : str
        ``"train"`` or ``"command"``.
    state : str
        One of :data:`JOB_STATES`.
    progress : float or None
        In [0, 1] when the command reports ``epoch k/n``; None while unknown.
    message : str
        The last log line (or the error).
    elapsed : float
        Seconds since the start (until the end for finished jobs).
    result : dict or None
        The command's JSON output (``--json``), when it printed one.
    progress_text : str
        ``epoch k/n · best val F1 x (epoch j)`` from the last progress line (:func:`parse_progress`).
    """

    job_id: str
    kind: str
    task: str | None
    command: tuple[str, ...]
    state: str
    progress: float | None
    message: str
    started_at: str
    finished_at: str | None
    elapsed: float
    returncode: int | None
    pid: int | None
    user: str | None
    path: Path
    result: dict | None = None
    log_tail: str = ""
    progress_text: str = ""

    @property
    def finished(self) -> bool:
        """True once the job will not change any more."""
        return self.state in ("done", "failed", "stopped", "lost")


def jobs_dir(settings: Settings) -> Path:
    """Where job folders live: ``<data_dir>/jobs``."""
    return settings.data_dir / "jobs"


def _now() -> str:
    return dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds")


def _write_json(path: Path, data: dict) -> None:
    """Atomic: a temporary name, then rename (a poller never reads half a file)."""
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    tmp.write_text(json.dumps(data, indent=2, default=str), encoding="utf-8")
    os.replace(tmp, path)


def _read_json(path: Path) -> dict:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise NotFoundError(f"no job at {path.parent}") from None
    except json.JSONDecodeError as exc:
        raise ValidationError(f"{path}: unreadable job file ({exc})") from None


def _job_dir(job_id: str, settings: Settings) -> Path:
    if not isinstance(job_id, str) or not _ID.match(job_id):
        raise ValidationError(f"job id must look like 20260101T120000-abc123; got {job_id!r}")
    d = jobs_dir(settings) / job_id
    if not (d / "job.json").is_file():
        raise NotFoundError(f"no job {job_id!r} under {jobs_dir(settings)}")
    return d


def _child_env(settings: Settings) -> dict[str, str]:
    env = dict(os.environ)
    env.update({"REVIEWER_HOME": str(settings.home), "REVIEWER_DATA_DIR": str(settings.data_dir),
                "REVIEWER_DB_URL": settings.db_url, "PYTHONUNBUFFERED": "1"})
    if settings.config_path is not None:
        env["REVIEWER_CONFIG"] = str(settings.config_path)
    return env


def start_job(command: Sequence[str], *, settings: Settings, kind: str = "command", task: str | None = None,
              user: SessionUser | None = None) -> JobStatus:
    """Run ``command`` in the background under a supervisor; return at once.

    Parameters
    ----------
    command : sequence of str
        The argv to run (no shell). Its stdout + stderr go to ``log.txt``; a JSON
        object printed on stdout becomes ``JobStatus.result``.
    kind, task : str
        What the job is, for listing.

    Returns
    -------
    JobStatus
        State ``"queued"`` or ``"running"``.
    """
    argv = [str(a) for a in command]
    if not argv:
        raise ValidationError("a job needs a command")
    root = jobs_dir(settings)
    root.mkdir(parents=True, exist_ok=True)
    job_id = f"{dt.datetime.now(dt.timezone.utc):%Y%m%dT%H%M%S}-{secrets.token_hex(3)}"
    d = root / job_id
    d.mkdir()
    meta = {"job_id": job_id, "kind": kind, "task": task, "command": argv, "user": user.name if user else None,
            "created_at": _now()}
    _write_json(d / "job.json", meta)
    _write_json(d / "status.json", {"state": "queued", "progress": None, "message": "starting",
                                    "started_at": meta["created_at"], "started": time.time()})
    proc = subprocess.Popen([sys.executable, "-m", "reviewer.services.jobs", str(d)], env=_child_env(settings),
                            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                            start_new_session=True, cwd=str(settings.home) if settings.home.is_dir() else None)
    (d / "supervisor.pid").write_text(str(proc.pid), encoding="utf-8")
    logger.info("job %s started: %s", job_id, " ".join(argv))
    return job_status(job_id, settings=settings)


def train_command(task: str, *, epochs: int | None = None, arch: str = "transformer", seed: int | None = None,
                  activate: bool = False) -> list[str]:
    """The argv of a training run: ``python -m reviewer -v train --task T --json ...``."""
    if task not in TRAIN_TASKS:
        raise ValidationError(f"task must be one of {list(TRAIN_TASKS)}; got {task!r}")
    argv = [sys.executable, "-m", "reviewer", "-v", "train", "--task", task, "--arch", arch, "--json"]
    if epochs is not None:
        if int(epochs) < 1:
            raise ValidationError(f"epochs must be >= 1; got {epochs!r}")
        argv += ["--epochs", str(int(epochs))]
    if seed is not None:
        argv += ["--seed", str(int(seed))]
    if activate:
        argv.append("--activate")
    return argv


def start_training(user: SessionUser, *, settings: Settings, task: str, epochs: int | None = None,
                   arch: str = "transformer", command: Sequence[str] | None = None) -> JobStatus:
    """Start ``reviewer train`` for ``task`` as a background job (engineers and admins).

    Parameters
    ----------
    command : sequence of str, optional
        Run this instead of the real training command (tests, dry runs).

    Raises
    ------
    PermissionDeniedError
        Not an engineer or admin.
    ValidationError
        Unknown task, or a training job of the same task is still running.
    """
    require_role(user, "engineer", "admin")
    argv = list(command) if command is not None else train_command(task, epochs=epochs, arch=arch)
    busy = [j for j in list_jobs(settings=settings) if j.kind == "train" and j.task == task and not j.finished]
    if busy:
        raise ValidationError(f"a {task} training job is already running ({busy[0].job_id}); wait for it or stop it")
    return start_job(argv, settings=settings, kind="train", task=task, user=user)


def _alive(pid: int | None) -> bool:
    if not pid:
        return False
    try:
        os.kill(int(pid), 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:  # a zombie child of this process counts as gone
        return os.waitpid(int(pid), os.WNOHANG) == (0, 0)
    except ChildProcessError:
        return True


def _read_pid(path: Path) -> int | None:
    try:
        return int(path.read_text(encoding="utf-8").strip())
    except (FileNotFoundError, ValueError):
        return None


def _tail(path: Path, n: int = LOG_TAIL_LINES) -> str:
    try:
        with path.open("rb") as fh:
            fh.seek(0, os.SEEK_END)
            fh.seek(max(0, fh.tell() - 16_000))
            lines = fh.read().decode("utf-8", errors="replace").splitlines()
    except FileNotFoundError:
        return ""
    return "\n".join(lines[-n:])


def job_status(job_id: str, *, settings: Settings) -> JobStatus:
    """The current status of one job (reads its folder; cheap enough to poll every second).

    Raises
    ------
    ValidationError
        A malformed id.
    NotFoundError
        No such job.
    """
    d = _job_dir(job_id, settings)
    meta = _read_json(d / "job.json")
    st = _read_json(d / "status.json")
    state = st.get("state", "queued")
    if state in ("queued", "running"):
        pid = st.get("supervisor_pid") or _read_pid(d / "supervisor.pid")
        created = dt.datetime.fromisoformat(meta["created_at"])
        young = (dt.datetime.now(dt.timezone.utc) - created).total_seconds() < 10
        if not _alive(pid) and not young:
            state = "lost"
            st["message"] = "the job's supervisor is gone (killed or the machine restarted)"
    end = st.get("ended") or time.time()
    return JobStatus(
        job_id=job_id, kind=meta.get("kind", "command"), task=meta.get("task"), command=tuple(meta["command"]),
        state=state, progress=st.get("progress"), message=st.get("message", ""), started_at=st.get("started_at"),
        finished_at=st.get("finished_at"), elapsed=max(0.0, float(end) - float(st.get("started", end))),
        returncode=st.get("returncode"), pid=st.get("pid"), user=meta.get("user"), path=d, result=st.get("result"),
        log_tail=_tail(d / "log.txt"), progress_text=st.get("progress_text", ""),
    )


def list_jobs(*, settings: Settings, kind: str | None = None, limit: int = 20) -> list[JobStatus]:
    """Jobs, newest first (unreadable folders are skipped with a warning)."""
    root = jobs_dir(settings)
    out: list[JobStatus] = []
    for d in sorted(root.iterdir(), reverse=True) if root.is_dir() else []:
        if not _ID.match(d.name) or not (d / "job.json").is_file():
            continue
        try:
            job = job_status(d.name, settings=settings)
        except (NotFoundError, ValidationError) as exc:
            logger.warning("skipping job %s: %s", d.name, exc)
            continue
        if kind is None or job.kind == kind:
            out.append(job)
        if len(out) >= limit:
            break
    return out


def stop_job(job_id: str, *, settings: Settings) -> JobStatus:
    """Ask a running job to stop (SIGTERM to the command; the supervisor records ``"stopped"``)."""
    d = _job_dir(job_id, settings)
    st = _read_json(d / "status.json")
    if st.get("state") not in ("queued", "running"):
        return job_status(job_id, settings=settings)
    (d / "stop").touch()
    if st.get("pid"):
        try:
            os.kill(int(st["pid"]), 15)
        except ProcessLookupError:
            logger.info("job %s: process %s already gone", job_id, st["pid"])
    return job_status(job_id, settings=settings)


# --------------------------------------------------------------------------- the supervisor


def _parse_result(text: str) -> dict | None:
    """The JSON object the command printed on stdout (``--json``): the whole output or its last ``{`` block."""
    starts = [0] + [m.start() + 1 for m in re.finditer(r"\n\{", text)]
    for start in reversed(starts):
        try:
            obj = json.loads(text[start:])
        except json.JSONDecodeError:
            continue
        return obj if isinstance(obj, dict) else None
    return None


@dataclass(frozen=True)
class Progress:
    """What one log line says about a training run: epoch ``k`` of ``n`` and the best validation score so far."""

    epoch: int
    epochs: int
    best_val: float | None = None
    best_epoch: int | None = None

    @property
    def fraction(self) -> float:
        return min(1.0, self.epoch / max(1, self.epochs))

    def text(self) -> str:
        best = "" if self.best_val is None else f" · best val F1 {self.best_val:.3f} (epoch {self.best_epoch})"
        return f"epoch {self.epoch}/{self.epochs}{best}"


def parse_progress(line: str) -> Progress | None:
    """``epoch k/n ... best val_f1 x (epoch j)`` (:func:`reviewer.train.trainer.progress_line`) → :class:`Progress`.

    None for lines without ``epoch k/n`` (e.g. ``early stop at epoch 9``).
    """
    m = _EPOCH.search(line)
    if not (m and m.group(2)):
        return None
    b = _BEST.search(line)
    return Progress(epoch=int(m.group(1)), epochs=int(m.group(2)), best_val=float(b.group(1)) if b else None,
                    best_epoch=int(b.group(2)) if b else None)


def _progress(line: str) -> float | None:
    p = parse_progress(line)
    return None if p is None else p.fraction


def run_supervisor(job_dir: str | Path, *, poll: float = 0.5, on_line: Callable[[str], None] | None = None) -> int:
    """Run the job in ``job_dir`` to completion, keeping ``status.json`` current (what the subprocess does)."""
    d = Path(job_dir)
    meta = _read_json(d / "job.json")
    st = _read_json(d / "status.json")
    out_path, log_path = d / "stdout.txt", d / "log.txt"
    with out_path.open("wb") as out, log_path.open("wb") as log:
        proc = subprocess.Popen(meta["command"], stdout=out, stderr=log, stdin=subprocess.DEVNULL)
        st.update(state="running", pid=proc.pid, message="running", supervisor_pid=os.getpid())
        _write_json(d / "status.json", st)
        seen = 0
        while True:
            try:
                rc = proc.wait(timeout=poll)
            except subprocess.TimeoutExpired:
                rc = None
            log.flush()
            text = log_path.read_text(encoding="utf-8", errors="replace")
            if len(text) != seen:
                seen = len(text)
                lines = [ln for ln in text.splitlines() if ln.strip()]
                if lines:
                    st["message"] = lines[-1][-300:]
                    for ln in reversed(lines):
                        p = parse_progress(ln)
                        if p is not None:
                            st["progress"], st["progress_text"] = p.fraction, p.text()
                            break
                    if on_line:
                        on_line(lines[-1])
                _write_json(d / "status.json", st)
            if rc is not None:
                break
    stdout = out_path.read_text(encoding="utf-8", errors="replace")
    with log_path.open("a", encoding="utf-8") as log:
        log.write(stdout)
    stopped = (d / "stop").exists()
    st.update(returncode=rc, ended=time.time(), finished_at=_now(), result=_parse_result(stdout),
              state="stopped" if stopped else "done" if rc == 0 else "failed")
    if rc == 0:
        st["progress"] = 1.0
        st["message"] = "finished"
    elif not stopped:
        errs = [ln for ln in _tail(log_path).splitlines() if ln.strip()]
        st["message"] = f"exit code {rc}: {errs[-1][-300:] if errs else 'no output'}"
    else:
        st["message"] = "stopped on request"
    _write_json(d / "status.json", st)
    return int(rc)


# --------------------------------------------------------------------------- model versions


@dataclass(frozen=True)
class ModelVersionView:
    """A model version with its held-out metrics (what the page tabulates)."""

    model_version_id: int
    task: str
    name: str
    version: str
    active: bool
    created_at: str | None
    path: str | None
    test_metrics: dict[str, Any] = field(default_factory=dict)
    val_metrics: dict[str, Any] = field(default_factory=dict)
    held_out_items: int | None = None

    def to_row(self, metric_names: Sequence[str] = ("f1", "precision", "recall", "region_iou")) -> dict[str, Any]:
        """A flat dict for a table: id, version, active, held-out metrics."""
        row: dict[str, Any] = {"id": self.model_version_id, "version": self.version, "arch": self.name,
                               "active": self.active, "held-out items": self.held_out_items}
        for m in metric_names:
            v = self.test_metrics.get(m)
            row[f"test {m}"] = round(float(v), 3) if isinstance(v, (int, float)) else None
        return row


def _view(mv) -> ModelVersionView:
    metrics = mv.metrics or {}
    created = getattr(mv, "created_at", None)
    return ModelVersionView(model_version_id=int(mv.id), task=mv.task, name=mv.name, version=mv.version,
                            active=bool(mv.is_active), created_at=str(created) if created else None, path=mv.path,
                            test_metrics=dict(metrics.get("test") or {}), val_metrics=dict(metrics.get("val") or {}),
                            held_out_items=metrics.get("held_out_items"))


def model_versions(*, engine, task: str | None = None, trained_only: bool = True) -> list[ModelVersionView]:
    """Model versions (newest first) with held-out metrics.

    Parameters
    ----------
    trained_only : bool
        Only versions with a checkpoint from ``reviewer train`` (not the detector
        stamps ``predict`` adds for baselines).
    """
    with store.session_scope(engine) as s:
        rows = store.list_model_versions(session=s, task=task)
        return [_view(mv) for mv in rows if not trained_only or (mv.metrics or {}).get("test") is not None]


def compare_versions(*, engine, task: str, candidate_id: int | None = None) -> dict[str, ModelVersionView | None]:
    """The active version of ``task`` and a candidate (default: the newest inactive one).

    Returns
    -------
    dict
        ``{"active": ModelVersionView | None, "candidate": ModelVersionView | None}``.
    """
    versions = model_versions(engine=engine, task=task)
    active = next((v for v in versions if v.active), None)
    if candidate_id is not None:
        candidate = next((v for v in versions if v.model_version_id == int(candidate_id)), None)
        if candidate is None:
            raise NotFoundError(f"no trained {task} model version with id {candidate_id}")
    else:
        candidate = next((v for v in versions if not v.active), None)
    return {"active": active, "candidate": candidate}


def promote(user: SessionUser, *, engine, settings: Settings, model_version_id: int) -> ModelVersionView:
    """Make a trained version the active one of its task and publish its checkpoint for batch runs.

    Raises
    ------
    PermissionDeniedError
        Not an engineer or admin.
    NotFoundError
        No such model version.
    ValidationError
        The version has no checkpoint on disk.
    """
    from reviewer.models.checkpoint import copy_checkpoint
    from reviewer.models.registry import default_model_path

    require_role(user, "engineer", "admin")
    with store.session_scope(engine) as s:
        mv = store.get_model_version(session=s, model_version_id=int(model_version_id))
        if not mv.path or not Path(mv.path).exists():
            raise ValidationError(f"model version {mv.version!r} has no checkpoint at {mv.path!r}")
        mv = store.activate_model_version(session=s, model_version_id=int(model_version_id))
        view = _view(mv)
    copy_checkpoint(Path(view.path), default_model_path(view.task, settings))
    logger.info("%s promoted %s model %s", user.name, view.task, view.version)
    return view


def repredict(user: SessionUser, *, engine, settings: Settings, task: str) -> dict[str, Any]:
    """Re-run the detector that uses ``task``'s model over the items it covers (``force=True``).

    ``intro`` re-predicts every episode; ``chorus`` / ``interest`` re-predict every song.
    """
    from reviewer.services.predict import predict_hooks, predict_intros

    require_role(user, "engineer", "admin")
    if task not in TRAIN_TASKS:
        raise ValidationError(f"task must be one of {list(TRAIN_TASKS)}; got {task!r}")
    if task == "intro":
        return predict_intros(engine=engine, settings=settings, force=True)
    return predict_hooks(engine=engine, settings=settings, force=True)


def start_repredict(user: SessionUser, *, settings: Settings, task: str,
                    command: Sequence[str] | None = None) -> JobStatus:
    """:func:`repredict` as a background job: ``python -m reviewer predict --task intro|hook --force``."""
    require_role(user, "engineer", "admin")
    if task not in TRAIN_TASKS:
        raise ValidationError(f"task must be one of {list(TRAIN_TASKS)}; got {task!r}")
    argv = list(command) if command is not None else [
        sys.executable, "-m", "reviewer", "-v", "predict", "--task", "intro" if task == "intro" else "hook", "--force"]
    return start_job(argv, settings=settings, kind="predict", task=task, user=user)


def status_dict(job: JobStatus) -> dict[str, Any]:
    """JSON-ready view of a job (for the CLI / logs)."""
    d = asdict(job)
    d["path"] = str(job.path)
    return d


if __name__ == "__main__":  # the supervisor: python -m reviewer.services.jobs <job dir>
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    sys.exit(run_supervisor(sys.argv[1]))
