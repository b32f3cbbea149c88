"""fewer, wider indexes on appeals

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-27 17:40:00.000000

ix_appeals_reported_at (reported_at) is the leading column of ix_appeals_reported_cover, and
ix_appeals_resolved_at (resolved_at) of ix_appeals_resolved_reported: every query the narrow
ones served, the wide ones serve in the same order. Each index costs every insert a B-tree
descent; these two were about a tenth of a bulk import's insert time.

The covering index also takes accepted_at, so that the median response time of a period (the
report and acceptance times of every appeal reported in it) is read from the index alone.
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


COVERED = ("reported_at", "region_code", "category", "priority", "source", "status")


def upgrade() -> None:
    op.drop_index("ix_appeals_reported_at", table_name="appeals")
    op.drop_index("ix_appeals_resolved_at", table_name="appeals")
    op.drop_index("ix_appeals_reported_cover", table_name="appeals")
    op.create_index("ix_appeals_reported_cover", "appeals", [*COVERED, "accepted_at"])


def downgrade() -> None:
    op.drop_index("ix_appeals_reported_cover", table_name="appeals")
    op.create_index("ix_appeals_reported_cover", "appeals", list(COVERED))
    op.create_index("ix_appeals_resolved_at", "appeals", ["resolved_at"])
    op.create_index("ix_appeals_reported_at", "appeals", ["reported_at"])
