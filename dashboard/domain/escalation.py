"""Automatic escalation by rule (issue 16): when an overdue appeal goes one level up by itself.

The rules live in data/sla_policy.toml's [escalation] table, per handling level and priority:
an appeal handled at that level, overdue by at least that long (measured from its deadline,
in working hours on the working-day calendar or in calendar minutes), goes one level up
(domain.lifecycle.LEVEL_UP: community → street → district). A district has nothing above it.

An appeal is escalated automatically from a level at most once: if a person returns it to that
level afterwards, they have decided, and the rule does not overrule them.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import pandas as pd

from dashboard.domain.lifecycle import LEVEL_UP
from dashboard.domain.vocab import LEVEL_BY_CODE_LENGTH, Priority, RegionLevel
from dashboard.domain.workcal import WorkCalendar

# Who takes the automatic steps (the transitions' actor, the audit log's actor).
SYSTEM_ACTOR = "system:sla"
# The audit log's action for one automatic escalation.
AUDIT_ACTION = "sla_escalate"
HOUR = 3600
MINUTE = 60


@dataclass(frozen=True)
class EscalationRule:
    """Escalate an appeal of one priority handled at one level once it is this far past its deadline."""

    level: RegionLevel  # the level it is handled at (the rule moves it to LEVEL_UP[level])
    priority: Priority
    working_hours: float | None = None  # working time (weekends and holidays do not count)
    minutes: float | None = None  # calendar time

    def __post_init__(self) -> None:
        if (self.working_hours is None) == (self.minutes is None):
            raise ValueError("an escalation rule has exactly one of working_hours or minutes")
        if (self.working_hours or self.minutes or 0) <= 0:
            raise ValueError("an escalation rule waits a positive amount of time")
        if self.level not in LEVEL_UP:
            raise ValueError(f"nothing is above the {self.level.value} level")

    @property
    def key(self) -> str:
        """The rule's name in the policy file: '<level>.<priority>'."""
        return f"{self.level.value}.{self.priority.value}"

    @property
    def to_level(self) -> RegionLevel:
        """The level the rule sends an appeal to."""
        return LEVEL_UP[self.level]

    @property
    def seconds(self) -> int:
        """The threshold in (working or calendar) seconds."""
        return round((self.working_hours or 0) * HOUR + (self.minutes or 0) * MINUTE)

    def overdue_seconds(self, deadline: dt.datetime, now: dt.datetime, calendar: WorkCalendar) -> int:
        """How far past the deadline an appeal is at now, in this rule's kind of time (negative: not yet due)."""
        if self.minutes is not None:
            return int((now - deadline).total_seconds())
        working = calendar.working_seconds(calendar.to_local_seconds([deadline, now]))
        return int(working[1] - working[0])

    def is_due(self, deadline: dt.datetime, now: dt.datetime, calendar: WorkCalendar) -> bool:
        """Whether the threshold has been reached at now (exactly at the threshold counts)."""
        return self.overdue_seconds(deadline, now, calendar) >= self.seconds

    def amount(self) -> tuple[str, float]:
        """('working_hours' | 'minutes', the number): the threshold as the words for it need it."""
        return ("working_hours", self.working_hours) if self.minutes is None else ("minutes", self.minutes)


@dataclass(frozen=True)
class EscalationPolicy:
    """The escalation rules, by (handling level, priority)."""

    rules: dict[tuple[RegionLevel, Priority], EscalationRule]

    def rule_for(self, level: RegionLevel, priority: Priority) -> EscalationRule | None:
        """The rule for an appeal handled at level with priority, or None (never escalated automatically)."""
        return self.rules.get((level, priority))

    def levels(self) -> list[RegionLevel]:
        """The levels some rule escalates from."""
        return sorted({level for level, _priority in self.rules}, key=list(RegionLevel).index)

    def due(
        self,
        appeals: list[tuple[RegionLevel, Priority, dt.datetime]],
        now: dt.datetime,
        calendar: WorkCalendar,
    ) -> list[EscalationRule | None]:
        """Per (level, priority, deadline): the rule that makes it due at now, or None.

        The same test as EscalationRule.is_due, for many appeals at once (one pass over the
        calendar, not one per appeal: the scheduler asks every minute).
        """
        if not appeals:
            return []
        deadlines = calendar.to_local_seconds([deadline for _level, _priority, deadline in appeals])
        now_local = calendar.to_local_seconds([now])
        working = calendar.working_seconds(now_local)[0] - calendar.working_seconds(deadlines)
        elapsed = (now - pd.DatetimeIndex(pd.to_datetime([d for *_rest, d in appeals], utc=True))).total_seconds()
        result = []
        for index, (level, priority, _deadline) in enumerate(appeals):
            rule = self.rule_for(level, priority)
            if rule is not None:
                overdue = elapsed[index] if rule.minutes is not None else working[index]
                rule = rule if overdue >= rule.seconds else None
            result.append(rule)
        return result

    def earliest_seconds(self) -> int | None:
        """The smallest threshold: no appeal less overdue than this in calendar time is ever due
        (working time never runs faster than calendar time)."""
        return min((rule.seconds for rule in self.rules.values()), default=None)


NO_ESCALATION = EscalationPolicy({})


def parse_policy(table: dict, where: str = "[escalation]") -> EscalationPolicy:
    """The [escalation] table of the policy file: {level: {priority: {working_hours = N | minutes = N}}}."""
    rules = {}
    for level_code, by_priority in table.items():
        try:
            level = RegionLevel(level_code)
        except ValueError as exc:
            raise ValueError(f"{where}: unknown level {level_code!r}") from exc
        if not isinstance(by_priority, dict):
            raise ValueError(f"{where}.{level_code}: give a rule per priority")
        for priority_code, spec in by_priority.items():
            try:
                priority = Priority(priority_code)
                rules[(level, priority)] = EscalationRule(level, priority, **spec)
            except (ValueError, TypeError) as exc:
                raise ValueError(f"{where}.{level_code}.{priority_code}: {exc}") from exc
    return EscalationPolicy(rules)


# The level that handles an appeal placed at each level before anyone moves it: a compound's goes to its community.
HOME_LEVELS = {level: RegionLevel.COMMUNITY if level == RegionLevel.COMPOUND else level for level in RegionLevel}


def home_level(region_code: str) -> RegionLevel:
    """The level an appeal placed in a region is handled at before anyone moves it (a compound's: its community)."""
    return HOME_LEVELS[LEVEL_BY_CODE_LENGTH[len(region_code)]]


def is_escalated(level: RegionLevel | str | None, region_code: str | None) -> bool:
    """Whether an appeal is handled above its home level (someone or a rule escalated it)."""
    if level is None or not region_code or len(region_code) not in LEVEL_BY_CODE_LENGTH:
        return False
    order = list(RegionLevel)  # district, street, community, compound: higher levels first
    return order.index(RegionLevel(level)) < order.index(home_level(region_code))
