"""What the start page lists: the walls of the district and of each street."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select

from dashboard.domain.vocab import RegionLevel
from dashboard.store.database import db
from dashboard.store.models import Region
from dashboard.ui.i18n import localized


@dataclass(frozen=True)
class WallLink:
    """One wall to open: its region's code, name (in the page's language) and level."""

    code: str
    name: str
    level: RegionLevel


@dataclass(frozen=True)
class HomeView:
    """The start page's data."""

    lang: str
    walls: list[WallLink]


def read(lang: str) -> HomeView:
    """Every district and street wall the database knows, district first."""
    with db.session() as session:
        rows = session.execute(
            select(Region.code, Region.name, Region.name_en, Region.level)
            .where(Region.level.in_([RegionLevel.DISTRICT, RegionLevel.STREET]))
            .order_by(Region.code)
        ).all()
    walls = [WallLink(row.code, localized(row.name, row.name_en, lang), row.level) for row in rows]
    return HomeView(lang, walls)
