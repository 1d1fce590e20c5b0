"""Streamlit widgets of the Crowd and Datasets & models pages: log-in, flash messages, the region picker.

The logged-in account is kept as three scalars (id, name, role) under the
``auth.*`` keys and turned back into a
:class:`~reviewer.services.auth.SessionUser` for every service call. The
password never stays in the session state: the login form clears it.
"""

from __future__ import annotations

import logging
import math

import streamlit as st

from reviewer.errors import ReviewerError
from reviewer.services import auth
from reviewer.ui import state
from reviewer.ui.waveform import Region

log = logging.getLogger(__name__)

try:  # the audix player reports the play-head time (as on the Review page)
    from streamlit_advanced_audio import WaveSurferOptions, audix
except ImportError:  # pragma: no cover - optional component
    audix = None

#: Human words for the skip reasons of :data:`reviewer.store.crowd_tables.ANSWER_SKIP_REASONS`.
SKIP_TEXT = {"dislike_genre": "I dislike this genre (don't show me more of it)",
             "cannot_judge": "I cannot judge this track", "broken_audio": "The audio is broken / silent"}


def current_user() -> auth.SessionUser | None:
    """The logged-in account from the session state, or None."""
    ss = st.session_state
    if not ss.get(state.AUTH_USER_ID):
        return None
    return auth.SessionUser(user_id=int(ss[state.AUTH_USER_ID]), name=str(ss[state.AUTH_USER_NAME]),
                            role=str(ss[state.AUTH_USER_ROLE]))


def logout() -> None:
    """Forget the logged-in account (and the crowd task on screen)."""
    for key in (state.AUTH_USER_ID, state.AUTH_USER_NAME, state.AUTH_USER_ROLE, state.CROWD_TASK,
                state.CROWD_SHOWN_AT):
        st.session_state.pop(key, None)


def login(engine, *, purpose: str) -> auth.SessionUser | None:
    """The login form (when nobody is logged in) or the "logged in as" line with a log-out button.

    Returns
    -------
    SessionUser or None
        None while nobody is logged in (the caller stops the page).
    """
    user = current_user()
    if user is not None:
        c1, c2 = st.sidebar.columns([3, 2], vertical_alignment="center")
        c1.markdown(f"**{user.name}** · {user.role}")
        c2.button("Log out", key=state.AUTH_LOGOUT, on_click=logout)
        return user
    st.info(f"Log in to {purpose}. Accounts are created by an admin: "
            "`python -m reviewer user add NAME --role annotator`.")
    with st.form(state.AUTH_FORM, clear_on_submit=True):
        name = st.text_input("Name", key=state.AUTH_NAME)
        password = st.text_input("Password", type="password", key=state.AUTH_PASSWORD)
        submitted = st.form_submit_button("Log in", type="primary")
    if submitted:
        try:
            user = auth.authenticate(name=name.strip(), password=password, engine=engine)
        except ReviewerError as exc:
            st.error(f"Cannot log in: {exc}")
            return None
        ss = st.session_state
        ss[state.AUTH_USER_ID], ss[state.AUTH_USER_NAME], ss[state.AUTH_USER_ROLE] = user.user_id, user.name, user.role
        st.rerun()
    return None


def flash(key: str, level: str, message: str) -> None:
    """Show ``message`` once after the next rerun (``level``: success / info / warning / error)."""
    st.session_state[key] = (level, message)


def show_flash(key: str) -> None:
    """Show and forget the message :func:`flash` left under ``key``."""
    msg = st.session_state.pop(key, None)
    if msg:
        getattr(st, msg[0], st.info)(msg[1])


def draft_region() -> tuple[float, float]:
    """The region being chosen on the crowd page, seconds."""
    ss = st.session_state
    return float(ss.get(state.CROWD_START) or 0.0), float(ss.get(state.CROWD_END) or 0.0)


def set_region(start: float, end: float) -> None:
    """Put a region into the start/end inputs (before they are drawn, or from a callback)."""
    st.session_state[state.CROWD_START] = round(float(start), 2)
    st.session_state[state.CROWD_END] = round(float(end), 2)


def mark(which: str) -> None:
    """Callback: start or end = the play head."""
    ss = st.session_state
    ph = ss.get(state.CROWD_PLAYHEAD)
    if ph is None:
        flash(state.CROWD_FLASH, "warning", "Play the track and pause where the region should start or end "
                                            "(or type a play-head time) first.")
        return
    ss[state.CROWD_START if which == "start" else state.CROWD_END] = round(float(ph), 2)


def draft_regions(start: float, end: float, *, ok: bool) -> list[Region]:
    """The overlay of the annotator's own region (nothing else is ever drawn for an annotator)."""
    if not (math.isfinite(start) and math.isfinite(end) and end > start):
        return []
    return [Region(start, end, "human" if ok else "draft", "your region" if ok else "your region (check the length)")]


def player(data: bytes, mime: str, *, duration: float, offset: float = 0.0) -> None:
    """Play the track; the pause / seek position becomes the play head for the start / end marks."""
    ss = st.session_state
    if audix is not None:
        opts = WaveSurferOptions(height=48, wave_color="#9aa7bd", progress_color="#4a5d7e")
        res = audix(data, wavesurfer_options=opts, key=state.CROWD_PLAYER)
        if isinstance(res, dict) and res.get("currentTime") is not None:
            now = round(offset + float(res["currentTime"]), 2)
            if ss.get(state.CROWD_PLAYHEAD) != now:
                ss[state.CROWD_PLAYHEAD] = now
    else:
        st.audio(data, format=mime)
    st.number_input("Play head (s)", min_value=0.0, max_value=float(duration), step=0.5, format="%.2f",
                    key=state.CROWD_PLAYHEAD, value=None, placeholder="pause the player, or type a time",
                    help="Updated when you pause or seek in the player above.")
