"""The time-left rule's browser twin (dashboard/ui/assets/timeleft.js) agrees with the Python rule on the
boundaries pinned in tests/test_timeleft.py, with the words the server hands it (data-cc-timeleft)."""

from __future__ import annotations

import html
import json

import pytest

from dashboard import ASSETS_DIR
from dashboard.ui.timeleft import words_json
from tests.test_timeleft import CASES

pytestmark = pytest.mark.browser


@pytest.mark.parametrize("lang", ["zh", "en"])
def test_the_twin_agrees(page, lang):
    page.set_content(f'<div data-cc-timeleft="{html.escape(words_json(lang))}"></div>')
    page.add_script_tag(content=(ASSETS_DIR / "timeleft.js").read_text(encoding="utf-8"))
    cases = [[seconds, is_open] for seconds, is_open, *_ in CASES]
    got = page.evaluate(
        "cases => cases.map(([s, o]) => [window.ccTimeLeft.urgency(s, o), window.ccTimeLeft.text(s)])", cases
    )
    expected = [[colour, zh if lang == "zh" else en] for _, _, colour, zh, en in CASES]
    assert got == expected, json.dumps(got, ensure_ascii=False)
    assert page.evaluate("window.ccTimeLeft.urgency(null, true)") == "ok"
