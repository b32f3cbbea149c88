"""Deadline policy per priority and category, applied on the working-day calendar."""

from __future__ import annotations

import datetime as dt
import tomllib
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from dashboard.domain.escalation import NO_ESCALATION, EscalationPolicy, parse_policy
from dashboard.domain.vocab import Category, Priority
from dashboard.domain.workcal import WorkCalendar


@dataclass(frozen=True)
class Rule:
    """How long an appeal may stay open: working days, or calendar hours."""

    working_days: int | None = None
    hours: float | None = None

    def __post_init__(self) -> None:
        if (self.working_days is None) == (self.hours is None):
            raise ValueError("a deadline rule has exactly one of working_days or hours")
        if (self.working_days is not None and self.working_days < 1) or (self.hours is not None and self.hours <= 0):
            raise ValueError("a deadline rule allows a positive amount of time")


@dataclass
class SlaPolicy:
    """Deadline rules: a default per priority, with optional per-category overrides."""

    default: dict[Priority, Rule]
    by_category: dict[Category, dict[Priority, Rule]]
    escalation: EscalationPolicy = field(default=NO_ESCALATION)  # the [escalation] table (domain.escalation)

    def rule(self, priority: Priority, category: Category | None = None) -> Rule:
        """The rule for one priority and category."""
        if category is not None and priority in self.by_category.get(category, {}):
            return self.by_category[category][priority]
        return self.default[priority]

    def deadline(
        self, calendar: WorkCalendar, reported_at: dt.datetime, priority: Priority, category: Category | None
    ) -> dt.datetime:
        """The deadline of one appeal reported at a UTC instant."""
        frame = pd.DataFrame({"reported_at": [reported_at], "priority": [priority], "category": [category]})
        return self.deadlines(calendar, frame)[0].to_pydatetime()

    def rules_for(self, appeals: pd.DataFrame) -> tuple[np.ndarray, np.ndarray]:
        """Per row: working days allowed (-1 where the rule is in hours) and hours allowed."""
        working_days = np.full(len(appeals), -1, dtype="int64")
        hours = np.zeros(len(appeals), dtype="float64")
        priorities = appeals["priority"].astype(str).to_numpy()
        categories = appeals["category"].astype(str).to_numpy()
        for priority in Priority:
            for category in [None, *self.by_category]:
                if category is None:
                    mask = priorities == priority.value
                elif priority in self.by_category[category]:
                    mask = (priorities == priority.value) & (categories == category.value)
                else:
                    continue
                rule = self.rule(priority, category)
                working_days[mask] = -1 if rule.working_days is None else rule.working_days
                hours[mask] = 0.0 if rule.hours is None else rule.hours
        return working_days, hours

    def deadlines(self, calendar: WorkCalendar, appeals: pd.DataFrame) -> pd.DatetimeIndex:
        """Deadlines (UTC) for a frame with reported_at (UTC), priority and category columns."""
        local = calendar.to_local_seconds(pd.DatetimeIndex(appeals["reported_at"]))
        working_days, hours = self.rules_for(appeals)
        by_working_days = working_days >= 0
        result = local + np.round(hours * 3600).astype("int64")
        if by_working_days.any():
            result[by_working_days] = calendar.add_working_days_local(
                local[by_working_days], working_days[by_working_days]
            )
        return calendar.from_local_seconds(result)


def load_policy(path: Path) -> SlaPolicy:
    """Read the deadline policy file; unknown priorities or categories are an error."""
    with path.open("rb") as handle:
        raw = tomllib.load(handle)

    def rules(table: dict, where: str) -> dict[Priority, Rule]:
        parsed = {}
        for key, value in table.items():
            try:
                parsed[Priority(key)] = Rule(**value)
            except (ValueError, TypeError) as exc:
                raise ValueError(f"{path}: {where}.{key}: {exc}") from exc
        return parsed

    default = rules(raw.get("default", {}), "default")
    missing = [p.value for p in Priority if p not in default]
    if missing:
        raise ValueError(f"{path}: [default] lacks a rule for {', '.join(missing)}")
    by_category = {}
    for code, table in raw.get("category", {}).items():
        try:
            category = Category(code)
        except ValueError as exc:
            raise ValueError(f"{path}: unknown category [category.{code}]") from exc
        by_category[category] = rules(table, f"category.{code}")
    try:
        escalation = parse_policy(raw.get("escalation", {}))
    except ValueError as exc:
        raise ValueError(f"{path}: {exc}") from exc
    return SlaPolicy(default, by_category, escalation)
