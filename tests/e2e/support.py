"""A real server in a subprocess and headless Debian Chromium, for tests and screenshots."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import requests

from dashboard.config import ROOT

CHROMIUM = os.environ.get("CC_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_FLAGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
DEMO_END = "2026-11-20T12:00:00+08:00"


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class LiveServer:
    """`python app.py serve` in a subprocess; can be stopped and started again on the same port."""

    def __init__(self, workdir: Path, port: int | None = None) -> None:
        self.port = port or _free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log = workdir / "server.log"
        self.env = {
            **os.environ,
            "CC_DATABASE_URL": f"sqlite:///{workdir / 'e2e.db'}",
            "CC_SECRET_KEY": "e2e-secret",
            "CC_DEMO_MODE": "1",
            "CC_EXPORT_DIR": str(workdir / "exports"),
            "PYTHONUNBUFFERED": "1",
        }
        self.process: subprocess.Popen | None = None
        # How the server is started: `python app.py serve …` (a subclass may run another entry point).
        self.serve_command = [sys.executable, "app.py", "serve"]

    def cli(self, *args: str) -> str:
        result = subprocess.run(
            [sys.executable, "app.py", *args], cwd=ROOT, env=self.env, capture_output=True, text=True, timeout=300
        )
        if result.returncode != 0:
            raise RuntimeError(f"app.py {' '.join(args)} failed:\n{result.stdout}\n{result.stderr}")
        return result.stdout

    def start(self) -> None:
        handle = self.log.open("a")
        self.process = subprocess.Popen(
            [*self.serve_command, "--port", str(self.port)],
            cwd=ROOT,
            env=self.env,
            stdout=handle,
            stderr=subprocess.STDOUT,
        )
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"server exited: {self.log.read_text()[-3000:]}")
            try:
                if requests.get(f"{self.url}/healthz", timeout=1).status_code == 200:
                    return
            except requests.RequestException:
                pass
            time.sleep(0.2)
        raise RuntimeError(f"server did not answer /healthz: {self.log.read_text()[-3000:]}")

    def stop(self) -> None:
        if self.process and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()


def launch_chromium(playwright):
    """Debian's Chromium, headless, with the flags this closed network needs."""
    return playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_FLAGS, headless=True)
