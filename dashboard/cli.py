"""The command line: `python app.py [COMMAND]`; with no command it serves everything."""

from __future__ import annotations

import json
import logging
import sys

import click
from sqlalchemy import func, select
from werkzeug.security import generate_password_hash

from dashboard import create_app, migrate
from dashboard.extensions import db, scheduler, socketio
from dashboard.models import Region, User
from dashboard.vocab import Role

log = logging.getLogger("dashboard")


def _app(**overrides):
    return create_app(overrides or None)


def _prepare_database(app) -> None:
    """Bring the schema to head; in demo mode on an empty database, say how to add demo data."""
    migrate.upgrade(app.config["DATABASE_URL"])


@click.group(invoke_without_command=True)
@click.option("-v", "--verbose", is_flag=True, help="Log debug messages.")
@click.pass_context
def cli(ctx: click.Context, verbose: bool) -> None:
    """Community governance command center."""
    logging.basicConfig(
        level=logging.DEBUG if verbose else logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    if ctx.invoked_subcommand is None:
        ctx.invoke(serve)


@cli.command()
@click.option("--host", default=None, help="Listen address (default CC_HOST, 127.0.0.1).")
@click.option("--port", type=int, default=None, help="Port (default CC_PORT, 8050).")
@click.option("--no-scheduler", is_flag=True, help="Do not run scheduled jobs in this process.")
def serve(host: str | None, port: int | None, no_scheduler: bool) -> None:
    """Serve the web app and push; run the scheduler too unless told not to."""
    overrides = {"SCHEDULER_ENABLED": False} if no_scheduler else {}
    app = _app(**overrides)
    _prepare_database(app)
    with db.session() as session:
        if not session.scalar(select(func.count()).select_from(Region)):
            log.warning("the database is empty: run `python app.py demo` for demo data")
    scheduler.start()
    host = host or app.config["HOST"]
    port = port or app.config["PORT"]
    log.info("serving on http://%s:%s/wall (health: /healthz)", host, port)
    socketio.run(app, host=host, port=port, allow_unsafe_werkzeug=True, use_reloader=False, log_output=False)


@cli.command()
@click.option("--scale", type=click.Choice(["street", "district", "tiny"]), default="street", show_default=True)
@click.option(
    "--seed", type=int, default=20201127, show_default=True, help="Random seed: the same seed gives the same data."
)
@click.option("--end", default=None, help="Last instant of the demo period (ISO 8601, default now).")
@click.option("--reset", is_flag=True, help="Delete all existing rows first.")
@click.option("--if-empty", is_flag=True, help="Do nothing when the database already holds data.")
def demo(scale: str, seed: int, end: str | None, reset: bool, if_empty: bool) -> None:
    """Generate deterministic demo data modelled on Cuqiao street (or all of Wuhou)."""
    import datetime as dt

    from dashboard import demo as demo_data

    app = _app()
    _prepare_database(app)
    with db.session() as session:
        has_data = bool(session.scalar(select(func.count()).select_from(Region)))
    if has_data and if_empty and not reset:
        click.echo("demo: the database already holds data; nothing to do")
        return
    if reset:
        demo_data.reset(db)
    end_instant = dt.datetime.fromisoformat(end) if end else None
    if end_instant is not None and end_instant.tzinfo is None:
        end_instant = end_instant.replace(tzinfo=app.extensions["work_calendar"].timezone)
    click.echo(
        f"demo: generating {scale} scale (seed {seed}) into {db.engine.url.render_as_string(hide_password=True)}"
    )
    try:
        summary = demo_data.generate(
            db,
            app.extensions["work_calendar"],
            app.extensions["sla_policy"],
            app.config["SECRET_KEY"],
            scale=scale,
            seed=seed,
            end=end_instant,
            progress=click.echo,
        )
    except RuntimeError as exc:
        raise click.ClickException(str(exc)) from exc
    click.echo(format_summary(summary))


def format_summary(summary: dict) -> str:
    """A readable summary of generated demo data, with the seed comparison."""
    lines = [f"demo data ({summary['scale']} scale):"]
    lines.append("  regions: " + ", ".join(f"{count} {level}" for level, count in summary["regions"].items()))
    for key in (
        "residents",
        "livelihood_memberships",
        "businesses",
        "appeals",
        "transitions",
        "visit_items",
        "open_appeals",
        "reopened_appeals",
    ):
        lines.append(f"  {key.replace('_', ' ')}: {summary[key]:,}")
    kpis = summary["kpis_last_365_days"]
    lines.append(
        "  last 365 days: " + ", ".join(f"{k}={v:.3f}" if isinstance(v, float) else f"{k}={v}" for k, v in kpis.items())
    )
    lines.append("  per street vs the seed (Cuqiao):")
    for key, row in summary["per_street_vs_seed"].items():
        mark = "ok" if row["within_5_percent"] else "OFF BY MORE THAN 5%"
        lines.append(f"    {key}: {row['actual']:,.3f} vs {row['target']:,.3f}  {mark}")
    lines.append("  timings (s): " + json.dumps(summary["timings_s"], ensure_ascii=False))
    return "\n".join(lines)


@cli.group("db")
def db_group() -> None:
    """Database migrations (Alembic)."""


@db_group.command("upgrade")
@click.argument("revision", default="head")
def db_upgrade(revision: str) -> None:
    """Migrate up to REVISION (default head)."""
    app = _app()
    migrate.upgrade(app.config["DATABASE_URL"], revision)
    click.echo(f"database at {migrate.current_revision(db.engine)}")


@db_group.command("downgrade")
@click.argument("revision")
def db_downgrade(revision: str) -> None:
    """Migrate down to REVISION ('base' removes every table)."""
    app = _app()
    migrate.downgrade(app.config["DATABASE_URL"], revision)
    click.echo(f"database at {migrate.current_revision(db.engine)}")


@db_group.command("current")
def db_current() -> None:
    """Print the database's revision and the newest one available."""
    app = _app()
    click.echo(
        f"current: {migrate.current_revision(db.engine)}  head: {migrate.head_revision(app.config['DATABASE_URL'])}"
    )


@cli.group("users")
def users_group() -> None:
    """Supervisors and admins."""


@users_group.command("add")
@click.option("--username", required=True)
@click.option("--name", "display_name", default=None, help="Display name (default: the username).")
@click.option("--role", type=click.Choice([Role.ADMIN.value, Role.SUPERVISOR.value]), required=True)
@click.option("--region", "region_code", default=None, help="Region a supervisor is scoped to.")
@click.password_option(help="Prompted for when not given.")
def users_add(username: str, display_name: str | None, role: str, region_code: str | None, password: str) -> None:
    """Create a user with a hashed password."""
    app = _app()
    _prepare_database(app)
    if role == Role.SUPERVISOR and not region_code:
        raise click.UsageError("a supervisor needs --region (the street or community they oversee)")
    if len(password) < 10:
        raise click.UsageError("the password must have at least 10 characters")
    with db.transaction() as session:
        if region_code and session.get(Region, region_code) is None:
            raise click.UsageError(f"no region with code {region_code}")
        if session.scalar(select(User).where(User.username == username)):
            raise click.UsageError(f"user {username} exists already")
        session.add(
            User(
                username=username,
                display_name=display_name or username,
                password_hash=generate_password_hash(password),
                role=Role(role),
                region_code=region_code,
            )
        )
    click.echo(f"user {username} created ({role}{', ' + region_code if region_code else ''})")


@users_group.command("list")
def users_list() -> None:
    """List users, their roles and scopes."""
    _app()
    with db.session() as session:
        for user in session.scalars(select(User).order_by(User.username)):
            state = "active" if user.active else "disabled"
            click.echo(f"{user.username}\t{user.role.value}\t{user.region_code or '-'}\t{state}")


def main() -> None:
    """Entry point for app.py."""
    sys.exit(cli())
