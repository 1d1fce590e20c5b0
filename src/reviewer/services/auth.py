"""Local accounts: create, log in, check roles.

Passwords are hashed with argon2id (argon2-cffi's :class:`~argon2.PasswordHasher`
defaults); only the hash is stored. A successful login returns a
:class:`SessionUser` — a small immutable record (id, name, role) that pages
keep in their session state and pass to every service that needs to know who
is asking::

    user = authenticate(name="ann", password="...", engine=engine)
    require_role(user, "engineer", "admin")     # raises PermissionDeniedError

Roles, least to most privileged: ``annotator`` (crowd tasks only),
``engineer`` (review, debug, export), ``pm`` (listen, rate, export), ``admin``
(everything, accounts).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

from reviewer import store
from reviewer.errors import ReviewerError, ValidationError
from reviewer.store.crowd_tables import USER_ROLES

__all__ = [
    "MIN_PASSWORD_LENGTH",
    "REVIEWER_ROLES",
    "SYSTEM_USER",
    "AuthenticationError",
    "PermissionDeniedError",
    "SessionUser",
    "authenticate",
    "change_password",
    "create_user",
    "hash_password",
    "list_accounts",
    "require_role",
    "set_role",
    "verify_password",
]

logger = logging.getLogger(__name__)

#: Shortest password :func:`create_user` accepts.
MIN_PASSWORD_LENGTH = 8
#: Roles that may see every crowd answer, the golden references and the disagreement queue.
REVIEWER_ROLES = ("engineer", "pm", "admin")

_HASHER = PasswordHasher()


class AuthenticationError(ReviewerError):
    """Unknown user name or wrong password (the message does not say which)."""


class PermissionDeniedError(ReviewerError, PermissionError):
    """The user's role (or suspension) does not allow this action."""


@dataclass(frozen=True)
class SessionUser:
    """Who is logged in: what pages keep and pass to services.

    Attributes
    ----------
    user_id : int
    name : str
    role : str
        One of :data:`~reviewer.store.crowd_tables.USER_ROLES`.
    """

    user_id: int
    name: str
    role: str

    @property
    def is_reviewer(self) -> bool:
        """True for roles that may see other people's answers and golden references."""
        return self.role in REVIEWER_ROLES


#: The local operator behind the CLI and batch jobs (not an account: it cannot take crowd tasks).
SYSTEM_USER = SessionUser(user_id=0, name="system", role="admin")


def hash_password(password: str) -> str:
    """An argon2id hash of ``password``.

    Raises
    ------
    ValidationError
        A password shorter than :data:`MIN_PASSWORD_LENGTH` characters.
    """
    if not isinstance(password, str) or len(password) < MIN_PASSWORD_LENGTH:
        raise ValidationError(f"a password needs at least {MIN_PASSWORD_LENGTH} characters")
    return _HASHER.hash(password)


def verify_password(password_hash: str, password: str) -> bool:
    """True when ``password`` matches ``password_hash`` (False for a malformed hash)."""
    try:
        return _HASHER.verify(password_hash, password)
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        return False


def _session_user(user) -> SessionUser:
    return SessionUser(user_id=int(user.id), name=user.name, role=user.role)


def create_user(*, name: str, password: str, role: str = "annotator", engine,
                created_by: SessionUser | None = None) -> SessionUser:
    """Create an account with a hashed password.

    Parameters
    ----------
    created_by : SessionUser, optional
        Who is creating it; when given it must be an admin. None is for the
        CLI and the first account.

    Raises
    ------
    ValidationError
        Bad or taken name, unknown role, short password.
    PermissionDeniedError
        ``created_by`` is not an admin.
    """
    if created_by is not None:
        require_role(created_by, "admin")
    h = hash_password(password)
    with store.session_scope(engine) as s:
        user = store.add_user(session=s, name=name, password_hash=h, role=role)
        return _session_user(user)


def authenticate(*, name: str, password: str, engine) -> SessionUser:
    """Log in: check the password and return the session record.

    Raises
    ------
    AuthenticationError
        Unknown name or wrong password (one message for both).
    PermissionDeniedError
        The account is suspended (the message gives the reason). Suspended
        annotators cannot log in to take tasks.
    """
    with store.session_scope(engine) as s:
        user = store.get_user_by_name(session=s, name=name) if isinstance(name, str) else None
        if user is None or not verify_password(user.password_hash, password):
            logger.info("failed login for %r", name)
            raise AuthenticationError("unknown user name or wrong password")
        if _HASHER.check_needs_rehash(user.password_hash):
            store.set_password_hash(session=s, user_id=user.id, password_hash=_HASHER.hash(password))
        if user.suspended:
            raise PermissionDeniedError(f"account {user.name!r} is suspended: {user.suspended_reason}")
        return _session_user(user)


def require_role(user: SessionUser | None, *roles: str) -> SessionUser:
    """Return ``user`` if their role is one of ``roles`` (admins pass every check).

    Raises
    ------
    PermissionDeniedError
        Nobody is logged in, or the role is not allowed (the message names both).
    ValidationError
        ``roles`` names an unknown role (a programming error).
    """
    unknown = [r for r in roles if r not in USER_ROLES]
    if unknown or not roles:
        raise ValidationError(f"require_role needs roles from {USER_ROLES}; got {roles!r}")
    if not isinstance(user, SessionUser):
        raise PermissionDeniedError("please log in first")
    if user.role != "admin" and user.role not in roles:
        raise PermissionDeniedError(f"{user.name!r} has the role {user.role!r}; this needs one of: {', '.join(roles)}")
    return user


def change_password(user: SessionUser, *, old_password: str, new_password: str, engine) -> None:
    """Change one's own password (the old one must match).

    Raises
    ------
    AuthenticationError
        The old password is wrong.
    ValidationError
        The new one is too short.
    """
    new_hash = hash_password(new_password)
    with store.session_scope(engine) as s:
        row = store.get_user(session=s, user_id=user.user_id)
        if not verify_password(row.password_hash, old_password):
            raise AuthenticationError("the current password is wrong")
        store.set_password_hash(session=s, user_id=row.id, password_hash=new_hash)


def set_role(admin: SessionUser, *, user_id: int, role: str, engine) -> SessionUser:
    """Change someone's role (admins only)."""
    require_role(admin, "admin")
    with store.session_scope(engine) as s:
        return _session_user(store.set_user_role(session=s, user_id=user_id, role=role))


def list_accounts(admin: SessionUser, *, engine) -> list[dict]:
    """Accounts for an admin page: id, name, role, suspended, reason, created (no hashes)."""
    require_role(admin, "admin")
    with store.session_scope(engine) as s:
        return [{"user_id": u.id, "name": u.name, "role": u.role, "suspended": u.suspended,
                 "suspended_reason": u.suspended_reason, "created_at": u.created_at}
                for u in store.list_users(session=s)]
