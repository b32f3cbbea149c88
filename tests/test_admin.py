"""Administration: the service rules (dashboard.services.admin), the admin page's callbacks, and who may use them."""

from __future__ import annotations

import datetime as dt
import re

import pytest
from flask import g
from sqlalchemy import select

from dashboard.domain.keys import KeyAction
from dashboard.domain.roles import Role
from dashboard.domain.vocab import RegionLevel
from dashboard.services import admin
from dashboard.services.admin import AdminError
from dashboard.store.database import db
from dashboard.store.models import ApiKey, AuditLog, Region, User, WallToken
from dashboard.ui import ids
from dashboard.ui.i18n import t
from dashboard.web.access import AccessDenied, wall_region
from dashboard.web.auth import LoginRefused, Principal, authenticate
from tests.console_support import PASSWORD, STREET_A, add_user, dash_callback, login

COMMUNITY_A = STREET_A + "001"
NEW_PASSWORD = "a brand new secret"


@pytest.fixture
def regions(app):
    """The district, street A and one of its communities: enough to scope users and walls."""
    with db.transaction() as tx:
        tx.add(Region(code="510107", name="武侯区", name_en="Wuhou District", level=RegionLevel.DISTRICT))
        tx.add(
            Region(
                code=STREET_A, name="簇桥街道", name_en="Cuqiao Street", level=RegionLevel.STREET, parent_code="510107"
            )
        )
        tx.add(Region(code=COMMUNITY_A, name="龙井社区", level=RegionLevel.COMMUNITY, parent_code=STREET_A))
    return app


def audit_actions() -> list[tuple[str, str, str]]:
    """(actor, action, target) of every audit entry, oldest first."""
    with db.session() as session:
        return [(e.actor, e.action, e.target) for e in session.scalars(select(AuditLog).order_by(AuditLog.id))]


def refused(change, *args, **kwargs) -> AdminError:
    """The AdminError a change raises (fails the test when it raises none)."""
    with pytest.raises(AdminError) as caught:
        change(*args, **kwargs)
    return caught.value


# ---------------------------------------------------------------------------- the service


@pytest.mark.parametrize(
    ("username", "display_name", "role", "region", "password", "field", "key"),
    [
        ("", "", "supervisor", STREET_A, PASSWORD, "username", "required"),
        ("a b", "", "supervisor", STREET_A, PASSWORD, "username", "username_format"),
        (["lead"], "", "supervisor", STREET_A, PASSWORD, "username", "invalid"),
        ("lead", "x" * 65, "supervisor", STREET_A, PASSWORD, "display_name", "too_long"),
        ("lead", "", "wall", STREET_A, PASSWORD, "role", "role"),
        ("lead", "", ["admin"], STREET_A, PASSWORD, "role", "role"),
        ("lead", "", "supervisor", [STREET_A], PASSWORD, "region", "invalid"),
        ("lead", "", "supervisor", None, PASSWORD, "region", "region_required"),
        ("lead", "", "supervisor", "  ", PASSWORD, "region", "region_required"),
        ("lead", "", "supervisor", "510107999", PASSWORD, "region", "region_unknown"),
        ("lead", "", "supervisor", STREET_A, "short pw", "password", "password_short"),
        ("lead", "", "supervisor", STREET_A, None, "password", "required"),
    ],
)
def test_create_user_refuses_each_bad_input_naming_its_field(
    regions, username, display_name, role, region, password, field, key
):
    error = refused(admin.create_user, "boss", username, display_name, role, region, password)
    assert (error.field, error.key) == (field, key)
    label_zh = {"username": "用户名", "display_name": "显示名称", "role": "角色", "region": "所属区域"}
    label_zh["password"] = "密码"
    assert f"“{label_zh[field]}”" in error.message("zh")
    assert field.split("_")[0] in error.message("en").lower()
    with db.session() as session:
        assert session.scalar(select(User)) is None
    assert audit_actions() == []


def test_create_user_hashes_the_password_scopes_the_supervisor_and_audits(regions):
    with regions.app_context():
        view = admin.create_user("boss", " lead ", "", "supervisor", STREET_A, PASSWORD)
        assert (view.username, view.display_name, view.region_code, view.active) == ("lead", "lead", STREET_A, True)
        assert not hasattr(view, "password_hash")
        boss = admin.create_user("boss", "chief", "总指挥", "admin", STREET_A, PASSWORD)
        assert boss.region_code is None  # an admin sees everything: a region would mean nothing
        with db.session() as session:
            stored = session.scalar(select(User).where(User.username == "lead"))
        assert PASSWORD not in stored.password_hash and stored.password_hash.startswith(("scrypt:", "pbkdf2:"))
        assert authenticate("lead", PASSWORD).region_code == STREET_A
        again = refused(admin.create_user, "boss", "lead", "", "supervisor", STREET_A, PASSWORD)
        assert (again.field, again.key) == ("username", "username_taken")
    created = [row for row in audit_actions() if row[1] == "user_create"]
    assert created == [("boss", "user_create", "user:lead"), ("boss", "user_create", "user:chief")]


def test_deactivate_reactivate_unlock_and_reset_password(regions):
    add_user("lead", Role.SUPERVISOR, STREET_A)
    with regions.app_context():
        assert refused(admin.set_user_active, "lead", "lead", active=False).key == "self_deactivate"
        assert refused(admin.set_user_active, "boss", "nobody", active=False).key == "no_user"
        assert not admin.set_user_active("boss", "lead", active=False).active
        with pytest.raises(LoginRefused):
            authenticate("lead", PASSWORD)
        assert admin.set_user_active("boss", "lead", active=True).active
        assert authenticate("lead", PASSWORD).username == "lead"

        with db.transaction() as tx:
            user = tx.scalar(select(User).where(User.username == "lead"))
            user.locked_until = dt.datetime.now(dt.UTC) + dt.timedelta(minutes=15)
            user.failed_logins = 3
        with pytest.raises(LoginRefused) as locked:
            authenticate("lead", PASSWORD)
        assert locked.value.reason == "locked"
        unlocked = admin.unlock_user("boss", "lead")
        assert unlocked.locked_until is None and unlocked.failed_logins == 0
        assert authenticate("lead", PASSWORD).username == "lead"

        assert refused(admin.reset_password, "boss", "lead", "too short").field == "new_password"
        admin.reset_password("boss", "lead", NEW_PASSWORD)
        with pytest.raises(LoginRefused):
            authenticate("lead", PASSWORD)
        assert authenticate("lead", NEW_PASSWORD).username == "lead"
    changes = [row for row in audit_actions() if row[1].startswith("user_")]
    assert [action for _, action, _ in changes] == [
        "user_deactivate",
        "user_reactivate",
        "user_unlock",
        "user_password_reset",
    ]
    assert all(actor == "boss" and target == "user:lead" for actor, _, target in changes)
    with db.session() as session:
        details = [e.detail for e in session.scalars(select(AuditLog)) if e.detail]
    assert NEW_PASSWORD not in str(details) and PASSWORD not in str(details)


def test_a_revoked_wall_token_no_longer_opens_the_wall(regions):
    regions.config["DEMO_MODE"] = False
    view, token = admin.create_wall_token("boss", "cuqiao-led-1", STREET_A)
    assert token.startswith("wall_") and view.scope == STREET_A
    with db.session() as session:
        stored = session.scalar(select(WallToken))
        assert token not in stored.token_hash
    assert refused(admin.create_wall_token, "boss", "cuqiao-led-1", STREET_A).key == "name_taken"
    assert refused(admin.create_wall_token, "boss", "led-2", "510107999").key == "region_unknown"
    with regions.test_request_context("/wall"), db.session() as session:
        assert wall_region(session, token, None, None) == STREET_A
        assert wall_region(session, token, COMMUNITY_A, None) == COMMUNITY_A
    assert admin.revoke_wall_tokens("boss", token_id=str(view.id)) == ["cuqiao-led-1"]
    with regions.test_request_context("/wall"), db.session() as session, pytest.raises(AccessDenied):
        wall_region(session, token, None, None)
    assert refused(admin.revoke_wall_tokens, "boss", token_id=view.id).key == "nothing_to_revoke"
    for bad_id in ("1; drop", "99999999999", -1, ["1"]):
        assert refused(admin.revoke_wall_tokens, "boss", token_id=bad_id).key == "invalid"
    # The name is free again once its token is revoked.
    admin.create_wall_token("boss", "cuqiao-led-1", STREET_A)
    actions = [(action, target) for _, action, target in audit_actions()]
    assert actions == [
        ("walltoken_create", f"walltoken:{view.id}:cuqiao-led-1"),
        ("walltoken_revoke", f"walltoken:{view.id}:cuqiao-led-1"),
        ("walltoken_create", f"walltoken:{view.id + 1}:cuqiao-led-1"),
    ]


def test_a_revoked_api_key_is_refused_by_the_api(regions, client):
    view, key = admin.create_api_key("boss", "hotline", "hotline_12345")
    assert view.scope == "hotline_12345"
    assert refused(admin.create_api_key, "boss", "other", "carrier_pigeon").field == "channel"
    assert refused(admin.create_api_key, "boss", "other", None).key == "required"
    assert client.get("/api/v1/quarantine", headers={"X-API-Key": key}).status_code == 200
    assert admin.revoke_api_keys("boss", name="hotline") == ["hotline"]
    assert client.get("/api/v1/quarantine", headers={"X-API-Key": key}).status_code == 401
    with db.session() as session:
        assert session.scalar(select(ApiKey)).revoked_at is not None
    assert [action for _, action, _ in audit_actions()] == ["apikey_create", "apikey_revoke"]


def test_cli_user_commands_go_through_the_same_rules(runner):
    assert runner.invoke("demo", "--scale", "tiny").exit_code == 0
    short = runner.invoke("users", "add", "--username", "lead", "--role", "admin", "--password", "short")
    assert short.exit_code != 0 and "--password: at least 10 characters" in short.output
    ok = runner.invoke("users", "add", "--username", "lead", "--role", "admin", "--password", PASSWORD)
    assert ok.exit_code == 0, ok.output
    assert runner.invoke("users", "deactivate", "lead").exit_code == 0
    assert "lead\tadmin\t-\tdisabled" in runner.invoke("users", "list").output
    assert runner.invoke("users", "reactivate", "lead").exit_code == 0
    assert runner.invoke("users", "unlock", "lead").exit_code == 0
    missing = runner.invoke("users", "unlock", "nobody")
    assert missing.exit_code != 0 and "USERNAME: there is no user nobody" in missing.output
    assert runner.invoke("users", "password", "lead", "--password", NEW_PASSWORD).exit_code == 0
    ended = runner.invoke("users", "end-sessions", "lead")
    assert ended.exit_code == 0 and "every session of lead ended" in ended.output
    nothing = runner.invoke("apikeys", "revoke", "no-such-feed")
    assert nothing.exit_code != 0 and "NAME: nothing active to revoke" in nothing.output
    actions = [(actor, action) for actor, action, _ in audit_actions()]
    assert actions == [
        ("cli", "user_create"),
        ("cli", "user_deactivate"),
        ("cli", "user_reactivate"),
        ("cli", "user_unlock"),
        ("cli", "user_password_reset"),
        ("cli", "user_end_sessions"),
    ]


# ---------------------------------------------------------------------------- the page and its callbacks


def test_admin_ends_a_users_sessions_from_the_page(regions, client, app):
    add_user("boss", Role.ADMIN, None)
    add_user("lead", Role.SUPERVISOR, STREET_A)
    assert login(client, "boss").status_code == 302
    lead = app.test_client()
    assert login(lead, "lead").status_code == 302
    assert lead.get("/drill/export.csv").status_code == 200
    ended = response_of(user_action(client, ids.ADMIN_USER_END_SESSIONS, selected="lead"))
    assert "用户 lead 的所有会话已结束" in str(ended[ids.ADMIN_USER_FEEDBACK])
    assert lead.get("/drill/export.csv").status_code == 302  # sent to the log-in page
    assert ("boss", "user_end_sessions") in [(actor, action) for actor, action, _ in audit_actions()]


def multi_callback(client, outputs: list[tuple[str, str]], inputs: list[tuple], state: list[tuple], trigger: str):
    """POST one multi-output Dash callback as the renderer does; inputs and state are (id, property, value)."""
    body = {
        "output": "".join(f"..{i}.{p}." for i, p in outputs) + ".",
        "outputs": [{"id": i, "property": p} for i, p in outputs],
        "inputs": [{"id": i, "property": p, "value": v} for i, p, v in inputs],
        "state": [{"id": i, "property": p, "value": v} for i, p, v in state],
        "changedPropIds": [trigger],
    }
    return client.post("/_dash-update-component", json=body)


USER_OUTPUTS = [
    (ids.ADMIN_USERS_TABLE, "children"),
    (ids.ADMIN_USER_FEEDBACK, "children"),
    (ids.ADMIN_USER_SELECT, "options"),
    (ids.ADMIN_USER_USERNAME, "value"),
    (ids.ADMIN_USER_DISPLAY_NAME, "value"),
    (ids.ADMIN_USER_PASSWORD, "value"),
    (ids.ADMIN_USER_NEW_PASSWORD, "value"),
    (ids.ADMIN_CHANGED.format("users"), "data"),
]
USER_BUTTONS = [
    ids.ADMIN_USER_CREATE,
    ids.ADMIN_USER_DEACTIVATE,
    ids.ADMIN_USER_REACTIVATE,
    ids.ADMIN_USER_UNLOCK,
    ids.ADMIN_USER_RESET_PASSWORD,
    ids.ADMIN_USER_END_SESSIONS,
]
TOKEN_OUTPUTS = [
    (ids.ADMIN_TOKENS_TABLE, "children"),
    (ids.ADMIN_TOKEN_FEEDBACK, "children"),
    (ids.ADMIN_TOKEN_SELECT, "options"),
    (ids.ADMIN_TOKEN_SELECT, "value"),
    (ids.ADMIN_TOKEN_NAME, "value"),
    (ids.ADMIN_CHANGED.format("tokens"), "data"),
]
KEY_OUTPUTS = [
    (ids.ADMIN_KEYS_TABLE, "children"),
    (ids.ADMIN_KEY_FEEDBACK, "children"),
    (ids.ADMIN_KEY_SELECT, "options"),
    (ids.ADMIN_KEY_SELECT, "value"),
    (ids.ADMIN_KEY_NAME, "value"),
    (ids.ADMIN_CHANGED.format("keys"), "data"),
]


def user_action(client, button: str, lang: str = "zh", selected=None, new_password=None, **fields):
    """Click one button of the users section with these form values."""
    inputs = [(b, "n_clicks", 1 if b == button else 0) for b in USER_BUTTONS]
    state = [
        (ids.ADMIN_USER_USERNAME, "value", fields.get("username")),
        (ids.ADMIN_USER_DISPLAY_NAME, "value", fields.get("display_name")),
        (ids.ADMIN_USER_ROLE, "value", fields.get("role", "supervisor")),
        (ids.ADMIN_USER_REGION, "value", fields.get("region")),
        (ids.ADMIN_USER_PASSWORD, "value", fields.get("password")),
        (ids.ADMIN_USER_SELECT, "value", selected),
        (ids.ADMIN_USER_NEW_PASSWORD, "value", new_password),
        (ids.ADMIN_LANG, "data", lang),
        (ids.ADMIN_USER_ASSIGNMENT, "value", fields.get("assignment")),  # a handler's department or team
    ]
    return multi_callback(client, USER_OUTPUTS, inputs, state, f"{button}.n_clicks")


TOKENS = {
    "outputs": TOKEN_OUTPUTS,
    "create": ids.ADMIN_TOKEN_CREATE,
    "revoke": ids.ADMIN_TOKEN_REVOKE,
    "name": ids.ADMIN_TOKEN_NAME,
    "scope": ids.ADMIN_TOKEN_REGION,
    "select": ids.ADMIN_TOKEN_SELECT,
}
KEYS = {
    "outputs": KEY_OUTPUTS,
    "create": ids.ADMIN_KEY_CREATE,
    "revoke": ids.ADMIN_KEY_REVOKE,
    "name": ids.ADMIN_KEY_NAME,
    "scope": ids.ADMIN_KEY_CHANNEL,
    "select": ids.ADMIN_KEY_SELECT,
}


def key_action(
    client,
    button: str,
    name=None,
    channel=None,
    region=None,
    actions=tuple(KeyAction),
    selected=None,
    scope_region=None,
    scope_actions=(),
    lang="zh",
):
    """Click "create", confirm "revoke" or click "set scope" (button) in the API keys section."""
    inputs = [
        (ids.ADMIN_KEY_CREATE, "n_clicks", int(button == "create")),
        (ids.ADMIN_KEY_REVOKE, "submit_n_clicks", int(button == "revoke")),
        (ids.ADMIN_KEY_SCOPE, "n_clicks", int(button == "scope")),
    ]
    state = [
        (ids.ADMIN_KEY_NAME, "value", name),
        (ids.ADMIN_KEY_CHANNEL, "value", channel),
        (ids.ADMIN_KEY_REGION, "value", region),
        (ids.ADMIN_KEY_ACTIONS, "value", None if actions is None else list(actions)),
        (ids.ADMIN_KEY_SELECT, "value", selected),
        (ids.ADMIN_KEY_SCOPE_REGION, "value", scope_region),
        (ids.ADMIN_KEY_SCOPE_ACTIONS, "value", list(scope_actions)),
        (ids.ADMIN_LANG, "data", lang),
    ]
    trigger = {"create": "n_clicks", "revoke": "submit_n_clicks", "scope": "n_clicks"}[button]
    button_id = {"create": ids.ADMIN_KEY_CREATE, "revoke": ids.ADMIN_KEY_REVOKE, "scope": ids.ADMIN_KEY_SCOPE}[button]
    return multi_callback(client, KEY_OUTPUTS, inputs, state, f"{button_id}.{trigger}")


def credential_action(client, section: dict, button: str, name=None, scope=None, selected=None, lang="zh"):
    """Click "create" or confirm "revoke" (button) in the wall tokens or API keys section."""
    if section is KEYS:
        return key_action(client, button, name=name, channel=scope, selected=selected, lang=lang)
    inputs = [
        (section["create"], "n_clicks", int(button == "create")),
        (section["revoke"], "submit_n_clicks", int(button == "revoke")),
    ]
    state = [
        (section["name"], "value", name),
        (section["scope"], "value", scope),
        (section["select"], "value", selected),
        (ids.ADMIN_LANG, "data", lang),
    ]
    trigger = f"{section['create']}.n_clicks" if button == "create" else f"{section['revoke']}.submit_n_clicks"
    return multi_callback(client, section["outputs"], inputs, state, trigger)


def response_of(response) -> dict:
    """The outputs of a callback response, as {id: {property: value}}."""
    assert response.status_code == 200, response.get_data(as_text=True)
    return response.get_json()["response"]


def test_admin_manages_users_through_the_page(regions, client):
    add_user("boss", Role.ADMIN, None)
    assert login(client, "boss").status_code == 302

    missing = response_of(user_action(client, ids.ADMIN_USER_CREATE, username="lead", password=PASSWORD))
    assert "指挥长必须指定“所属区域”" in str(missing[ids.ADMIN_USER_FEEDBACK])
    assert ids.ADMIN_USER_PASSWORD not in missing  # a refused form keeps what was typed
    english = response_of(user_action(client, ids.ADMIN_USER_CREATE, "en", username="lead", password="short"))
    assert "“Password”: at least 10 characters are needed." in str(english[ids.ADMIN_USER_FEEDBACK])

    created = response_of(
        user_action(
            client,
            ids.ADMIN_USER_CREATE,
            username="lead",
            display_name="簇桥指挥长",
            region=STREET_A,
            password=PASSWORD,
        )
    )
    text = str(created)
    assert "已创建用户 lead" in text and "簇桥指挥长" in text and "簇桥街道 · 510107001" in text
    assert created[ids.ADMIN_USER_PASSWORD]["value"] == ""  # the typed password leaves the page
    assert {"label": "lead · 簇桥指挥长", "value": "lead"} in created[ids.ADMIN_USER_SELECT]["options"]
    with db.session() as session:
        hashes = [u.password_hash for u in session.scalars(select(User))]
    assert all(h not in text for h in hashes) and "scrypt:" not in text and PASSWORD not in text

    deactivated = response_of(user_action(client, ids.ADMIN_USER_DEACTIVATE, selected="lead"))
    assert "已停用用户 lead" in str(deactivated) and "已停用" in str(deactivated[ids.ADMIN_USERS_TABLE])
    itself = response_of(user_action(client, ids.ADMIN_USER_DEACTIVATE, "en", selected="boss"))
    assert "“User”: you cannot deactivate your own account." in str(itself)
    nobody = response_of(user_action(client, ids.ADMIN_USER_UNLOCK, "en"))
    assert "“User” is required." in str(nobody)
    response_of(user_action(client, ids.ADMIN_USER_REACTIVATE, selected="lead"))
    with db.transaction() as tx:
        tx.scalar(select(User).where(User.username == "lead")).locked_until = dt.datetime.now(dt.UTC) + dt.timedelta(
            minutes=10
        )
    response_of(user_action(client, ids.ADMIN_USER_UNLOCK, selected="lead"))
    reset = response_of(user_action(client, ids.ADMIN_USER_RESET_PASSWORD, selected="lead", new_password=NEW_PASSWORD))
    assert reset[ids.ADMIN_USER_NEW_PASSWORD]["value"] == ""
    with db.session() as session:
        lead = session.scalar(select(User).where(User.username == "lead"))
    assert lead.active and lead.locked_until is None and lead.region_code == STREET_A

    actions = [(actor, action) for actor, action, _ in audit_actions() if action.startswith("user_")]
    assert actions == [
        ("boss", "user_create"),
        ("boss", "user_deactivate"),
        ("boss", "user_reactivate"),
        ("boss", "user_unlock"),
        ("boss", "user_password_reset"),
    ]
    audit = audit_text(client)
    assert "user_password_reset" in audit and "user:lead" in audit and "boss" in audit


def audit_text(client) -> str:
    """The audit table as the refresh button redraws it."""
    changed = [
        {"id": ids.ADMIN_CHANGED.format(s), "property": "data", "value": None} for s in ("users", "tokens", "keys")
    ]
    response = dash_callback(
        client,
        f"..{ids.ADMIN_AUDIT_TABLE}.children..",
        [{"id": ids.ADMIN_AUDIT_REFRESH, "property": "n_clicks", "value": 1}, *changed],
        [{"id": ids.ADMIN_LANG, "property": "data", "value": "zh"}],
        changed=[f"{ids.ADMIN_AUDIT_REFRESH}.n_clicks"],
    )
    assert response.status_code == 200, response.get_data(as_text=True)
    return response.get_data(as_text=True)


def test_admin_creates_and_revokes_wall_tokens_and_api_keys_through_the_page(regions, client):
    regions.config["DEMO_MODE"] = False
    add_user("boss", Role.ADMIN, None)
    login(client, "boss")
    no_region = response_of(credential_action(client, TOKENS, "create", name="led-1"))
    assert "“所属区域”为必填项" in str(no_region)
    made = response_of(credential_action(client, TOKENS, "create", name="led-1", scope=STREET_A))
    panel = str(made[ids.ADMIN_TOKEN_FEEDBACK])
    token = re.search(r"wall_[A-Za-z0-9_-]+", panel).group(0)
    assert f"/wall?region={STREET_A}&token={token}" in panel and "仅显示这一次" in panel
    assert made[ids.ADMIN_TOKEN_NAME]["value"] == ""
    [option] = made[ids.ADMIN_TOKEN_SELECT]["options"]
    with regions.test_request_context("/wall"), db.session() as session:
        assert wall_region(session, token, None, None) == STREET_A
    # The secret is only in that one response: the table and a reload of the page never show it.
    assert token not in str(made[ids.ADMIN_TOKENS_TABLE])
    with regions.test_request_context("/admin"):
        g._login_user = Principal(user_id=1, username="boss", role=Role.ADMIN)
        page_text = str(registered_layout("/admin")())
    assert "led-1" in page_text and token not in page_text

    gone = response_of(credential_action(client, TOKENS, "revoke", selected=option["value"]))
    assert "已吊销大屏令牌 led-1" in str(gone) and gone[ids.ADMIN_TOKEN_SELECT]["options"] == []
    with regions.test_request_context("/wall"), db.session() as session, pytest.raises(AccessDenied):
        wall_region(session, token, None, None)

    bad = response_of(credential_action(client, KEYS, "create", name="feed", scope="x", lang="en"))
    assert "“Channel”: unknown channel x." in str(bad)
    made = response_of(credential_action(client, KEYS, "create", name="feed", scope="wechat"))
    key = re.search(r"cc_[A-Za-z0-9_-]+", str(made[ids.ADMIN_KEY_FEEDBACK])).group(0)
    assert client.get("/api/v1/quarantine", headers={"X-API-Key": key}).status_code == 200
    [option] = made[ids.ADMIN_KEY_SELECT]["options"]
    response_of(credential_action(client, KEYS, "revoke", selected=option["value"]))
    assert client.get("/api/v1/quarantine", headers={"X-API-Key": key}).status_code == 401
    actions = [action for _, action, _ in audit_actions() if action != "login"]
    assert actions == ["walltoken_create", "walltoken_revoke", "apikey_create", "apikey_revoke"]


def admin_callback_outputs(app) -> list[str]:
    """The output keys of every server callback on the admin page (not the browser-side ones)."""
    return [
        key for key, spec in app.extensions["dash"].callback_map.items() if "admin-" in key and spec.get("callback")
    ]


@pytest.mark.parametrize("who", ["anonymous", "supervisor"])
def test_only_admins_reach_the_admin_callbacks_and_page(regions, client, who):
    outputs = admin_callback_outputs(regions)
    assert len(outputs) == 7  # users, tokens, keys, audit; imports and the calendar (issue 15); webhooks (issue 16)
    if who == "supervisor":
        add_user("lead", Role.SUPERVISOR, STREET_A)
        login(client, "lead")
    expected = 401 if who == "anonymous" else 403
    for output in outputs:
        body = {"output": output, "outputs": [], "inputs": [], "state": [], "changedPropIds": []}
        response = client.post("/_dash-update-component", json=body)
        assert response.status_code == expected, (output, response.status_code)
    # A real attempt to create a user is refused before it runs: nothing changes.
    attempt = user_action(client, ids.ADMIN_USER_CREATE, username="intruder", role="admin", password=PASSWORD)
    assert attempt.status_code == expected
    with db.session() as session:
        assert session.scalar(select(User).where(User.username == "intruder")) is None
    principal = Principal()
    if who == "supervisor":
        principal = Principal(user_id=1, username="lead", role=Role.SUPERVISOR, region_code=STREET_A)
    with regions.test_request_context("/admin"):
        g._login_user = principal
        text = str(registered_layout("/admin")())
    assert ids.ADMIN_USERS_TABLE not in text
    assert t("console.login_needed" if who == "anonymous" else "console.forbidden") in text


def registered_layout(path: str):
    """A page's layout as registered with Dash, wrapped by the guard."""
    import dash

    return next(p["layout"] for p in dash.page_registry.values() if p["path"] == path)
