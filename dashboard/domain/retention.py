"""How long personal data is kept (data/retention.toml): the policy and the cut-off instants it gives.

The rule's meaning is in the file's comments; dashboard/services/retention.py applies it.
"""

from __future__ import annotations

import datetime as dt
import tomllib
from dataclasses import dataclass
from pathlib import Path

KEYS = {
    "appeals": ("reporter_days", "open_reporter_days"),
    "residents": ("unconfirmed_days",),
    "quarantine": ("days",),
    "audit": ("days",),
    "exports": ("days",),
}


@dataclass(frozen=True)
class RetentionPolicy:
    """Days each kind of personal data is kept (see data/retention.toml)."""

    reporter_days: int = 180
    open_reporter_days: int = 730
    resident_days: int = 400
    quarantine_days: int = 30
    audit_days: int = 1095
    export_days: int = 365

    def cutoffs(self, now: dt.datetime) -> dict[str, dt.datetime]:
        """The instant before which each kind is past its time."""
        return {
            "appeals": now - dt.timedelta(days=self.reporter_days),
            "open_appeals": now - dt.timedelta(days=self.open_reporter_days),
            "residents": now - dt.timedelta(days=self.resident_days),
            "quarantine": now - dt.timedelta(days=self.quarantine_days),
            "audit": now - dt.timedelta(days=self.audit_days),
            "exports": now - dt.timedelta(days=self.export_days),
        }


def load_policy(path: Path) -> RetentionPolicy:
    """The policy in the TOML file; a missing section keeps its default, an unknown key or a bad value raises."""
    with open(path, "rb") as handle:
        data = tomllib.load(handle)
    values: dict[str, int] = {}
    names = {
        ("appeals", "reporter_days"): "reporter_days",
        ("appeals", "open_reporter_days"): "open_reporter_days",
        ("residents", "unconfirmed_days"): "resident_days",
        ("quarantine", "days"): "quarantine_days",
        ("audit", "days"): "audit_days",
        ("exports", "days"): "export_days",
    }
    for section, keys in data.items():
        if section not in KEYS or not isinstance(keys, dict):
            raise ValueError(f"{path}: unknown section [{section}]; known: {', '.join(KEYS)}")
        for key, value in keys.items():
            if key not in KEYS[section]:
                raise ValueError(f"{path}: [{section}] {key} is unknown; known: {', '.join(KEYS[section])}")
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ValueError(f"{path}: [{section}] {key} must be a whole number of days, at least 1")
            values[names[(section, key)]] = value
    return RetentionPolicy(**values)
