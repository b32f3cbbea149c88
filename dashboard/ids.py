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
WALL_DIRTY = "wall-dirty"  # when the last delta arrived
WALL_SYNC = "wall-sync"  # when the last resync was asked for
WALL_REFRESH = "wall-refresh"  # resync counter: the server callback's trigger
WALL_VIEWPORT = "wall-viewport"  # the screen's scale against the 1920×1080 design
