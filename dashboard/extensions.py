"""Extensions, created unbound here and bound to the app in create_app (init_app pattern)."""

from flask_socketio import SocketIO

from dashboard.jobs.scheduler import Scheduler
from dashboard.store.database import Database

db = Database()
socketio = SocketIO()
scheduler = Scheduler()
