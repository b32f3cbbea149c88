"""The command center: an app factory that builds the Flask server with Dash, Socket.IO and jobs."""

from __future__ import annotations

import gc
import logging
from dataclasses import asdict
from pathlib import Path

import dash
from flask import Flask
from flask_socketio import SocketIO

from dashboard import memory
from dashboard.config import INSTANCE_DIR, Config
from dashboard.domain.kpi import load_targets
from dashboard.domain.sla import load_policy
from dashboard.domain.workcal import build_calendar
from dashboard.jobs.scheduler import Scheduler
from dashboard.store.database import db
from dashboard.ui.i18n import t

log = logging.getLogger(__name__)
ASSETS_DIR = Path(__file__).resolve().parent / "ui" / "assets"


def create_app(test_config: dict | None = None) -> Flask:
    """Build the app from CC_* environment variables, overridden by test_config."""
    config = Config.from_env(**(test_config or {}))
    memory.limit_arenas()  # before the server's threads start (dashboard/memory.py says why)
    memory.fix_mmap_threshold()
    if config.ensure_secret_key():
        log.warning("demo mode: generated a secret key in %s; set CC_SECRET_KEY in production", INSTANCE_DIR)
    if config.DATABASE_URL.startswith("sqlite:///") and not config.DATABASE_URL.startswith("sqlite:///:memory:"):
        Path(config.DATABASE_URL.removeprefix("sqlite:///")).parent.mkdir(parents=True, exist_ok=True)

    server = Flask(__name__, instance_path=str(INSTANCE_DIR))
    server.config.from_mapping(asdict(config))
    server.config.update(SESSION_COOKIE_HTTPONLY=True, SESSION_COOKIE_SAMESITE="Lax")

    db.init_app(server)
    server.extensions["work_calendar"] = build_calendar(config.TIMEZONE, Path(config.CALENDAR_OVERRIDE_FILE))
    server.extensions["sla_policy"] = load_policy(Path(config.SLA_POLICY_FILE))
    server.extensions["kpi_targets"] = load_targets(Path(config.KPI_TARGETS_FILE))
    # No cors_allowed_origins: Socket.IO accepts same-origin connections only.
    # Each app has its own Socket.IO server and scheduler (app.extensions["socketio"], ["scheduler"]).
    socketio = SocketIO()
    socketio.init_app(server, async_mode="threading", message_queue=config.REDIS_URL or None)
    scheduler = Scheduler()
    scheduler.init_app(server)

    from dashboard.jobs import registry as jobs
    from dashboard.queries import drill as drill_queries
    from dashboard.queries import wall as wall_queries
    from dashboard.services import push
    from dashboard.services.ingest.service import Ingestor
    from dashboard.store import metrics as recorded
    from dashboard.store.wall_reports import WallReports
    from dashboard.web import api, auth, health, login, metrics, open311, sockets, wall_health
    from dashboard.web import downloads as console

    server.extensions["ingestor"] = Ingestor(
        db, lambda: server.extensions["work_calendar"], server.extensions["sla_policy"], config.SECRET_KEY
    )
    # Each blueprint declares who may use it; a view without a declaration is refused (auth.enforce).
    auth.declare_blueprint(health.bp, auth.Permission.PUBLIC)
    auth.declare_blueprint(api.bp, auth.Permission.API_KEY)  # its before_request checks X-API-Key
    auth.declare_blueprint(open311.bp, auth.Permission.PUBLIC)  # open data, masked; POST checks api_key
    auth.declare_blueprint(metrics.bp, auth.Permission.API_KEY)  # its view checks a bearer token or the address
    auth.declare_blueprint(wall_health.bp, auth.Permission.WALL)  # its view checks the wall's token
    server.extensions["wall_reports"] = WallReports(config.REDIS_URL)
    server.register_blueprint(health.bp)
    server.register_blueprint(metrics.bp)
    server.register_blueprint(wall_health.bp)
    server.register_blueprint(api.bp)
    server.register_blueprint(open311.bp)
    server.register_blueprint(login.bp)
    server.register_blueprint(console.bp)
    sockets.register(socketio)
    # Session listeners of this app's database: deltas go to this app's sockets after commit.
    publisher = sockets.make_publisher(socketio, server.extensions["database"])
    push.install(server.extensions["database"], recorded.timed_publisher(publisher))
    recorded.install(server.extensions["database"])  # committed steps, the pool's use
    wall_queries.install(server.extensions["database"])
    server.extensions["drill_readers"] = drill_queries.make_reader_pool()
    jobs.register(server)
    scheduler.add_local_job(
        sockets.close_revoked_walls, "interval", seconds=30, args=[socketio], id="close_revoked_walls"
    )
    _create_dash(server)
    from dashboard.web import callback_inputs, security

    security.init_app(server)
    callback_inputs.init_app(server)  # callback bodies of the wrong shape: a JSON 400, after the guard
    auth.init_app(server)
    from dashboard.web import access

    access.init_app(server)  # first of all before_request hooks: a token in the URL becomes a cookie
    metrics.init_app(server)  # time Dash callbacks from the very start
    from dashboard.web import logs

    logs.init_app(server)  # the request id: first of all, so every log line of the request carries it
    return server


def freeze_startup_objects() -> None:
    """Keep what the app built at start-up out of the garbage collector's full passes (call once, before serving).

    The app holds some millions of long-lived objects (Dash, Plotly, pandas, SQLAlchemy); without
    this every full pass walks them all, adding about 100 ms to whichever request triggers it
    (bench/drill's district pages had a p95 twice their median from it).
    """
    gc.collect()
    gc.freeze()


def _create_dash(server: Flask) -> dash.Dash:
    """Mount the Dash pages on the Flask server; every asset is served from this process."""
    app = dash.Dash(
        __name__,
        server=server,
        use_pages=True,
        pages_folder="",
        assets_folder=str(ASSETS_DIR),
        serve_locally=True,
        title=t("app.title"),
        update_title=None,
        suppress_callback_exceptions=True,
    )
    from callbacks import admin as admin_callbacks
    from callbacks import alerts as alerts_callbacks
    from callbacks import appeal as appeal_callbacks
    from callbacks import drill as drill_callbacks
    from callbacks import exports as exports_callbacks
    from callbacks import home as home_callbacks
    from callbacks import tasks as tasks_callbacks
    from callbacks import wall as wall_callbacks
    from dashboard.web.auth import Permission, guarded_layout

    # Every page names the permission its composer (query → layout) needs; the wall checks its device token itself.
    pages = [
        ("home", "/", None, home_callbacks.page, Permission.PUBLIC),
        ("wall", "/wall", None, wall_callbacks.page, Permission.WALL),
        ("drill", "/drill", None, drill_callbacks.page, Permission.CONSOLE),
        ("appeal", None, "/appeal/<appeal_id>", appeal_callbacks.page, Permission.CONSOLE),
        ("exports", "/exports", None, exports_callbacks.page, Permission.EXPORT),
        ("admin", "/admin", None, admin_callbacks.page, Permission.ADMIN),
        ("tasks", "/tasks", None, tasks_callbacks.page, Permission.TASKS),  # handlers' phones
        ("alerts", "/alerts", None, alerts_callbacks.page, Permission.CONSOLE),  # issue 19: early warning
    ]
    for name, path, template, layout, permission in pages:
        dash.register_page(
            name, path=path, path_template=template, layout=guarded_layout(permission, layout), title=t("app.title")
        )
    app.layout = dash.html.Div(dash.page_container)
    # Each server callback declares its permission as it is registered (auth.callback).
    wall_callbacks.register(app)
    drill_callbacks.register(app)
    appeal_callbacks.register(app)
    admin_callbacks.register(app)
    tasks_callbacks.register(app)
    alerts_callbacks.register(app)  # /alerts and the wall's 预警 panel
    server.extensions["dash"] = app
    return app
