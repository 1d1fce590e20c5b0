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
