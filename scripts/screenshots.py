"""Take the README's wall screenshots: street demo data, a fixed instant, two wall sizes."""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path

from playwright.sync_api import sync_playwright

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from dashboard.config import ROOT
from tests.e2e.support import LiveServer, launch_chromium

SIZES = [(1920, 1080, "zh"), (3840, 2160, "zh"), (7680, 2160, "zh"), (1920, 1080, "en")]
OUT = ROOT / "docs" / "screenshots"


def main() -> None:
    """Start a server on fresh street-scale demo data and photograph /wall at each size."""
    OUT.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as workdir:
        server = LiveServer(Path(workdir))
        print(server.cli("demo", "--scale", "street"))
        server.start()
        try:
            with sync_playwright() as playwright:
                browser = launch_chromium(playwright)
                for width, height, lang in SIZES:
                    page = browser.new_page(viewport={"width": width, "height": height})
                    page.goto(f"{server.url}/wall" + ("?lang=en" if lang == "en" else ""))
                    page.wait_for_selector(".wall-connection:not(.offline)", timeout=20_000)
                    page.wait_for_timeout(1500)
                    path = OUT / f"wall-{width}x{height}{'' if lang == 'zh' else '-' + lang}.png"
                    page.screenshot(path=str(path))
                    print(f"wrote {path.relative_to(ROOT)}")
                    page.close()
                browser.close()
        finally:
            server.stop()


if __name__ == "__main__":
    main()
