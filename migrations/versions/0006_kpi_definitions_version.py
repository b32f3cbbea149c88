"""kpi definitions version

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-30 20:40:00.000000

The stored KPI counters now say which version of the KPI definitions (domain/kpi.py,
KPI_DEFINITIONS_VERSION) computed them; a server started with other definitions rebuilds them.
Counters built before this revision were computed with version 1, which is what they are given.

daily_exports.as_of: set for a day exported before it ended (a provisional export, read as of
that moment), so that the nightly job produces the day again once it has ended.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("kpi_aggregate_state") as batch:
        batch.add_column(sa.Column("definitions_version", sa.Integer(), nullable=False, server_default="1"))
    with op.batch_alter_table("daily_exports") as batch:
        batch.add_column(sa.Column("as_of", sa.DateTime(timezone=True), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("daily_exports") as batch:
        batch.drop_column("as_of")
    with op.batch_alter_table("kpi_aggregate_state") as batch:
        batch.drop_column("definitions_version")
