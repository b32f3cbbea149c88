"""the center acts: operator/handler/viewer roles, urge, teams on appeals, optimistic concurrency, webhooks

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-01 01:20:00.000000

Issue 16. Three new roles (a handler belongs to a department or a team); the urge step (督办) and
each appeal's urge count; an appeal may be dispatched to a team; every appeal carries a version
and who changed it last, so that a stale page's action is refused; webhooks with a transactional
outbox and a delivery log; the nightly KPI snapshots gain the urged KPI. Existing rows: version 1,
no urges, no team.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0010"
down_revision: str | None = "0009"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

OLD_ROLES = ("admin", "supervisor", "wall")
NEW_ROLES = ("admin", "supervisor", "operator", "handler", "viewer", "wall")
OLD_ACTIONS = (
    "report",
    "accept",
    "dispatch",
    "start",
    "resolve",
    "close",
    "escalate",
    "return",
    "rate",
    "reopen",
    "link_duplicate",
)
NEW_ACTIONS = (*OLD_ACTIONS, "urge")


def _one_of(column: str, values: tuple[str, ...]) -> str:
    return f"{column} IN (" + ", ".join(f"'{value}'" for value in values) + ")"


def upgrade() -> None:
    with op.batch_alter_table("users") as batch:
        batch.add_column(sa.Column("department_id", sa.Integer(), nullable=True))
        batch.add_column(sa.Column("team_id", sa.Integer(), nullable=True))
        batch.create_foreign_key(op.f("fk_users_department_id_departments"), "departments", ["department_id"], ["id"])
        batch.create_foreign_key(op.f("fk_users_team_id_teams"), "teams", ["team_id"], ["id"])
        batch.drop_constraint(op.f("ck_users_role"), type_="check")
        batch.create_check_constraint(op.f("ck_users_role"), _one_of("role", NEW_ROLES))
        batch.create_check_constraint(
            op.f("ck_users_handler_has_assignment"),
            "role NOT IN ('handler') OR department_id IS NOT NULL OR team_id IS NOT NULL",
        )
    with op.batch_alter_table("appeals") as batch:
        batch.add_column(sa.Column("team_id", sa.Integer(), nullable=True))
        batch.add_column(sa.Column("urge_count", sa.Integer(), server_default="0", nullable=False))
        batch.add_column(sa.Column("version", sa.Integer(), server_default="1", nullable=False))
        batch.add_column(sa.Column("changed_by", sa.String(64), nullable=True))
        batch.create_foreign_key(op.f("fk_appeals_team_id_teams"), "teams", ["team_id"], ["id"])
        batch.create_index(op.f("ix_appeals_team_id"), ["team_id"])
    with op.batch_alter_table("transitions") as batch:
        batch.add_column(sa.Column("team_id", sa.Integer(), nullable=True))
        batch.create_foreign_key(op.f("fk_transitions_team_id_teams"), "teams", ["team_id"], ["id"])
        batch.drop_constraint(op.f("ck_transitions_transition_action"), type_="check")
        batch.create_check_constraint(op.f("ck_transitions_transition_action"), _one_of("action", NEW_ACTIONS))
        batch.create_index("ix_transitions_action_at", ["action", "at"])
    # The urged KPI (督办 steps per day) in the nightly snapshots; days exported before had none.
    with op.batch_alter_table("kpi_snapshots") as batch:
        batch.add_column(sa.Column("urged", sa.Integer(), server_default="0", nullable=False))
    op.create_table(
        "webhooks",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(64), nullable=False),
        sa.Column("url", sa.String(500), nullable=False),
        sa.Column("secret", sa.String(128), nullable=False),
        sa.Column("events", sa.String(255), nullable=False),
        sa.Column("filter_kind", sa.String(16), nullable=True),
        sa.Column("filter_value", sa.String(64), nullable=True),
        sa.Column("body_format", sa.String(16), server_default="json", nullable=False),
        sa.Column("trusted", sa.Boolean(), server_default=sa.false(), nullable=False),
        sa.Column("active", sa.Boolean(), server_default=sa.true(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("disabled_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_webhooks")),
        sa.UniqueConstraint("name", name=op.f("uq_webhooks_name")),
    )
    op.create_table(
        "outbox_events",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("event_id", sa.String(36), nullable=False),
        sa.Column("event", sa.String(32), nullable=False),
        sa.Column("occurred_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("appeal_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=True),
        sa.Column("region_code", sa.String(15), nullable=True),
        sa.Column("department_id", sa.Integer(), nullable=True),
        sa.Column("team_id", sa.Integer(), nullable=True),
        sa.Column("source", sa.String(32), nullable=True),
        sa.Column("payload", sa.JSON(), nullable=False),
        sa.ForeignKeyConstraint(
            ["appeal_id"], ["appeals.id"], name=op.f("fk_outbox_events_appeal_id_appeals"), ondelete="SET NULL"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_outbox_events")),
        sa.UniqueConstraint("event_id", name=op.f("uq_outbox_events_event_id")),
    )
    op.create_index(op.f("ix_outbox_events_appeal_id"), "outbox_events", ["appeal_id"])
    op.create_index("ix_outbox_events_occurred_at", "outbox_events", ["occurred_at"])
    op.create_table(
        "webhook_deliveries",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("event_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("webhook_id", sa.Integer(), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("next_attempt_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("last_attempt_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("last_status", sa.Integer(), nullable=True),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.Column("delivered_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["event_id"],
            ["outbox_events.id"],
            name=op.f("fk_webhook_deliveries_event_id_outbox_events"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["webhook_id"], ["webhooks.id"], name=op.f("fk_webhook_deliveries_webhook_id_webhooks"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_webhook_deliveries")),
        sa.UniqueConstraint("event_id", "webhook_id", name="uq_webhook_deliveries_event_webhook"),
    )
    op.create_index("ix_webhook_deliveries_due", "webhook_deliveries", ["status", "next_attempt_at"])
    op.create_index(op.f("ix_webhook_deliveries_webhook_id"), "webhook_deliveries", ["webhook_id"])


def downgrade() -> None:
    op.drop_table("webhook_deliveries")
    op.drop_table("outbox_events")
    op.drop_table("webhooks")
    with op.batch_alter_table("kpi_snapshots") as batch:
        batch.drop_column("urged")
    with op.batch_alter_table("transitions") as batch:
        batch.drop_index("ix_transitions_action_at")
        batch.drop_constraint(op.f("ck_transitions_transition_action"), type_="check")
        batch.create_check_constraint(op.f("ck_transitions_transition_action"), _one_of("action", OLD_ACTIONS))
        batch.drop_constraint(op.f("fk_transitions_team_id_teams"), type_="foreignkey")
        batch.drop_column("team_id")
    with op.batch_alter_table("appeals") as batch:
        batch.drop_index(op.f("ix_appeals_team_id"))
        batch.drop_constraint(op.f("fk_appeals_team_id_teams"), type_="foreignkey")
        for column in ("changed_by", "version", "urge_count", "team_id"):
            batch.drop_column(column)
    with op.batch_alter_table("users") as batch:
        batch.drop_constraint(op.f("ck_users_handler_has_assignment"), type_="check")
        batch.drop_constraint(op.f("ck_users_role"), type_="check")
        batch.create_check_constraint(op.f("ck_users_role"), _one_of("role", OLD_ROLES))
        batch.drop_constraint(op.f("fk_users_team_id_teams"), type_="foreignkey")
        batch.drop_constraint(op.f("fk_users_department_id_departments"), type_="foreignkey")
        batch.drop_column("team_id")
        batch.drop_column("department_id")
