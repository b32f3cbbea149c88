"""api key scope

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-30 21:00:00.000000

API keys can be narrowed (issue 18): api_keys.region_code limits a key to a region and everything
below it, api_keys.actions to some actions (domain.keys.KeyAction codes, comma-separated). Both
are NULL for existing keys, which keep the reach they had (the whole database, every action)
until an admin narrows them.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("api_keys") as batch:
        batch.add_column(sa.Column("region_code", sa.String(length=15), nullable=True))
        batch.add_column(sa.Column("actions", sa.String(length=128), nullable=True))
        batch.create_foreign_key(op.f("fk_api_keys_region_code_regions"), "regions", ["region_code"], ["code"])


def downgrade() -> None:
    with op.batch_alter_table("api_keys") as batch:
        batch.drop_constraint(op.f("fk_api_keys_region_code_regions"), type_="foreignkey")
        batch.drop_column("actions")
        batch.drop_column("region_code")
