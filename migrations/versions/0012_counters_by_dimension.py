"""counters by dimension: kpi_daily_dims (per-day KPI counters by priority, channel and status)

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-01 05:00:00.000000

Issue 21. kpi_daily's counters split further by priority, channel (the appeal's source) and the
appeal's current status, so that the drill-down's cross-filters read sums, not appeals. The table
starts empty; the state row is removed, which means "never built": the next start (or the first
KPI read, or `python app.py kpi rebuild`) builds both counter tables from the appeals.
On SQLite it is a WITHOUT ROWID table: the key is most of a row, stored once.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0012"
down_revision: str | None = "0011"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

CATEGORIES = (
    "noise",
    "sanitation",
    "property_management",
    "road_facilities",
    "parking",
    "street_vending",
    "neighbour_dispute",
    "safety_hazard",
    "greenery",
    "utilities",
    "social_assistance",
    "other",
)
PRIORITIES = ("ordinary", "urgent", "extra_urgent")
CHANNELS = (
    "hotline_12345",
    "wechat",
    "grid_patrol",
    "visit_team",
    "street_call",
    "open311",
    "sensor",
    "city_management",
)
STATUSES = ("reported", "accepted", "dispatched", "in_progress", "resolved", "closed")


def _enum(values: tuple[str, ...], name: str) -> sa.Enum:
    return sa.Enum(*values, name=name, native_enum=False, create_constraint=True, length=32)


def upgrade() -> None:
    op.create_table(
        "kpi_daily_dims",
        sa.Column("region_code", sa.String(length=15), nullable=False),
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("category", _enum(CATEGORIES, "kpi_daily_dims_category"), nullable=False),
        sa.Column("priority", _enum(PRIORITIES, "kpi_daily_dims_priority"), nullable=False),
        sa.Column("channel", _enum(CHANNELS, "kpi_daily_dims_channel"), nullable=False),
        sa.Column("status", _enum(STATUSES, "kpi_daily_dims_status"), nullable=False),
        sa.Column("received", sa.Integer(), nullable=False),
        sa.Column("resolved", sa.Integer(), nullable=False),
        sa.Column("resolved_on_time", sa.Integer(), nullable=False),
        sa.Column("handling_seconds", sa.BigInteger(), nullable=False),
        sa.Column("rated", sa.Integer(), nullable=False),
        sa.Column("satisfied", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(["region_code"], ["regions.code"], name=op.f("fk_kpi_daily_dims_region_code_regions")),
        sa.PrimaryKeyConstraint(
            "region_code", "day", "category", "priority", "channel", "status", name=op.f("pk_kpi_daily_dims")
        ),
        sqlite_with_rowid=False,
    )
    # Both counter tables are rebuilt together from the appeals at the next start or read.
    op.execute("DELETE FROM kpi_aggregate_state")


def downgrade() -> None:
    op.drop_table("kpi_daily_dims")
