"""early warning: alerts (surge, repeat, at risk) with their lifecycle

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-01 04:30:00.000000

Issue 19. One table of alerts; a partial unique index on the condition's key keeps one alert per
condition while it is not closed. Two indexes on appeals (report and resolution time with the
department) let the job count each department's daily open load from the indexes alone. Existing
data is untouched.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0011"
down_revision: str | None = "0010"
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
    categories = ", ".join(f"'{c}'" for c in CATEGORIES)
    op.create_table(
        "alerts",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("key", sa.String(200), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("region_code", sa.String(15), nullable=False),
        sa.Column("category", sa.String(32), nullable=True),
        sa.Column("department_id", sa.Integer(), nullable=True),
        sa.Column("appeal_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=True),
        sa.Column("details", sa.JSON(), nullable=False),
        sa.Column("raised_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("last_seen_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("acknowledged_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("acknowledged_by", sa.String(64), nullable=True),
        sa.Column("acknowledge_note", sa.Text(), nullable=True),
        sa.Column("closed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("closed_by", sa.String(64), nullable=True),
        sa.Column("close_note", sa.Text(), nullable=True),
        sa.CheckConstraint("kind IN ('surge', 'repeat', 'at_risk')", name=op.f("ck_alerts_alert_kind")),
        sa.CheckConstraint("status IN ('new', 'acknowledged', 'closed')", name=op.f("ck_alerts_alert_status")),
        sa.CheckConstraint(f"category IN ({categories})", name=op.f("ck_alerts_alert_category")),
        sa.ForeignKeyConstraint(["region_code"], ["regions.code"], name=op.f("fk_alerts_region_code_regions")),
        sa.ForeignKeyConstraint(
            ["department_id"], ["departments.id"], name=op.f("fk_alerts_department_id_departments")
        ),
        sa.ForeignKeyConstraint(
            ["appeal_id"], ["appeals.id"], name=op.f("fk_alerts_appeal_id_appeals"), ondelete="SET NULL"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_alerts")),
    )
    op.create_index(
        "uq_alerts_open_key",
        "alerts",
        ["key"],
        unique=True,
        postgresql_where=sa.text("status <> 'closed'"),
        sqlite_where=sa.text("status <> 'closed'"),
    )
    op.create_index("ix_alerts_region_status", "alerts", ["region_code", "status"])
    op.create_index("ix_alerts_raised_at", "alerts", ["raised_at"])
    op.create_index(op.f("ix_alerts_appeal_id"), "alerts", ["appeal_id"])
    # The job's median open load per department: appeals reported and resolved per day, from the index alone.
    op.create_index("ix_appeals_reported_department", "appeals", ["reported_at", "department_id"])
    op.create_index("ix_appeals_resolved_department", "appeals", ["resolved_at", "department_id"])


def downgrade() -> None:
    op.drop_index("ix_appeals_resolved_department", table_name="appeals")
    op.drop_index("ix_appeals_reported_department", table_name="appeals")
    op.drop_table("alerts")
