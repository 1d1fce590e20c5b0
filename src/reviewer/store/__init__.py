"""The store: SQLModel tables and keyword-only store functions.

This package is the only place in reviewer that runs queries. Every store
function takes ``session`` first and only keyword arguments::

    from reviewer.store import get_engine, session_scope, upsert_item

    engine = get_engine()                      # one per process, tables created
    with session_scope(engine) as session:     # commit on success, rollback on error
        item = upsert_item(session=session, key="a.mp3", path="a.mp3", kind="song")

Modules: ``tables`` (every table), ``engine`` (engines, sessions),
``items``, ``runs`` (runs, processing records, packages, artifacts),
``labels``, ``models`` (model versions, predictions).
"""

from reviewer.store.engine import get_engine, init_db, is_memory_sqlite, lock_row, make_engine, session_scope
from reviewer.store.items import (
    assign_splits,
    delete_item,
    get_item,
    get_item_by_key,
    item_ids,
    item_key_from_path,
    items_by_id,
    items_by_key,
    iter_items,
    list_items,
    series_summary,
    set_item_status,
    status_counts,
    update_item_extra,
    upsert_item,
    validate_key,
)
from reviewer.store.labels import (
    add_label,
    current_labels,
    get_label,
    import_truth_labels,
    label_history,
    replace_truth_labels,
    superseded_by,
)
from reviewer.store.models import (
    activate_model_version,
    active_model_version,
    add_model_version,
    add_prediction,
    get_model_version,
    list_model_versions,
    predictions_for,
)
from reviewer.store.runs import (
    add_artifact,
    add_package_record,
    done_item_ids,
    failures,
    finish_run,
    get_run,
    latest_artifact,
    latest_package,
    latest_records,
    list_runs,
    record_processing,
    run_records,
    start_run,
)
from reviewer.store.tables import (
    ITEM_KINDS,
    ITEM_STATUSES,
    LABEL_KINDS,
    LABEL_SOURCES,
    LABEL_STATUSES,
    RECORD_STATUSES,
    RUN_STATUSES,
    SPLITS,
    Artifact,
    Label,
    MediaItem,
    ModelVersion,
    PackageRecord,
    PipelineRun,
    Prediction,
    ProcessingRecord,
    utcnow,
)

__all__ = [
    "ITEM_KINDS", "ITEM_STATUSES", "LABEL_KINDS", "LABEL_SOURCES", "LABEL_STATUSES", "RECORD_STATUSES",
    "RUN_STATUSES", "SPLITS",
    "Artifact", "Label", "MediaItem", "ModelVersion", "PackageRecord", "PipelineRun", "Prediction",
    "ProcessingRecord", "utcnow",
    "get_engine", "init_db", "is_memory_sqlite", "lock_row", "make_engine", "session_scope",
    "assign_splits", "delete_item", "get_item", "get_item_by_key", "item_ids", "item_key_from_path",
    "items_by_id", "items_by_key", "iter_items", "list_items", "series_summary", "set_item_status",
    "status_counts", "update_item_extra", "upsert_item",
    "validate_key",
    "add_label", "current_labels", "get_label", "import_truth_labels", "label_history", "replace_truth_labels",
    "superseded_by",
    "activate_model_version", "active_model_version", "add_model_version", "add_prediction",
    "get_model_version", "list_model_versions", "predictions_for",
    "add_artifact", "add_package_record", "done_item_ids", "failures", "finish_run", "get_run",
    "latest_artifact", "latest_package", "latest_records", "list_runs", "record_processing", "run_records",
    "start_run",
]
from reviewer.store.summary import label_progress  # noqa: E402,F401
from reviewer.store.review_queries import REVIEW_STATES, heads_for_items, latest_predictions, review_candidates, reviewed_item_ids, series_and_artists  # noqa: E402,F401
from reviewer.store.ratings import SNIPPET_TASKS, add_preference, add_rating, get_prediction, list_preferences, list_ratings, newest_predictions, predictions_by_id, rating_summary, snippet_predictions  # noqa: E402,F401
from reviewer.store.users import add_user, get_user, get_user_by_name, list_users, set_password_hash, set_user_role, set_user_suspended, validate_user_name; from reviewer.store.crowd import add_answer, add_crowd_task, add_pool, answered_task_ids, disliked_genres, get_answer, get_crowd_task, get_pool, list_crowd_tasks, list_pools, list_skills, pool_answers, task_candidates, update_crowd_task, upsert_skill, user_answers  # noqa: E402,F401,E702
