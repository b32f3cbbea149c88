"""Overdue (超期): the one definition, in its Python, pandas and SQL forms side by side.

An appeal is overdue at instant t when it had been reported before t, was not resolved by t,
and its deadline had passed by then: reported_at < t, deadline_at < t, and resolved_at is
empty or at/after t. An appeal resolved exactly at its deadline is on time, never overdue.

"Overdue now" is the same rule at t = now. For that moment the SQL form may use the is_open
flag instead of resolved_at (an appeal is open exactly while it has no resolution), which lets
the database answer from the (is_open, deadline_at) index; `overdue_now_sql` is that form.

A state at a moment (overdue_open) asked for a period is evaluated at the period's end, or
now when the period has not ended yet (`state_moment`).
"""

from __future__ import annotations

import datetime as dt

import pandas as pd
from sqlalchemy import and_, or_


def is_overdue(
    reported_at: dt.datetime, resolved_at: dt.datetime | None, deadline_at: dt.datetime, at: dt.datetime
) -> bool:
    """Whether one appeal was overdue at instant `at`."""
    return reported_at < at and deadline_at < at and (resolved_at is None or resolved_at >= at)


def overdue_mask(appeals: pd.DataFrame, at) -> pd.Series:
    """is_overdue for every row of a frame with reported_at, resolved_at and deadline_at (tz-aware UTC)."""
    resolved_at = appeals["resolved_at"]
    unresolved = resolved_at.isna() | (resolved_at >= at)
    return (appeals["reported_at"] < at) & (appeals["deadline_at"] < at) & unresolved


def overdue_sql(reported_at, resolved_at, deadline_at, at):
    """is_overdue as a SQL condition over three columns."""
    return and_(reported_at < at, deadline_at < at, or_(resolved_at.is_(None), resolved_at >= at))


def overdue_sql_parts(reported_at, resolved_at, deadline_at, at) -> tuple:
    """overdue_sql as two disjoint conditions (never resolved; resolved at or after `at`).

    Their counts add up to overdue_sql's; each can be answered through its own index.
    """
    passed = and_(reported_at < at, deadline_at < at)
    return and_(resolved_at.is_(None), passed), and_(resolved_at >= at, passed)


def overdue_now_sql(is_open, deadline_at, now):
    """is_overdue at t = now, through the open flag (see the module docstring)."""
    return and_(is_open, deadline_at < now)


def is_overdue_now(is_open: bool, deadline_at: dt.datetime, now: dt.datetime) -> bool:
    """overdue_now_sql for one appeal already read."""
    return bool(is_open) and deadline_at < now


def state_moment(period_end: dt.datetime, now: dt.datetime) -> dt.datetime:
    """When a state-at-a-moment KPI of a period is evaluated: the period's end, or now if it has not ended."""
    return min(period_end, now)
