"""What a Dash callback accepts: the shape of the request body, and each input's type and range.

A browser running our pages only ever sends well-formed callback bodies; anything else is a
hand-made request. It is refused with 400 and a JSON reason (`{"error": ...}`), before it can
raise deep inside Dash or a query (a 500), or grow a per-key map without bound.

- `init_app(server)` wraps Dash's callback view: after every before_request (the permission
  guard decides first), the body must have the shape the renderer sends for the callback it
  names (see `check_body`); then Dash dispatches it. `CallbackInputError` anywhere in a callback
  becomes the JSON 400.
- The helpers below (`language`, `region_code`, `token`, `number`, `integer`, `text`, …) check one
  input each; the callbacks call them before using a value, and raise through `refuse`.

Only malformed input is turned into a 400: an exception from our own code on valid input is
still a 500, so genuine bugs stay visible.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from functools import wraps
from typing import Any, NoReturn
from urllib.parse import parse_qs

from flask import Flask, current_app, jsonify, request
from werkzeug.exceptions import BadRequest

from dashboard.domain.regions import level_of
from dashboard.ui.i18n import normalise_language

# Bounds on what a page of ours sends; a real value is far below each.
MAX_LANGUAGE_LENGTH = 35  # the longest language tag in common use (BCP 47)
MAX_TOKEN_LENGTH = 256  # wall tokens are 43 characters
MAX_TEXT_LENGTH = 1000  # a typed search or purpose (the fields cut it far shorter)
MAX_SEARCH_LENGTH = 4096  # a URL's query string
MAX_PATHNAME_LENGTH = 2048
MAX_LIST_ITEMS = 100
MAX_ROW = 2**31 - 1  # a grid row index the database's integers can hold
MAX_ID = 2**63 - 1
# Dash's pages router (dash.page_container): its output and the inputs it reads.
PAGES_ROUTER_OUTPUT = ".._pages_content.children..._pages_store.data.."


class CallbackInputError(BadRequest):
    """A callback body or input that no page of ours sends; description says which and why."""


def refuse(reason: str) -> NoReturn:
    """Refuse this callback request with 400 and reason."""
    raise CallbackInputError(description=reason)


def _kind(value: object) -> str:
    return "null" if value is None else type(value).__name__


# ---------------------------------------------------------------------------- one input each


def mapping(value: object, field: str) -> dict | None:
    """None, or a JSON object."""
    if value is None or isinstance(value, dict):
        return value
    refuse(f"{field}: expected an object, got {_kind(value)}")


def text(value: object, field: str, max_length: int = MAX_TEXT_LENGTH) -> str | None:
    """None, or a string of at most max_length characters."""
    if value is None:
        return None
    if not isinstance(value, str):
        refuse(f"{field}: expected a string, got {_kind(value)}")
    if len(value) > max_length:
        refuse(f"{field}: at most {max_length} characters")
    return value


def language(value: object, field: str = "lang") -> str:
    """A language as the pages use it ("zh" or "en"): None or a short language tag, normalised."""
    return normalise_language(text(value, field, MAX_LANGUAGE_LENGTH))


def region_code(value: object, field: str = "region", *, optional: bool = False) -> str | None:
    """A region code of 6, 9, 12 or 15 digits (None or "" too when optional)."""
    if optional and value in (None, ""):
        return None
    code = text(value, field, 15)
    try:
        level_of(code if code is not None else "")
    except ValueError as exc:
        refuse(f"{field}: {exc}")
    return code


def token(value: object, field: str = "token") -> str | None:
    """A wall token as sent by the wall (None or "" for none), bounded in length."""
    return text(value, field, MAX_TOKEN_LENGTH) or None


def number(value: object, field: str, *, default: float) -> float:
    """None (the default), or a finite number."""
    if value is None:
        return default
    if isinstance(value, bool) or not isinstance(value, int | float):
        refuse(f"{field}: expected a number, got {_kind(value)}")
    try:
        result = float(value)
    except OverflowError:
        refuse(f"{field}: out of range")
    if not math.isfinite(result):
        refuse(f"{field}: expected a finite number")
    return result


def integer(value: object, field: str, *, default: int | None = None, low: int = 0, high: int = MAX_ID) -> int | None:
    """None (the default), or a whole number in [low, high]."""
    if value is None:
        return default
    if isinstance(value, bool) or not isinstance(value, int):
        refuse(f"{field}: expected a whole number, got {_kind(value)}")
    if not low <= value <= high:
        refuse(f"{field}: must lie between {low} and {high}")
    return value


def clicks(value: object, field: str) -> int | None:
    """A button's n_clicks: None or a count."""
    return integer(value, field)


def strings(value: object, field: str, *, max_items: int = MAX_LIST_ITEMS, max_length: int = 100) -> list[str]:
    """None (no items), one string, or a list of short strings (a multi-select's or checklist's value)."""
    if value is None:
        return []
    items = [value] if isinstance(value, str) else value
    if not isinstance(items, list):
        refuse(f"{field}: expected a list of strings, got {_kind(value)}")
    if len(items) > max_items:
        refuse(f"{field}: at most {max_items} items")
    for item in items:
        if not isinstance(item, str) or len(item) > max_length:
            refuse(f"{field}: each item must be a string of at most {max_length} characters")
    return items


def query_value(value: object, field: str) -> str | None:
    """One value of a page's URL query (None when absent); a repeated parameter is refused."""
    return text(value, field, MAX_SEARCH_LENGTH)


# ---------------------------------------------------------------------------- the body's shape


def _prop_id(item: dict) -> str:
    return f"{item['id']}.{item['property']}"


def _plain(dependency: dict) -> bool:
    """Whether a registered dependency has a plain string id (not a pattern-matching one)."""
    return isinstance(dependency.get("id"), str) and not dependency["id"].startswith("{")


def _check_item(item: object, field: str) -> dict:
    if not isinstance(item, dict):
        refuse(f"{field}: expected an object with id and property, got {_kind(item)}")
    if not isinstance(item.get("property"), str) or not isinstance(item.get("id"), str | dict):
        refuse(f"{field}: needs an id (string or object) and a property (string)")
    return item


def _check_dependencies(items: object, registered: list[dict], field: str) -> None:
    """inputs or state: one item per registered dependency, in order, naming the same id and property."""
    if not isinstance(items, list):
        refuse(f"{field}: expected a list, got {_kind(items)}")
    if len(items) != len(registered):
        refuse(f"{field}: this callback takes {len(registered)} item(s), got {len(items)}")
    for position, (item, expected) in enumerate(zip(items, registered, strict=True)):
        where = f"{field}[{position}]"
        if not _plain(expected):  # pattern-matching: one item or a list of them
            for each in item if isinstance(item, list) else [item]:
                _check_item(each, where)
            continue
        _check_item(item, where)
        if item["id"] != expected["id"] or item["property"] != expected["property"]:
            refuse(f"{where}: expected {_prop_id(expected)}")


def _registered_outputs(output: str) -> list[dict]:
    parts = output[2:-2].split("...") if output.startswith("..") else [output]
    return [{"id": part.rsplit(".", 1)[0], "property": part.rsplit(".", 1)[-1].split("@")[0]} for part in parts]


def _check_outputs(outputs: object, output: str) -> None:
    registered = _registered_outputs(output)
    if output.startswith(".."):
        if not isinstance(outputs, list) or len(outputs) != len(registered):
            refuse(f"outputs: expected a list of {len(registered)} output(s), as named by output")
    else:
        outputs = [outputs]
    for position, (item, expected) in enumerate(zip(outputs, registered, strict=True)):
        if not _plain(expected):
            continue
        _check_item(item, f"outputs[{position}]")
        if item["id"] != expected["id"] or item["property"].split("@")[0] != expected["property"]:
            refuse(f"outputs[{position}]: expected {_prop_id(expected)}")


def _check_router(inputs: list[dict], pathname_prefix: str) -> None:
    """The pages router: a pathname under the app's prefix, and a query string naming each parameter once."""
    values = {item["property"]: item.get("value") for item in inputs}
    pathname = values.get("pathname")
    if not isinstance(pathname, str):
        refuse(f"pathname: expected a string, got {_kind(pathname)}")
    text(pathname, "pathname", MAX_PATHNAME_LENGTH)
    if not pathname.startswith(pathname_prefix.rstrip("/") or "/"):
        refuse(f"pathname: must start with {pathname_prefix}")
    search = text(values.get("search"), "search", MAX_SEARCH_LENGTH) or ""
    if search.startswith("?"):
        for name, found in parse_qs(search[1:], keep_blank_values=True).items():
            if len(found) > 1:
                refuse(f"search: the parameter {name!r} is given {len(found)} times")


def check_body(body: object, callback_map: dict, pathname_prefix: str = "/") -> None:
    """Refuse (400) a body that is not what the renderer sends for the callback its output names.

    body must be an object with "output" (a string naming a server callback), "outputs" (one
    {id, property} per output, a list for a multi-output callback), "inputs" and, when the
    callback reads state, "state" (lists with one {id, property, value} per registered
    dependency, in order), and optionally "changedPropIds" (the ids of inputs, "id.property").
    pathname_prefix: the app's requests_pathname_prefix, under which the pages router's paths lie.
    """
    if not isinstance(body, dict):
        refuse(f"the body must be a JSON object, got {_kind(body)}")
    output = body.get("output")
    if not isinstance(output, str):
        refuse(f"output: expected a string, got {_kind(output)}")
    spec = callback_map.get(output)
    if spec is None or spec.get("callback") is None:
        refuse("output: no server callback writes it")
    if "outputs" not in body:
        refuse("outputs: missing")
    _check_outputs(body["outputs"], output)
    if "inputs" not in body:
        refuse("inputs: missing")
    _check_dependencies(body["inputs"], spec["inputs"], "inputs")
    if spec["state"] or "state" in body:
        _check_dependencies(body.get("state"), spec["state"], "state")
    changed = body.get("changedPropIds", [])
    if not isinstance(changed, list) or len(changed) > len(spec["inputs"]):
        refuse(f"changedPropIds: expected a list of at most {len(spec['inputs'])} input id(s)")
    plain = all(_plain(dependency) for dependency in spec["inputs"])
    known = {_prop_id(dependency) for dependency in spec["inputs"]}
    for prop_id in changed:
        if not isinstance(prop_id, str) or (plain and prop_id not in known):
            refuse(f"changedPropIds: {str(prop_id)[:100]!r} is not an input of this callback")
    if output == PAGES_ROUTER_OUTPUT:
        _check_router(body["inputs"], pathname_prefix)


# ---------------------------------------------------------------------------- wiring


def _refused(error: CallbackInputError):
    return jsonify(error=error.description), 400


def _checked(dispatch: Callable[..., Any]) -> Callable[..., Any]:
    """Dash's callback view, after a check of the body's shape."""

    @wraps(dispatch)
    def view(*args, **kwargs):
        body = request.get_json()  # invalid JSON: Flask's 400
        dash_app = current_app.extensions["dash"]
        check_body(body, dash_app.callback_map, dash_app.config.requests_pathname_prefix)
        return dispatch(*args, **kwargs)

    return view


def init_app(server: Flask) -> None:
    """Check callback bodies before Dash dispatches them, and answer CallbackInputError with a JSON 400."""
    dash_app = server.extensions["dash"]
    endpoint = dash_app.config.routes_pathname_prefix + "_dash-update-component"
    # The view itself, not a before_request: it runs after every before_request, so the
    # permission guard (auth.enforce) answers first, whatever the order they are installed in.
    server.view_functions[endpoint] = _checked(server.view_functions[endpoint])
    server.register_error_handler(CallbackInputError, _refused)
