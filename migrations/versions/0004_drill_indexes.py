"""indexes for the drill-down

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-27 14:15:00.000000

A covering index on the report time with the region and the four dimensions a supervisor
filters by, so that the drill-down's counts of a district's month (about 60,000 appeals) are
read from the index alone instead of one table lookup per appeal; and (resolved_at,
reported_at), so that "resolved in the period but reported before it" touches only those
few rows. The index deliberately leaves the deadline and resolution out: covering them too
made SQLite prefer it for "resolved after a date" queries and walk every appeal.
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

COVERED = ("reported_at", "region_code", "category", "priority", "source", "status")


def upgrade() -> None:
    op.create_index("ix_appeals_reported_cover", "appeals", list(COVERED))
    op.create_index("ix_appeals_resolved_reported", "appeals", ["resolved_at", "reported_at"])


def downgrade() -> None:
    op.drop_index("ix_appeals_resolved_reported", table_name="appeals")
    op.drop_index("ix_appeals_reported_cover", table_name="appeals")
