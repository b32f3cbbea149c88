"""`pip install .` (issue 21): the wheel holds every package, the data and the migrations, and its
`command-center` command migrates, generates demo data and serves, away from the checkout."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import tomllib
import zipfile
from pathlib import Path

import pytest
import requests

ROOT = Path(__file__).resolve().parent.parent
# The wheel is built in the checkout (build/, *.egg-info): one xdist worker runs these.
pytestmark = pytest.mark.xdist_group("packaging")
BUNDLED = {"dashboard._data": "data", "dashboard._migrations": "migrations"}


def _tree_packages() -> set[str]:
    found = set()
    for top in ("dashboard", "layouts", "callbacks"):
        for init in (ROOT / top).rglob("__init__.py"):
            found.add(".".join(init.parent.relative_to(ROOT).parts))
    return found


def test_pyproject_lists_every_package_of_the_tree():
    """A new sub-package must be added to pyproject.toml's list, or the wheel would lack it."""
    listed = set(tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]["packages"])
    assert listed - set(BUNDLED) == _tree_packages()
    assert set(BUNDLED) <= listed


@pytest.fixture(scope="module")
def wheel(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("dist")
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--quiet", "--no-deps", "--no-build-isolation", "--wheel-dir", out, "."],
        cwd=ROOT,
        check=True,
        timeout=300,
    )
    for leftover in ("build", "community_governance_command_center.egg-info"):
        subprocess.run(["rm", "-rf", ROOT / leftover], check=False)
    (built,) = out.glob("*.whl")
    return built


def test_wheel_carries_data_migrations_assets_and_the_command(wheel):
    names = set(zipfile.ZipFile(wheel).namelist())
    for path in (ROOT / "data").rglob("*"):
        if path.is_file():
            assert f"dashboard/_data/{path.relative_to(ROOT / 'data').as_posix()}" in names
    for path in (ROOT / "migrations" / "versions").glob("*.py"):
        assert f"dashboard/_migrations/versions/{path.name}" in names
    for path in (ROOT / "dashboard" / "ui" / "assets").iterdir():
        assert f"dashboard/ui/assets/{path.name}" in names
    entry_points = next(name for name in names if name.endswith("entry_points.txt"))
    assert "command-center = dashboard.cli:cli" in zipfile.ZipFile(wheel).read(entry_points).decode()


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def test_installed_command_runs_away_from_the_checkout(wheel, tmp_path):
    """Installed into its own folder, `command-center` works from another directory: migrate, demo, serve."""
    target = tmp_path / "site"
    subprocess.run(
        [sys.executable, "-m", "pip", "install", "--quiet", "--no-deps", "--target", target, wheel],
        check=True,
        timeout=300,
    )
    command = target / "bin" / "command-center"
    workdir = tmp_path / "center"
    workdir.mkdir()
    # The dependencies come from this interpreter's environment; the product only from `target`.
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith("CC_")},
        "PYTHONPATH": str(target),
        "CC_DEMO_MODE": "1",
    }

    def run(*args: str) -> str:
        result = subprocess.run(
            [command, *args], cwd=workdir, env=env, capture_output=True, text=True, timeout=300, check=False
        )
        assert result.returncode == 0, f"command-center {' '.join(args)}:\n{result.stdout}\n{result.stderr}"
        return result.stdout

    where = subprocess.run(
        [sys.executable, "-c", "import dashboard, sys; print(dashboard.__file__)"],
        cwd=workdir,
        env=env,
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    assert where.startswith(str(target)), where
    assert "serve" in run("--help")
    run("demo", "--scale", "tiny")
    assert (workdir / "instance" / "command_center.db").is_file()  # ./instance of the directory it runs in

    port = _free_port()
    server = subprocess.Popen(
        [command, "serve", "--port", str(port)],
        cwd=workdir,
        env={**env, "CC_SIMULATOR_RATE": "0"},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 90
        while True:
            assert server.poll() is None, "the installed server exited"
            try:
                if requests.get(f"http://127.0.0.1:{port}/healthz", timeout=1).status_code == 200:
                    break
            except requests.RequestException:
                pass
            assert time.monotonic() < deadline, "the installed server did not answer /healthz"
            time.sleep(0.2)
        assert requests.get(f"http://127.0.0.1:{port}/wall", timeout=10).status_code == 200
        assert requests.get(f"http://127.0.0.1:{port}/assets/wall.js", timeout=10).status_code == 200
    finally:
        server.terminate()
        server.wait(timeout=20)
