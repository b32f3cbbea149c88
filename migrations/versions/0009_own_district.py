"""own district: archived regions, department kinds, patrol teams, import ids, population aggregates

Revision ID: 0009
Revises: 0008
Create Date: 2026-11-30 22:30:00.000000

For a district's own data (issue 15): a region no longer in a re-imported file can be archived
(never deleted: appeals, residents and users point at it); departments carry a kind; a community
may have a patrol team beside its three visiting teams; imported staff and visit-list entries keep
the district's own id so that a re-import updates them; population may come as per-compound
aggregates with an as-of date. Nothing is rebuilt; existing rows get NULLs.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0009"
down_revision: str | None = "0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

OLD_TEAM_KINDS = ("residents", "merchants", "enterprises")
NEW_TEAM_KINDS = (*OLD_TEAM_KINDS, "patrol")


def _team_kinds(kinds: tuple[str, ...]) -> str:
    return "kind IN (" + ", ".join(f"'{kind}'" for kind in kinds) + ")"


def upgrade() -> None:
    with op.batch_alter_table("regions") as batch:
        batch.add_column(sa.Column("archived_at", sa.DateTime(timezone=True), nullable=True))
    with op.batch_alter_table("departments") as batch:
        batch.add_column(sa.Column("kind", sa.String(32), nullable=True))
    with op.batch_alter_table("teams") as batch:
        batch.drop_constraint(op.f("ck_teams_team_kind"), type_="check")
        batch.create_check_constraint(op.f("ck_teams_team_kind"), _team_kinds(NEW_TEAM_KINDS))
    with op.batch_alter_table("staff") as batch:
        batch.add_column(sa.Column("external_id", sa.String(64), nullable=True))
        batch.create_unique_constraint(op.f("uq_staff_external_id"), ["external_id"])
    with op.batch_alter_table("visit_items") as batch:
        batch.add_column(sa.Column("external_id", sa.String(64), nullable=True))
        batch.create_unique_constraint(op.f("uq_visit_items_external_id"), ["external_id"])
    op.create_table(
        "population_aggregates",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("region_code", sa.String(15), nullable=False),
        sa.Column("as_of", sa.Date(), nullable=False),
        sa.Column("residents", sa.Integer(), nullable=False),
        sa.Column("household_types", sa.JSON(), nullable=False),
        sa.Column("groups", sa.JSON(), nullable=False),
        sa.Column("source", sa.String(64), nullable=False),
        sa.Column("imported_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint("residents >= 0", name=op.f("ck_population_aggregates_residents_non_negative")),
        sa.ForeignKeyConstraint(
            ["region_code"], ["regions.code"], name=op.f("fk_population_aggregates_region_code_regions")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_population_aggregates")),
        sa.UniqueConstraint("region_code", "as_of", name="uq_population_aggregates_region_as_of"),
    )
    op.create_index(
        op.f("ix_population_aggregates_region_code"), "population_aggregates", ["region_code"], unique=False
    )


def downgrade() -> None:
    op.drop_index(op.f("ix_population_aggregates_region_code"), table_name="population_aggregates")
    op.drop_table("population_aggregates")
    with op.batch_alter_table("visit_items") as batch:
        batch.drop_constraint(op.f("uq_visit_items_external_id"), type_="unique")
        batch.drop_column("external_id")
    with op.batch_alter_table("staff") as batch:
        batch.drop_constraint(op.f("uq_staff_external_id"), type_="unique")
        batch.drop_column("external_id")
    op.execute(sa.text("DELETE FROM teams WHERE kind = 'patrol'"))
    with op.batch_alter_table("teams") as batch:
        batch.drop_constraint(op.f("ck_teams_team_kind"), type_="check")
        batch.create_check_constraint(op.f("ck_teams_team_kind"), _team_kinds(OLD_TEAM_KINDS))
    with op.batch_alter_table("departments") as batch:
        batch.drop_column("kind")
    with op.batch_alter_table("regions") as batch:
        batch.drop_column("archived_at")
