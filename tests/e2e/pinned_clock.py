"""`python -m tests.e2e.pinned_clock serve …`: the CLI with "now" (dashboard.domain.clock) set by a file.

End-to-end tests that need a moment of their own (23:45 on 1 October 2026) write it to the file named
by CC_TEST_CLOCK_FILE with set_clock, and move it on by writing another; from each setting the clock
runs on at the real pace, so that pages that count time (the wall's countdowns and resyncs) behave as
on any evening. Only this test entry point reads the file: `python app.py` always runs on the real clock.
"""

from __future__ import annotations

import datetime as dt
import os
import time
from pathlib import Path

from dashboard.domain import clock

CLOCK_VARIABLE = "CC_TEST_CLOCK_FILE"


def pinned_now() -> dt.datetime:
    """The instant last set, plus the real time passed since it was set, as an aware UTC datetime."""
    instant, set_at = Path(os.environ[CLOCK_VARIABLE]).read_text().split()
    passed = dt.timedelta(seconds=time.time() - float(set_at))
    return dt.datetime.fromisoformat(instant).astimezone(dt.UTC) + passed


def set_clock(path: Path, instant: dt.datetime) -> None:
    """Set the clock to instant, now (written whole, then renamed: a reader never sees half of it)."""
    partial = path.with_suffix(".tmp")
    partial.write_text(f"{instant.isoformat()} {time.time()!r}")
    partial.replace(path)


if __name__ == "__main__":
    # Before anything else is imported: modules that import utcnow by name get this one too.
    clock.utcnow = pinned_now
    from dashboard.cli import cli

    cli()
