"""Sessions can be ended (issue 18, finding 3): a copied session cookie stops working at once after
log-out, a password change, deactivation, a role or region change and an admin's "end sessions",
on every web process; the session itself lives on the server (database, or Redis when configured)."""

from __future__ import annotations

import uuid

import pytest
from sqlalchemy import func, select

from dashboard import create_app
from dashboard.domain.roles import Role
from dashboard.services import admin
from dashboard.store.database import db
from dashboard.store.models import User, WebSession
from tests.conftest import REDIS_URL, require_redis
from tests.console_support import STREET_A, add_user, login

# These share one Redis (sessions, rate limits, the socket channel): one xdist worker runs them all.
pytestmark = pytest.mark.xdist_group("redis")

PROTECTED = "/drill/export.csv"  # needs a logged-in user with the export permission


@pytest.fixture
def make_app(database_url, tmp_path):
    """Apps (as separate web processes) on one migrated database with a district and a street, demo mode off."""
    from dashboard.domain.vocab import RegionLevel
    from dashboard.store.models import Region

    seeded = []

    def make(**overrides):
        config = {
            "DATABASE_URL": database_url,
            "TESTING": True,
            "SECRET_KEY": "test-secret-key",
            "SCHEDULER_ENABLED": False,
            "EXPORT_DIR": str(tmp_path / "exports"),
        }
        app = create_app({**config, **overrides})
        if not seeded:
            with app.app_context(), db.transaction() as tx:
                tx.add(Region(code="510107", name="武侯区", level=RegionLevel.DISTRICT, parent_code=None))
                tx.add(Region(code=STREET_A, name="甲街道", level=RegionLevel.STREET, parent_code="510107"))
            seeded.append(True)
        return app

    yield make
    db.engine.dispose()


def _in(app, function, *args, **kwargs):
    """Run a setup or admin step in app's context (requests run outside it: g is per request there)."""
    with app.app_context():
        return function(*args, **kwargs)


def _logged_in(app, username: str):
    client = app.test_client()
    assert login(client, username).status_code == 302
    assert client.get(PROTECTED).status_code == 200
    return client


def _copy(client, app):
    """A second browser holding a copy of client's session cookie (what a thief would have)."""
    thief = app.test_client()
    thief.set_cookie("session", client.get_cookie("session").value)
    return thief


def _refused(client) -> bool:
    return client.get(PROTECTED).status_code == 302  # sent to the log-in page


def _user(username: str) -> User:
    with db.session() as s:
        return s.scalar(select(User).where(User.username == username))


def _count_sessions(app) -> int:
    def count():
        with db.session() as s:
            return s.scalar(select(func.count()).select_from(WebSession))

    return _in(app, count)


def test_the_browser_holds_only_a_random_id(make_app):
    app = make_app()
    _in(app, add_user, "lead", Role.ADMIN, None)
    client = _logged_in(app, "lead")
    cookie = client.get_cookie("session").value
    assert "." not in cookie  # not a signed payload: an opaque id
    assert _count_sessions(app) == 1


def test_logout_ends_every_session_of_the_user(make_app):
    app = make_app()
    _in(app, add_user, "lead", Role.ADMIN, None)
    first = _logged_in(app, "lead")
    second = _logged_in(app, "lead")  # another browser of the same user
    thief = _copy(first, app)
    assert not _refused(thief)
    token = first.get("/login").get_data(as_text=True).split('name="csrf_token" value="')[1].split('"')[0]
    assert first.post("/logout", data={"csrf_token": token}).status_code == 302
    assert _refused(first) and _refused(thief) and _refused(second)


def _change_user(change: str) -> None:
    if change == "password":
        admin.reset_password("boss", "street", "a brand new password 1")
    elif change == "deactivate_reactivate":
        admin.set_user_active("boss", "street", False)
        admin.set_user_active("boss", "street", True)
    elif change == "end_sessions":
        admin.end_user_sessions("boss", "street")
    else:
        with db.transaction() as tx:
            user = tx.scalar(select(User).where(User.username == "street"))
            if change == "role":
                user.role, user.region_code = Role.ADMIN, None
            else:
                user.region_code = STREET_A[:6]


@pytest.mark.parametrize("change", ["password", "deactivate_reactivate", "role", "region", "end_sessions"])
def test_a_change_to_the_user_ends_their_sessions(make_app, change):
    app = make_app()
    _in(app, add_user, "street", Role.SUPERVISOR, STREET_A)
    _in(app, add_user, "boss", Role.ADMIN, None)
    client = _logged_in(app, "street")
    thief = _copy(client, app)
    bystander = _logged_in(app, "boss")
    _in(app, _change_user, change)
    assert _refused(client) and _refused(thief)
    assert not _refused(bystander)  # other users keep theirs


def _save_unchanged() -> None:
    with db.transaction() as tx:
        user = tx.scalar(select(User).where(User.username == "street"))
        user.region_code = STREET_A  # the same values: nothing changed
        user.active = True


def test_an_unchanged_save_keeps_the_sessions(make_app):
    app = make_app()
    _in(app, add_user, "street", Role.SUPERVISOR, STREET_A)
    client = _logged_in(app, "street")
    _in(app, _save_unchanged)
    assert not _refused(client)


def test_ending_on_one_web_process_ends_on_the_other(make_app):
    first_process, second_process = make_app(), make_app()
    _in(first_process, add_user, "lead", Role.ADMIN, None)
    client = _logged_in(first_process, "lead")
    elsewhere = _copy(client, second_process)
    assert not _refused(elsewhere)  # the session is on the server, shared by both
    _in(first_process, admin.end_user_sessions, "lead", "lead")
    assert _refused(elsewhere)


def test_a_forged_session_id_is_anonymous(make_app):
    app = make_app()
    stranger = app.test_client()
    stranger.set_cookie("session", uuid.uuid4().hex)
    assert _refused(stranger)


def test_sessions_live_in_redis_when_configured(make_app):
    import redis

    require_redis()
    first_process, second_process = make_app(REDIS_URL=REDIS_URL), make_app(REDIS_URL=REDIS_URL)
    _in(first_process, add_user, "lead", Role.ADMIN, None)
    client = _logged_in(first_process, "lead")
    sid = client.get_cookie("session").value
    assert redis.Redis.from_url(REDIS_URL).exists(f"cc:session:{sid}")
    assert _count_sessions(first_process) == 0
    elsewhere = _copy(client, second_process)
    assert not _refused(elsewhere)
    _in(second_process, admin.set_user_active, "lead", "lead", True)  # unchanged: sessions stay
    assert not _refused(elsewhere)
    _in(second_process, admin.end_user_sessions, "lead", "lead")
    assert _refused(elsewhere) and _refused(client)


def test_expired_sessions_are_deleted(make_app):
    import datetime as dt

    from dashboard.store import sessions

    with make_app().app_context():
        sessions.save("old", b"{}", dt.timedelta(seconds=-1))
        sessions.save("new", b"{}", dt.timedelta(hours=1))
        assert sessions.load("old") is None and sessions.load("new") == b"{}"
        assert sessions.remove_expired() == 1
        assert sessions.load("new") == b"{}"
