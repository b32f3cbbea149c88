"""UI strings: one module per language (zh is the default); enum labels included."""

from __future__ import annotations

from enum import StrEnum

from dashboard.ui.i18n import en, zh

LANGUAGES = {"zh": zh.STRINGS, "en": en.STRINGS}
DEFAULT_LANGUAGE = "zh"


def normalise_language(lang: str | None) -> str:
    """Map a ?lang= value to a supported language code."""
    if not lang:
        return DEFAULT_LANGUAGE
    lang = lang.lower()
    if lang.startswith("en"):
        return "en"
    return DEFAULT_LANGUAGE


def t(key: str, lang: str = DEFAULT_LANGUAGE, **values) -> str:
    """The string for key in lang; a missing key is a bug and raises."""
    text = LANGUAGES[normalise_language(lang)][key]
    return text.format(**values) if values else text


def label(member: StrEnum, lang: str = DEFAULT_LANGUAGE) -> str:
    """The display label of an enum member, e.g. Priority.URGENT → 加急."""
    return t(f"{type(member).__name__}.{member.value}", lang)


def localized(name: str, name_en: str | None, lang: str) -> str:
    """A region's or department's name in lang: the English one where asked for and known, else the Chinese."""
    return name_en if lang == "en" and name_en else name


def chinese_aliases(enum_cls: type[StrEnum]) -> dict[str, StrEnum]:
    """Chinese labels (and known synonyms) that name each member, for importing data."""
    aliases = {zh.STRINGS[f"{enum_cls.__name__}.{m.value}"]: m for m in enum_cls}
    for text, code in zh.SYNONYMS.get(enum_cls.__name__, {}).items():
        aliases[text] = enum_cls(code)
    return aliases
