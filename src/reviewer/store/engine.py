"""Engines, schema creation and transactional sessions.

SQLite is the embedded default: WAL journal, a generous ``busy_timeout`` and
foreign keys on, set on every new connection. Any other URL (for example
``postgresql+psycopg://user@host/db``) is passed to SQLAlchemy unchanged and
uses the same tables.

Use one engine per process (:func:`get_engine` caches it) and one session per
unit of work (:func:`session_scope`).
"""

from __future__ import annotations

import contextlib
import logging
import os
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from sqlalchemy import event, update
from sqlalchemy.engine import Engine, make_url
from sqlalchemy.exc import ArgumentError
from sqlalchemy.pool import StaticPool
from sqlmodel import Session, SQLModel, create_engine

from reviewer.errors import ConfigError
from reviewer.store import tables as _tables  # noqa: F401  (registers every table on SQLModel.metadata)

__all__ = ["DEFAULT_BUSY_TIMEOUT_MS", "get_engine", "init_db", "is_memory_sqlite", "lock_row", "make_engine", "session_scope"]

logger = logging.getLogger(__name__)

#: How long a SQLite connection waits for another writer before "database is locked".
DEFAULT_BUSY_TIMEOUT_MS = 30_000


def is_memory_sqlite(url: str) -> bool:
    """True when ``url`` names an in-memory SQLite database.

    Parameters
    ----------
    url : str
        A SQLAlchemy database URL.
    """
    u = make_url(url)
    if u.get_backend_name() != "sqlite":
        return False
    db = u.database or ""
    return db in ("", ":memory:") or "mode=memory" in db or u.query.get("mode") == "memory"


def _sqlite_pragmas(*, busy_timeout_ms: int, wal: bool):
    def on_connect(dbapi_connection: Any, connection_record: Any) -> None:
        cursor = dbapi_connection.cursor()
        try:
            cursor.execute(f"PRAGMA busy_timeout = {int(busy_timeout_ms)}")
            cursor.execute("PRAGMA foreign_keys = ON")
            if wal:
                mode = cursor.execute("PRAGMA journal_mode = WAL").fetchone()[0]
                if str(mode).lower() != "wal":
                    logger.warning("SQLite refused WAL journal mode (got %r)", mode)
                cursor.execute("PRAGMA synchronous = NORMAL")
        finally:
            cursor.close()

    return on_connect


def make_engine(url: str, *, echo: bool = False, busy_timeout_ms: int = DEFAULT_BUSY_TIMEOUT_MS) -> Engine:
    """Create an engine for ``url``.

    Parameters
    ----------
    url : str
        SQLAlchemy URL. ``sqlite:///path/to/file.db`` (the parent folder is
        created), ``sqlite://`` / ``sqlite:///:memory:`` (one shared connection,
        :class:`~sqlalchemy.pool.StaticPool`), or any other backend, unchanged.
    echo : bool
        Log every statement (debugging).
    busy_timeout_ms : int
        SQLite only: how long to wait for a concurrent writer, in milliseconds.

    Returns
    -------
    sqlalchemy.engine.Engine

    Raises
    ------
    ConfigError
        If ``url`` is not a valid SQLAlchemy URL.
    """
    try:
        u = make_url(url)
    except ArgumentError as exc:
        raise ConfigError(f"invalid database URL {url!r}: {exc}") from exc
    if u.get_backend_name() != "sqlite":
        return create_engine(url, echo=echo, pool_pre_ping=True)

    connect_args = {"check_same_thread": False}
    if is_memory_sqlite(url):
        engine = create_engine(url, echo=echo, connect_args=connect_args, poolclass=StaticPool)
        wal = False
    else:
        db = u.database or ""
        if not db.startswith("file:"):
            Path(db).expanduser().resolve().parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(url, echo=echo, connect_args=connect_args)
        wal = True
    event.listen(engine, "connect", _sqlite_pragmas(busy_timeout_ms=busy_timeout_ms, wal=wal))
    logger.debug("engine for %s (wal=%s)", u.render_as_string(hide_password=True), wal)
    return engine


def init_db(engine: Engine) -> None:
    """Create every table and index that does not exist yet (idempotent).

    Parameters
    ----------
    engine : sqlalchemy.engine.Engine
    """
    SQLModel.metadata.create_all(engine)


@contextlib.contextmanager
def session_scope(engine: Engine) -> Iterator[Session]:
    """A session that commits when the block succeeds and rolls back when it raises.

    Objects stay readable after the block (``expire_on_commit=False``).

    Parameters
    ----------
    engine : sqlalchemy.engine.Engine

    Yields
    ------
    sqlmodel.Session
    """
    session = Session(engine, expire_on_commit=False)
    try:
        yield session
        session.commit()
    except BaseException:
        session.rollback()
        raise
    finally:
        session.close()


def lock_row(*, session: Session, table: str, row_id: int) -> bool:
    """Take the write lock for a check-then-write, before anything is read.

    A no-op ``UPDATE`` of one row: on SQLite it takes the database's write lock
    (a concurrent writer waits up to the busy timeout), on other backends it
    locks that row. Call it as the *first* statement of a ``session_scope``
    block; everything read afterwards is what the last committed writer left,
    so "nobody resolved this yet" cannot change before this block commits.

    Parameters
    ----------
    table : str
        A table name (``"media_item"``, ``"crowd_task"``, ...).

    Returns
    -------
    bool
        Whether the row exists.
    """
    tbl = SQLModel.metadata.tables.get(table)
    if tbl is None:
        raise ValueError(f"unknown table {table!r}")
    res = session.execute(update(tbl).where(tbl.c.id == int(row_id)).values(id=tbl.c.id))
    return bool(res.rowcount)


_ENGINES: dict[str, Engine] = {}
_ENGINES_LOCK = threading.Lock()


def get_engine(url: str | None = None) -> Engine:
    """The process-wide engine for ``url`` (default: the settings' database URL), tables created.

    Parameters
    ----------
    url : str, optional
        Defaults to ``reviewer.settings.get_settings().db_url``.

    Returns
    -------
    sqlalchemy.engine.Engine
    """
    if url is None:
        from reviewer.settings import get_settings

        url = get_settings().db_url
    with _ENGINES_LOCK:
        engine = _ENGINES.get(url)
        if engine is None:
            engine = make_engine(url)
            init_db(engine)
            _ENGINES[url] = engine
        return engine


def _forget_engines_after_fork() -> None:
    # A forked child must not reuse (nor close) the parent's pooled connections.
    global _ENGINES_LOCK
    _ENGINES_LOCK = threading.Lock()
    for engine in _ENGINES.values():
        engine.dispose(close=False)
    _ENGINES.clear()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_forget_engines_after_fork)
