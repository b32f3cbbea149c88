"""A small district for tests of people acting (issue 16): two streets, a department and a patrol team in each,
appeals in street A, and one user of each role."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select

from dashboard.domain.roles import Role
from dashboard.domain.vocab import RegionLevel, TeamKind
from dashboard.services.ingest.readers import RawRecord
from dashboard.store.database import db
from dashboard.store.models import Appeal, Department, Region, Team
from dashboard.ui.chrome import Viewer
from tests.console_support import COMPOUND_B, STREET_A, STREET_B, add_street_b, add_user

COMMUNITY_A = STREET_A + "001"
COMPOUND_A = COMMUNITY_A + "001"
DEPT_A = "D-A-URBAN"
DEPT_B = "D-B-URBAN"
TEAM_A = f"{COMMUNITY_A}/patrol"
TEAM_B = f"{COMPOUND_B[:12]}/patrol"


@dataclass
class District:
    """What seed() made: ids of departments and teams, appeal ids by external id."""

    dept_a: int
    dept_b: int
    team_a: int
    team_b: int
    appeals: dict[str, int]


def seed(app, appeals: int = 4) -> District:
    """Regions, departments, teams, users (admin, sup_a, op_a, op_b, viewer_a, handler_dept_a, handler_team_a,
    handler_b) and `appeals` ordinary noise appeals in street A (A-1 …), three in street B (B-1 …)."""
    with db.transaction() as tx:
        tx.add(Region(code="510107", name="武侯区", name_en="Wuhou District", level=RegionLevel.DISTRICT))
        tx.add(Region(code=STREET_A, name="甲街道", name_en="Street A", level=RegionLevel.STREET, parent_code="510107"))
        tx.add(Region(code=COMMUNITY_A, name="甲社区", level=RegionLevel.COMMUNITY, parent_code=STREET_A))
        tx.add(Region(code=COMPOUND_A, name="甲小区", level=RegionLevel.COMPOUND, parent_code=COMMUNITY_A))
    add_street_b(app)
    with db.transaction() as tx:
        tx.add(Department(code=DEPT_A, name="甲街道城管", level=RegionLevel.STREET, region_code=STREET_A))
        tx.add(Department(code=DEPT_B, name="乙街道城管", level=RegionLevel.STREET, region_code=STREET_B))
        tx.add(Team(region_code=COMMUNITY_A, kind=TeamKind.PATROL, name="甲社区巡逻队"))
        tx.add(Team(region_code=COMPOUND_B[:12], kind=TeamKind.PATROL, name="乙社区巡逻队"))
    records = [
        RawRecord(
            location=f"test:A-{n}",
            fields={
                "external_id": f"A-{n}",
                "source": "hotline_12345",
                "reported_at": "2026-11-19 09:00:00",
                "category": "noise",
                "priority": "ordinary",
                "region_code": COMPOUND_A,
                "description": f"甲街道的诉求{n}",
            },
            raw_source="",
        )
        for n in range(1, appeals + 1)
    ]
    report = app.extensions["ingestor"].ingest(records, "appeal", source="test")
    assert report.created == appeals, report
    with db.session() as session:
        dept = dict(session.execute(select(Department.code, Department.id)).all())
        teams = {team.code: team.id for team in session.scalars(select(Team))}
        ids = dict(session.execute(select(Appeal.external_id, Appeal.id)).all())
    add_user("admin", Role.ADMIN, None)
    add_user("sup_a", Role.SUPERVISOR, STREET_A)
    add_user("op_a", Role.OPERATOR, STREET_A)
    add_user("op_b", Role.OPERATOR, STREET_B)
    add_user("viewer_a", Role.VIEWER, STREET_A)
    add_user("handler_dept_a", Role.HANDLER, STREET_A, department_id=dept[DEPT_A])
    add_user("handler_team_a", Role.HANDLER, COMMUNITY_A, team_id=teams[TEAM_A])
    add_user("handler_b", Role.HANDLER, STREET_B, department_id=dept[DEPT_B])
    return District(dept[DEPT_A], dept[DEPT_B], teams[TEAM_A], teams[TEAM_B], ids)


def viewer(username: str, role: Role, region: str | None, department_id=None, team_id=None) -> Viewer:
    """A logged-in viewer as the console builds it (callbacks.console.current_viewer)."""
    return Viewer(
        authenticated=True,
        username=username,
        display_name=username,
        role=role,
        region_code=region,
        department_id=department_id,
        team_id=team_id,
    )


def version_of(appeal_id: int) -> int:
    """The appeal's version now."""
    with db.session() as session:
        return session.get(Appeal, appeal_id).version
