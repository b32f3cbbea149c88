"""The demo simulator (issue 16): dispatches to the department of the handling level, and urges overdue appeals."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import select

from dashboard.domain.vocab import TransitionAction
from dashboard.services.demo import handling_department_code
from dashboard.services.simulator import Simulator
from dashboard.store.database import db
from dashboard.store.models import Appeal, Department, Transition
from tests.conftest import DEMO_END


def test_the_simulator_dispatches_to_the_handling_department_and_urges_overdue_appeals(demo_app):
    simulator = Simulator(demo_app.extensions["ingestor"], 60, seed=3)
    # The demo leaves some appeals in progress past their deadline: the simulator urges them.
    assert simulator.urge_overdue(2, DEMO_END + dt.timedelta(minutes=1)) == 2
    with db.session() as session:
        urges = session.scalars(select(Transition).where(Transition.action == TransitionAction.URGE)).all()
        assert len(urges) == 2 and all(u.note and u.actor == "simulator" for u in urges)
        assert all(session.get(Appeal, u.appeal_id).urge_count == 1 for u in urges)
    simulator.new_appeals(12, DEMO_END + dt.timedelta(minutes=2))
    for minute in range(3, 9):  # new appeals are accepted, then dispatched
        simulator.advance(40, DEMO_END + dt.timedelta(minutes=minute))
    with db.session() as session:
        dispatches = session.execute(
            select(Transition, Appeal)
            .join(Appeal, Appeal.id == Transition.appeal_id)
            .where(Transition.action == TransitionAction.DISPATCH, Transition.actor == "simulator")
        ).all()
        codes = dict(session.execute(select(Department.id, Department.code)).all())
    assert dispatches
    for step, appeal in dispatches:
        expected = handling_department_code(appeal.region_code, appeal.category, step.level)
        assert codes[step.department_id] == expected
