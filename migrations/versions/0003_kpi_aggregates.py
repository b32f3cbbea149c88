"""kpi aggregates

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-27 13:40:00.000000

The counters start empty and without a state row, which means "never built": the first KPI
read builds them from the appeals, or do it ahead with `python app.py kpi rebuild`.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0003"
down_revision: str | None = "0002"
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


def upgrade() -> None:
    op.create_table(
        "kpi_daily",
        sa.Column("region_code", sa.String(length=15), nullable=False),
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column(
            "category",
            sa.Enum(*CATEGORIES, name="kpi_daily_category", native_enum=False, create_constraint=True, length=32),
            nullable=False,
        ),
        sa.Column("received", sa.Integer(), nullable=False),
        sa.Column("resolved", sa.Integer(), nullable=False),
        sa.Column("resolved_on_time", sa.Integer(), nullable=False),
        sa.Column("handling_seconds", sa.BigInteger(), nullable=False),
        sa.Column("rated", sa.Integer(), nullable=False),
        sa.Column("satisfied", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(["region_code"], ["regions.code"], name=op.f("fk_kpi_daily_region_code_regions")),
        sa.PrimaryKeyConstraint("region_code", "day", "category", name=op.f("pk_kpi_daily")),
    )
    with op.batch_alter_table("kpi_daily", schema=None) as batch_op:
        batch_op.create_index("ix_kpi_daily_day_region", ["day", "region_code"], unique=False)
    op.create_table(
        "kpi_aggregate_state",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("timezone", sa.String(length=64), nullable=False),
        sa.Column("working_days", sa.Text(), nullable=False),
        sa.Column("calendar_digest", sa.String(length=64), nullable=False),
        sa.Column("built_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_kpi_aggregate_state")),
    )


def downgrade() -> None:
    op.drop_table("kpi_aggregate_state")
    with op.batch_alter_table("kpi_daily", schema=None) as batch_op:
        batch_op.drop_index("ix_kpi_daily_day_region")
    op.drop_table("kpi_daily")
