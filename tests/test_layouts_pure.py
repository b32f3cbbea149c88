"""Layouts only render view models: no module under layouts/ reads the database or the request itself.

The import-linter contracts (pyproject.toml) say the same for the whole import graph; this test
reads each layout's own import statements, so it runs without import-linter installed.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

LAYOUTS = sorted((Path(__file__).resolve().parents[1] / "layouts").glob("*.py"))
FORBIDDEN = (
    "sqlalchemy",
    "flask",
    "callbacks",
    "dashboard.store",
    "dashboard.queries",
    "dashboard.services",
    "dashboard.web",
    "dashboard.jobs",
)
ALLOWED_DASHBOARD = ("dashboard.ui", "dashboard.domain")


def _type_checking_block(node: ast.AST) -> bool:
    test = getattr(node, "test", None)
    return isinstance(node, ast.If) and (
        (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING")
        or (isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING")
    )


def runtime_imports(path: Path) -> list[str]:
    """The modules a file imports when it runs (anywhere, functions included; not under `if TYPE_CHECKING:`)."""
    found: list[str] = []

    def visit(node: ast.AST) -> None:
        if _type_checking_block(node):
            for child in node.orelse:
                visit(child)
            return
        if isinstance(node, ast.Import):
            found.extend(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            found.append(node.module)
            found.extend(f"{node.module}.{alias.name}" for alias in node.names)
        for child in ast.iter_child_nodes(node):
            visit(child)

    visit(ast.parse(path.read_text(encoding="utf-8"), filename=str(path)))
    return found


def _within(module: str, package: str) -> bool:
    return module == package or module.startswith(package + ".")


def test_there_are_layouts_to_check():
    assert {p.stem for p in LAYOUTS} >= {"home", "wall", "drill", "appeal", "admin", "exports", "console"}


@pytest.mark.parametrize("path", LAYOUTS, ids=lambda p: p.stem)
def test_a_layout_imports_no_database_query_service_or_request_code(path):
    imports = runtime_imports(path)
    bad = [m for m in imports if any(_within(m, f) for f in FORBIDDEN)]
    assert not bad, f"layouts/{path.name} imports {bad}"
    dashboard = [m for m in imports if _within(m, "dashboard")]
    stray = [m for m in dashboard if m != "dashboard" and not any(_within(m, a) for a in ALLOWED_DASHBOARD)]
    assert not stray, f"layouts/{path.name} may import only dashboard.ui and dashboard.domain, not {stray}"


@pytest.mark.parametrize("path", LAYOUTS, ids=lambda p: p.stem)
def test_a_layout_asks_nobody_for_the_request_or_a_session(path):
    tree = ast.parse(path.read_text(encoding="utf-8"))
    names = {n.id for n in ast.walk(tree) if isinstance(n, ast.Name)}
    attributes = {n.attr for n in ast.walk(tree) if isinstance(n, ast.Attribute)}
    assert not names & {"current_app", "current_principal", "db", "Session"}, path.name
    assert not attributes & {"current_app", "current_principal", "session"}, path.name


def test_the_checker_sees_imports_inside_functions_but_not_type_only_ones(tmp_path):
    sample = tmp_path / "sample.py"
    sample.write_text(
        "from typing import TYPE_CHECKING\n"
        "if TYPE_CHECKING:\n    from dashboard.queries.wall import WallView\n"
        "def f():\n    from dashboard.store.database import db\n",
        encoding="utf-8",
    )
    imports = runtime_imports(sample)
    assert "dashboard.store.database" in imports and "dashboard.queries.wall" not in imports
