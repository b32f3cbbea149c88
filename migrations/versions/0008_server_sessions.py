"""server-side sessions

Revision ID: 0008
Revises: 0007
Create Date: 2026-11-30 22:00:00.000000

Sessions can be ended (issue 18): log-in sessions live on the server (web_sessions, or Redis
when one is configured), and users.session_generation is part of every session's identity, so
raising it ends all of one user's sessions at once. Existing signed-cookie sessions are not
carried over: everyone logs in again after the upgrade.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0008"
down_revision: str | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("users") as batch:
        batch.add_column(sa.Column("session_generation", sa.Integer(), nullable=False, server_default="0"))
    op.create_table(
        "web_sessions",
        sa.Column("session_id", sa.String(255), nullable=False),
        sa.Column("data", sa.LargeBinary(), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("session_id", name=op.f("pk_web_sessions")),
    )
    op.create_index(op.f("ix_web_sessions_expires_at"), "web_sessions", ["expires_at"])


def downgrade() -> None:
    op.drop_index(op.f("ix_web_sessions_expires_at"), table_name="web_sessions")
    op.drop_table("web_sessions")
    with op.batch_alter_table("users") as batch:
        batch.drop_column("session_generation")
