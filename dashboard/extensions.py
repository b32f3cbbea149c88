"""Extensions, created unbound here and bound to the app in create_app (init_app pattern)."""

from flask_socketio import SocketIO

from dashboard.database import Database
from dashboard.scheduler import Scheduler

db = Database()
socketio = SocketIO()
scheduler = Scheduler()
