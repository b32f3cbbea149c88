"""Every Dash component id, in one place."""

# Shell
URL = "url"
PAGE_LANG = "page-lang"

# Wall
WALL_ROOT = "wall-root"
WALL_CLOCK = "wall-clock"
WALL_CLOCK_TICK = "wall-clock-tick"
WALL_SOCKET = "wall-socket"
WALL_CONNECTION = "wall-connection"
WALL_FRESHNESS = "wall-freshness"
WALL_TREND = "wall-trend"
WALL_LABELS = "wall-labels"
WALL_CONNECTION_TEXT = "wall-connection-text"
WALL_TICKER = "wall-ticker"
