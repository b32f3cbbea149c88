"""Configuration read from environment variables, with an embedded SQLite default."""

from __future__ import annotations

import os
import secrets
from dataclasses import dataclass, field, fields
from pathlib import Path

PACKAGE_DIR = Path(__file__).resolve().parent
# The directory holding the `dashboard` package: the checkout, or site-packages once installed.
ROOT = PACKAGE_DIR.parent
# A checkout keeps data/ and migrations/ beside the package; an installed wheel (`pip install .`)
# carries them inside it, as dashboard/_data and dashboard/_migrations (pyproject.toml).
FROM_CHECKOUT = (ROOT / "alembic.ini").is_file() and (ROOT / "data").is_dir()
DATA_DIR = ROOT / "data" if FROM_CHECKOUT else PACKAGE_DIR / "_data"
MIGRATIONS_DIR = ROOT / "migrations" if FROM_CHECKOUT else PACKAGE_DIR / "_migrations"
# Where the embedded database, the secret key and the drop folder live: CC_INSTANCE_DIR, else the
# checkout's instance/, else ./instance under the directory an installed command runs in.
INSTANCE_DIR = Path(
    os.environ.get("CC_INSTANCE_DIR") or (ROOT / "instance" if FROM_CHECKOUT else Path.cwd() / "instance")
).resolve()


def _default_database_url() -> str:
    return f"sqlite:///{INSTANCE_DIR / 'command_center.db'}"


@dataclass
class Config:
    """Every setting of the product; each maps to one environment variable (CC_<NAME>)."""

    DATABASE_URL: str = field(default_factory=_default_database_url)
    REDIS_URL: str = ""  # empty: push stays inside this process
    TIMEZONE: str = "Asia/Shanghai"
    EXPORT_DIR: str = str(ROOT / "exports" if FROM_CHECKOUT else INSTANCE_DIR.parent / "exports")
    SECRET_KEY: str = ""
    HOST: str = "127.0.0.1"
    PORT: int = 8050
    # Demo mode generates a secret key when none is set and leaves the wall open without a
    # token. Off unless asked for (make run asks for it), so that a forgotten setting fails closed.
    DEMO_MODE: bool = False
    SCHEDULER_ENABLED: bool = True
    # How often a standby process retries the scheduler lock, and the holder checks it still holds it.
    SCHEDULER_LOCK_POLL_SECONDS: float = 5.0
    SLA_POLICY_FILE: str = str(DATA_DIR / "sla_policy.toml")
    KPI_TARGETS_FILE: str = str(DATA_DIR / "kpi_targets.toml")
    CALENDAR_OVERRIDE_FILE: str = str(DATA_DIR / "calendar" / "overrides.toml")
    DROP_DIR: str = str(INSTANCE_DIR / "dropbox")
    # A wall page starts afresh after this many hours (when the server answers), so that nothing
    # a browser keeps can grow for weeks; 0 never reloads.
    WALL_RELOAD_HOURS: float = 24.0
    SIMULATOR_RATE: float = 0.0  # appeals per minute created by the live demo simulator; 0 is off
    MAX_CONTENT_LENGTH: int = 64 * 1024 * 1024  # largest request body accepted (bulk ingest)
    # Session cookies are Secure (HTTPS only) unless this is on, or in demo mode over plain HTTP.
    INSECURE_COOKIES: bool = False
    INGEST_RATE_LIMIT: int = 120  # ingest requests per API key per minute (bulk POSTs and Open311); 0 is off
    # Reverse proxies in front that append to X-Forwarded-For; 0 trusts only the socket's address.
    TRUSTED_PROXIES: int = 0
    LOGIN_MAX_FAILURES: int = 5  # failed log-ins in a row before the account is locked
    LOGIN_LOCK_MINUTES: int = 15
    SESSION_HOURS: int = 8  # a supervisor's session ends after this long
    HEALTH_TOKEN: str = ""  # X-Health-Token for monitors to read /healthz details without a log-in
    # /metrics (docs/OPERATIONS.md): a Prometheus bearer token and/or the addresses (CIDRs, comma-separated)
    # that may scrape; with neither, nobody may.
    METRICS_TOKEN: str = ""
    METRICS_ALLOW: str = ""
    LOG_FORMAT: str = "text"  # text, or json: one JSON object a line for a log collector
    RETENTION_FILE: str = str(DATA_DIR / "retention.toml")  # how long personal data is kept
    ALERTS_FILE: str = str(DATA_DIR / "alerts.toml")  # early warning: thresholds and windows
    TESTING: bool = False

    @classmethod
    def from_env(cls, environ: dict[str, str] | None = None, **overrides) -> Config:
        """Build a config from CC_* environment variables, then apply explicit overrides."""
        environ = os.environ if environ is None else environ
        values: dict[str, object] = {}
        for f in fields(cls):
            raw = environ.get(f"CC_{f.name}")
            if raw is None:
                continue
            if f.type in ("bool", bool):
                values[f.name] = raw.strip().lower() in ("1", "true", "yes", "on")
            elif f.type in ("int", int):
                values[f.name] = int(raw)
            elif f.type in ("float", float):
                values[f.name] = float(raw)
            else:
                values[f.name] = raw
        values.update(overrides)
        config = cls(**values)
        config.DATABASE_URL = normalise_database_url(config.DATABASE_URL)
        return config

    def ensure_secret_key(self) -> bool:
        """Fill an empty secret key in demo mode; return True when one was generated."""
        if self.SECRET_KEY:
            return False
        if not (self.DEMO_MODE or self.TESTING):
            raise RuntimeError(
                "CC_SECRET_KEY must be set outside demo mode (CC_DEMO_MODE=0); "
                "generate one with: python -c 'import secrets; print(secrets.token_hex(32))'"
            )
        key_file = INSTANCE_DIR / "secret_key"
        if key_file.exists():
            self.SECRET_KEY = key_file.read_text().strip()
            return False
        INSTANCE_DIR.mkdir(parents=True, exist_ok=True)
        self.SECRET_KEY = secrets.token_hex(32)
        key_file.write_text(self.SECRET_KEY)
        key_file.chmod(0o600)
        return True


def normalise_database_url(url: str) -> str:
    """Use psycopg 3 for plain postgresql:// URLs."""
    if url.startswith("postgres://"):
        url = "postgresql://" + url[len("postgres://") :]
    if url.startswith("postgresql://"):
        url = "postgresql+psycopg://" + url[len("postgresql://") :]
    return url
