"""The command line: `python app.py [COMMAND]`; with no command it serves everything."""

from __future__ import annotations

import json
import logging
import os
from pathlib import Path

import click
from sqlalchemy import func, select

from dashboard import create_app, freeze_startup_objects
from dashboard.config import INSTANCE_DIR
from dashboard.domain.keys import UNBOUNDED, KeyAction
from dashboard.domain.roles import ACCOUNT_ROLES, Role
from dashboard.domain.vocab import Channel
from dashboard.domain.webhooks import WebhookEvent
from dashboard.queries import admin as admin_queries
from dashboard.services import admin, webhooks
from dashboard.services.admin import AdminError
from dashboard.services.ingest import bulkload
from dashboard.store import counters, migrate
from dashboard.store.database import db
from dashboard.store.models import AuditLog, Region

log = logging.getLogger("dashboard")


def _app(**overrides):
    return create_app(overrides or None)


def _prepare_database(app) -> None:
    """Bring the schema to head, with any index an interrupted bulk load left out built again."""
    migrate.upgrade(app.config["DATABASE_URL"])
    try:
        bulkload.restore(db.engine)
    except Exception:  # never keeps the app from starting: /healthz goes on reporting what is missing
        log.exception("building the appeals indexes an interrupted bulk load left out failed")
    counters.ensure_current_at_start(db, app.extensions["work_calendar"])


@click.group(invoke_without_command=True)
@click.option("-v", "--verbose", is_flag=True, help="Log debug messages.")
@click.pass_context
def cli(ctx: click.Context, verbose: bool) -> None:
    """Community governance command center."""
    from dashboard.web import logs  # text, or JSON lines with CC_LOG_FORMAT=json

    logs.configure(logging.DEBUG if verbose else logging.INFO, os.environ.get("CC_LOG_FORMAT", "text"))
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
            log.warning(
                "no regions yet: import your district's (`python app.py ingest regions_….geojson`, "
                "docs/ONBOARDING.md), or run `python app.py demo` for demo data"
            )
    # Local upkeep always; the shared jobs only if this process gets the scheduler lock (it
    # waits in the background otherwise, and takes over when the holder dies).
    app.extensions["scheduler"].start()
    host = host or app.config["HOST"]
    port = port or app.config["PORT"]
    log.info("serving on http://%s:%s/wall (health: /healthz)", host, port)
    freeze_startup_objects()
    app.extensions["socketio"].run(
        app, host=host, port=port, allow_unsafe_werkzeug=True, use_reloader=False, log_output=False
    )


@cli.command("scheduler")
def scheduler_command() -> None:
    """Run the scheduled jobs without the web server; a second instance stands by and takes over."""
    app = _app(SCHEDULER_ENABLED=True)
    _prepare_database(app)
    if not app.config["REDIS_URL"]:
        log.warning(
            "CC_REDIS_URL is empty: appeals from the drop folder or the simulator will not be pushed "
            "to walls served by other processes"
        )
    freeze_startup_objects()
    app.extensions["scheduler"].run_until_stopped()


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

    from dashboard.services import demo as demo_data

    app = _app()
    _prepare_database(app)
    with db.session() as session:
        has_data = bool(session.scalar(select(func.count()).select_from(Region)))
    if has_data and if_empty and not reset:
        click.echo("demo: the database already holds data; nothing to do")
        if DEMO_USERS_FILE.exists():
            click.echo(f"demo log-ins for /login: {DEMO_USERS_FILE}")
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
    if app.config["DEMO_MODE"]:
        click.echo(_demo_users())


DEMO_USERS_FILE = INSTANCE_DIR / "demo_users.txt"


def _demo_users() -> str:
    """In demo mode: an admin, and for the first street a supervisor, a duty operator, a leader (viewer) and
    the handler of its first community's patrol team (made if missing), with random passwords kept in a 0600 file."""
    import secrets

    from dashboard.domain.credentials import hash_password
    from dashboard.domain.vocab import RegionLevel, TeamKind
    from dashboard.store.models import Team, User

    lines = []
    with db.transaction() as session:
        street = session.scalar(select(Region.code).where(Region.level == RegionLevel.STREET).order_by(Region.code))
        community = session.scalar(
            select(Region.code)
            .where(Region.level == RegionLevel.COMMUNITY, Region.code.startswith(street or ""))
            .order_by(Region.code)
        )
        team = None
        if community is not None:
            team = session.scalar(select(Team).where(Team.region_code == community, Team.kind == TeamKind.PATROL))
            if team is None:
                team = Team(region_code=community, kind=TeamKind.PATROL, name="巡逻队")
                session.add(team)
                session.flush()
        accounts = [
            ("admin", Role.ADMIN, None, None),
            ("street", Role.SUPERVISOR, street, None),
            ("operator", Role.OPERATOR, street, None),
            ("leader", Role.VIEWER, street, None),
        ]
        if team is not None:
            accounts.append(("patrol", Role.HANDLER, community, team))
        for username, role, region, assigned in accounts:
            password = secrets.token_urlsafe(9)
            user = session.scalar(select(User).where(User.username == username))
            if user is None:
                user = User(username=username, display_name=username, role=role, region_code=region)
                session.add(user)
            user.team_id = assigned.id if assigned is not None else None
            user.password_hash = hash_password(password)
            user.failed_logins, user.locked_until = 0, None
            lines.append(f"{username}\t{password}\t{role.value}\t{region or ''}\t{assigned.code if assigned else ''}")
    DEMO_USERS_FILE.parent.mkdir(parents=True, exist_ok=True)
    DEMO_USERS_FILE.write_text("username\tpassword\trole\tregion\tteam\n" + "\n".join(lines) + "\n")
    DEMO_USERS_FILE.chmod(0o600)
    return "demo log-ins for /login (also in " + str(DEMO_USERS_FILE) + "):\n  " + "\n  ".join(lines)


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


# ---------------------------------------------------------------------------- init: an empty production database

# What `init` tells an operator to do next, with the exact commands (see docs/ONBOARDING.md).
INIT_NEXT_STEPS = """\
next steps (docs/ONBOARDING.md walks through them with the sample files in data/samples/):
  1. import the region hierarchy: district, streets, communities, compounds, with their shapes
       python app.py ingest regions_<district>.geojson
     (GeoJSON, a zipped Shapefile regions_*.zip, or regions_*.csv without shapes; coordinates taken from
      Amap or Tencent maps are GCJ-02: add --crs gcj02; see docs/IMPORT_FORMATS.md)
  2. import the organisation and the population, in this order:
       python app.py ingest departments_<district>.csv teams_<district>.csv staff_<district>.csv
       python app.py ingest visits_<district>.csv population_<district>.csv
     (or upload each file on /admin, or drop it into CC_DROP_DIR/incoming/)
  3. add supervisors, each scoped to their street or community:
       python app.py users add --username NAME --role supervisor --region CODE
  4. give each LED wall a token, then open http(s)://HOST/wall?token=TOKEN on the screen:
       python app.py walltokens add --name hall-led-1 --region CODE
  5. give each feed an API key (12345 hotline, grid patrol, …), limited to its region and actions:
       python app.py apikeys add --name hotline-12345 --source hotline_12345 --region CODE --actions ingest
  6. serve: python app.py serve  (one machine), or gunicorn behind nginx with a scheduler: docs/DEPLOYMENT.md
     and log in on /login as {username}; /admin manages users, tokens, keys, imports and the holiday calendar."""


def _rows_held() -> dict[str, int]:
    """How many rows each of the product's tables that exist holds (only those holding any)."""
    from sqlalchemy import inspect

    from dashboard.store.models import Base

    existing = set(inspect(db.engine).get_table_names())
    held = {}
    with db.session() as session:
        for table in Base.metadata.sorted_tables:
            if table.name in existing:
                count = session.scalar(select(func.count()).select_from(table))
                if count:
                    held[table.name] = count
    return held


def _ask_admin(username: str | None, password: str | None) -> tuple[str, str]:
    """The first admin's name and password: from the options, else prompted for (the password twice)."""
    if username is None:
        username = click.prompt("first admin's user name", default="admin")
    if password is None:
        password = click.prompt(
            f"password for {username} (at least {admin.MIN_PASSWORD_LENGTH} characters)",
            hide_input=True,
            confirmation_prompt=True,
        )
    return username, password


@cli.command("init")
@click.option("--admin-username", default=None, help="The first admin's user name (prompted for when not given).")
@click.option(
    "--admin-password",
    default=None,
    help="The first admin's password (prompted for, twice, when not given; better than leaving it in the "
    "shell's history).",
)
@click.option("--admin-name", default=None, help="The first admin's display name (default: the user name).")
def init_command(admin_username: str | None, admin_password: str | None, admin_name: str | None) -> None:
    """Set up an empty production database: the schema at head and a first admin, no demo data.

    Refuses without CC_SECRET_KEY (outside demo mode) and on a database that already holds anything.
    """
    from dashboard.config import Config

    config = Config.from_env()
    if not config.SECRET_KEY and not config.DEMO_MODE:
        raise click.ClickException(
            "CC_SECRET_KEY must be set: it signs sessions and keys the hashes of ID numbers, and every process "
            "needs the same one. Generate one with\n"
            "  python -c 'import secrets; print(secrets.token_hex(32))'\n"
            "keep it with the backups (the environment file, e.g. /etc/command-center/env), then run init again."
        )
    if config.DEMO_MODE:
        click.echo("warning: CC_DEMO_MODE is on: walls open without a token; set CC_DEMO_MODE=0 for production")
    app = _app()
    url = db.engine.url.render_as_string(hide_password=True)
    held = _rows_held()  # before migrating: a database that holds anything is left as it is
    if held:
        listing = ", ".join(f"{count:,} {table}" for table, count in held.items())
        raise click.ClickException(
            f"{url} is not empty ({listing}): init only sets up a new database, and changes nothing here.\n"
            "To add an admin to it: python app.py users add --role admin --username NAME\n"
            "To start afresh: point CC_DATABASE_URL at a new, empty database (or remove this one), then run init."
        )
    migrate.upgrade(app.config["DATABASE_URL"])
    click.echo(f"init: {url} at revision {migrate.current_revision(db.engine)}")
    interactive = admin_username is None or admin_password is None
    username, password = _ask_admin(admin_username, admin_password)
    while True:
        try:
            user = admin.create_user("cli", username, admin_name, "admin", None, password)
            break
        except AdminError as error:
            if not interactive:
                field = {"username": "--admin-username", "password": "--admin-password"}.get(error.field, error.field)
                raise click.UsageError(error.message("en", field)) from None
            click.echo(error.message("en", error.field.replace("_", " ")), err=True)
            username, password = _ask_admin(
                None if error.field == "username" else username,
                None if error.field == "password" else password,
            )
    click.echo(f"admin {user.username} created")
    click.echo(INIT_NEXT_STEPS.format(username=user.username))


@cli.group("db")
def db_group() -> None:
    """Database migrations (Alembic)."""


@db_group.command("upgrade")
@click.argument("revision", default="head")
def db_upgrade(revision: str) -> None:
    """Migrate up to REVISION (default head)."""
    app = _app()
    migrate.upgrade(app.config["DATABASE_URL"], revision)
    if revision == "head":
        bulkload.restore(db.engine)
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


# How the CLI names the inputs that dashboard.services.admin's errors refer to.
CLI_FIELDS = {
    "username": "--username",
    "display_name": "--name",
    "role": "--role",
    "region": "--region",
    "password": "--password",
    "new_password": "--password",
    "user": "USERNAME",
    "name": "--name",
    "channel": "--source",
    "actions": "--actions",
    "scope": "--region or --actions",
    "department": "--department",
    "team": "--team",
    "assignment": "--department or --team",
}


def _admin(change, *args, fields: dict[str, str] | None = None, **kwargs):
    """Make a change through services.admin as the CLI (audited as "cli"); a refused input is a usage error."""
    try:
        return change("cli", *args, **kwargs)
    except AdminError as error:
        field = {**CLI_FIELDS, **(fields or {})}.get(error.field, error.field)
        raise click.UsageError(error.message("en", field)) from None


@cli.group("users")
def users_group() -> None:
    """Accounts: admins, supervisors, operators, handlers and viewers."""


@users_group.command("add")
@click.option("--username", required=True)
@click.option("--name", "display_name", default=None, help="Display name (default: the username).")
@click.option("--role", type=click.Choice([role.value for role in ACCOUNT_ROLES]), required=True)
@click.option("--region", "region_code", default=None, help="Region the account is scoped to (a handler's: its own).")
@click.option("--department", default=None, help="A handler's department (its code).")
@click.option("--team", default=None, help='A handler\'s team: "<community code>/<kind>", e.g. 510107001001/patrol.')
@click.password_option(help="Prompted for when not given.")
def users_add(
    username: str,
    display_name: str | None,
    role: str,
    region_code: str | None,
    department: str | None,
    team: str | None,
    password: str,
) -> None:
    """Create a user with a hashed password (an admin's --region is ignored: admins see everything;
    a handler belongs to one --department or --team)."""
    app = _app()
    _prepare_database(app)
    user = _admin(admin.create_user, username, display_name, role, region_code, password, department, team)
    scope = ", ".join(part for part in (role, user.region_code, user.assignment) if part)
    click.echo(f"user {user.username} created ({scope})")


@users_group.command("list")
def users_list() -> None:
    """List users, their roles and scopes, and whether they are active or locked out."""
    import datetime as dt

    _app()
    now = dt.datetime.now(dt.UTC)
    with db.session() as session:
        for user in admin_queries.list_users(session):
            state = "active" if user.active else "disabled"
            if user.locked(now):
                state += f", locked until {user.locked_until:%Y-%m-%d %H:%M} UTC"
            # A handler's department or team last: the first four columns stay as scripts read them.
            columns = (user.username, user.role.value, user.region_code or "-", state, user.assignment or "-")
            click.echo("\t".join(columns))


@users_group.command("deactivate")
@click.argument("username")
def users_deactivate(username: str) -> None:
    """Deactivate a user: they are logged out at their next request and cannot log in."""
    _app()
    _admin(admin.set_user_active, username, active=False)
    click.echo(f"user {username} deactivated")


@users_group.command("reactivate")
@click.argument("username")
def users_reactivate(username: str) -> None:
    """Let a deactivated user log in again."""
    _app()
    _admin(admin.set_user_active, username, active=True)
    click.echo(f"user {username} reactivated")


@users_group.command("end-sessions")
@click.argument("username")
def users_end_sessions(username: str) -> None:
    """End every session of a user now: each open console asks them to log in again."""
    _app()
    _admin(admin.end_user_sessions, username)
    click.echo(f"every session of {username} ended")


@users_group.command("unlock")
@click.argument("username")
def users_unlock(username: str) -> None:
    """Lift a lock-out after too many wrong passwords."""
    _app()
    _admin(admin.unlock_user, username)
    click.echo(f"user {username} unlocked")


@users_group.command("password")
@click.argument("username")
@click.password_option(help="Prompted for when not given.")
def users_password(username: str, password: str) -> None:
    """Set a new password for a user (hashed; also lifts a lock-out)."""
    _app()
    _admin(admin.reset_password, username, password)
    click.echo(f"password of {username} reset")


@cli.command()
@click.argument("files", nargs=-1, required=True, type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option(
    "--pipeline/--no-pipeline",
    default=None,
    help="Read and validate in a second process while this one writes (default: for files of 16 MB or more).",
)
@click.option(
    "--initial-load/--no-initial-load",
    default=None,
    help="Defer the appeals table's secondary indexes and build them at the end "
    "(default: for a file with at least as many appeals as the table holds, and 100,000 or more).",
)
@click.option(
    "--crs",
    type=click.Choice(["wgs84", "cgcs2000", "gcj02"]),
    default=None,
    help="regions* files: the coordinates' system. wgs84 and cgcs2000 are taken as they are; gcj02 (Amap, "
    "Tencent and other Chinese web maps) is converted to WGS-84. Default: gcj02 when the file's name "
    "contains 'gcj02', else wgs84.",
)
@click.option(
    "--archive-missing",
    is_flag=True,
    help="regions* files: archive the district's regions that the file no longer lists (only for a file that "
    "holds the district itself; nothing is ever deleted). Without it they are only listed under 'missing'.",
)
def ingest(
    files: tuple[Path, ...], pipeline: bool | None, initial_load: bool | None, crs: str | None, archive_missing: bool
) -> None:
    """Ingest feed files once (appeals*, residents*, businesses*: csv, xlsx, json, ndjson); prints reports.

    regions* files (.geojson/.json, a zipped Shapefile .zip, or .csv of codes and names) import the
    region hierarchy: see docs/IMPORT_FORMATS.md. departments*, teams*, staff*, visits* and
    population* files (csv, xlsx, json) import the organisation, the visit lists and population counts.
    """
    from dashboard.services.ingest.dropfolder import ingest_file

    app = _app()
    _prepare_database(app)
    failed = False
    for path in files:
        report = ingest_file(
            app.extensions["ingestor"],
            path,
            pipelined=pipeline,
            initial_load=initial_load,
            crs=crs,
            archive_missing=archive_missing,
            actor="cli",
        )
        failed = failed or "file_error" in report
        click.echo(json.dumps(report, ensure_ascii=False, indent=2))
    if failed:
        raise click.ClickException("some files could not be read (see file_error above)")


@cli.group("apikeys")
def apikeys_group() -> None:
    """API keys for feeds and department systems."""


KEY_ACTIONS_HELP = f"Comma-separated, of: {', '.join(KeyAction)}; or 'all'."


@apikeys_group.command("add")
@click.option("--name", required=True, help="Who uses the key, e.g. hotline-12345.")
@click.option("--source", type=click.Choice([c.value for c in Channel]), required=True, help="The feed's channel.")
@click.option(
    "--region",
    "region_code",
    default=None,
    help="Limit the key to this region and everything below it (default: the whole database).",
)
@click.option("--actions", default=None, help=KEY_ACTIONS_HELP + " Default: all.")
def apikeys_add(name: str, source: str, region_code: str | None, actions: str | None) -> None:
    """Create a key; it is printed once and stored only as a hash."""
    app = _app()
    _prepare_database(app)
    _view, key = _admin(admin.create_api_key, name, source, region_code, actions)
    click.echo(key)


def _key_scope_text(key) -> str:
    """A key's region and actions as `apikeys list` and `apikeys scope` print them ("all": not narrowed)."""
    actions = ",".join(key.actions) if key.actions is not None else UNBOUNDED
    return f"region={key.region_code or UNBOUNDED}\tactions={actions}"


@apikeys_group.command("scope")
@click.argument("name")
@click.option("--region", "region_code", default=None, help="A region code, or 'all' for the whole database.")
@click.option("--actions", default=None, help=KEY_ACTIONS_HELP)
def apikeys_scope(name: str, region_code: str | None, actions: str | None) -> None:
    """Change the region and/or actions of every active key with this name (what is not given stays)."""
    _app()
    keys = _admin(
        admin.set_api_key_scope,
        name=name,
        region_code=admin.KEEP if region_code is None else region_code,
        actions=admin.KEEP if actions is None else actions,
        fields={"name": "NAME"},
    )
    for key in keys:
        click.echo(f"{key.id}\t{key.name}\t{_key_scope_text(key)}")


def _list_credentials(listing) -> None:
    """Print id, name, scope and state of each API key or wall token (never the secret), oldest first."""
    _app()
    with db.session() as session:
        for row in reversed(listing(session)):
            state = f"revoked {row.revoked_at:%Y-%m-%d}" if row.revoked_at else "active"
            click.echo(f"{row.id}\t{row.name}\t{row.scope}\t{state}")


def _revoke_credentials(revoke, name: str, what: str) -> None:
    """Revoke every active API key or wall token with this name."""
    _app()
    revoked = _admin(revoke, name=name, fields={"name": "NAME"})
    click.echo(f"revoked {len(revoked)} {what}(s) named {name}")


@apikeys_group.command("list")
def apikeys_list() -> None:
    """List keys: id, name, channel, region, actions and state (never the keys), oldest first."""
    _app()
    with db.session() as session:
        for key in reversed(admin_queries.list_api_keys(session)):
            state = f"revoked {key.revoked_at:%Y-%m-%d}" if key.revoked_at else "active"
            click.echo(f"{key.id}\t{key.name}\t{key.scope}\t{_key_scope_text(key)}\t{state}")


@apikeys_group.command("revoke")
@click.argument("name")
def apikeys_revoke(name: str) -> None:
    """Revoke every active key with this name."""
    _revoke_credentials(admin.revoke_api_keys, name, "key")


@cli.group("walltokens")
def walltokens_group() -> None:
    """Tokens that let an LED wall show a region without a login."""


@walltokens_group.command("add")
@click.option("--name", required=True, help="Which screen, e.g. cuqiao-led-1.")
@click.option("--region", "region_code", required=True, help="The region the wall may show (and everything below it).")
def walltokens_add(name: str, region_code: str) -> None:
    """Create a token; open /wall?token=TOKEN on the screen. Printed once, stored hashed."""
    app = _app()
    _prepare_database(app)
    _view, token = _admin(admin.create_wall_token, name, region_code)
    click.echo(token)


@walltokens_group.command("list")
def walltokens_list() -> None:
    """List wall tokens (names, regions and state; never the tokens)."""
    _list_credentials(admin_queries.list_wall_tokens)


@walltokens_group.command("revoke")
@click.argument("name")
def walltokens_revoke(name: str) -> None:
    """Revoke every active token with this name: the screen goes blank at its next resync or reconnect."""
    _revoke_credentials(admin.revoke_wall_tokens, name, "token")


@cli.command("export")
@click.option("--date", "day", required=True, help="Local day, YYYY-MM-DD.")
def export_day(day: str) -> None:
    """Produce (again) the KPI snapshots and files of one local day under CC_EXPORT_DIR."""
    import datetime as dt

    from dashboard.services.exports import produce_day

    app = _app()
    _prepare_database(app)
    produce_day(
        db, app.extensions["work_calendar"], dt.date.fromisoformat(day), Path(app.config["EXPORT_DIR"]), force=True
    )
    with db.transaction() as session:
        session.add(AuditLog(actor="cli", action="export", target=f"kpi:{day}"))
    click.echo(f"exported {day} to {app.config['EXPORT_DIR']}")


@cli.group("quarantine")
def quarantine_group() -> None:
    """Records that failed validation."""


@quarantine_group.command("list")
@click.option("--status", default="pending", show_default=True)
@click.option("--limit", default=50, show_default=True)
def quarantine_list(status: str, limit: int) -> None:
    """Quarantined records with where they came from and why they were refused."""
    from dashboard.store.models import QuarantinedRecord

    _app()
    with db.session() as session:
        rows = session.scalars(
            select(QuarantinedRecord)
            .where(QuarantinedRecord.status == status)
            .order_by(QuarantinedRecord.id)
            .limit(limit)
        ).all()
        for row in rows:
            click.echo(f"{row.id}\t{row.location}\t{row.field or '-'}\t{row.reason}")


@quarantine_group.command("replay")
@click.argument("record_id", type=int)
@click.argument("corrected", type=click.File("r", encoding="utf-8"))
def quarantine_replay(record_id: int, corrected) -> None:
    """Ingest CORRECTED (a JSON object: the fixed record) in place of quarantined record RECORD_ID."""
    from dashboard.services.ingest.service import replay

    app = _app()
    result = replay(app.extensions["ingestor"], record_id, json.load(corrected), actor="cli")
    click.echo(json.dumps(result, ensure_ascii=False, indent=2))
    if not result["replayed"]:
        raise click.ClickException("the corrected record did not land")


@cli.command()
@click.option("--rate", type=float, default=30.0, show_default=True, help="New appeals per minute.")
@click.option("--burst", type=int, default=0, help="Report this many appeals at once first.")
@click.option("--seconds", type=float, default=0, help="Stop after this long (0: run until interrupted).")
def simulate(rate: float, burst: int, seconds: float) -> None:
    """Run the live demo simulator against the database (push reaches walls through CC_REDIS_URL)."""
    import time

    from dashboard.services.simulator import Simulator

    app = _app()
    simulator = Simulator(app.extensions["ingestor"], rate)
    if burst:
        click.echo(f"burst: {simulator.new_appeals(burst)} appeals")
    started = time.monotonic()
    while not seconds or time.monotonic() - started < seconds:
        created, steps = simulator.tick(1.0)
        if created or steps:
            click.echo(f"{created} new, {steps} steps")
        time.sleep(1.0)


@cli.group("kpi")
def kpi_group() -> None:
    """The stored KPI counters behind the wall, the API and the exports."""


@kpi_group.command("rebuild")
def kpi_rebuild() -> None:
    """Recompute the KPI counters from every appeal (after a restore, or ahead of the first read)."""
    import time

    from dashboard.store import counters as aggregates

    app = _app()
    _prepare_database(app)
    started = time.perf_counter()
    with db.engine.begin() as connection:
        rows = aggregates.rebuild(connection, app.extensions["work_calendar"])
    click.echo(f"KPI counters rebuilt: {rows:,} rows in {time.perf_counter() - started:.1f} s")


# ---------------------------------------------------------------------------- webhooks (issue 16)

WEBHOOK_FIELDS = {
    "url": "--url",
    "events": "--events",
    "filter": "--department, --team, --region or --source",
    "filter_department": "--department",
    "filter_team": "--team",
    "filter_region": "--region",
    "filter_source": "--source",
    "format": "--format",
    "delivery": "--delivery",
}


@cli.group("webhooks")
def webhooks_group() -> None:
    """Webhooks: workflow events POSTed to other systems, signed (docs/WEBHOOKS.md)."""


@webhooks_group.command("add")
@click.option("--name", required=True, help="Who receives, e.g. hotline-12345-reply.")
@click.option("--url", required=True, help="An http or https URL.")
@click.option("--events", required=True, help="Comma-separated, of: " + ", ".join(WebhookEvent) + ".")
@click.option("--department", default=None, help="Only appeals assigned to this department (its code).")
@click.option("--team", default=None, help="Only appeals assigned to this team (510107001001/patrol).")
@click.option("--region", default=None, help="Only appeals in this region or below it (its code).")
@click.option("--source", default=None, help="Only appeals from this channel, e.g. hotline_12345.")
@click.option("--format", "body_format", default="json", show_default=True, help="json, wecom or dingtalk.")
@click.option("--trusted", is_flag=True, help="Send reporters' names, phones and addresses unmasked (audited).")
def webhooks_add(name, url, events, department, team, region, source, body_format, trusted) -> None:
    """Add a webhook; its signing secret is printed once."""
    filters = {"department": department, "team": team, "region": region, "source": source}
    given = [(kind, value) for kind, value in filters.items() if value is not None]
    if len(given) > 1:
        raise click.UsageError("give at most one of --department, --team, --region and --source")
    kind, value = given[0] if given else (None, None)
    app = _app()
    _prepare_database(app)
    view, secret = _admin(
        webhooks.create_webhook, name, url, events, kind, value, body_format, trusted, fields=WEBHOOK_FIELDS
    )
    click.echo(f"webhook {view.name} added ({','.join(view.events)}; {view.filter_text}; {view.body_format})")
    click.echo(f"secret (shown once; the receiver checks X-CC-Signature with it): {secret}")


@webhooks_group.command("list")
@click.option("--deliveries", "show_deliveries", is_flag=True, help="List the latest deliveries instead.")
@click.option("--status", default=None, help="With --deliveries: only pending, delivered or dead ones.")
def webhooks_list(show_deliveries: bool, status: str | None) -> None:
    """List webhooks (never their secrets), or the latest deliveries."""
    from dashboard.queries import webhooks as webhook_queries

    _app()
    with db.session() as session:
        if show_deliveries:
            for row in webhook_queries.list_deliveries(session, limit=100, status=status):
                result = row.last_status or row.last_error or "-"
                click.echo(
                    f"{row.id}\t{row.webhook}\t{row.event}\tappeal {row.appeal_id}\t{row.status}"
                    f"\tattempts={row.attempts}\t{str(result)[:80]}"
                )
            return
        for hook in webhook_queries.list_webhooks(session):
            state = "active" if hook.active else f"disabled {hook.disabled_at:%Y-%m-%d}"
            trust = "trusted" if hook.trusted else "masked"
            click.echo(
                f"{hook.id}\t{hook.name}\t{hook.url}\t{','.join(hook.events)}\t{hook.filter_text}"
                f"\t{hook.body_format}\t{trust}\t{state}"
            )


@webhooks_group.command("disable")
@click.argument("name")
def webhooks_disable(name: str) -> None:
    """Stop sending to a webhook (its pending deliveries wait; `enable` resumes them)."""
    _app()
    _admin(webhooks.set_webhook_active, name, False, fields={"name": "NAME"})
    click.echo(f"webhook {name} disabled")


@webhooks_group.command("enable")
@click.argument("name")
def webhooks_enable(name: str) -> None:
    """Send to a disabled webhook again."""
    _app()
    _admin(webhooks.set_webhook_active, name, True, fields={"name": "NAME"})
    click.echo(f"webhook {name} enabled")


@webhooks_group.command("replay")
@click.option("--delivery", "delivery_id", default=None, help="Queue this delivery again (any status).")
@click.option("--dead", is_flag=True, help="Queue every dead delivery again.")
@click.option("--webhook", "webhook_name", default=None, help="With --dead: only this webhook's.")
def webhooks_replay(delivery_id: str | None, dead: bool, webhook_name: str | None) -> None:
    """Queue deliveries again: they start over, with a new 24-hour retry window."""
    if (delivery_id is None) == (not dead):
        raise click.UsageError("give either --delivery ID or --dead")
    _app()
    replayed = _admin(
        webhooks.replay_deliveries,
        delivery_id,
        dead,
        webhook_name,
        fields={**WEBHOOK_FIELDS, "name": "--webhook"},
    )
    click.echo(f"queued {len(replayed)} delivery(ies) again")


@cli.command("retention")
@click.option("--dry-run", is_flag=True, help="Say what the next run would erase; change nothing.")
def retention_command(dry_run: bool) -> None:
    """Erase or anonymise personal data past its time (data/retention.toml, CC_RETENTION_FILE); audited."""
    from dashboard.domain.retention import load_policy
    from dashboard.services import retention

    app = _app()
    policy = load_policy(Path(app.config["RETENTION_FILE"]))
    report = retention.run(db, policy, Path(app.config["EXPORT_DIR"]), dry_run=dry_run)
    click.echo(format_retention(report))


def format_retention(report: dict) -> str:
    """The retention report as the CLI prints it."""
    verb = "would be" if report["dry_run"] else "were"
    files = report["export_files_deleted"]
    lines = [
        ("dry run: nothing changed" if report["dry_run"] else "retention applied (written to the audit log)"),
        f"  appeals anonymised (reporter name, phone, address, map point; numbers in text masked): "
        f"{report['appeals_anonymised']:,} {verb}",
        f"  step notes masked: {report['transition_notes_masked']:,} {verb}",
        f"  resident records deleted (unconfirmed): {report['residents_deleted']:,} {verb}",
        f"  quarantined records deleted: {report['quarantined_deleted']:,} {verb}",
        f"  audit entries deleted: {report['audit_entries_deleted']:,} {verb}",
        f"  export files deleted: {len(files):,} {verb}"
        + (f" ({', '.join(files[:10])}{' …' if len(files) > 10 else ''})" if files else ""),
        "  cut-offs: " + ", ".join(f"{kind} before {instant}" for kind, instant in report["cutoffs"].items()),
    ]
    return "\n".join(lines)
