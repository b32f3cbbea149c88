"""A wall token in the URL is exchanged for an HttpOnly cookie on first load (issue 18, finding 8):
the token then appears in no later URL, page, log line or Referer, and the wall still works
(page, resync and socket read the cookie)."""

from __future__ import annotations

import pytest

from dashboard.domain.credentials import hash_token
from dashboard.domain.vocab import RegionLevel
from dashboard.store.database import db
from dashboard.store.models import Region, WallToken
from dashboard.web.access import WALL_COOKIE
from tests.console_support import STREET_A

TOKEN = "wall_cookie_test_token"


@pytest.fixture
def hardened(make_hardened_app):
    """Demo mode off, a district with street A and a wall token for street A."""
    app = make_hardened_app()
    with app.app_context(), db.transaction() as tx:
        tx.add(Region(code="510107", name="武侯区", level=RegionLevel.DISTRICT, parent_code=None))
        tx.add(Region(code=STREET_A, name="甲街道", level=RegionLevel.STREET, parent_code="510107"))
        tx.flush()
        tx.add(WallToken(name="hall", token_hash=hash_token(TOKEN), region_code=STREET_A))
    return app


def _router(client, search: str):
    body = {
        "output": ".._pages_content.children..._pages_store.data..",
        "outputs": [{"id": "_pages_content", "property": "children"}, {"id": "_pages_store", "property": "data"}],
        "inputs": [
            {"id": "_pages_location", "property": "pathname", "value": "/wall"},
            {"id": "_pages_location", "property": "search", "value": search},
        ],
        "state": [],
        "changedPropIds": ["_pages_location.pathname"],
    }
    return client.post("/_dash-update-component", json=body)


def test_the_token_becomes_a_cookie_and_leaves_the_url(hardened):
    client = hardened.test_client()
    first = client.get(f"/wall?region={STREET_A}&token={TOKEN}&lang=en")
    assert first.status_code == 303
    assert first.headers["Location"] == f"/wall?region={STREET_A}&lang=en"
    cookie = first.headers["Set-Cookie"]
    assert cookie.startswith(f"{WALL_COOKIE}={TOKEN};") and "HttpOnly" in cookie and "SameSite=Lax" in cookie
    assert first.headers["Cache-Control"] == "no-store"
    page = _router(client, f"?region={STREET_A}&lang=en")
    assert page.status_code == 200
    text = page.get_data(as_text=True)
    assert "甲街道" in text or "Street" in text
    assert TOKEN not in text  # never written into the page


def test_without_the_cookie_the_wall_is_refused(hardened):
    page = _router(hardened.test_client(), f"?region={STREET_A}")
    assert "a wall token is required" in page.get_data(as_text=True)


def test_the_socket_reads_the_cookie(hardened):
    client = hardened.test_client()
    client.get(f"/wall?token={TOKEN}")
    socketio = hardened.extensions["socketio"]
    connected = socketio.test_client(hardened, flask_test_client=client, auth={"region": STREET_A})
    assert connected.is_connected()
    connected.disconnect()
    stranger = socketio.test_client(hardened, auth={"region": STREET_A})
    assert not stranger.is_connected()


def test_a_revoked_token_in_the_cookie_is_refused(hardened):
    import datetime as dt

    client = hardened.test_client()
    client.get(f"/wall?token={TOKEN}")
    with hardened.app_context(), db.transaction() as tx:
        tx.query(WallToken).update({WallToken.revoked_at: dt.datetime.now(dt.UTC)})
    assert "unknown or revoked" in _router(client, f"?region={STREET_A}").get_data(as_text=True)
