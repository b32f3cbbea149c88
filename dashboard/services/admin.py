"""Managing users, wall tokens and API keys, imports uploaded on /admin and the working-day calendar's
override file: the one set of rules behind the CLI and the admin page.

Every function that changes something validates its inputs (raising AdminError, which names the
field), makes the change and writes its audit-log entry in the same transaction, so a change is
never left unaudited. Secrets (passwords, wall tokens, API keys) are stored only as hashes; a new
token or key is returned once, to be shown once, and can never be read back.
"""

from __future__ import annotations

import base64
import binascii
import contextlib
import datetime as dt
import fcntl
import os
import re
import tempfile
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from dashboard.domain.credentials import hash_api_key, hash_password, hash_token, new_api_key, new_wall_token
from dashboard.domain.keys import UNBOUNDED, KeyAction, KeyScopeError, actions_text, parse_actions
from dashboard.domain.regions import covers
from dashboard.domain.roles import ACCOUNT_ROLES, Role, is_assigned, is_scoped
from dashboard.domain.vocab import Channel
from dashboard.domain.workcal import FIRST_YEAR, LAST_YEAR, load_overrides
from dashboard.queries.admin import ApiKeyView, CredentialView, UserView, api_key_view, user_view
from dashboard.services.actions import valid_team_code
from dashboard.services.ingest.dropfolder import ingest_file
from dashboard.services.workflow import team_by_code
from dashboard.store.audit import audit_row
from dashboard.store.database import db
from dashboard.store.models import ApiKey, Department, Region, User, WallToken
from dashboard.ui.i18n import t

MIN_PASSWORD_LENGTH = 10
MAX_PASSWORD_LENGTH = 200  # a bound on hashing work per request, far above any real password
MAX_NAME_LENGTH = 64  # the columns' width
USERNAME_PATTERN = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{2,63}")
RECENT_AUDIT_ENTRIES = 100
MAX_ID = 2**31 - 1  # the id columns' range: a larger number would reach the database as an error
KEEP = object()  # set_api_key_scope: leave this half of the scope as it is


class AdminError(ValueError):
    """An input was refused; `field` names it and `key` (under admin.error_*) says why, in any language."""

    def __init__(self, field: str, key: str, **values) -> None:
        self.field = field
        self.key = key
        self.values = values
        super().__init__(self.message("en"))

    def message(self, lang: str, field_label: str | None = None) -> str:
        """The error in lang, naming the field by field_label (default: its label on the admin page)."""
        if field_label is None:
            field_label = t("admin.quoted", lang, text=t(f"admin.field_{self.field}", lang))
        return t(f"admin.error_{self.key}", lang, field=field_label, **self.values)


# ---------------------------------------------------------------------------- validation


def _text(value: object, field: str, required: bool = True, max_length: int = MAX_NAME_LENGTH) -> str:
    """A stripped string input; anything but a string (a list posted to a callback…) is refused."""
    if value is None:
        value = ""
    if not isinstance(value, str):
        raise AdminError(field, "invalid")
    value = value.strip()
    if required and not value:
        raise AdminError(field, "required")
    if len(value) > max_length:
        raise AdminError(field, "too_long", max=max_length)
    return value


def _password(value: object, field: str = "password") -> str:
    """A new password: not stripped (spaces count), at least MIN_PASSWORD_LENGTH characters."""
    if not isinstance(value, str) or not value:
        raise AdminError(field, "required")
    if len(value) < MIN_PASSWORD_LENGTH:
        raise AdminError(field, "password_short", min=MIN_PASSWORD_LENGTH)
    if len(value) > MAX_PASSWORD_LENGTH:
        raise AdminError(field, "too_long", max=MAX_PASSWORD_LENGTH)
    return value


def _region(session: Session, value: object, field: str = "region") -> str:
    """An existing region's code."""
    code = _text(value, field, max_length=15)
    if session.get(Region, code) is None:
        raise AdminError(field, "region_unknown", code=code)
    return code


def _id(value: object, field: str) -> int:
    """A row id chosen in a list (an int, or a string of digits)."""
    if isinstance(value, bool) or value is None or value == "":
        raise AdminError(field, "required")
    if isinstance(value, str) and value.isascii() and value.isdigit() and len(value) <= len(str(MAX_ID)):
        value = int(value)
    if isinstance(value, int) and 0 < value <= MAX_ID:
        return value
    raise AdminError(field, "invalid")


def _user(session: Session, value: object, field: str = "user") -> User:
    """The user with this username, locked for the change."""
    username = _text(value, field)
    user = session.scalar(select(User).where(User.username == username).with_for_update())
    if user is None:
        raise AdminError(field, "no_user", username=username)
    return user


def _audit(session: Session, actor: str, action: str, target: str, detail: dict | None = None) -> None:
    # In the change's own transaction (auth.audit opens another and needs a request): both land or neither.
    session.add(audit_row(actor, action, target, None, detail))


# ---------------------------------------------------------------------------- users


def _blank(value: object) -> bool:
    return value is None or (isinstance(value, str) and not value.strip())


def _assignment(
    session: Session, role: Role, region_code: object, department: object, team: object
) -> tuple[str | None, int | None, int | None]:
    """A handler's department or team (exactly one, existing, within its region) and the region it
    gives when none is named; any other role names neither. Returns (region, department id, team id)."""
    if not is_assigned(role):
        if not _blank(department) or not _blank(team):
            raise AdminError("assignment", "assignment_not_handler", role=role.value)
        return None, None, None
    if _blank(department) == _blank(team):
        raise AdminError("assignment", "assignment_both" if not _blank(department) else "assignment_required")
    if not _blank(department):
        code = _text(department, "department", max_length=32)
        row = session.scalar(select(Department).where(Department.code == code))
        if row is None:
            raise AdminError("department", "department_unknown", code=code)
        field, department_id, team_id = "department", row.id, None
    else:
        code = _text(team, "team", max_length=64)
        row = team_by_code(session, code) if valid_team_code(code) else None
        if row is None:
            raise AdminError("team", "team_unknown", code=code)
        field, department_id, team_id = "team", None, row.id
    region = row.region_code if _blank(region_code) else _region(session, region_code)
    if not covers(region, row.region_code):
        raise AdminError(field, "assignment_outside", code=code, region=region)
    return region, department_id, team_id


def create_user(
    actor: str,
    username: object,
    display_name: object,
    role: object,
    region_code: object,
    password: object,
    department: object = None,
    team: object = None,
) -> UserView:
    """Create an account: an admin (the whole district; region ignored), a scoped role (an existing
    region), or a handler (one department's or team's, by code; its region by default)."""
    username = _text(username, "username")
    if not USERNAME_PATTERN.fullmatch(username):
        raise AdminError("username", "username_format")
    display_name = _text(display_name, "display_name", required=False) or username
    if not isinstance(role, str) or role not in {r.value for r in ACCOUNT_ROLES}:
        raise AdminError("role", "role", roles=", ".join(r.value for r in ACCOUNT_ROLES))
    role = Role(role)
    password = _password(password)
    with db.transaction() as session:
        region, department_id, team_id = _assignment(session, role, region_code, department, team)
        if is_scoped(role) and region is None:
            if _blank(region_code):
                raise AdminError("region", "region_required")
            region = _region(session, region_code)
        if session.scalar(select(User.id).where(User.username == username)) is not None:
            raise AdminError("username", "username_taken", username=username)
        user = User(
            username=username,
            display_name=display_name,
            password_hash=hash_password(password),
            role=role,
            region_code=region,
            department_id=department_id,
            team_id=team_id,
            active=True,
            failed_logins=0,
        )
        session.add(user)
        try:
            session.flush()
        except IntegrityError:
            # Another request took the name between our check and this insert.
            raise AdminError("username", "username_taken", username=username) from None
        detail = {"role": role.value, "region": region}
        if is_assigned(role):
            detail.update(department=department_id, team=team_id)
        _audit(session, actor, "user_create", f"user:{username}", detail)
        return user_view(user)


def set_user_active(actor: str, username: object, active: bool) -> UserView:
    """Deactivate (their sessions end at their next request) or reactivate a user; never oneself."""
    with db.transaction() as session:
        user = _user(session, username)
        if not active and user.username == actor:
            raise AdminError("user", "self_deactivate")
        if user.active != active:
            user.active = active
            _audit(session, actor, "user_reactivate" if active else "user_deactivate", f"user:{user.username}")
        session.flush()
        return user_view(user)


def unlock_user(actor: str, username: object) -> UserView:
    """Lift a lock-out and forget the counted failures."""
    with db.transaction() as session:
        user = _user(session, username)
        before = {"locked_until": user.locked_until.isoformat() if user.locked_until else None}
        before["failed_logins"] = user.failed_logins
        user.locked_until = None
        user.failed_logins = 0
        _audit(session, actor, "user_unlock", f"user:{user.username}", before)
        session.flush()
        return user_view(user)


def reset_password(actor: str, username: object, password: object) -> UserView:
    """Set a new password (hashed; the audit entry records that it changed, never what to)."""
    password = _password(password, "new_password")
    with db.transaction() as session:
        user = _user(session, username)
        user.password_hash = hash_password(password)
        user.failed_logins = 0
        user.locked_until = None
        _audit(session, actor, "user_password_reset", f"user:{user.username}")
        session.flush()
        return user_view(user)


def end_user_sessions(actor: str, username: object) -> UserView:
    """End every session of a user at once, on every web process (a lost laptop, a shared screen)."""
    with db.transaction() as session:
        user = _user(session, username)
        user.end_sessions()
        _audit(session, actor, "user_end_sessions", f"user:{user.username}")
        session.flush()
        return user_view(user)


# ---------------------------------------------------------------------------- wall tokens and API keys


def _unused_name(session: Session, model, value: object) -> str:
    """A credential name no active credential of the same kind holds (revoking goes by name)."""
    name = _text(value, "name")
    taken = session.scalar(select(model.id).where(model.name == name, model.revoked_at.is_(None)))
    if taken is not None:
        raise AdminError("name", "name_taken", name=name)
    return name


def create_wall_token(actor: str, name: object, region_code: object) -> tuple[CredentialView, str]:
    """A new wall token for a region and everything below it; returns it with the token, shown once."""
    token = new_wall_token()
    with db.transaction() as session:
        name = _unused_name(session, WallToken, name)
        region = _region(session, region_code)
        row = WallToken(name=name, token_hash=hash_token(token), region_code=region)
        session.add(row)
        session.flush()
        _audit(session, actor, "walltoken_create", f"walltoken:{row.id}:{name}", {"region": region})
        view = CredentialView(row.id, row.name, row.region_code, row.created_at, row.revoked_at)
    return view, token


def _key_region(session: Session, value: object) -> str | None:
    """A key's region: an existing region's code; nothing (or "all") is the whole database."""
    if value is None or (isinstance(value, str) and value.strip() in ("", UNBOUNDED)):
        return None
    return _region(session, value)


def _key_actions(value: object) -> str | None:
    """A key's actions as stored (domain.keys); nothing (or "all") is every action."""
    try:
        return actions_text(parse_actions(value))  # type: ignore[arg-type] - parse_actions refuses other types
    except KeyScopeError as error:
        if error.word is None:
            raise AdminError("actions", "actions_empty") from None
        known = ", ".join(action.value for action in KeyAction)
        raise AdminError("actions", "action_unknown", value=error.word, known=known) from None


def _key_scope(region_code: str | None, actions: str | None) -> dict:
    """A key's scope as the audit log records it (None: not narrowed)."""
    return {"region": region_code, "actions": actions}


def create_api_key(
    actor: str, name: object, channel: object, region_code: object = None, actions: object = None
) -> tuple[ApiKeyView, str]:
    """A new API key for a feed of one channel, limited to a region and to some actions when given
    (None: the whole database, every action); returns it with the key, shown once."""
    if not isinstance(channel, str) or channel not in {c.value for c in Channel}:
        raise AdminError("channel", "required" if not channel else "channel", value=str(channel)[:40])
    stored_actions = _key_actions(actions)
    key = new_api_key()
    with db.transaction() as session:
        name = _unused_name(session, ApiKey, name)
        region = _key_region(session, region_code)
        row = ApiKey(
            name=name, key_hash=hash_api_key(key), source=Channel(channel), region_code=region, actions=stored_actions
        )
        session.add(row)
        session.flush()
        detail = {"channel": channel, **_key_scope(region, stored_actions)}
        _audit(session, actor, "apikey_create", f"apikey:{row.id}:{name}", detail)
        view = api_key_view(row)
    return view, key


def set_api_key_scope(
    actor: str, name: object = None, key_id: object = None, region_code: object = KEEP, actions: object = KEEP
) -> list[ApiKeyView]:
    """Narrow or widen the active key with this id, or every active one with this name.

    region_code: an existing region (the key then reaches it and everything below it), None or
    "all" for the whole database, KEEP to leave it; actions likewise (domain.keys.KeyAction codes,
    a list or comma-separated). Each key whose scope changes gets an audit entry with its scope
    before and after, in the same transaction.
    """
    if key_id is None and name is None:
        raise AdminError("key", "required")
    if region_code is KEEP and actions is KEEP:
        raise AdminError("scope", "scope_unchanged")
    stored_actions = KEEP if actions is KEEP else _key_actions(actions)
    with db.transaction() as session:
        query = select(ApiKey).where(ApiKey.revoked_at.is_(None)).with_for_update()
        if key_id is not None:
            query = query.where(ApiKey.id == _id(key_id, "key"))
        else:
            query = query.where(ApiKey.name == _text(name, "name"))
        region = KEEP if region_code is KEEP else _key_region(session, region_code)
        rows = session.scalars(query.order_by(ApiKey.id)).all()
        if not rows:
            raise AdminError("key" if key_id is not None else "name", "no_active_key")
        for row in rows:
            before = _key_scope(row.region_code, row.actions)
            if region is not KEEP:
                row.region_code = region
            if stored_actions is not KEEP:
                row.actions = stored_actions
            after = _key_scope(row.region_code, row.actions)
            if after != before:
                _audit(
                    session, actor, "apikey_scope", f"apikey:{row.id}:{row.name}", {"before": before, "after": after}
                )
        session.flush()
        return [api_key_view(row) for row in rows]


def _revoke(actor: str, model, kind: str, field: str, name: object, credential_id: object) -> list[str]:
    """Revoke the active credentials with this id, or with this name; returns their names."""
    now = dt.datetime.now(dt.UTC)
    with db.transaction() as session:
        query = select(model).where(model.revoked_at.is_(None)).with_for_update()
        if credential_id is not None:
            query = query.where(model.id == _id(credential_id, field))
        else:
            query = query.where(model.name == _text(name, "name"))
        rows = session.scalars(query).all()
        if not rows:
            raise AdminError(field if credential_id is not None else "name", "nothing_to_revoke")
        for row in rows:
            row.revoked_at = now
            _audit(session, actor, f"{kind}_revoke", f"{kind}:{row.id}:{row.name}")
        return [row.name for row in rows]


def revoke_wall_tokens(actor: str, name: object = None, token_id: object = None) -> list[str]:
    """Revoke one wall token by id, or every active one with a name: its wall goes blank at its next resync."""
    return _revoke(actor, WallToken, "walltoken", "token", name, token_id)


def revoke_api_keys(actor: str, name: object = None, key_id: object = None) -> list[str]:
    """Revoke one API key by id, or every active one with a name: its next request is refused."""
    return _revoke(actor, ApiKey, "apikey", "key", name, key_id)


# ---------------------------------------------------------------------------- imports uploaded on /admin

# A region file's coordinates: "auto" follows its name (GCJ-02 when it contains "gcj02", else WGS-84),
# "wgs84" (CGCS2000 is the same to a map's precision) or the offset datum of Chinese web maps "gcj02".
CRS_CHOICES = ("auto", "wgs84", "gcj02")
MAX_FILE_NAME_LENGTH = 200
REGION_FILE_PREFIX = "regions"


def upload_limit(max_content_length: int) -> int:
    """The largest file an upload may carry: it travels base64-encoded (4 bytes per 3) in a request
    of at most CC_MAX_CONTENT_LENGTH bytes, with a little room for the rest of the callback's body."""
    return max(0, (max_content_length - 64 * 1024) * 3 // 4)


def upload_name(value: object) -> str:
    """An uploaded file's name: a plain name (no folder, not hidden), which decides its kind."""
    name = _text(value, "file", max_length=MAX_FILE_NAME_LENGTH)
    if any(c in name for c in "/\\\0") or name.startswith(".") or not name.isprintable():
        raise AdminError("file", "file_name", name=name[:80])
    return name


def upload_bytes(contents: object, max_bytes: int) -> bytes:
    """The file a dcc.Upload sends ("data:<type>;base64,<data>"), decoded; refused above max_bytes."""
    if not isinstance(contents, str) or not contents:
        raise AdminError("file", "required")
    head, _, data = contents.partition(",")
    if not head.startswith("data:") or not head.endswith(";base64"):
        raise AdminError("file", "invalid")
    if len(data) > (max_bytes // 3 + 1) * 4:
        raise AdminError("file", "file_too_large", max=_megabytes(max_bytes))
    try:
        raw = base64.b64decode(data, validate=True)
    except (binascii.Error, ValueError):
        raise AdminError("file", "invalid") from None
    if len(raw) > max_bytes:
        raise AdminError("file", "file_too_large", max=_megabytes(max_bytes))
    if not raw:
        raise AdminError("file", "file_empty")
    return raw


def _megabytes(size: int) -> str:
    return f"{size / 1_048_576:.1f}".rstrip("0").rstrip(".")


def import_upload(
    actor: str,
    ingestor,
    filename: object,
    contents: object,
    max_bytes: int,
    crs: object = "auto",
    archive_missing: bool = False,
) -> dict:
    """Import one uploaded file as the drop folder would (its name decides the kind), and audit it.

    Every file goes to services.ingest.dropfolder.ingest_file, which region files (regions*) pass
    on to the region importer with the coordinates' datum (crs: "auto", "wgs84" or "gcj02") and whether
    regions missing from the file are archived. The file is written to a temporary folder under its
    own name and removed afterwards. Returns the importer's report; a file that cannot be
    read at all is reported (file_error) and audited too.
    """
    name = upload_name(filename)
    if not isinstance(crs, str) or crs not in CRS_CHOICES:
        raise AdminError("crs", "invalid")
    data = upload_bytes(contents, max_bytes)
    source = f"upload:{name}"
    regions = name.lower().startswith(REGION_FILE_PREFIX)
    with tempfile.TemporaryDirectory(prefix="cc-upload-") as folder:
        path = Path(folder) / name
        path.write_bytes(data)
        # In this process (a web request: no reader process); a regions* file goes on to the region
        # importer with the coordinates' datum and archive_missing, and is audited there as actor too.
        region_options = {"crs": None if crs == "auto" else crs, "archive_missing": bool(archive_missing)}
        region_options = region_options if regions else {}
        report = ingest_file(ingestor, path, source=source, pipelined=False, actor=actor, **region_options)
    counts = {key: value for key, value in report.items() if isinstance(value, int) and not isinstance(value, bool)}
    detail = {"kind": report.get("kind"), "bytes": len(data), **counts}
    if regions:
        detail.update(crs=report.get("crs") or crs, archive_missing=bool(archive_missing))  # auto: as resolved
    if report.get("file_error"):
        detail["file_error"] = str(report["file_error"])[:500]
    with db.transaction() as session:
        _audit(session, actor, "import_upload", f"file:{name}", detail)
    return report


# ---------------------------------------------------------------------------- the working-day calendar's override file

MAX_CALENDAR_DATES = 366
MAX_CALENDAR_TEXT = 4000  # characters typed into one list of the form
_DATE_SEPARATORS = re.compile(r"[\s,，、;；]+")
_RANGE = re.compile(r"^(.+?)(?:\.\.|~|～|至)(.+)$")


def _calendar_date(text: str, field: str, year: int) -> dt.date:
    try:
        day = dt.date.fromisoformat(text.replace("/", "-"))
    except ValueError:
        raise AdminError(field, "date_format", value=text[:40]) from None
    if day.year != year:
        raise AdminError(field, "date_outside_year", value=day.isoformat(), year=year)
    return day


def calendar_dates(value: object, field: str, year: int) -> set[dt.date]:
    """Dates typed into the form: YYYY-MM-DD separated by spaces, commas or new lines, and ranges
    written A..B (or A~B, A至B); each must lie in year."""
    text = _text(value, field, required=False, max_length=MAX_CALENDAR_TEXT)
    days: set[dt.date] = set()
    for part in filter(None, _DATE_SEPARATORS.split(text)):
        found = _RANGE.match(part)
        if found:
            first = _calendar_date(found.group(1), field, year)
            last = _calendar_date(found.group(2), field, year)
            if last < first:
                raise AdminError(field, "date_range", value=part[:40])
            days.update(first + dt.timedelta(days=n) for n in range((last - first).days + 1))
        else:
            days.add(_calendar_date(part, field, year))
        if len(days) > MAX_CALENDAR_DATES:
            raise AdminError(field, "too_many_dates", max=MAX_CALENDAR_DATES)
    return days


def _header(path) -> str:
    """The comment lines at the top of the override file, kept when it is written again."""
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except FileNotFoundError:
        return ""
    header = []
    for line in lines:
        if line.strip() and not line.lstrip().startswith("#"):
            break
        header.append(line)
    return "\n".join(header).rstrip() + "\n" if any(line.strip() for line in header) else ""


def _toml_dates(days: set[dt.date]) -> str:
    items = [f'"{day.isoformat()}"' for day in sorted(days)]
    if len(items) <= 5:
        return "[" + ", ".join(items) + "]"
    rows = [", ".join(items[n : n + 5]) for n in range(0, len(items), 5)]
    return "[\n    " + ",\n    ".join(rows) + ",\n]"


def overrides_text(header: str, overrides: dict[int, tuple[set[dt.date], set[dt.date]]]) -> str:
    """The override file's text: its header comments, then one table per year."""
    parts = [header] if header else []
    for year in sorted(overrides):
        holidays, workdays = overrides[year]
        parts.append(f"[{year}]\nholidays = {_toml_dates(holidays)}\nworkdays = {_toml_dates(workdays)}\n")
    return "\n".join(parts)


def _write_atomically(path, text: str) -> None:
    """Replace path's content in one step (a temporary file beside it, synced, then renamed over it)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    mode = path.stat().st_mode & 0o777 if path.exists() else 0o644
    handle, temporary = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(handle, "w", encoding="utf-8") as file:
            file.write(text)
            file.flush()
            os.fsync(file.fileno())
        os.chmod(temporary, mode)
        os.replace(temporary, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(temporary)
        raise


@contextlib.contextmanager
def _folder_locked(folder: Path):
    """One writer of the override file at a time, across processes on this host (flock on its folder)."""
    try:
        folder.mkdir(parents=True, exist_ok=True)
        descriptor = os.open(folder, os.O_RDONLY)
    except OSError as exc:
        raise AdminError("calendar_file", "calendar_file_write", reason=str(exc)[:200]) from None
    try:
        fcntl.flock(descriptor, fcntl.LOCK_EX)
        yield
    finally:
        os.close(descriptor)


def save_calendar_year(actor: str, path, year: object, holidays: object, workdays: object) -> dict:
    """Enter a year's official holidays and make-up working days into the override file (path).

    Dates must lie in the year, and none may be both a holiday and a working day. Both lists empty
    removes the year from the file (the library or the Monday–Friday fallback applies again). The
    file is written atomically, with its header comments kept, and the change is audited in the
    same step; the caller reloads the calendar. Returns {"year", "action", "holidays", "workdays"}.
    """
    if isinstance(year, str) and year.strip().isdigit():
        year = int(year)
    if isinstance(year, bool) or not isinstance(year, int):
        raise AdminError("year", "required" if year in (None, "") else "invalid")
    if not FIRST_YEAR <= year <= LAST_YEAR:
        raise AdminError("year", "year_range", first=FIRST_YEAR, last=LAST_YEAR)
    days_off = calendar_dates(holidays, "holidays", year)
    days_on = calendar_dates(workdays, "workdays", year)
    both = sorted(days_off & days_on)
    if both:
        raise AdminError("workdays", "date_both", value=", ".join(day.isoformat() for day in both[:5]))
    path = Path(path)
    with _folder_locked(path.parent):
        try:
            overrides = load_overrides(path)
        except (OSError, ValueError) as exc:
            raise AdminError("calendar_file", "calendar_file", reason=str(exc)[:200]) from None
        before = overrides.get(year)
        if days_off or days_on:
            overrides[year] = (days_off, days_on)
            action = "calendar_save"
        elif before is not None:
            del overrides[year]
            action = "calendar_remove"
        else:
            raise AdminError("holidays", "calendar_empty")
        if before == overrides.get(year):
            raise AdminError("holidays", "calendar_unchanged", year=year)
        text = overrides_text(_header(path), overrides)
        with db.transaction() as session:
            detail = {
                "holidays": [day.isoformat() for day in sorted(days_off)],
                "workdays": [day.isoformat() for day in sorted(days_on)],
                "before": None
                if before is None
                else {
                    "holidays": sorted(d.isoformat() for d in before[0]),
                    "workdays": sorted(d.isoformat() for d in before[1]),
                },
            }
            _audit(session, actor, action, f"calendar:{year}", detail)
            session.flush()
            try:
                _write_atomically(path, text)  # last: a failure rolls the audit entry back
            except OSError as exc:  # the file or its folder is not writable by this process's user
                raise AdminError("calendar_file", "calendar_file_write", reason=str(exc)[:200]) from None
    return {"year": year, "action": action, "holidays": len(days_off), "workdays": len(days_on)}
