"""Accounts: argon2 hashes, login, roles, suspension."""

from __future__ import annotations

import pytest

from reviewer import store
from reviewer.errors import ValidationError
from reviewer.services import auth
from reviewer.services.auth import AuthenticationError, PermissionDeniedError, SessionUser


@pytest.fixture
def engine():
    e = store.make_engine("sqlite://")
    store.init_db(e)
    return e


def test_create_and_authenticate_stores_only_an_argon2_hash(engine):
    u = auth.create_user(name="ann", password="correct horse", role="annotator", engine=engine)
    assert u == SessionUser(user_id=u.user_id, name="ann", role="annotator")
    with store.session_scope(engine) as s:
        row = store.get_user_by_name(session=s, name="ann")
        assert row.password_hash.startswith("$argon2id$") and "correct horse" not in row.password_hash
    assert auth.authenticate(name="ann", password="correct horse", engine=engine) == u


@pytest.mark.parametrize("name,password", [("ann", "wrong password"), ("nobody", "correct horse")])
def test_bad_login_gives_one_message(engine, name, password):
    auth.create_user(name="ann", password="correct horse", engine=engine)
    with pytest.raises(AuthenticationError, match="unknown user name or wrong password"):
        auth.authenticate(name=name, password=password, engine=engine)


def test_validation_of_new_accounts(engine):
    with pytest.raises(ValidationError, match="at least 8 characters"):
        auth.create_user(name="ann", password="short", engine=engine)
    with pytest.raises(ValidationError, match="role must be one of"):
        auth.create_user(name="ann", password="long enough", role="boss", engine=engine)
    with pytest.raises(ValidationError, match="user name must be"):
        auth.create_user(name="a b", password="long enough", engine=engine)
    auth.create_user(name="ann", password="long enough", engine=engine)
    with pytest.raises(ValidationError, match="already taken"):
        auth.create_user(name="ann", password="long enough", engine=engine)


def test_require_role_and_admin_only_actions(engine):
    ann = auth.create_user(name="ann", password="long enough", engine=engine)
    eng = auth.create_user(name="eve", password="long enough", role="engineer", engine=engine)
    admin = auth.create_user(name="root", password="long enough", role="admin", engine=engine)
    assert auth.require_role(eng, "engineer") is eng
    assert auth.require_role(admin, "engineer") is admin  # admins pass every check
    with pytest.raises(PermissionDeniedError, match="'ann' has the role 'annotator'; this needs one of: engineer"):
        auth.require_role(ann, "engineer")
    with pytest.raises(PermissionDeniedError, match="log in"):
        auth.require_role(None, "annotator")
    with pytest.raises(ValidationError, match="require_role needs roles"):
        auth.require_role(ann, "wizard")
    with pytest.raises(PermissionDeniedError):
        auth.create_user(name="bob", password="long enough", engine=engine, created_by=eng)
    with pytest.raises(PermissionDeniedError):
        auth.list_accounts(ann, engine=engine)
    auth.set_role(admin, user_id=ann.user_id, role="pm", engine=engine)
    rows = {r["name"]: r for r in auth.list_accounts(admin, engine=engine)}
    assert rows["ann"]["role"] == "pm" and "password_hash" not in rows["ann"]


def test_change_password_and_suspended_login(engine):
    ann = auth.create_user(name="ann", password="long enough", engine=engine)
    with pytest.raises(AuthenticationError, match="current password is wrong"):
        auth.change_password(ann, old_password="nope nope", new_password="even longer", engine=engine)
    auth.change_password(ann, old_password="long enough", new_password="even longer", engine=engine)
    assert auth.authenticate(name="ann", password="even longer", engine=engine).name == "ann"
    with store.session_scope(engine) as s:
        store.set_user_suspended(session=s, user_id=ann.user_id, suspended=True, reason="spam")
    with pytest.raises(PermissionDeniedError, match="suspended: spam"):
        auth.authenticate(name="ann", password="even longer", engine=engine)
    with store.session_scope(engine) as s, pytest.raises(ValidationError, match="suspension reason"):
        store.set_user_suspended(session=s, user_id=ann.user_id, suspended=True, reason="")
