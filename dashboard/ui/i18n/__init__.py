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


# A Chinese place word at the end of a name, and its English (簇桥街道 → Cuqiao Street).
PLACE_SUFFIXES = (
    ("街道", "Street"),
    ("社区", "Community"),
    ("小区", "Compound"),
    ("县", "County"),
    ("区", "District"),
    ("市", "City"),
    ("镇", "Town"),
    ("乡", "Township"),
    ("村", "Village"),
)


def romanized(name: str) -> str:
    """A Chinese name in pinyin, capitalised, its place word in English: 龙井社区 → "Longjing Community",
    锦城花园 → "Jincheng Huayuan", 城管局 → "Chengguanju". Text that is not Chinese stays as it is."""
    from pypinyin import lazy_pinyin

    if not any("\u4e00" <= ch <= "\u9fff" for ch in name):
        return name
    suffix = ""
    for chinese, english in PLACE_SUFFIXES:
        if name.endswith(chinese) and len(name) > len(chinese):
            name, suffix = name[: -len(chinese)], english
            break
    syllables = [s for s in lazy_pinyin(name) if s.strip()]
    # Chinese names are mostly two-character words: 锦城花园 → "Jincheng Huayuan".
    pairs = ["".join(syllables[i : i + 2]) for i in range(0, len(syllables), 2)]
    if len(pairs) > 1 and len(pairs[-1]) and len(syllables) % 2:
        pairs[-2:] = [pairs[-2] + pairs[-1]]
    words = " ".join(p[:1].upper() + p[1:] for p in pairs)
    return f"{words} {suffix}".strip()


def localized(name: str, name_en: str | None, lang: str) -> str:
    """A region's or department's name in lang: the English one where asked for and known, in English
    without one its pinyin (romanized), else the Chinese."""
    if lang != "en":
        return name
    return name_en or romanized(name)


def chinese_aliases(enum_cls: type[StrEnum]) -> dict[str, StrEnum]:
    """Chinese labels (and known synonyms) that name each member, for importing data."""
    aliases = {zh.STRINGS[f"{enum_cls.__name__}.{m.value}"]: m for m in enum_cls}
    for text, code in zh.SYNONYMS.get(enum_cls.__name__, {}).items():
        aliases[text] = enum_cls(code)
    return aliases
