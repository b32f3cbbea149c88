"""Shared helpers for console tests: users, a second street, log-in through the real form."""

from __future__ import annotations

import re

from dashboard.domain.credentials import hash_password
from dashboard.domain.roles import Role
from dashboard.domain.vocab import RegionLevel
from dashboard.services.ingest.readers import RawRecord
from dashboard.store.database import db
from dashboard.store.models import Region, User

STREET_A = "510107001"
STREET_B = "510107002"
COMPOUND_B = "510107002001001"
PASSWORD = "correct horse battery"
PHONE_B = "13912345678"


def add_user(
    username: str,
    role: Role,
    region: str | None,
    password: str = PASSWORD,
    department_id: int | None = None,
    team_id: int | None = None,
) -> None:
    """A user with a hashed password (a handler also names its department or team)."""
    with db.transaction() as tx:
        tx.add(
            User(
                username=username,
                display_name=username,
                password_hash=hash_password(password),
                role=role,
                region_code=region,
                department_id=department_id,
                team_id=team_id,
            )
        )


def add_street_b(app) -> None:
    """A second street with one community, one compound and three appeals (one with a phone number)."""
    with db.transaction() as tx:
        tx.add(Region(code=STREET_B, name="乙街道", name_en="Street B", level=RegionLevel.STREET, parent_code="510107"))
        tx.add(Region(code=COMPOUND_B[:12], name="乙社区", level=RegionLevel.COMMUNITY, parent_code=STREET_B))
        tx.add(Region(code=COMPOUND_B, name="乙小区", level=RegionLevel.COMPOUND, parent_code=COMPOUND_B[:12]))
    records = [
        RawRecord(
            location=f"test:{n}",
            fields={
                "external_id": f"B-{n}",
                "source": "hotline_12345",
                "reported_at": f"2026-11-1{n} 09:00:00",
                "category": "noise",
                "priority": "ordinary",
                "region_code": COMPOUND_B,
                "description": f"乙街道的诉求{n}，联系电话 {PHONE_B}",
                "reporter_name": "王小明",
                "reporter_phone": PHONE_B,
            },
            raw_source="",
        )
        for n in range(1, 4)
    ]
    report = app.extensions["ingestor"].ingest(records, "appeal", source="test")
    assert report.created == 3, report


def login(client, username: str, password: str = PASSWORD):
    """Log in through the form, CSRF token included; returns the POST response."""
    page = client.get("/login").get_data(as_text=True)
    token = re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)
    return client.post("/login", data={"username": username, "password": password, "csrf_token": token})


def dash_callback(
    client, output: str, inputs: list[dict], state: list[dict] | None = None, changed: list[str] | None = None
):
    """POST one Dash callback as the renderer does."""
    if output.startswith(".."):  # several outputs: "..a.prop...b.prop.."
        parts = [part.rsplit(".", 1) for part in output[2:-2].split("...")]
        outputs = [{"id": part[0], "property": part[1].split("@")[0]} for part in parts]
    else:
        component, prop = output.rsplit(".", 1)
        outputs = {"id": component, "property": prop.split("@")[0]}
    body = {
        "output": output,
        "outputs": outputs,
        "inputs": inputs,
        "state": state or [],
        "changedPropIds": changed or [f"{i['id']}.{i['property']}" for i in inputs],
    }
    return client.post("/_dash-update-component", json=body)
