"""Log-in hardening (issue 18): no open redirect after log-in, no user enumeration by lock-out,
credentials kept out of the access logs, health details only for those who may see them."""

from __future__ import annotations

import logging

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from dashboard.domain.roles import Role
from dashboard.web import security
from dashboard.web.login import DEFAULT_NEXT, safe_next
from tests.console_support import add_user, login


@pytest.fixture
def hardened(make_hardened_app):
    """The app with demo mode off."""
    return make_hardened_app()


# ---------------------------------------------------------------------------- open redirect


@pytest.mark.parametrize(
    "next_url",
    [
        "/%09/evil.example/x",  # a tab: browsers drop it and read //evil.example
        "/%0A/x",  # a newline: was a 500 (a header with a line break)
        "/%0D%0ASet-Cookie:x=1",
        "//evil.example",
        "/\\evil.example",
        "/%5Cevil.example",
        "https://evil.example/",
        "/ /evil.example",
        "javascript:alert(1)",
        "/%E2%80%A8/evil.example",  # U+2028, a line separator
    ],
)
def test_next_never_leaves_the_site(hardened, next_url):
    with hardened.app_context():
        add_user("lead", Role.ADMIN, None)
    client = hardened.test_client()
    page = client.get(f"/login?next={next_url}")
    assert page.status_code == 200
    token = page.get_data(as_text=True).split('name="csrf_token" value="')[1].split('"')[0]
    from urllib.parse import unquote

    response = client.post(
        "/login",
        data={"username": "lead", "password": "correct horse battery", "csrf_token": token, "next": unquote(next_url)},
    )
    assert response.status_code == 302
    assert response.headers["Location"] == DEFAULT_NEXT


def test_a_same_site_path_is_kept():
    assert safe_next("/appeal/12?lang=en") == "/appeal/12?lang=en"
    assert safe_next("/drill?region=510107001&from=2026-11-01") == "/drill?region=510107001&from=2026-11-01"


def _browser_reading(url: str) -> str:
    """What a browser makes of a Location value: tabs and line breaks dropped, backslashes as slashes."""
    return "".join(ch for ch in url if ch not in "\t\n\r").replace("\\", "/").lstrip(" \x00")


@settings(max_examples=500, deadline=None)
@given(st.text(alphabet=st.sampled_from(list("/\\\t\n\r .:@%?#evilx\x00\u3000\u2028")), max_size=20))
def test_safe_next_is_always_a_same_site_path(candidate):
    target = safe_next(candidate)
    read = _browser_reading(target)
    assert read.startswith("/") and not read.startswith("//")
    assert target in (candidate, DEFAULT_NEXT)


# ---------------------------------------------------------------------------- user enumeration


def test_an_unknown_user_is_locked_out_like_a_real_one(hardened):
    with hardened.app_context():
        add_user("someone", Role.ADMIN, None)
    clients, answers = {}, {}
    for number, name in enumerate(("someone", "nobody-here")):
        # From two addresses: each stays under the per-address limit of 10 log-ins a minute.
        clients[name] = hardened.test_client()
        clients[name].environ_base["REMOTE_ADDR"] = f"10.0.0.{number + 1}"
        answers[name] = [login(clients[name], name, "wrong password").status_code for _ in range(6)]
    assert answers["someone"] == answers["nobody-here"] == [401, 401, 401, 401, 403, 403]
    locked_real = login(clients["someone"], "someone", "wrong password").get_data(as_text=True)
    locked_unknown = login(clients["nobody-here"], "nobody-here", "wrong password").get_data(as_text=True)
    strip = lambda html: html.split('name="csrf_token" value="')[0] + html.split('name="username"')[1]  # noqa: E731
    assert strip(locked_real).replace("someone", "X") == strip(locked_unknown).replace("nobody-here", "X")


# ---------------------------------------------------------------------------- logs


def test_tokens_and_keys_are_redacted_in_access_logs(caplog):
    security.install_log_redaction()
    caplog.set_level(logging.INFO, logger="gunicorn.access")
    with caplog.at_level(logging.INFO, logger="werkzeug"):
        logging.getLogger("werkzeug").info(
            '%s - - [%s] "%s" %s -', "127.0.0.1", "now", "GET /wall?region=510107&token=s3cr3t-wall HTTP/1.1", "303"
        )
        logging.getLogger("gunicorn.access").info(
            "%(r)s", {"r": "POST /open311/v2/requests.json?api_key=k3y&x=1 HTTP/1.1"}
        )
    text = caplog.text
    assert "s3cr3t-wall" not in text and "k3y" not in text
    assert "token=***" in text and "api_key=***" in text and "region=510107" in text


def test_redact_leaves_ordinary_text_alone():
    assert security.redact("GET /drill?region=510107001&lang=en") == "GET /drill?region=510107001&lang=en"
    assert security.redact("password=hunter2&next=/drill") == "password=***&next=/drill"
    assert "13812345678" not in security.redact('"GET /drill?text=138%2012345678&from=2026-11-01 HTTP/1.1"')
    assert "from=2026-11-01" in security.redact('"GET /drill?text=x&from=2026-11-01 HTTP/1.1"')
