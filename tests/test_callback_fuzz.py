"""Hypothesis fuzzing of every Dash server callback, as each kind of visitor (issue 18).

Bodies for POST /_dash-update-component are drawn from the callbacks' own specifications
(app.callback_map: the drill grid and navigation, the wall's resync, the appeal page's unmask,
the administration page, Dash's pages router) with values of every type, size and nesting,
then often broken: keys missing, lists short, items of the wrong type, ids made up. They are
sent by four visitors to the app as in production (demo mode off): anonymous, a wall device
(its token), the supervisor of street A, and an admin. For every body:

- the answer is never a 500: 200, 204 (no update), 400 (a JSON reason), 401 or 403;
- the guard answers first: a visitor without the callback's permission gets 401/403 whatever the body;
- nothing stored changes: users, API keys and wall tokens (and the audit log) are as before,
  and the appeals at the end of each run; only an admin's well-formed action may change them,
  and then its audit entry is written with it;
- a 200 answers nothing outside the visitor's scope: for everyone but the admin, no name, code,
  text or appeal id of street B that the request did not itself name (the public start page,
  which links to every street's wall, aside).

CC_FUZZ_EXAMPLES=500 fuzzes deeper than the default run.
"""

from __future__ import annotations

import copy
import hashlib
import json
import os
import re

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from sqlalchemy import func, select

from dashboard.domain.roles import Permission
from dashboard.domain.vocab import Category, Channel
from dashboard.store.database import db
from dashboard.store.models import ApiKey, Appeal, AuditLog, Region, User, WallToken
from dashboard.web.auth import _callback_permissions
from tests.console_support import COMPOUND_B, PHONE_B, STREET_A, STREET_B, login
from tests.test_callback_inputs import WALL_TOKEN, hardened_app

CALLBACK_PATH = "/_dash-update-component"
PAGES_ROUTER_OUTPUT = ".._pages_content.children..._pages_store.data.."  # Dash's pages router
FUZZ = settings(
    max_examples=int(os.environ.get("CC_FUZZ_EXAMPLES", "150")),
    deadline=None,
    suppress_health_check=[
        HealthCheck.function_scoped_fixture,
        HealthCheck.too_slow,
        HealthCheck.data_too_large,
        HealthCheck.large_base_example,
    ],
)
ANSWERS = {200, 204, 400, 401, 403}
# Who holds each callback permission among the visitors (a wall callback checks the token itself).
HOLDERS = {
    Permission.PUBLIC: {"anonymous", "wall", "supervisor_a", "admin"},
    Permission.WALL: {"anonymous", "wall", "supervisor_a", "admin"},
    Permission.CONSOLE: {"supervisor_a", "admin"},
    Permission.EXPORT: {"supervisor_a", "admin"},
    Permission.ADMIN: {"admin"},
    Permission.UNMASK: {"admin"},
    Permission.TASKS: set(),  # handlers only (issue 16); none of these visitors is one
    Permission.ACT: {"supervisor_a", "admin"},  # workflow steps from the console (issue 16)
}


# ---------------------------------------------------------------------------- the app, once


class World:
    """The app, a client per visitor, and what street B holds (which others must never be shown)."""

    def __init__(self, directory) -> None:
        self.app = hardened_app(directory)
        dash_app = self.app.extensions["dash"]
        self.callbacks = {key: spec for key, spec in dash_app.callback_map.items() if spec.get("callback")}
        self.permissions = {key: _callback_permissions(self.app).get(key, Permission.PUBLIC) for key in self.callbacks}
        self.clients = {}
        for visitor in ("anonymous", "wall", "supervisor_a", "admin"):
            client = self.app.test_client()
            if visitor in ("supervisor_a", "admin"):
                assert login(client, visitor).status_code == 302
            if visitor == "wall":
                client.get(f"/wall?region={STREET_A}&token={WALL_TOKEN}")  # as a wall device opens its page
            self.clients[visitor] = client
        with db.session() as session:
            regions = session.execute(select(Region.code, Region.name, Region.name_en)).all()
            self.a_ids = sorted(session.scalars(select(Appeal.id).where(Appeal.region_code.startswith(STREET_A))))
            self.b_ids = set(session.scalars(select(Appeal.id).where(Appeal.region_code.startswith(STREET_B))))
        self.b_codes = sorted(code for code, _, _ in regions if code.startswith(STREET_B))
        b_names = {name for code, *names in regions if code.startswith(STREET_B) for name in names if name}
        others = [name for code, *names in regions if not code.startswith(STREET_B) for name in names if name]
        # Street B's words that no other region's name contains, and its appeals' text.
        self.b_words = [*sorted(n for n in b_names if not any(n in other for other in others)), "乙街道的诉求"]
        assert self.b_words and self.b_ids and len(self.b_codes) == 3


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    world = World(tmp_path_factory.mktemp("callback-fuzz"))
    yield world
    db.engine.dispose()


def _fingerprint(table) -> str:
    digest = hashlib.sha256()
    with db.session() as session:
        for row in session.execute(select(table).order_by(*table.primary_key.columns)):
            digest.update(repr(tuple(row)).encode())
    return digest.hexdigest()


def small_tables() -> dict:
    """What a callback could change: users, API keys, wall tokens, and how long the audit log is."""
    with db.session() as session:
        audit = session.scalar(select(func.count()).select_from(AuditLog))
    return {
        "users": _fingerprint(User.__table__),
        "api_keys": _fingerprint(ApiKey.__table__),
        "wall_tokens": _fingerprint(WallToken.__table__),
        "audit": audit,
    }


# ---------------------------------------------------------------------------- bodies

HUGE = st.sampled_from([2**31, 2**53 + 1, 2**63, 2**64, 10**30, -(10**30), 10**300])
LONG_TEXT = st.builds(
    lambda piece, n: piece * n,
    st.sampled_from(["x", "9", "乙", "\u0000", "é", "?a=1&"]),
    st.sampled_from([300, 5000, 70_000, 600_000]),
)
KEYS = ["lang", "region", "token", "id", "points", "customdata", "startRow", "endRow", "sortModel", "filterModel",
        "colId", "sort", "label", "value", "title"]  # fmt: skip


def named(world: World) -> dict[str, list]:
    """Values our pages send or that name something, by kind: searches, paths, regions, tokens, appeals …"""
    a_id, b_id = world.a_ids[0], min(world.b_ids)
    return {
        "search": ["", "?", f"?region={STREET_B}", f"?region={COMPOUND_B}&from=2026-11-01&to=2026-11-20",
                   "?region=510107", f"?region={STREET_A}&lang=en", "?from=2026-13-01", "?q=%E4%B9%99",
                   f"?token={WALL_TOKEN}&region={STREET_B}", f"?token={WALL_TOKEN}&region={STREET_A}",
                   f"?appeal_id={b_id}", "?category=noise,bogus&overdue=1", "?lang=en&q=" + "x" * 60],
        "pathname": ["/", "/drill", "/wall", f"/appeal/{a_id}", f"/appeal/{b_id}", "/appeal/" + "9" * 30,
                     "/appeal/x", "/admin", "/exports", "/nowhere", "//", "", "/drill/../admin", "drill"],
        "lang": ["zh", "en", "EN-gb", "fr", "", None],
        "token": [WALL_TOKEN, "not-a-token", "", None],
        "region": [STREET_A, f"{STREET_A}001", STREET_B, COMPOUND_B, "510107", "5101070019", "５１０１０７", "", None],
        "appeal": [a_id, b_id, str(a_id), str(b_id), 0, -1, "x"],
        "date": ["2026-11-01", "2026-11-20T08:00:00", "2026-02-30", "yesterday", None],
        "word": ["noise", "ordinary", "hotline_12345", Category.NOISE.value, Channel.HOTLINE_12345.value, "admin",
                 "supervisor", "wall", "fuzz_user", "supervisor_b", "correct horse battery staple",
                 "a purpose stated", "id", "deadline_at", "text", "asc", "desc", "1", " ", "\u202e", "null"],
    }  # fmt: skip


def samples(world: World) -> list:
    """Every named value, and numbers at the edges."""
    numbers = [True, False, 0, 1, 2, -1, 0.5, 8.5, 1e308, float("inf"), float("-inf"), float("nan")]
    return [*(value for kind in named(world).values() for value in kind), *numbers, "x" * 36, "[]", "{}"]


def values(world: World):
    """Anything JSON can carry: every type, huge numbers, long and odd strings, nesting."""
    leaves = st.one_of(
        st.sampled_from(samples(world)),
        st.none(),
        st.booleans(),
        st.integers(),
        HUGE,
        st.floats(allow_nan=True, allow_infinity=True),
        st.text(max_size=30),
        LONG_TEXT,
    )
    return st.recursive(
        leaves,
        lambda children: (
            st.lists(children, max_size=4)
            | st.dictionaries(st.sampled_from(KEYS) | st.text(max_size=8), children, max_size=5)
        ),
        max_leaves=12,
    )


def plausible(world: World, dependency: dict):
    """A value of the type the dependency's component sends, often one that names something real."""
    component, prop = dependency["id"], dependency["property"]
    kinds = {kind: st.sampled_from(values) for kind, values in named(world).items()}
    words = kinds["word"] | kinds["region"] | st.text(max_size=20)
    codes = kinds["region"] | kinds["word"]
    click = st.fixed_dictionaries(
        {}, optional={"points": st.lists(st.fixed_dictionaries({}, optional={"customdata": codes | st.lists(codes)}))}
    )
    sort = st.fixed_dictionaries(
        {},
        optional={
            "colId": st.sampled_from(["id", "deadline_at", "text", "place", "nope"]),
            "sort": st.sampled_from(["asc", "desc", None]),
        },
    )
    rows = st.integers(0, 3000)
    by_property = {
        "n_clicks": st.none() | st.integers(0, 3),
        "submit_n_clicks": st.none() | st.integers(0, 3),
        "clickData": st.none() | click,
        "start_date": kinds["date"],
        "end_date": kinds["date"],
        "getRowsRequest": st.none()
        | st.fixed_dictionaries(
            {"startRow": rows, "endRow": rows},
            optional={"sortModel": st.lists(sort, max_size=3), "filterModel": st.just({})},
        ),
        "pathname": kinds["pathname"],
        "search": kinds["search"],
    }
    by_component = {
        "drill-overdue": st.sampled_from([None, [], ["1"]]),
        "drill-grid-text": st.none() | words,
        "wall-refresh": st.integers(0, 10),
        "wall-viewport": st.none() | st.floats(0, 10),
        "wall-state": st.fixed_dictionaries({kind: kinds[kind] for kind in ("region", "lang", "token")}),
        "appeal-id": st.fixed_dictionaries({"id": kinds["appeal"], "lang": kinds["lang"]}),
        "admin-lang": kinds["lang"],
        "appeal-unmask-purpose": st.none() | words,
    }
    if component.startswith("drill-filter-"):
        return st.none() | st.lists(kinds["word"], max_size=3)
    if component.startswith("admin-changed-"):
        return st.none() | st.floats(0, 2e9)
    if component in by_component:
        return by_component[component]
    if prop in by_property:
        return by_property[prop]
    return words | kinds["appeal"] | st.lists(kinds["word"], max_size=3) | st.none()


@st.composite
def well_formed(draw, world: World, output: str) -> dict:
    """A body as the renderer sends it for output: plausible values, but for one or two of anything at all."""
    spec = world.callbacks[output]
    dependencies = [*spec["inputs"], *spec["state"]]
    # Most bodies carry no wild value (so they reach deep), some one, a few two.
    wild = draw(st.sampled_from([0, 0, 0, 1, 1, 2]))
    anything = draw(st.sets(st.integers(0, len(dependencies) - 1), min_size=wild, max_size=wild))
    drawn = [draw(values(world) if n in anything else plausible(world, d)) for n, d in enumerate(dependencies)]
    items = [
        {"id": d["id"], "property": d["property"], "value": value} for d, value in zip(dependencies, drawn, strict=True)
    ]
    inputs = items[: len(spec["inputs"])]
    prop_ids = [f"{i['id']}.{i['property']}" for i in inputs]
    return {
        "output": output,
        "outputs": [
            {"id": part.rsplit(".", 1)[0], "property": part.rsplit(".", 1)[1]} for part in output[2:-2].split("...")
        ],
        "inputs": inputs,
        "state": items[len(spec["inputs"]) :],
        "changedPropIds": draw(st.lists(st.sampled_from(prop_ids), min_size=1, max_size=2, unique=True)),
    }


@st.composite
def broken(draw, world: World, body: dict) -> dict:
    """body with its shape broken in one or two places: keys missing or replaced, lists cut, items garbled."""
    body = copy.deepcopy(body)
    v = values(world)
    for _ in range(draw(st.integers(1, 2))):
        key = draw(st.sampled_from(["output", "outputs", "inputs", "state", "changedPropIds"]))
        how = draw(st.sampled_from(["drop", "replace", "cut", "garble item", "nest", "other output", "item keys"]))
        if how == "drop":
            body.pop(key, None)
        elif how == "replace":
            body[key] = draw(v)
        elif how == "cut" and isinstance(body.get(key), list):
            body[key] = body[key][: draw(st.integers(0, max(len(body[key]) - 1, 0)))]
        elif how == "garble item" and isinstance(body.get(key), list) and body[key]:
            body[key][draw(st.integers(0, len(body[key]) - 1))] = draw(v)
        elif how == "nest" and key in body:
            body[key] = [body[key]]
        elif how == "other output":
            body["output"] = draw(st.sampled_from(sorted(world.callbacks)))
        elif how == "item keys" and isinstance(body.get(key), list) and body[key] and isinstance(body[key][0], dict):
            item = body[key][0]
            item.pop(draw(st.sampled_from(["id", "property", "value"])), None)
            item[draw(st.sampled_from(["id", "property"]))] = draw(v)
    return body


def bodies(world: World, visitor: str):
    """Mostly well-formed bodies for a server callback (four times as often one the visitor may call),
    some with a broken shape, a few of anything."""
    reachable = st.sampled_from(
        sorted(key for key, permission in world.permissions.items() if visitor in HOLDERS[permission])
    )
    outputs = reachable | reachable | reachable | st.sampled_from(sorted(world.callbacks))
    good = outputs.flatmap(lambda output: well_formed(world, output))
    return st.one_of(good, good, good, good, good, good, good.flatmap(lambda body: broken(world, body)),
                     good.flatmap(lambda body: broken(world, body)), values(world))  # fmt: skip


def body_for(world: World, fragment: str, values: dict, changed: str) -> dict:
    """A well-formed body for the callback whose output names fragment; values by "id.property"."""
    output = next(key for key in sorted(world.callbacks) if fragment in key)
    spec = world.callbacks[output]

    def items(dependencies):
        return [{**d, "value": values.get(f"{d['id']}.{d['property']}")} for d in dependencies]

    return {
        "output": output,
        "outputs": [
            {"id": part.rsplit(".", 1)[0], "property": part.rsplit(".", 1)[1]} for part in output[2:-2].split("...")
        ],
        "inputs": items(spec["inputs"]),
        "state": items(spec["state"]),
        "changedPropIds": [changed],
    }


def scope_probes(world: World) -> list[dict]:
    """Bodies that ask for street B (or the district above it) by every way in, tried on every run."""
    b_id = min(world.b_ids)
    period = "from=2026-11-01&to=2026-11-20"
    rows = {"startRow": 0, "endRow": 100, "sortModel": [{"colId": "deadline_at", "sort": "asc"}]}
    grid, click = "drill-grid.getRowsRequest", "drill-children.clickData"
    router = {"_pages_location.pathname": "/drill", "_pages_location.search": f"?region={STREET_B}&{period}"}
    probes = [
        body_for(world, "drill-grid", {grid: rows, "drill-url.search": f"?region={COMPOUND_B}&{period}"}, grid),
        body_for(world, "drill-grid", {grid: rows, "drill-url.search": f"?region=510107&{period}"}, grid),
        body_for(world, "drill-url.search", {click: {"points": [{"customdata": STREET_B}]}}, click),
        body_for(world, "_pages_content", router, "_pages_location.search"),
        body_for(world, "_pages_content", {"_pages_location.pathname": f"/appeal/{b_id}"}, "_pages_location.pathname"),
        body_for(world, "_pages_content", {"_pages_location.pathname": "/exports"}, "_pages_location.pathname"),
    ]
    for region in (STREET_B, COMPOUND_B, "510107"):
        state = {"region": region, "lang": "zh", "token": WALL_TOKEN}
        probes.append(
            body_for(world, "wall-kpis", {"wall-refresh.data": 1, "wall-state.data": state}, "wall-refresh.data")
        )
    return probes


# ---------------------------------------------------------------------------- the checks


def _text(value) -> str:
    return json.dumps(value, ensure_ascii=False, default=str)


def _public_start_page(world: World, body: object) -> bool:
    """The pages router rendering "/" (links to every wall: public by design)."""
    if not isinstance(body, dict) or body.get("output") != PAGES_ROUTER_OUTPUT:
        return False
    pathname = next((i.get("value") for i in body["inputs"] if i.get("property") == "pathname"), None)
    return isinstance(pathname, str) and world.app.extensions["dash"].strip_relative_path(pathname) in ("", None)


def check_scope(world: World, visitor: str, body: object, answer: dict) -> None:
    """A 200 shows nothing of street B unless the visitor is the admin or the request named it."""
    if visitor == "admin" or _public_start_page(world, body):
        return
    asked, shown = _text(body), _text(answer)
    assert PHONE_B not in shown
    for word in world.b_words:
        assert word not in shown or word in asked, (visitor, word)
    for code in world.b_codes:  # as a whole number: not a part of a longer one (a timestamp)
        assert not re.search(rf"(?<![0-9]){code}(?![0-9])", shown) or code in asked, (visitor, code)
    ids = {int(i) for i in re.findall(r"/appeal/(\d{1,18})\b", shown)}
    ids |= {row.get("id") for row in _grid_rows(answer)}
    for appeal_id in ids & world.b_ids:
        assert str(appeal_id) in asked, (visitor, appeal_id)


def _grid_rows(answer: dict) -> list[dict]:
    rows = answer.get("response", {}).get("drill-grid", {}).get("getRowsResponse", {}).get("rowData") or []
    return [row for row in rows if isinstance(row, dict)]


def fuzz(world: World, visitor: str, body: object) -> None:
    before = small_tables()
    # As JSON whatever it is (null too): Dash's renderer always posts application/json.
    response = world.clients[visitor].post(CALLBACK_PATH, data=json.dumps(body), content_type="application/json")
    status = response.status_code
    output = body.get("output") if isinstance(body, dict) else None
    assert status in ANSWERS, (visitor, output, status, response.get_data(as_text=True)[:500])
    if status in (400, 401, 403):
        assert isinstance(response.get_json(silent=True), dict) and "error" in response.get_json(), status
    permission = world.permissions.get(output) if isinstance(output, str) else None
    if permission is not None and visitor not in HOLDERS[permission]:
        assert status in (401, 403), (visitor, output, status)  # the guard answers before any check of the body
    after = small_tables()
    if after != before:
        # Only an admin's well-formed action on the administration page, or an unmask, changes
        # anything, and its audit entry is written with it.
        assert visitor == "admin" and permission in (Permission.ADMIN, Permission.UNMASK), (visitor, output)
        assert status == 200 and after["audit"] > before["audit"], (visitor, output, status)
    if status == 200:
        check_scope(world, visitor, body, response.get_json())


@pytest.fixture(scope="module")
def appeals_unchanged(world):
    before = _fingerprint(Appeal.__table__)
    yield
    assert _fingerprint(Appeal.__table__) == before


def run_fuzz(world: World, visitor: str) -> None:
    @FUZZ
    @given(body=bodies(world, visitor))
    def run(body):
        fuzz(world, visitor, body)

    for probe in scope_probes(world):
        run = example(body=probe)(run)
    run()


# One test per visitor, the admin last (a well-formed admin action may revoke the wall's token).


def test_fuzz_anonymous(world, appeals_unchanged):
    run_fuzz(world, "anonymous")


def test_fuzz_wall_device(world, appeals_unchanged):
    run_fuzz(world, "wall")


def test_fuzz_supervisor(world, appeals_unchanged):
    run_fuzz(world, "supervisor_a")


def test_fuzz_admin(world, appeals_unchanged):
    run_fuzz(world, "admin")


def test_the_fuzzed_callbacks_are_all_the_server_callbacks(world):
    """Every server callback is drawn from, the pages router included; a new one is fuzzed with the rest."""
    assert PAGES_ROUTER_OUTPUT in world.callbacks
    assert {key for key, spec in world.app.extensions["dash"].callback_map.items() if spec.get("callback")} == set(
        world.callbacks
    )
    assert any("drill-grid" in key for key in world.callbacks) and any("wall-kpis" in key for key in world.callbacks)
    assert sum(world.permissions[key] == Permission.ADMIN for key in world.callbacks) >= 4
