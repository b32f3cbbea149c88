"""The current instant, in one place, so that rules evaluated "now" can be pinned to a fixed clock in tests."""

from __future__ import annotations

import datetime as dt


def utcnow() -> dt.datetime:
    """Now, as an aware UTC datetime."""
    return dt.datetime.now(dt.UTC)
