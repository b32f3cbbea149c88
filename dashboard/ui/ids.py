"""Every Dash component id, in one place."""

# Wall
WALL_ROOT = "wall-root"
WALL_CLOCK = "wall-clock"
WALL_CLOCK_TICK = "wall-clock-tick"
WALL_SOCKET = "wall-socket"
WALL_CONNECTION = "wall-connection"
WALL_CONNECTION_TEXT = "wall-connection-text"
WALL_FRESHNESS = "wall-freshness"
WALL_KPIS = "wall-kpis"
WALL_POPULATION = "wall-population"
WALL_RESIDENTS = "wall-residents"
WALL_VISITS = "wall-visits"
WALL_MAP = "wall-map"
WALL_TREND = "wall-trend"
WALL_SLA = "wall-sla"
WALL_TICKER = "wall-ticker"
# Wall state kept in the browser
WALL_STATE = "wall-state"  # region, language, token
WALL_LABELS = "wall-labels"  # words for codes in pushed deltas
WALL_TICKER_DATA = "wall-ticker-data"
WALL_SLA_DATA = "wall-sla-data"
WALL_SYNC = "wall-sync"  # when the last resync was asked for
WALL_REFRESH = "wall-refresh"  # resync counter: the server callback's trigger
WALL_VIEWPORT = "wall-viewport"  # the screen's scale against the 1920×1080 design

# Supervisors' console
CONSOLE_ROOT = "console-root"
DRILL_URL = "drill-url"  # the drill state lives in the URL (shareable; back button works)
DRILL_CHILDREN = "drill-children"
DRILL_MAP = "drill-map"
DRILL_VOLUME = "drill-volume"
DRILL_TIMELINESS = "drill-timeliness"
DRILL_SATISFACTION = "drill-satisfaction"
DRILL_AGEING = "drill-ageing"
DRILL_BY = "drill-by-{}"  # .format(dimension): category, channel, priority, status
DRILL_DATES = "drill-dates"
DRILL_FILTER = "drill-filter-{}"  # .format(dimension): the dropdowns
DRILL_OVERDUE = "drill-overdue"
DRILL_CLEAR = "drill-clear"
DRILL_GRID = "drill-grid"
DRILL_GRID_TEXT = "drill-grid-text"
APPEAL_ID = "appeal-id"
APPEAL_UNMASK_PURPOSE = "appeal-unmask-purpose"
APPEAL_UNMASK_BUTTON = "appeal-unmask-button"
APPEAL_UNMASKED = "appeal-unmasked"

# Administration
ADMIN_LANG = "admin-lang"  # the page's language, for the callbacks' messages
ADMIN_USERS_TABLE = "admin-users-table"
ADMIN_USER_USERNAME = "admin-user-username"
ADMIN_USER_DISPLAY_NAME = "admin-user-display-name"
ADMIN_USER_ROLE = "admin-user-role"
ADMIN_USER_REGION = "admin-user-region"
ADMIN_USER_PASSWORD = "admin-user-password"
ADMIN_USER_CREATE = "admin-user-create"
ADMIN_USER_SELECT = "admin-user-select"  # the existing user the buttons below act on
ADMIN_USER_DEACTIVATE = "admin-user-deactivate"
ADMIN_USER_REACTIVATE = "admin-user-reactivate"
ADMIN_USER_UNLOCK = "admin-user-unlock"
ADMIN_USER_END_SESSIONS = "admin-user-end-sessions"
ADMIN_USER_NEW_PASSWORD = "admin-user-new-password"
ADMIN_USER_RESET_PASSWORD = "admin-user-reset-password"
ADMIN_USER_FEEDBACK = "admin-user-feedback"
ADMIN_TOKENS_TABLE = "admin-tokens-table"
ADMIN_TOKEN_NAME = "admin-token-name"
ADMIN_TOKEN_REGION = "admin-token-region"
ADMIN_TOKEN_CREATE = "admin-token-create"
ADMIN_TOKEN_SELECT = "admin-token-select"
ADMIN_TOKEN_REVOKE = "admin-token-revoke"  # a ConfirmDialogProvider: revoking cannot be undone
ADMIN_TOKEN_FEEDBACK = "admin-token-feedback"  # also where a new token is shown, once
ADMIN_KEYS_TABLE = "admin-keys-table"
ADMIN_KEY_NAME = "admin-key-name"
ADMIN_KEY_CHANNEL = "admin-key-channel"
ADMIN_KEY_CREATE = "admin-key-create"
ADMIN_KEY_SELECT = "admin-key-select"
ADMIN_KEY_REVOKE = "admin-key-revoke"  # a ConfirmDialogProvider
ADMIN_KEY_FEEDBACK = "admin-key-feedback"  # also where a new key is shown, once
ADMIN_AUDIT_TABLE = "admin-audit-table"
ADMIN_AUDIT_REFRESH = "admin-audit-refresh"
ADMIN_TOKEN_SECRET = "admin-token-secret"  # the new token, in ADMIN_TOKEN_FEEDBACK
ADMIN_WALL_URL = "admin-wall-url"  # the new token's wall address
ADMIN_KEY_SECRET = "admin-key-secret"  # the new key, in ADMIN_KEY_FEEDBACK
ADMIN_KEY_REGION = "admin-key-region"  # a new key's region (empty: the whole database)
ADMIN_KEY_ACTIONS = "admin-key-actions"  # a new key's actions (domain.keys.KeyAction)
ADMIN_KEY_SCOPE_REGION = "admin-key-scope-region"  # the chosen key's new region (empty: unchanged)
ADMIN_KEY_SCOPE_ACTIONS = "admin-key-scope-actions"  # the chosen key's new actions (none: unchanged)
ADMIN_KEY_SCOPE = "admin-key-scope"  # sets them on the key chosen in ADMIN_KEY_SELECT
ADMIN_CHANGED = "admin-changed-{}"  # .format(section): users, tokens, keys; when it last changed
ADMIN_USER_ROW = "admin-user-row-{}"  # .format(username): a row of the users table
# Administration: imports by upload (issue 15)
ADMIN_IMPORT_UPLOAD = "admin-import-upload"  # a dcc.Upload: the file, named like the drop folder's
ADMIN_IMPORT_CRS = "admin-import-crs"  # coordinates of a region file: wgs84 (also CGCS2000) or gcj02
ADMIN_IMPORT_ARCHIVE = "admin-import-archive"  # checklist: archive regions missing from the file
ADMIN_IMPORT_REPORT = "admin-import-report"  # the report of the last upload
# Administration: the working-day calendar (issue 15)
ADMIN_CALENDAR_YEAR = "admin-calendar-year"
ADMIN_CALENDAR_VIEW = "admin-calendar-view"  # the year's months and its source
ADMIN_CALENDAR_HOLIDAYS = "admin-calendar-holidays"
ADMIN_CALENDAR_WORKDAYS = "admin-calendar-workdays"
ADMIN_CALENDAR_SAVE = "admin-calendar-save"  # a ConfirmDialogProvider: writes the override file
ADMIN_CALENDAR_FEEDBACK = "admin-calendar-feedback"
CONSOLE_CALENDAR_BANNER = "console-calendar-banner"  # the console header's warning: a year on the fallback
WALL_CALENDAR_MARKER = "wall-calendar-marker"  # the wall's small mark for the same
