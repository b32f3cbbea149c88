"""One line per headline figure, so that `python -m bench` can gather every benchmark into one table.

A benchmark calls `figure(...)` for each number an issue asks for; the line it prints starts
with a marker the runner looks for in the benchmark's output.
"""

from __future__ import annotations

import json

MARKER = "@@figure "


def figure(
    issue: int,
    what: str,
    backend: str,
    value: float,
    unit: str,
    naive: float | None = None,
    target: str = "",
    met: bool | None = None,
) -> None:
    """Print one headline figure (and the naive approach's, measured in the same run)."""
    row = {"issue": issue, "what": what, "backend": backend, "value": value, "unit": unit, "naive": naive,
           "target": target, "met": met}  # fmt: skip
    print(MARKER + json.dumps(row, ensure_ascii=False), flush=True)


def parse(lines) -> list[dict]:
    """The figures among a benchmark's output lines."""
    return [json.loads(line[len(MARKER) :]) for line in lines if line.startswith(MARKER)]


def table(rows: list[dict]) -> str:
    """The figures as one Markdown table."""
    out = ["| issue | figure | backend | value | naive, same run | target | met |", "|---|---|---|---:|---:|---|---|"]
    for row in rows:
        naive = "" if row["naive"] is None else f"{row['naive']:,.0f} {row['unit']}"
        met = {True: "yes", False: "**no**", None: ""}[row["met"]]
        out.append(
            f"| #{row['issue']} | {row['what']} | {row['backend']} | {row['value']:,.0f} {row['unit']} | {naive} | "
            f"{row['target']} | {met} |"
        )
    return "\n".join(out)
