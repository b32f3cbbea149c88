"""The appeal lifecycle (BRIEF §3): the one transition table, used by the workflow, the demo and ingest.

An action may start from some statuses and leads to one status (or keeps it). Escalation and
return also move the handling level; reopening needs an unsatisfied rating.
"""

from __future__ import annotations

from dashboard.domain.vocab import CODE_LENGTH, OPEN_STATUSES, AppealStatus, RegionLevel, Satisfaction, TransitionAction

A = TransitionAction
S = AppealStatus

LEVEL_UP = {RegionLevel.COMMUNITY: RegionLevel.STREET, RegionLevel.STREET: RegionLevel.DISTRICT}
LEVEL_DOWN = {RegionLevel.DISTRICT: RegionLevel.STREET, RegionLevel.STREET: RegionLevel.COMMUNITY}

# action: (statuses it may start from, status it leads to; None keeps the status)
RULES: dict[TransitionAction, tuple[frozenset[AppealStatus], AppealStatus | None]] = {
    A.ACCEPT: (frozenset({S.REPORTED}), S.ACCEPTED),
    # From dispatched too: 改派, handing an appeal to another department or team (e.g. after escalation).
    A.DISPATCH: (frozenset({S.ACCEPTED, S.DISPATCHED}), S.DISPATCHED),
    A.START: (frozenset({S.DISPATCHED}), S.IN_PROGRESS),
    A.RESOLVE: (frozenset({S.IN_PROGRESS}), S.RESOLVED),
    A.CLOSE: (frozenset({S.RESOLVED}), S.CLOSED),
    A.ESCALATE: (frozenset({S.ACCEPTED, S.DISPATCHED, S.IN_PROGRESS}), S.DISPATCHED),
    A.RETURN: (frozenset({S.DISPATCHED, S.IN_PROGRESS}), S.DISPATCHED),
    A.RATE: (frozenset({S.RESOLVED, S.CLOSED}), None),
    A.REOPEN: (frozenset({S.RESOLVED, S.CLOSED}), S.IN_PROGRESS),
    A.LINK_DUPLICATE: (frozenset(OPEN_STATUSES), S.CLOSED),
    A.URGE: (frozenset(OPEN_STATUSES) - {S.REPORTED}, None),
}
# The main line a feed's status is read along (a feed says "resolved": every step up to it happened).
MAIN_LINE = (A.ACCEPT, A.DISPATCH, A.START, A.RESOLVE, A.CLOSE)
STATUS_ORDER = (S.REPORTED, *(RULES[action][1] for action in MAIN_LINE))
STATUS_RANK = {status: rank for rank, status in enumerate(STATUS_ORDER)}
STEP_TO = {RULES[action][1]: action for action in MAIN_LINE}  # the main-line step reaching each status


class IllegalTransition(ValueError):
    """An action that the table does not allow from a status."""


def is_open(status: AppealStatus) -> bool:
    """Whether an appeal in this status still awaits resolution."""
    return status in OPEN_STATUSES


def target_status(action: TransitionAction, from_status: AppealStatus | None) -> AppealStatus:
    """The status an action leads to from from_status; IllegalTransition when the table forbids it."""
    if action == A.REPORT:
        if from_status is not None:
            raise IllegalTransition("only a new appeal is reported")
        return S.REPORTED
    sources, target = RULES[action]
    if from_status not in sources:
        raise IllegalTransition(f"'{action.value}' is not allowed from {getattr(from_status, 'value', from_status)}")
    return target or from_status


def allowed_actions(
    status: AppealStatus, level: RegionLevel, region_code: str, satisfaction: Satisfaction | None
) -> list[str]:
    """The steps allowed for an appeal in this state, in the table's order."""
    allowed = []
    for action, (sources, _target) in RULES.items():
        if status not in sources:
            continue
        if action == A.ESCALATE and level not in LEVEL_UP:
            continue
        if action == A.RETURN and (level not in LEVEL_DOWN or len(region_code) < CODE_LENGTH[LEVEL_DOWN[level]]):
            continue  # nothing below, or the appeal is not placed precisely enough to go down
        if action == A.REOPEN and satisfaction != Satisfaction.UNSATISFIED:
            continue
        allowed.append(action.value)
    return allowed
