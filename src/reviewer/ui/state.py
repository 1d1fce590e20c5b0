"""Every session-state key the app uses, declared once, prefixed by page.

Keys hold ids and small scalars only — never arrays, frames or models.
"""

from __future__ import annotations

HOME_KIND = "home.kind"
HOME_SERIES = "home.series"
HOME_STATUS = "home.status"
HOME_SEARCH = "home.search"
HOME_PAGE = "home.page"

ALL_KEYS = (HOME_KIND, HOME_SERIES, HOME_STATUS, HOME_SEARCH, HOME_PAGE)

# --- Review page (pages/1_Review.py) -----------------------------------------
REVIEW_ITEM = "review.item_id"  # int: the item on screen (mirrors ?item=ID)
REVIEW_FILTER_KIND = "review.filter_kind"
REVIEW_FILTER_SERIES = "review.filter_series"
REVIEW_FILTER_STATUS = "review.filter_status"
REVIEW_FILTER_CONF = "review.filter_confidence"  # (low, high) in [0, 1]
REVIEW_FILTER_DISAGREE = "review.filter_disagreement"
REVIEW_PICK = "review.pick"  # selectbox of item ids
REVIEW_NEXT = "review.next"  # button
REVIEW_AUTHOR = "review.author"
REVIEW_PREROLL = "review.preroll"
REVIEW_LOOP = "review.loop"
REVIEW_LABEL_TYPE = "review.label_type"
REVIEW_TARGET = "review.target"  # label id being edited, 0 = a new label
REVIEW_DRAFT_FOR = "review.draft_for"  # "item:type:target" the bounds were loaded for
REVIEW_BASE_ID = "review.base_label_id"  # label the edit is based on (None = new)
REVIEW_BASE_VERSION = "review.base_version"
REVIEW_START_MS = "review.start_ms"
REVIEW_END_MS = "review.end_ms"
REVIEW_LAST_BOX = "review.last_box"  # "start:end" of the last applied drag selection
REVIEW_WAVE_CHART = "review.wave_chart"
REVIEW_ZOOM = "review.zoom"  # (start, end) seconds of the waveform view
REVIEW_SPECTRO = "review.spectrogram"
REVIEW_PLAYHEAD = "review.playhead"  # seconds in the item's time
REVIEW_PLAYER = "review.player"  # audix component
REVIEW_PLAYER_LAST = "review.player_last"  # last play-head the player reported
REVIEW_NOTE = "review.note"
REVIEW_FORM = "review.form"
REVIEW_ACCEPT = "review.accept"
REVIEW_FIX = "review.fix"
REVIEW_REJECT = "review.reject"
REVIEW_UNDO = "review.undo"
REVIEW_RELOAD = "review.reload"  # label id to edit after a save (applied before the widgets)
REVIEW_SET_START = "review.set_start"
REVIEW_SET_END = "review.set_end"
REVIEW_NUDGE = "review.nudge"  # prefix: review.nudge_start_-1000 ... (buttons)
REVIEW_FLASH = "review.flash"  # (level, message) shown once after a rerun
REVIEW_EXPECT_EMPTY = "review.expect_empty"  # no label of the type existed when the edit began

REVIEW_KEYS = (
    REVIEW_ITEM, REVIEW_FILTER_KIND, REVIEW_FILTER_SERIES, REVIEW_FILTER_STATUS, REVIEW_FILTER_CONF,
    REVIEW_FILTER_DISAGREE, REVIEW_PICK, REVIEW_NEXT, REVIEW_AUTHOR, REVIEW_PREROLL, REVIEW_LOOP, REVIEW_LABEL_TYPE,
    REVIEW_TARGET, REVIEW_DRAFT_FOR, REVIEW_BASE_ID, REVIEW_BASE_VERSION, REVIEW_START_MS, REVIEW_END_MS,
    REVIEW_LAST_BOX, REVIEW_WAVE_CHART, REVIEW_ZOOM, REVIEW_SPECTRO, REVIEW_PLAYHEAD, REVIEW_PLAYER,
    REVIEW_PLAYER_LAST, REVIEW_NOTE, REVIEW_FORM, REVIEW_ACCEPT, REVIEW_FIX, REVIEW_REJECT, REVIEW_UNDO,
    REVIEW_RELOAD, REVIEW_SET_START, REVIEW_SET_END, REVIEW_NUDGE, REVIEW_FLASH, REVIEW_EXPECT_EMPTY,
)
ALL_KEYS = ALL_KEYS + REVIEW_KEYS

# --- Segment debugger (pages/2_Segment_debugger.py) ---------------------------
DEBUG_ITEM = "debug.item_id"  # int: the item on screen (mirrors ?item=ID)
DEBUG_KIND = "debug.kind"  # item picker filter
DEBUG_SEARCH = "debug.search"
DEBUG_PICK = "debug.pick"  # selectbox of item ids
DEBUG_MAX_SEQ_LEN = "debug.max_seq_len"  # int: "what if" max_seq_len for the selection
DEBUG_FEATURE_SET = "debug.feature_set"  # one of services.debug.FEATURE_SETS
DEBUG_ONLY_CHOSEN = "debug.only_chosen"
DEBUG_PREDICTION = "debug.prediction_id"  # int: prediction whose evidence is shown
DEBUG_TASK = "debug.task"  # model view: task
DEBUG_VERSION = "debug.version_key"  # model view: "mv:<id>" / "baseline:<method>"
DEBUG_WORST_N = "debug.worst_n"

DEBUG_KEYS = (
    DEBUG_ITEM, DEBUG_KIND, DEBUG_SEARCH, DEBUG_PICK, DEBUG_MAX_SEQ_LEN, DEBUG_FEATURE_SET, DEBUG_ONLY_CHOSEN,
    DEBUG_PREDICTION, DEBUG_TASK, DEBUG_VERSION, DEBUG_WORST_N,
)
ALL_KEYS = ALL_KEYS + DEBUG_KEYS

# --- Listen (pages/3_Listen.py) -------------------------------------------------
LISTEN_AUTHOR = "listen.author"
LISTEN_MODE = "listen.mode"  # "Queue" / "Blind A/B"
LISTEN_KIND = "listen.kind"
LISTEN_VERSION = "listen.model_version"  # int model version id, or 0 = all
LISTEN_UNRATED = "listen.unrated_only"
LISTEN_PAGE = "listen.page"
LISTEN_CURRENT = "listen.prediction_id"  # int: the snippet being played
LISTEN_RATING = "listen.rating"  # form: 1..5
LISTEN_COMMENT = "listen.comment"  # form: optional text
LISTEN_AB_ITEM = "listen.ab_item_id"  # int
LISTEN_AB_A = "listen.ab_a"  # int prediction id heard as "A"
LISTEN_AB_B = "listen.ab_b"  # int prediction id heard as "B"
LISTEN_AB_CHOICE = "listen.ab_choice"  # form: "a" / "b" / "same"
LISTEN_FLASH = "listen.flash"  # (level, message) shown once after a rerun
LISTEN_NEXT = "listen.next_prediction_id"  # int: snippet to select on the next run (after a rating)
LISTEN_FORM = "listen.form"
LISTEN_AB_FORM = "listen.ab_form"
LISTEN_AB_SKIP = "listen.ab_skip"

LISTEN_KEYS = (
    LISTEN_AUTHOR, LISTEN_MODE, LISTEN_KIND, LISTEN_VERSION, LISTEN_UNRATED, LISTEN_PAGE, LISTEN_CURRENT,
    LISTEN_RATING, LISTEN_COMMENT, LISTEN_AB_ITEM, LISTEN_AB_A, LISTEN_AB_B, LISTEN_AB_CHOICE, LISTEN_FLASH,
    LISTEN_NEXT, LISTEN_FORM, LISTEN_AB_FORM, LISTEN_AB_SKIP,
)
ALL_KEYS = ALL_KEYS + LISTEN_KEYS

# --- Crowd (pages/4_Crowd.py) and Datasets & models (pages/5_Datasets_and_models.py) ---
AUTH_USER_ID = "auth.user_id"  # int: the logged-in account (with name and role below; never the password)
AUTH_USER_NAME = "auth.user_name"
AUTH_USER_ROLE = "auth.user_role"
AUTH_NAME = "auth.name"  # login form: name
AUTH_PASSWORD = "auth.password"  # login form: password (a widget value, cleared by the form)
AUTH_FORM = "auth.form"
AUTH_LOGOUT = "auth.logout"

CROWD_POOL = "crowd.pool_id"  # int: the pool the annotator works in (0 = any)
CROWD_TASK = "crowd.task_id"  # int: the task on screen
CROWD_SHOWN_AT = "crowd.shown_at"  # float epoch seconds: when the task was opened (listening time)
CROWD_START = "crowd.start"  # float seconds: the region being chosen
CROWD_END = "crowd.end"
CROWD_LAST_BOX = "crowd.last_box"  # "start:end" of the last applied drag selection
CROWD_WAVE_CHART = "crowd.wave_chart"
CROWD_PLAYER = "crowd.player"
CROWD_PLAYHEAD = "crowd.playhead"  # float seconds (from the player or typed)
CROWD_MARK_START = "crowd.mark_start"  # button: start = play head
CROWD_MARK_END = "crowd.mark_end"
CROWD_SUBMIT = "crowd.submit"
CROWD_SKIP_REASON = "crowd.skip_reason"
CROWD_SKIP = "crowd.skip"
CROWD_FLASH = "crowd.flash"  # (level, message) shown once after a rerun
CROWD_ADMIN_POOL = "crowd.admin_pool_id"  # int: pool in the reviewer view
CROWD_METHOD = "crowd.method"  # aggregation method: mv / em / rasa
CROWD_AGGREGATE = "crowd.aggregate"  # button
CROWD_THRESHOLD = "crowd.threshold"  # disagreement threshold (mean IoU)
CROWD_REPORT_TASK = "crowd.report_task_id"  # int: task whose answers a reviewer inspects

DATA_SECTION = "data.section"  # which part of the page is shown
DATA_TASK = "data.task"  # training task: intro / chorus / interest
DATA_INCLUDE_TRUTH = "data.include_truth"
DATA_MIN_AGREEMENT = "data.min_agreement"
DATA_BUILD = "data.build"  # button
DATA_KINDS = "data.kinds"
DATA_SOURCES = "data.sources"
DATA_LABEL_KINDS = "data.label_kinds"
DATA_SERIES = "data.series"
DATA_EXPORT_MIN_AGREEMENT = "data.export_min_agreement"
DATA_SPLIT = "data.split"
DATA_TEST_FRACTION = "data.test_fraction"
DATA_CUTOFF = "data.cutoff"
DATA_FORMATS = "data.formats"
DATA_CLIPS = "data.clips"
DATA_EXPORT_FORM = "data.export_form"
DATA_LAST_EXPORT = "data.last_export"  # str: folder of the last export (shown with its manifest)
DATA_UPLOAD = "data.upload"
DATA_IMPORT_FMT = "data.import_fmt"
DATA_IMPORT = "data.import"  # button
DATA_TRAIN_TASK = "data.train_task"
DATA_EPOCHS = "data.epochs"
DATA_TRAIN = "data.train"  # button
DATA_JOB = "data.job_id"  # str: the background job being watched
DATA_CANDIDATE = "data.candidate_id"  # int: model version compared with the active one
DATA_PROMOTE = "data.promote"
DATA_REPREDICT = "data.repredict"
DATA_FLASH = "data.flash"
DATA_STUB_COMMAND = "data.stub_command"  # tuple of str: tests only — run this instead of `reviewer train`

CROWD_KEYS = (
    AUTH_USER_ID, AUTH_USER_NAME, AUTH_USER_ROLE, AUTH_NAME, AUTH_PASSWORD, AUTH_FORM, AUTH_LOGOUT,
    CROWD_POOL, CROWD_TASK, CROWD_SHOWN_AT, CROWD_START, CROWD_END, CROWD_LAST_BOX, CROWD_WAVE_CHART, CROWD_PLAYER,
    CROWD_PLAYHEAD, CROWD_MARK_START, CROWD_MARK_END, CROWD_SUBMIT, CROWD_SKIP_REASON, CROWD_SKIP, CROWD_FLASH,
    CROWD_ADMIN_POOL, CROWD_METHOD, CROWD_AGGREGATE, CROWD_THRESHOLD, CROWD_REPORT_TASK,
)
DATA_KEYS = (
    DATA_SECTION, DATA_TASK, DATA_INCLUDE_TRUTH, DATA_MIN_AGREEMENT, DATA_BUILD, DATA_KINDS, DATA_SOURCES, DATA_LABEL_KINDS,
    DATA_SERIES, DATA_EXPORT_MIN_AGREEMENT, DATA_SPLIT, DATA_TEST_FRACTION, DATA_CUTOFF, DATA_FORMATS, DATA_CLIPS,
    DATA_EXPORT_FORM, DATA_LAST_EXPORT, DATA_UPLOAD, DATA_IMPORT_FMT, DATA_IMPORT, DATA_TRAIN_TASK, DATA_EPOCHS,
    DATA_TRAIN, DATA_JOB, DATA_CANDIDATE, DATA_PROMOTE, DATA_REPREDICT, DATA_FLASH, DATA_STUB_COMMAND,
)
ALL_KEYS = ALL_KEYS + CROWD_KEYS + DATA_KEYS

# --- Review page: the crowd disagreement queue (src/reviewer/ui/disagreement.py) ---
REVIEW_CROWD_MODE = "review.crowd_mode"  # bool: show the disagreement queue instead of the item editor
REVIEW_CROWD_POOL = "review.crowd_pool_id"  # int: pool filter (0 = every pool)
REVIEW_CROWD_THRESHOLD = "review.crowd_threshold"  # float: list tasks whose mean pairwise IoU is below this
REVIEW_CROWD_TASK = "review.crowd_task_id"  # int: the task being resolved (mirrors ?crowd_task=ID)
REVIEW_CROWD_SEEN = "review.crowd_seen"  # str "task:answer ids:resolution id" the reviewer is looking at
REVIEW_CROWD_CHOICE = "review.crowd_choice"  # consensus / annotator / corrected
REVIEW_CROWD_ANSWER = "review.crowd_answer_id"  # int: the annotator's answer picked
REVIEW_CROWD_START = "review.crowd_start"  # float seconds: the corrected region
REVIEW_CROWD_END = "review.crowd_end"
REVIEW_CROWD_LAST_BOX = "review.crowd_last_box"  # "start:end" of the last applied drag selection
REVIEW_CROWD_WAVE = "review.crowd_wave_chart"
REVIEW_CROWD_LISTEN = "review.crowd_listen"  # which region plays: "consensus" / "answer:<id>" / "corrected"
REVIEW_CROWD_COMMENT = "review.crowd_comment"
REVIEW_CROWD_RESOLVE = "review.crowd_resolve"  # button
REVIEW_CROWD_RELOAD = "review.crowd_reload"  # button: look again after a stale refusal

REVIEW_CROWD_KEYS = (
    REVIEW_CROWD_MODE, REVIEW_CROWD_POOL, REVIEW_CROWD_THRESHOLD, REVIEW_CROWD_TASK, REVIEW_CROWD_SEEN,
    REVIEW_CROWD_CHOICE, REVIEW_CROWD_ANSWER, REVIEW_CROWD_START, REVIEW_CROWD_END, REVIEW_CROWD_LAST_BOX,
    REVIEW_CROWD_WAVE, REVIEW_CROWD_LISTEN, REVIEW_CROWD_COMMENT, REVIEW_CROWD_RESOLVE, REVIEW_CROWD_RELOAD,
)
ALL_KEYS = ALL_KEYS + REVIEW_CROWD_KEYS

# --- Datasets & models page: training-set split and the human-label gain (pages/5_Datasets_and_models.py) ---
DATA_SET_SPLIT = "data.set_split"  # training set: group / upload_date / store
DATA_SET_TEST_FRACTION = "data.set_test_fraction"
DATA_SET_CUTOFF = "data.set_cutoff"  # datetime.date or None: upload-date cut-off of the training set
DATA_GAIN_TASK = "data.gain_task"
DATA_GAIN_REPORT = "data.gain_report"  # str: path of the label-gain report shown
DATA_GAIN_RUN = "data.gain_run"  # button: start a (simulated) measurement job
DATA_GAIN_STUB_COMMAND = "data.gain_stub_command"  # tuple of str: tests only — run this instead of `reviewer label-gain`

DATA_GAIN_KEYS = (DATA_SET_SPLIT, DATA_SET_TEST_FRACTION, DATA_SET_CUTOFF, DATA_GAIN_TASK, DATA_GAIN_REPORT,
                  DATA_GAIN_RUN, DATA_GAIN_STUB_COMMAND)
ALL_KEYS = ALL_KEYS + DATA_GAIN_KEYS
