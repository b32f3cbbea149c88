"""Free-text masking against numbers written every which way (issue 18, finding 1).

Mobile, ID and landline numbers are generated, written with random separators between random
digits (zero-width characters and a space between every digit included), each digit in a random
script (ASCII, full-width, Chinese, financial Chinese), with a random +86 prefix, inside random
text. After masking, the digits of the output, read the same way, must not hold the number nor any
seven consecutive digits of it. Ordinary text with short numbers must come back unchanged.
"""

from __future__ import annotations

import datetime as dt
import unicodedata

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from dashboard.domain.pii import id_check_char, mask_address, mask_free_text, mask_phone

PROPERTY = settings(max_examples=300, deadline=None)

SCRIPTS = {
    "ascii": "0123456789",
    "full-width": "０１２３４５６７８９",
    "chinese": "〇一二三四五六七八九",
    "financial": "零壹贰叁肆伍陆柒捌玖",
}
SPOKEN = {"0": "零", "1": "幺", "2": "两"}  # 零 for 〇, 幺 and 两 as phone numbers are read out
READ_AS = {glyph: str(value) for digits in SCRIPTS.values() for value, glyph in enumerate(digits)}
READ_AS |= {glyph: digit for digit, glyph in SPOKEN.items()}
SEPARATORS = [
    " ", "-", ".", "_", "/", "\\", "(", ")", "[", "]", "（", "）", "【", "】", "·", ",", "，", "、", ":", "：",
    "\u200b", "\u200c", "\u200d", "\u2060", "\ufeff", "\u00a0", "\u3000", "\t", " - ", "－", "—", "．",
]  # fmt: skip
EVERY_DIGIT = [" ", "\u200b", "\u00a0", "\u3000", "\ufeff"]
# Text around a number: no digit of any script, no currency (1,234,567元 is an amount), no X (an
# ID number's check character).
WORDS = "居民反映小区楼道电梯噪音物业社区请联系电话身份证号码门牌栋单元室路街道先生女士您好谢谢处理尽快时间地址的了在是"
LETTERS = "abcdefghijklmnopqrstuvwyzABCDEFGHIJKLMNOPQRSTUVWYZ"
context = st.text(alphabet=WORDS + LETTERS + "，。：；！？ ", max_size=20)


def read_digits(text: str) -> str:
    """Text as the masking rule reads it: every digit as ASCII, separators dropped, "*" and words kept."""
    out = []
    for char in text:
        if char in READ_AS:
            out.append(READ_AS[char])
        elif unicodedata.digit(char, None) is not None:
            out.append(str(unicodedata.digit(char)))
        elif char != "*" and unicodedata.category(char)[0] in "ZPCM":
            continue  # spaces, punctuation, invisible and combining characters
        else:
            out.append("X" if char in "xXＸｘ" else char)
    return "".join(out)


def assert_hidden(number: str, masked: str) -> None:
    seen = read_digits(masked)
    assert number not in seen, (number, masked)
    for start in range(len(number) - 6):
        assert number[start : start + 7] not in seen, (number, masked, number[start : start + 7])
    assert "*" in masked


@st.composite
def glyph(draw, digit: str) -> str:
    if digit == "X":
        return draw(st.sampled_from("XxＸｘ"))
    choices = [script[int(digit)] for script in SCRIPTS.values()] + ([SPOKEN[digit]] if digit in SPOKEN else [])
    return draw(st.sampled_from(choices))


@st.composite
def written(draw, number: str) -> str:
    """The number with each digit in a random script and random separators between random digits."""
    style = draw(st.sampled_from(["random", "every digit", "unbroken"]))
    parts = []
    for index, digit in enumerate(number):
        if index and style == "every digit":
            parts.append(draw(st.sampled_from(EVERY_DIGIT)))
        elif index and style == "random" and draw(st.booleans()):
            parts.append("".join(draw(st.lists(st.sampled_from(SEPARATORS), min_size=1, max_size=3))))
        parts.append(draw(glyph(digit)))
    return "".join(parts)


mobiles = st.builds(
    lambda second, rest: "1" + second + rest,
    st.sampled_from("3456789"),
    st.text(alphabet="0123456789", min_size=9, max_size=9),
)


@st.composite
def id_numbers(draw) -> str:
    area = draw(st.sampled_from("12345678")) + draw(st.text(alphabet="0123456789", min_size=5, max_size=5))
    born = draw(st.dates(dt.date(1930, 1, 1), dt.date(2020, 12, 31))).strftime("%Y%m%d")
    first17 = area + born + draw(st.text(alphabet="0123456789", min_size=3, max_size=3))
    check = draw(st.one_of(st.just(id_check_char(first17)), st.sampled_from("0123456789X")))
    return first17 + check


@st.composite
def landlines(draw) -> str:
    area = draw(st.sampled_from(["", "010", "020", "021", "028", "0755", "0571", "0851", "0931"]))
    # Without an area code the number starts with 3 to 8: 2026-11-30 standing alone is a date.
    first = draw(st.sampled_from("2345678" if area else "345678"))
    return area + first + draw(st.text(alphabet="0123456789", min_size=6, max_size=7))


@PROPERTY
@given(mobiles, st.data(), context, context)
def test_a_mobile_is_masked_however_it_is_written(number, data, before, after):
    prefix = data.draw(st.sampled_from(["", "", "+86", "+86 ", "0086", "0086-", "86", "(+86)", "＋８６ "]))
    masked = mask_free_text(before + prefix + data.draw(written(number)) + after)
    assert_hidden(number, masked)
    assert masked.startswith(before) and masked.endswith(after)
    assert number[:3] + "****" + number[-4:] in masked  # the mask format of mask_phone


@PROPERTY
@given(id_numbers(), st.data(), context, context)
def test_an_id_number_is_masked_however_it_is_written(number, data, before, after):
    masked = mask_free_text(before + data.draw(written(number)) + after)
    assert_hidden(number, masked)
    assert "*" * 18 in masked
    assert masked.startswith(before) and masked.endswith(after)


@PROPERTY
@given(id_numbers(), st.data(), context, context)
def test_an_id_number_split_into_its_parts_is_masked(number, data, before, after):
    parts = [number[:6], number[6:14], number[14:17], number[17]]
    gaps = data.draw(st.lists(st.sampled_from(SEPARATORS), min_size=3, max_size=3))
    text = parts[0] + gaps[0] + parts[1] + gaps[1] + parts[2] + gaps[2] + parts[3]
    assert_hidden(number, mask_free_text(before + text + after))


@PROPERTY
@given(landlines(), st.data(), context, context)
def test_a_landline_is_masked_however_it_is_written(number, data, before, after):
    masked = mask_free_text(before + data.draw(written(number)) + after)
    assert_hidden(number, masked)
    assert masked.startswith(before) and masked.endswith(after)


@PROPERTY
@given(st.one_of(mobiles, id_numbers(), landlines()), st.data(), context, context)
def test_masking_twice_changes_nothing(number, data, before, after):
    once = mask_free_text(before + data.draw(written(number)) + after)
    assert mask_free_text(once) == once


@PROPERTY
@given(st.one_of(mobiles, landlines()), st.data(), st.text(alphabet=WORDS, min_size=1, max_size=20))
def test_an_address_never_starts_with_a_number(number, data, rest):
    masked = mask_address(data.draw(written(number)) + rest)
    assert_hidden(number, masked)
    assert not any(char.isdigit() or char in READ_AS for char in masked[:6])


# Ordinary text: building, unit and room numbers, house numbers, floors in words, dates with 年月日.
# Every fragment ends in a word, so the numbers of two fragments never join into one run.
_small = st.integers(1, 40)
fragments = st.one_of(
    st.builds("{}栋{}单元{}室".format, _small, st.integers(1, 6), st.integers(101, 3306)),
    st.builds("{}号楼{}-{}-{}室".format, _small, st.integers(1, 6), st.integers(1, 33), st.integers(1, 6)),
    st.builds("门牌{}号".format, st.integers(1, 9999)),
    st.builds("{}年{}月{}日".format, st.integers(1990, 2030), st.integers(1, 12), st.integers(1, 31)),
    st.builds("{}:{:02d}到场".format, st.integers(0, 23), st.integers(0, 59)),
    st.builds("邮编{}寄出".format, st.integers(100000, 999999)),
    st.builds("共{}户".format, st.integers(1, 999)),
    st.builds("{}.{}米".format, st.integers(1, 99), st.integers(0, 9)),
    st.sampled_from(["三楼", "一二楼", "二楼", "十一月", "一下", "两个人", "三五天", "第一、二、三条", "一楼到九楼"]),
    st.text(alphabet=WORDS, min_size=1, max_size=8),
)
ordinary = st.lists(st.tuples(fragments, st.sampled_from(["", "，", "。", " ", "、", "；"])), max_size=8).map(
    lambda parts: "".join(fragment + gap for fragment, gap in parts)
)


@PROPERTY
@given(ordinary)
def test_ordinary_text_is_left_alone(text):
    assert mask_free_text(text) == text


@pytest.mark.parametrize(
    "text",
    [
        "邮编610041",  # six digits stay
        "1 2 3 4 5 6",
        "3栋2单元501",
        "2026年11月30日",  # 年 and 月 are words, not separators
        "二〇二六年十一月三十日",
        "2026-11-30",  # a date with separators and nothing else in its run
        "2026/11/30 10:00",
        "预约2026-11-30 10:00-12:00上门",
        "9:00-17:00",
        "2026-11-30，12号楼",
        "1,234,567元",  # an amount: grouped by thousands, a currency beside it
        "¥12,345.67",
        "共12,345.67元",
        "501、502、503室",  # a list of room numbers
        "12%、34%、56%、78%",
        "第一、二、三、四、五、六、七条",
        "手机138****1234",  # already masked
    ],
)
def test_what_stays_readable(text):
    assert mask_free_text(text) == text


@pytest.mark.parametrize(
    ("text", "masked"),
    [
        ("电话8765432转", "电话*****32转"),  # seven digits next to text
        ("编号1234567号", "编号*******号"),  # any seven digits, not only a phone
        ("20261130", "******30"),  # eight digits with no separator are a number, not a date
        ("1234567元", "*******元"),  # no grouping: not an amount
        ("1991-12-3 12:34", "199****1234"),  # a "date and time" that spells a mobile
        ("座机028-8765 4321", "座机028******21"),
        ("(028)87654321", "(028******21"),
        ("电话：138.1234.5678", "电话：138****5678"),
        ("1\u200b3\u200b8\u200b1\u200b2\u200b3\u200b4\u200b5\u200b6\u200b7\u200b8", "138****5678"),
        ("幺三八一二三四五六七八", "138****5678"),
        ("壹叁捌壹贰叁肆伍陆柒捌", "138****5678"),
        ("１３８－１２３４－５６７８", "138****5678"),
        ("+86 138 1234 5678", "+86 138****5678"),
        ("13812341234/13912345678", "138****1234/139****5678"),
        ("13812341234 3号楼", "138****1234 3号楼"),
        ("2026-11-30，13812341234", "2026-11-30，138****1234"),
        ("身份证510107 19900307 231X，电话13698765432", "身份证******************，电话136****5432"),
        ("身份证510107-1990-03-07-2316", "身份证******************"),
    ],
)
def test_what_is_masked(text, masked):
    assert mask_free_text(text) == masked


def test_an_address_starting_with_a_phone_number():
    assert mask_address("13812341234锦城社区幸福家园5栋") == "*********"
    assert mask_address("成都市武侯区簇桥街道锦湖花园5栋") == "成都市武侯区***"
    assert mask_address("028-8765 4321 锦城社区") == "*********"


def test_a_phone_field_in_any_script():
    assert mask_phone("１３８１２３４５６７８") == mask_phone("+86 138 1234 5678") == "138****5678"
