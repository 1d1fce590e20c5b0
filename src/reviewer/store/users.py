"""Accounts: add, look up, list, change role, suspend and reinstate.

Passwords are hashed by :mod:`reviewer.services.auth` before they get here;
the store only keeps the hash. Every function takes the session first and
only keywords::

    with session_scope(engine) as session:
        user = add_user(session=session, name="ann", password_hash=h, role="annotator")
"""

from __future__ import annotations

import logging
import re

from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, select

from reviewer.errors import NotFoundError, ValidationError
from reviewer.store.checks import check_choice, check_text
from reviewer.store.crowd_tables import USER_ROLES, User
from reviewer.store.tables import utcnow

__all__ = [
    "add_user",
    "get_user",
    "get_user_by_name",
    "list_users",
    "set_password_hash",
    "set_user_role",
    "set_user_suspended",
    "validate_user_name",
]

logger = logging.getLogger(__name__)

_NAME_RE = re.compile(r"^[A-Za-z0-9._@-]{2,64}$")


def validate_user_name(name: object) -> str:
    """Return ``name`` if it is 2–64 characters of ``[A-Za-z0-9._@-]``.

    Raises
    ------
    ValidationError
        naming the bad value.
    """
    if not isinstance(name, str) or not _NAME_RE.match(name):
        raise ValidationError(f"user name must be 2-64 characters of [A-Za-z0-9._@-]; got {name!r}")
    return name


def add_user(*, session: Session, name: str, password_hash: str, role: str = "annotator") -> User:
    """Create an account.

    Parameters
    ----------
    name : str
        Unique login name.
    password_hash : str
        An argon2 hash (never a plain password).
    role : str
        One of :data:`~reviewer.store.crowd_tables.USER_ROLES`.

    Raises
    ------
    ValidationError
        Bad name or role, an empty hash, or a name that is taken.
    """
    validate_user_name(name)
    check_text(password_hash, what="password hash")
    check_choice(role, USER_ROLES, what="role")
    if get_user_by_name(session=session, name=name) is not None:
        raise ValidationError(f"user name {name!r} is already taken")
    user = User(name=name, password_hash=password_hash, role=role)
    session.add(user)
    try:
        session.flush()
    except IntegrityError as exc:
        session.rollback()
        raise ValidationError(f"user name {name!r} is already taken") from exc
    logger.info("user %s (%s) created, id %s", name, role, user.id)
    return user


def get_user(*, session: Session, user_id: int) -> User:
    """The user with id ``user_id``.

    Raises
    ------
    NotFoundError
        naming the id.
    """
    user = session.get(User, user_id)
    if user is None:
        raise NotFoundError(f"no user with id {user_id!r}")
    return user


def get_user_by_name(*, session: Session, name: str) -> User | None:
    """The user called ``name``, or None."""
    return session.exec(select(User).where(User.name == name)).first()


def list_users(*, session: Session, role: str | None = None, suspended: bool | None = None) -> list[User]:
    """Accounts by name, optionally of one role or suspension state."""
    q = select(User)
    if role is not None:
        check_choice(role, USER_ROLES, what="role")
        q = q.where(User.role == role)
    if suspended is not None:
        q = q.where(col(User.suspended).is_(bool(suspended)))
    return list(session.exec(q.order_by(User.name)).all())


def set_user_role(*, session: Session, user_id: int, role: str) -> User:
    """Change a user's role.

    Raises
    ------
    ValidationError, NotFoundError
    """
    check_choice(role, USER_ROLES, what="role")
    user = get_user(session=session, user_id=user_id)
    user.role = role
    user.version += 1
    session.add(user)
    session.flush()
    return user


def set_password_hash(*, session: Session, user_id: int, password_hash: str) -> User:
    """Replace a user's password hash (after a password change or a rehash)."""
    check_text(password_hash, what="password hash")
    user = get_user(session=session, user_id=user_id)
    user.password_hash = password_hash
    user.version += 1
    session.add(user)
    session.flush()
    return user


def set_user_suspended(*, session: Session, user_id: int, suspended: bool, reason: str | None = None) -> User:
    """Suspend (with a reason) or reinstate a user.

    Raises
    ------
    ValidationError
        Suspending without a reason.
    NotFoundError
    """
    user = get_user(session=session, user_id=user_id)
    if suspended:
        check_text(reason, what="suspension reason")
        user.suspended, user.suspended_reason, user.suspended_at = True, reason, utcnow()
    else:
        user.suspended, user.suspended_reason, user.suspended_at = False, None, None
    user.version += 1
    session.add(user)
    session.flush()
    logger.info("user %s %s%s", user.name, "suspended" if suspended else "reinstated", f": {reason}" if reason else "")
    return user
