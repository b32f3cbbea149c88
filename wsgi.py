"""WSGI entry point for production servers: one gunicorn process per port, threads for the sockets.

    gunicorn -w 1 --threads 100 -b 127.0.0.1:8051 wsgi:app

One worker per gunicorn (Socket.IO keeps each session in one process); run several on
separate ports behind nginx, sharing push through CC_REDIS_URL. Migrations are not run here:
run `python app.py db upgrade` once before starting the web processes. Do not use --preload:
the scheduler's threads must start in the worker, not in the master. See docs/DEPLOYMENT.md.
"""

import logging
import os

from dashboard import create_app, freeze_startup_objects
from dashboard.store import counters, migrate
from dashboard.store.database import db
from dashboard.web import logs

logs.configure(logging.INFO, os.environ.get("CC_LOG_FORMAT", "text"))  # text, or JSON lines (docs/OPERATIONS.md)

app = create_app()
if migrate.current_revision(db.engine) != migrate.head_revision(app.config["DATABASE_URL"]):
    logging.getLogger("dashboard").error("the database is not at the newest revision: run `python app.py db upgrade`")
counters.ensure_current_at_start(db, app.extensions["work_calendar"])
# Local upkeep (calendar, revoked walls); the shared jobs too when CC_SCHEDULER_ENABLED=1 and this
# process gets the scheduler lock.
app.extensions["scheduler"].start()
freeze_startup_objects()
