"""Where the population numbers come from, in words: resident records, aggregates as of a date, or both."""

from __future__ import annotations

from dashboard.ui.i18n import t


def source_note(population: dict, lang: str) -> str:
    """E.g. "其中 7 个小区按汇总数，截至 2026-11-01"; "" when nothing is counted.

    population is the view model of queries.wall.population (its "source" part).
    """
    source = population.get("source") or {}
    kind = source.get("kind")
    if kind == "records":
        return t("population.source_records", lang)
    if kind not in ("aggregates", "mixed"):
        return ""
    oldest, newest = source["as_of_oldest"].isoformat(), source["as_of_newest"].isoformat()
    as_of = oldest if oldest == newest else t("population.as_of_range", lang, oldest=oldest, newest=newest)
    if kind == "aggregates":
        return t("population.source_aggregates", lang, as_of=as_of)
    return t("population.source_mixed", lang, count=source["aggregate_compounds"], as_of=as_of)
