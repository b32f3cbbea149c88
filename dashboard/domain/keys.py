"""What an API key may do: its actions and its region, the one rule behind the API, Open311 and the admin tools.

A key's scope has two halves, each None (NULL in api_keys) when it is not narrowed, so that keys
made before revision 0007 keep the reach they had until an admin narrows them:

- region_code: the region the key may touch, that region and everything below it
  (domain.regions.covers): the appeals it ingests, the appeals it moves, the KPIs it reads;
- actions: what it may do at all. Each /api/v1 route and Open311's POST needs some (web.api
  ROUTE_ACTIONS); a key without one of them is refused with 403.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from enum import StrEnum

from dashboard.domain.regions import covers

# The word that means "not narrowed" where a region or actions are typed (CLI, admin page).
UNBOUNDED = "all"


class KeyAction(StrEnum):
    """What a key may be allowed to do (stored by these codes, in this order)."""

    INGEST = "ingest"  # POST /api/v1/appeals, Open311 POST /requests
    TRANSITIONS = "transitions"  # POST /api/v1/appeals/{id}/transitions
    KPIS = "kpis"  # GET /api/v1/kpis
    QUARANTINE = "quarantine"  # GET /api/v1/quarantine; replaying a record needs ingest too


_CODES = frozenset(action.value for action in KeyAction)


class KeyScopeError(ValueError):
    """Actions that cannot be a key's: `word` is the unknown one (None: the set was empty)."""

    def __init__(self, word: str | None) -> None:
        self.word = word
        super().__init__(f"unknown action {word!r}" if word is not None else "no action given")


@dataclass(frozen=True)
class KeyScope:
    """A key's reach: its region (None: the whole database) and its actions (None: every action)."""

    region_code: str | None = None
    actions: frozenset[KeyAction] | None = None

    def missing(self, needed: Iterable[KeyAction]) -> list[KeyAction]:
        """The needed actions this key does not hold, in KeyAction order (empty: allowed)."""
        needed = set(needed)
        if self.actions is None:
            return []
        return [action for action in KeyAction if action in needed and action not in self.actions]

    def covers(self, code: str) -> bool:
        """Whether the region with this code is within the key's region."""
        return covers(self.region_code, code)


def parse_actions(value: str | Iterable[str] | None) -> frozenset[KeyAction] | None:
    """Actions as typed ("ingest,transitions") or chosen (a list); None or "all" is every action (None).

    An unknown word or an empty set raises KeyScopeError. Anything but text or a list of text is
    refused as an unknown word too.
    """
    if value is None:
        return None
    if isinstance(value, str):
        words = [word.strip() for word in value.replace(" ", ",").split(",")]
    elif isinstance(value, (list, tuple, set, frozenset)):
        words = [word.strip() if isinstance(word, str) else word for word in value]
    else:
        raise KeyScopeError(str(value)[:40])
    words = [word for word in words if word != ""]
    if words == [UNBOUNDED]:
        return None
    actions = set()
    for word in words:
        if not isinstance(word, str) or word not in _CODES:
            raise KeyScopeError(str(word)[:40])
        actions.add(KeyAction(word))
    if not actions:
        raise KeyScopeError(None)
    return frozenset(actions)


def actions_text(actions: frozenset[KeyAction] | None) -> str | None:
    """Actions as stored: their codes in KeyAction order, comma-separated (None: every action)."""
    if actions is None:
        return None
    return ",".join(action.value for action in KeyAction if action in actions)


def actions_from_text(text: str | None) -> frozenset[KeyAction] | None:
    """Stored actions back as a set; a word this version does not know grants nothing."""
    if text is None:
        return None
    codes = {word.strip() for word in text.split(",")}
    return frozenset(action for action in KeyAction if action.value in codes)
