"""Datasets & models: build training sets, export / import labels, train in the background, compare, promote."""

from __future__ import annotations

import json
import tempfile
from pathlib import Path

import streamlit as st

from reviewer.errors import ReviewerError
from reviewer.export import ExportFilters, SplitPlan
from reviewer.export.dataset import FORMATS, MANIFEST
from reviewer.services import datasets, jobs, label_gain, training
from reviewer.services.auth import REVIEWER_ROLES
from reviewer.ui import crowd_widgets as w
from reviewer.ui import state
from reviewer.ui.resources import engine, settings

st.set_page_config(page_title="Datasets & models · reviewer", page_icon="🎧", layout="wide")
eng, cfg = engine(), settings()
ss = st.session_state

TASK_TEXT = {"intro": "intro (episodes)", "chorus": "chorus (songs)", "interest": "most interesting region (songs)"}
SPLIT_TEXT = {"group": "by series / artist", "upload_date": "by upload date", "store": "keep the library's split",
              "none": "no split"}
STATE_ICON = {"queued": "⏳", "running": "⏳", "done": "✅", "failed": "❌", "stopped": "⏹", "lost": "⚠️"}


def show_export(path: str) -> None:
    """The output folder, counts, checksum check and manifest of one export."""
    p = Path(path)
    try:
        manifest = json.loads((p / MANIFEST).read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as exc:
        st.error(f"Cannot read the manifest of {p}: {exc}")
        return
    problems = datasets.verify_export(p)
    st.markdown(f"**Output folder:** `{p}`")
    counts = manifest.get("counts", {})
    flat = {k: v for k, v in counts.items() if isinstance(v, (int, float, str))}
    if flat:
        cols = st.columns(min(6, len(flat)))
        for col, (k, v) in zip(cols * 3, list(flat.items())[:18]):
            col.metric(k.replace("_", " "), v)
    if problems:
        st.error("Checksum problems: " + "; ".join(problems))
    else:
        st.caption(f"✓ every file matches its SHA-256 in `{MANIFEST}`")
    with st.expander("Manifest", expanded=True):
        st.json(manifest, expanded=2)


def training_set_section() -> None:
    st.markdown("Corrections from the Review page (*human*), crowd consensus (*crowd*), imported labels and the "
                "demo truth, split by series / artist so nothing leaks into the held-out set.")
    c1, c2, c3 = st.columns([2, 1, 2], vertical_alignment="bottom")
    task = c1.selectbox("Task", list(datasets.TRAINING_LABELS), key=state.DATA_TASK, format_func=TASK_TEXT.get)
    truth = c2.checkbox("Demo truth", value=True, key=state.DATA_INCLUDE_TRUTH)
    agr = c3.slider("Min. crowd agreement (mean IoU)", 0.0, 1.0, 0.0, 0.05, key=state.DATA_MIN_AGREEMENT)
    c4, c5, c6, c7 = st.columns([2, 1, 2, 1], vertical_alignment="bottom")
    split = c4.selectbox("Split", ["group", "upload_date", "store"], key=state.DATA_SET_SPLIT,
                         format_func=SPLIT_TEXT.get)
    fraction = c5.number_input("Held-out fraction", 0.0, 0.9, 0.2, 0.05, key=state.DATA_SET_TEST_FRACTION,
                               disabled=split == "store")
    cutoff = c6.date_input("Upload-date cut-off (held out from this date)", value=None, key=state.DATA_SET_CUTOFF,
                           disabled=split != "upload_date",
                           help="Items uploaded on or after this date are held out; empty: the newest "
                                "'held-out fraction' of the dates")
    try:
        counts = training.label_source_counts(task, engine=eng)
    except ReviewerError as exc:
        st.error(str(exc))
    else:
        st.caption("Labels training would use per item (one source each: human correction > crowd consensus > "
                   "demo truth; *simulated* = written by simulated annotators / reviewers):")
        st.dataframe([{"items": side, **{k: v for k, v in c.items() if v or k in ("human", "crowd", "truth")}}
                      for side, c in counts.items()], hide_index=True)
    if c7.button("Build", key=state.DATA_BUILD, type="primary", width="stretch"):
        with st.spinner("Writing the training set ..."):
            try:
                plan = SplitPlan(by=split, test_fraction=float(fraction), val_fraction=0.1 if split == "group" else 0.0,
                                 cutoff=cutoff.isoformat() if split == "upload_date" and cutoff else None)
                res = datasets.build_training_set(user, engine=eng, settings=cfg, task=task, include_truth=truth,
                                                  min_agreement=agr or None, split=plan)
            except ReviewerError as exc:
                st.error(f"Not built: {exc}")
            else:
                ss[state.DATA_LAST_EXPORT] = str(res.path)
                w.flash(state.DATA_FLASH, "success", f"Training set {res.name}: {res.files} file(s).")
                st.rerun()


def export_section() -> None:
    with st.form(state.DATA_EXPORT_FORM):
        c1, c2, c3 = st.columns(3)
        kinds = c1.multiselect("Item kinds", ["episode", "song", "other"], key=state.DATA_KINDS,
                               placeholder="all")
        sources = c2.multiselect("Label sources", ["truth", "human", "crowd", "import"], key=state.DATA_SOURCES,
                                 placeholder="all")
        label_kinds = c3.multiselect("Label kinds", ["intro", "chorus", "prechorus", "hook", "interest"],
                                     key=state.DATA_LABEL_KINDS, placeholder="all")
        c4, c5, c6 = st.columns(3)
        series = c4.text_input("Series (comma separated)", key=state.DATA_SERIES, placeholder="all")
        agr = c5.slider("Min. crowd agreement", 0.0, 1.0, 0.0, 0.05, key=state.DATA_EXPORT_MIN_AGREEMENT)
        split = c6.selectbox("Split", ["group", "upload_date", "store", "none"], key=state.DATA_SPLIT,
                             format_func=SPLIT_TEXT.get)
        c7, c7b, c8, c9 = st.columns([1, 1, 3, 1], vertical_alignment="bottom")
        test_fraction = c7.number_input("Held-out fraction", 0.0, 0.9, 0.2, 0.05, key=state.DATA_TEST_FRACTION)
        cutoff = c7b.date_input("Upload-date cut-off", value=None, key=state.DATA_CUTOFF,
                                help="With split by upload date: hold out items uploaded on or after this date")
        formats = c8.multiselect("Formats (tables CSV / JSONL / Parquet always)", [f for f in FORMATS if f != "clips"],
                                 default=["seed001", "label_studio", "audacity"], key=state.DATA_FORMATS)
        clips = c9.checkbox("Audio clips", key=state.DATA_CLIPS)
        go = st.form_submit_button("Export", type="primary")
    if go:
        try:
            filters = ExportFilters(kinds=tuple(kinds), sources=tuple(sources), label_kinds=tuple(label_kinds),
                                    series=tuple(s.strip() for s in series.split(",") if s.strip()),
                                    min_agreement=agr or None)
            res = datasets.export_dataset(user, engine=eng, settings=cfg, filters=filters,
                                          split=SplitPlan(by=split, test_fraction=float(test_fraction),
                                                          cutoff=cutoff.isoformat() if cutoff else None),
                                          formats=formats, include_clips=clips)
        except ReviewerError as exc:
            st.error(f"Not exported: {exc}")
        else:
            ss[state.DATA_LAST_EXPORT] = str(res.path)
            w.flash(state.DATA_FLASH, "success", f"Exported {res.name}: {res.files} file(s).")
            st.rerun()


def import_section() -> None:
    st.markdown("Label Studio JSON (audio regions) or Audacity label files named `<item key>.txt`; "
                "they become *import* labels (never overwriting anything).")
    c1, c2, c3 = st.columns([3, 1, 1], vertical_alignment="bottom")
    upload = c1.file_uploader("Label file", type=["json", "txt", "tsv"], key=state.DATA_UPLOAD)
    fmt = c2.selectbox("Format", ["auto", "label_studio", "audacity"], key=state.DATA_IMPORT_FMT)
    if c3.button("Import", key=state.DATA_IMPORT, disabled=upload is None, width="stretch"):
        with tempfile.TemporaryDirectory(prefix="reviewer-import-") as tmp:
            path = Path(tmp) / Path(upload.name).name
            path.write_bytes(upload.getvalue())
            try:
                res = datasets.import_labels(user, engine=eng, path=path, fmt=fmt)
            except ReviewerError as exc:
                st.error(f"Not imported: {exc}")
                return
        st.success(f"Imported {res.added} label(s) ({res.fmt}: {res.intervals} interval(s) on {res.items} item(s)).")


def job_panel(job_id: str) -> None:
    """Status of one job: state, progress, elapsed time, the log tail and the result."""
    try:
        job = jobs.job_status(job_id, settings=cfg)
    except ReviewerError as exc:
        st.error(str(exc))
        return
    what = f"{job.kind} {job.task or ''}".strip()
    st.markdown(f"{STATE_ICON.get(job.state, '')} **{what}** job `{job.job_id}` — **{job.state}** · "
                f"{job.elapsed:.0f} s · by {job.user or '—'}")
    if job.progress is not None or job.finished:
        st.progress(float(job.progress or (1.0 if job.state == "done" else 0.0)),
                    text=(job.progress_text or job.message)[:120])
    else:
        st.caption(job.message[:200])
    if job.state == "failed":
        st.error(job.message)
    if job.result and "test_metrics" in job.result:
        st.success(f"New model version #{job.result.get('model_version_id')} ({job.result.get('version', '')}) — "
                   "compare and promote it below.")
    with st.expander("Log", expanded=job.state == "failed"):
        st.code(job.log_tail or "(no output yet)", language=None)
    st.caption(f"Folder: `{job.path}`")


def launch(what: str, start) -> None:
    """Start a background job (``start()`` returns its JobStatus) and watch it, or say why it did not start."""
    try:
        job = start()
    except ReviewerError as exc:
        st.error(f"Not started: {exc}")
    else:
        ss[state.DATA_JOB] = job.job_id
        st.toast(f"{what} started in the background ({job.job_id}).")


@st.fragment(run_every=2.0)
def watch_job() -> None:
    """Polls the watched job every 2 s without rerunning (or blocking) the rest of the page."""
    job_id = ss.get(state.DATA_JOB)
    if job_id:
        job_panel(job_id)


def training_section() -> None:
    c1, c2, c3 = st.columns([2, 1, 1], vertical_alignment="bottom")
    task = c1.selectbox("Task", list(jobs.TRAIN_TASKS), key=state.DATA_TRAIN_TASK, format_func=TASK_TEXT.get)
    epochs = c2.number_input("Max. epochs", 1, 200, 40, key=state.DATA_EPOCHS)
    if c3.button("Start training", key=state.DATA_TRAIN, type="primary", width="stretch"):
        launch("Training", lambda: jobs.start_training(user, settings=cfg, task=task, epochs=int(epochs),
                                                       command=ss.get(state.DATA_STUB_COMMAND)))
    st.caption("Training runs as `python -m reviewer train` in the background: you can leave this page; "
               "the job keeps running and its log stays in the job folder.")
    watch_job()
    recent = jobs.list_jobs(settings=cfg, limit=10)
    if recent:
        with st.expander(f"Recent jobs ({len(recent)})"):
            st.dataframe([{"job": j.job_id, "kind": j.kind, "task": j.task, "state": j.state,
                           "seconds": round(j.elapsed), "message": j.message[:80]} for j in recent],
                         hide_index=True, width="stretch")

    st.markdown("#### Held-out metrics: new version vs. the active one")
    try:
        versions = jobs.model_versions(engine=eng, task=task)
    except ReviewerError as exc:
        st.error(str(exc))
        return
    if not versions:
        st.info(f"No trained {task} model yet: start a training run above.")
        return
    active = next((v for v in versions if v.active), None)
    others = [v for v in versions if not v.active]
    st.dataframe([dict(v.to_row(), role="active" if v.active else "candidate")
                  for v in ([active] if active else []) + others[:8]], hide_index=True, width="stretch")
    if not others:
        st.caption("Only the active version exists; train a new one to compare.")
        return
    labels = {v.model_version_id: f"#{v.model_version_id} {v.version}" for v in others}
    c1, c2, c3 = st.columns([3, 1, 1], vertical_alignment="bottom")
    cand_id = c1.selectbox("Candidate", list(labels), key=state.DATA_CANDIDATE, format_func=labels.get)
    cand = next(v for v in others if v.model_version_id == cand_id)
    if active is not None:
        deltas = {m: cand.test_metrics.get(m) - active.test_metrics.get(m) for m in ("f1", "region_iou")
                  if isinstance(cand.test_metrics.get(m), (int, float))
                  and isinstance(active.test_metrics.get(m), (int, float))}
        if deltas:
            st.caption("Candidate − active on the held-out set: "
                       + ", ".join(f"{m} {d:+.3f}" for m, d in deltas.items()))
    if c2.button("Promote", key=state.DATA_PROMOTE, type="primary", width="stretch"):
        try:
            view = jobs.promote(user, engine=eng, settings=cfg, model_version_id=cand_id)
        except ReviewerError as exc:
            st.error(f"Not promoted: {exc}")
        else:
            w.flash(state.DATA_FLASH, "success", f"{view.version} is now the active {view.task} model.")
            st.rerun()
    if c3.button("Re-predict", key=state.DATA_REPREDICT, width="stretch",
                 help="Run the detector of this task again over the items it covers, with the active model"):
        try:
            job = jobs.start_repredict(user, settings=cfg, task=task)
        except ReviewerError as exc:
            st.error(f"Not started: {exc}")
        else:
            ss[state.DATA_JOB] = job.job_id
            st.rerun()


def label_gain_section() -> None:
    st.markdown("Model **A** trains on the demo truth of the training groups only; model **B** on the same plus "
                "human labels (Review corrections, crowd consensus) of *further* series / artists. Same config and "
                "seed; both are scored on the same held-out items, never trained on.")
    c1, c2 = st.columns([3, 1], vertical_alignment="bottom")
    task = c1.selectbox("Task", list(jobs.TRAIN_TASKS), key=state.DATA_GAIN_TASK, format_func=TASK_TEXT.get)
    if c2.button("Measure (simulated labels)", key=state.DATA_GAIN_RUN, width="stretch",
                 help="Background job: simulated annotators / reviewers label half of the training groups in a "
                      "scratch copy of the database (the app's database is not touched), then A and B train"):
        launch("Measurement", lambda: label_gain.start_measurement(
            user, settings=cfg, task=task, command_override=ss.get(state.DATA_GAIN_STUB_COMMAND)))
    watch_job()
    reports = label_gain.list_reports(settings=cfg, task=task)
    if not reports:
        st.info(f"No {task} measurement yet: run `reviewer label-gain --task {task} --simulate` or the button above.")
        return
    names = {r["path"]: f"{r['created_at']} · {'simulated' if r.get('simulated') else 'real'} labels" for r in reports}
    path = st.selectbox("Report", list(names), key=state.DATA_GAIN_REPORT, format_func=names.get)
    rep = next(r for r in reports if r["path"] == path)
    if rep.get("simulated"):
        st.warning("The human labels of this measurement are **simulated** (simulated crowd annotators / "
                   "simulated Review corrections), not real people's.")
    st.dataframe(label_gain.report_rows(rep), hide_index=True, width="stretch")
    human, held = rep["human"], rep["held_out"]
    st.caption(f"Held out: {held['items']} item(s) of {', '.join(held['groups'])}. Human-labelled items used by B: "
               f"{human['items']} of {', '.join(human['groups'])}. Validation: {', '.join(rep['val']['groups'])}. "
               f"Means over seed(s) {rep['seeds']}; seeds where B beat A: {label_gain.wins_text(rep)}.")
    with st.expander("Per seed and the full report"):
        st.json(rep, expanded=1)


st.title("Datasets & models")
user = w.login(eng, purpose="export datasets and train models (engineers, PMs, admins)")
if user is None:
    st.stop()
if user.role not in REVIEWER_ROLES:
    st.error(f"{user.name} is an {user.role}: this page is for engineers, PMs and admins.")
    st.stop()
w.show_flash(state.DATA_FLASH)
SECTIONS = {"Training set": training_set_section, "Export": export_section, "Import labels": import_section,
            "Train & promote": training_section, "Human-label gain": label_gain_section}
section = st.segmented_control("Section", list(SECTIONS), default="Training set", key=state.DATA_SECTION,
                               label_visibility="collapsed") or "Training set"
SECTIONS[section]()
if ss.get(state.DATA_LAST_EXPORT):
    st.divider()
    st.subheader("Last export")
    show_export(ss[state.DATA_LAST_EXPORT])
