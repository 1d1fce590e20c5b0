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

LISTEN_KEYS = (
    LISTEN_AUTHOR, LISTEN_MODE, LISTEN_KIND, LISTEN_VERSION, LISTEN_UNRATED, LISTEN_PAGE, LISTEN_CURRENT,
    LISTEN_RATING, LISTEN_COMMENT, LISTEN_AB_ITEM, LISTEN_AB_A, LISTEN_AB_B, LISTEN_AB_CHOICE, LISTEN_FLASH,
)
ALL_KEYS = ALL_KEYS + LISTEN_KEYS
