"""Personal data: masking, the GB 11643 check digit, keyed hashing and encryption of ID numbers.

Every surface that shows or sends personal data calls these functions; nothing else masks.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import itertools
import os
import re
import unicodedata

from cryptography.hazmat.primitives.ciphers.aead import AESGCM

_ID_WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
_ID_CHECK_CHARS = "10X98765432"
ID_NUMBER_PATTERN = re.compile(r"^\d{17}[\dX]$")
MOBILE_PATTERN = re.compile(r"^1[3-9]\d{9}$")


def id_check_char(first17: str) -> str:
    """The GB 11643 check character for the first 17 digits of an ID number."""
    total = sum(int(digit) * weight for digit, weight in zip(first17, _ID_WEIGHTS, strict=True))
    return _ID_CHECK_CHARS[total % 11]


def is_valid_id_number(value: str) -> bool:
    """True when value is an 18-character ID number whose check character is right."""
    value = value.strip().upper()
    return bool(ID_NUMBER_PATTERN.match(value)) and id_check_char(value[:17]) == value[17]


def is_valid_mobile(value: str) -> bool:
    """True for an 11-digit mainland mobile number."""
    return bool(MOBILE_PATTERN.match(value.strip()))


def mask_name(name: str | None) -> str:
    """张三丰 → 张**; keeps the surname only."""
    name = (name or "").strip()
    if not name:
        return ""
    return name[0] + "*" * max(len(name) - 1, 1)


def mask_phone(phone: str | None) -> str:
    """13812341234 → 138****1234; anything shorter keeps at most its last two digits.

    Digits of any script count (１３８…, 一三八…), and a +86/0086 prefix is dropped.
    """
    if not phone:
        return ""
    digits = _ascii_digits("".join(_DIGIT.findall(phone)))
    if mobile := _MOBILE.fullmatch(digits):
        digits = mobile.group(2)
    if len(digits) >= 11:
        return digits[:3] + "****" + digits[-4:]
    return "*" * max(len(digits) - 2, 0) + digits[-2:]


def mask_id_number(_value: str | None) -> str:
    """ID numbers are never shown, not even in part."""
    return "******************"


def mask_address(address: str | None, keep: int = 6) -> str:
    """Keep the first characters (district, street, compound), hide the house number.

    The kept characters never show a digit: an address that starts with a phone number or any other
    number shows asterisks in its place (numbers are masked as in free text first).
    """
    if not address:
        return ""
    address = mask_free_text(address.strip())
    return _DIGIT.sub("*", address[:keep]) + ("***" if len(address) > keep else "")


class PiiVault:
    """Keyed hashing (for matching) and authenticated encryption (for audited unmask) of personal data."""

    def __init__(self, secret_key: str) -> None:
        root = hashlib.sha256(("id-number-vault:" + secret_key).encode()).digest()
        self._hash_key = hmac.new(root, b"hash", hashlib.sha256).digest()
        self._nonce_key = hmac.new(root, b"nonce", hashlib.sha256).digest()
        self._aead = AESGCM(hmac.new(root, b"encrypt", hashlib.sha256).digest())

    def hash(self, id_number: str) -> str:
        """HMAC-SHA256 of the normalised number, hex."""
        return hmac.new(self._hash_key, id_number.strip().upper().encode(), hashlib.sha256).hexdigest()

    def encrypt(self, id_number: str) -> bytes:
        """Deterministic AES-GCM (nonce derived from the number), so re-imports compare equal."""
        plain = id_number.strip().upper().encode()
        nonce = hmac.new(self._nonce_key, plain, hashlib.sha256).digest()[:12]
        return nonce + self._aead.encrypt(nonce, plain, b"id_number")

    def decrypt(self, blob: bytes) -> str:
        """The clear number; only for an admin's audited unmask."""
        return self._aead.decrypt(blob[:12], blob[12:], b"id_number").decode()

    def digest(self, text: str) -> str:
        """A keyed digest of any text (identity without content: nobody can test guesses)."""
        return hmac.new(self._hash_key, text.encode(), hashlib.sha256).hexdigest()

    def encrypt_text(self, text: str) -> str:
        """Text encrypted for storage (a random nonce), as printable base64."""
        nonce = os.urandom(12)
        return "enc1:" + base64.b64encode(nonce + self._aead.encrypt(nonce, text.encode(), b"text")).decode()

    def decrypt_text(self, stored: str) -> str:
        """The clear text of encrypt_text's output (plain text is returned as it is)."""
        if not stored.startswith("enc1:"):
            return stored
        blob = base64.b64decode(stored[5:])
        return self._aead.decrypt(blob[:12], blob[12:], b"text").decode()


# Free text: numbers however they are written.
#
# A resident can type a number in any digit script and with anything between the digits. The text is
# scanned for runs of at least seven digit characters, where a digit is one of any script (ASCII,
# full-width, Arabic-Indic and every other Unicode decimal digit, circled and superscript digits,
# Chinese 〇一二…九 and 零, 幺 and 两 as read out on phones, financial 壹贰叁…玖) and any number of
# separators may stand between two digits: whitespace of every kind (NBSP, ideographic space),
# zero-width and other invisible format characters, combining marks, every ASCII punctuation mark but
# "%", and the Chinese and full-width ones (，、。：；·～（）【】《》「」 dashes, quotes). Anything else
# ends a run: a letter, a Chinese word (年, 月, 栋, 号), "%". The run's digits are read, and the run is
# replaced in the original text, so the rest of the text stays as it was written; one pass of
# precompiled regular expressions finds the runs, and text without one comes back as it was.
#
# Not recognised: numbers spelt with 十/百 (一百三十八), letters standing for digits (O for 0, l for 1),
# and groups of digits kept apart by a word, "%" or four asterisks (138****1234 is what masks leave).
_CHINESE_DIGITS = {
    "〇": "0", "○": "0", "零": "0",
    "一": "1", "幺": "1", "壹": "1",
    "二": "2", "两": "2", "兩": "2", "贰": "2", "貳": "2",
    "三": "3", "叁": "3", "參": "3", "叄": "3",
    "四": "4", "肆": "4",
    "五": "5", "伍": "5",
    "六": "6", "陆": "6", "陸": "6",
    "七": "7", "柒": "7",
    "八": "8", "捌": "8",
    "九": "9", "玖": "9",
}  # fmt: skip


def _symbol_digits() -> dict[str, str]:
    """Digits that are not decimal digits to Unicode: superscripts, subscripts, circled, ㈠ and ㊀."""
    found = {}
    blocks = ((0xB2, 0xBA), (0x2070, 0x208A), (0x2460, 0x2500), (0x2776, 0x2794), (0x3220, 0x322A), (0x3280, 0x328A))
    for first, last in (*blocks, (0x1F100, 0x1F10D)):
        for char in map(chr, range(first, last)):
            value = unicodedata.numeric(char, -1)
            if unicodedata.category(char) != "Nd" and value in range(10):
                found[char] = str(int(value))
    return found


_DIGIT_VALUES = {**_symbol_digits(), **_CHINESE_DIGITS}
_D = "[\\d" + "".join(_DIGIT_VALUES) + "]"  # \d: every Unicode decimal digit, full-width ones included
_S = (
    "[\\s\\x00-\\x08\\x0e-\\x1f\\x7f-\\x9f"  # whitespace of every kind, control characters
    "!\"#$&'()*+,\\-./:;<=>?@\\[\\\\\\]^_`{|}~"  # ASCII punctuation but "%" (12%、34%、56%、78% stay)
    "\u00ad\u00b7\u034f\u0300-\u036f\u061c\u115f\u1160\u17b4\u17b5\u180b-\u180f"
    "\u200b-\u200f\u2010-\u2015\u2018\u2019\u201c\u201d\u2022\u2026\u2027\u202a-\u202e\u2060-\u206f"
    "\u20d0-\u20ff\u2212\u2217\u2e3a\u2e3b\u3000-\u3002\u3008-\u3011\u3014-\u301c\u30fb\u3164"
    "\ufe00-\ufe0f\ufe30-\ufe60\ufe63\ufeff"
    "\uff02\uff07-\uff0a\uff0c-\uff0f\uff1a\uff1b\uff3b-\uff3d\uff3f\uff5b-\uff5e\uff61\uff64\uff65\uffa0"
    "\ufff9-\ufffb]"
)
_DIGIT = re.compile(_D)
_PIECE = re.compile(_D + "+")
# Seven digits or more, separators between them, and an ID number's check character X at the end.
_RUN = re.compile(f"{_D}(?:{_S}*+{_D}){{6,}}(?:{_S}*+[XxＸｘ])?")

# The digits a mask keeps (138****1234, 028******21) do not join the digits next to them a second time.
_KEPT_BY_MASK = re.compile(r"(?<![0-9])[0-9]{1,4}(?=\*{4})|(?<=\*{4})[0-9]{1,4}(?![0-9])")

_MOBILE = re.compile(r"(0086|86|0)?(1[3-9]\d{9})")
_ID = re.compile(r"\d{17}[\dX]|[1-9]\d{14}")  # 18 characters, or the old 15 digits
_LANDLINE = re.compile(r"(0(?:[12]\d|[3-9]\d\d)|(?:0086|86)(?:[12]\d|[3-9]\d\d))?([2-9]\d{6,7})")
_DATE = re.compile(r"(?:19|20)\d\d([-./－．／])(?:0?[1-9]|1[0-2])(?:\1(?:0?[1-9]|[12]\d|3[01]))?")
_TIME = re.compile(r"(?:[01]?\d|2[0-3])[:：][0-5]\d(?:[:：][0-5]\d)?")
_AMOUNT = re.compile(r"\d{1,3}(?:[,，]\d{3})+(?:[.．]\d{1,2})?|\d+[.．]\d{1,2}")
_CURRENCY_AFTER = frozenset("元块圆万亿")
_CURRENCY_BEFORE = frozenset("¥￥$")
_LIST_GAP = re.compile(r"\s*[、，,;；]\s*")
_STRONG_GAP = re.compile(r"[\s、，,;；。]")
# The split of a run into numbers costs time with every piece: a run cut into more pieces than this, or
# any run once a text has had this many pieces split, is masked whole (an ID digit by digit: 18 pieces).
_MAX_PIECES = 24
_MAX_PIECES_PER_TEXT = 96
_TYPED, _SHOWN, _SHORT, _MASKED = range(4)


def _ascii_digits(chars: str) -> str:
    """The digits of a string of digit characters (any script), as ASCII."""
    if chars.isascii():
        return chars
    return "".join(_DIGIT_VALUES.get(char) or str(unicodedata.decimal(char)) for char in chars)


def _typed_mask(digits: str) -> str | None:
    """The mask of a number the rules name (mobile, ID, landline), or None."""
    if mobile := _MOBILE.fullmatch(digits):
        prefix, number = mobile.group(1) or "", mobile.group(2)
        return (prefix + " " if prefix in ("86", "0086") else "") + number[:3] + "****" + number[-4:]
    if _ID.fullmatch(digits):
        return mask_id_number(digits)
    if landline := _LANDLINE.fullmatch(digits):
        area, number = landline.group(1) or "", landline.group(2)
        return area + "*" * (len(number) - 2) + number[-2:]
    return None


def _is_personal(digits: str) -> bool:
    """True when a date, time, amount or list reads as a mobile or a valid ID number."""
    return bool(_MOBILE.fullmatch(digits)) or (len(digits) == 18 and is_valid_id_number(digits))


def _shown_whole(text: str, start: int, end: int, digits: list[str], gaps: list[str]) -> bool:
    """An amount of money (1,234,567元, ¥12,345.67) or a list of room numbers (501、502、503) stays readable."""
    number = "".join(digits)
    written = "".join(d + g for d, g in zip(digits, [*gaps, ""], strict=True))
    if _AMOUNT.fullmatch(written) and not _is_personal(number):
        before = text[max(start - 8, 0) : start].rstrip()[-1:]
        if text[end : end + 1] in _CURRENCY_AFTER or (before and before in _CURRENCY_BEFORE):
            return True
    return (
        len(digits) >= 3
        and len({len(d) for d in digits}) == 1
        and len(digits[0]) <= 4
        and all(_LIST_GAP.fullmatch(gap) for gap in gaps)
        and not _is_personal(number)
        and not _LANDLINE.fullmatch(number)
    )


def _side_by_side(left: int, right: int, strong_gap: bool) -> bool:
    """Whether two segments may stand side by side in a run (strong_gap: a space or a comma between)."""
    kinds = {left, right}
    if _SHORT in kinds:  # a short number is shown only beside a masked number or a date, across a real gap
        return strong_gap and kinds in ({_SHORT, _TYPED}, {_SHORT, _SHOWN})
    return kinds != {_SHOWN, _MASKED}  # a date beside digits nobody can read is not a date


_SIDE_BY_SIDE = {
    (left, right, strong_gap): _side_by_side(left, right, strong_gap)
    for left in (_TYPED, _SHOWN, _SHORT, _MASKED)
    for right in (_TYPED, _SHOWN, _SHORT, _MASKED)
    for strong_gap in (False, True)
}
_TYPED_LENGTHS = frozenset((7, 8, 10, 11, 12, 13, 14, 15, 17, 18))  # the lengths _typed_mask knows


def _is_date_or_time(written: str, size: int) -> bool:
    """2026-11-30, 2026/11, 10:00, 9:30:15 (written: the digits as ASCII, the separators as typed)."""
    return bool((5 <= size <= 8 and _DATE.fullmatch(written)) or (size <= 6 and _TIME.fullmatch(written)))


def _plan(digits: list[str], gaps: list[str], check_x: bool) -> list[tuple[int, int, int, str | None]]:
    """The cheapest split of a run's pieces into segments: (first piece, last piece, kind, mask).

    A segment is a number the rules name (masked in its format), a date or a time (shown), a short
    number of at most four digits beside one of those across a space or a comma (shown), or a piece
    of digits nobody can read (every digit masked, and never beside a date). Cost, in order: fewest
    digits that are neither masked in a format nor a date or a time, then most digits shown.
    """
    count = len(digits)
    strong = [bool(_STRONG_GAP.search(gap)) for gap in gaps]
    # best[i][kind of the segment that ends before piece i] = (cost, kind before it, segment)
    best: list[dict] = [{} for _ in range(count + 1)]
    best[0][None] = ((0, 0), None, None)
    for first in range(count):
        number, written = "", ""
        for last in range(first, count):
            number += digits[last]
            written += (gaps[last - 1] if last > first else "") + digits[last]
            size = len(number)
            if last > first and size > 18:
                break
            options = []
            if first == last:  # digits nobody can read are masked piece by piece
                options.append((_MASKED, None, size, 0))
                if size <= 4:
                    options.append((_SHORT, None, size, -size))
            if size in _TYPED_LENGTHS:
                typed = _typed_mask(number + "X" if check_x and last == count - 1 and size == 17 else number)
                if typed:
                    options.append((_TYPED, typed, 0, 0))
            if last > first and size <= 8 and _is_date_or_time(written, size):
                options.append((_SHOWN, None, 0, -size))
            for kind, mask, unread, shown in options:
                for previous, (cost, _, _) in best[first].items():
                    if previous is not None and not _SIDE_BY_SIDE[previous, kind, strong[first - 1]]:
                        continue
                    total = (cost[0] + unread, cost[1] + shown)
                    if kind not in best[last + 1] or total < best[last + 1][kind][0]:
                        best[last + 1][kind] = (total, previous, (first, last, kind, mask))
    kind = min(best[count], key=lambda k: best[count][k][0])
    segments = []
    position = count
    while position:
        _, previous, segment = best[position][kind]
        segments.append(segment)
        position, kind = segment[0], previous
    segments.reverse()
    # Dates, times and short numbers side by side must not spell a mobile or an ID number.
    index = 0
    while index < len(segments):
        end = index
        while end < len(segments) and segments[end][2] in (_SHOWN, _SHORT):
            end += 1
        if end > index and _is_personal("".join(digits[segments[index][0] : segments[end - 1][1] + 1])):
            segments[index:end] = [(first, last, _MASKED, None) for first, last, _, _ in segments[index:end]]
        index = end + 1
    return segments


def _mask_run(text: str, start: int, end: int, budget: int) -> tuple[str, int]:
    """The masked form of the run text[start:end], and the number of pieces split (at most budget)."""
    run = text[start:end]
    check_x = run[-1] in "XxＸｘ"
    pieces = list(itertools.islice(_PIECE.finditer(text, start, end), _MAX_PIECES + 1))
    if len(pieces) > _MAX_PIECES:
        return _DIGIT.sub("*", run), 0
    digits = [_ascii_digits(piece.group()) for piece in pieces]
    gaps = [text[a.end() : b.start()] for a, b in itertools.pairwise(pieces)]
    tail = text[pieces[-1].end() : end]  # separators and an X after the last digit
    number = "".join(digits)
    if check_x and len(number) == 17:
        return mask_id_number(number), 0
    if _MOBILE.fullmatch(number) or _ID.fullmatch(number):  # the whole run is one number: the common case
        return _typed_mask(number) + tail, 0
    if _shown_whole(text, start, pieces[-1].end(), digits, gaps):
        return run, 0
    if len(pieces) > budget:
        return _DIGIT.sub("*", run), 0
    out = []
    for first, last, kind, mask in _plan(digits, gaps, check_x):
        if first:
            out.append(gaps[first - 1])
        written = text[pieces[first].start() : pieces[last].end()]
        if kind == _TYPED:
            if check_x and last == len(pieces) - 1 and sum(map(len, digits[first:])) == 17:
                tail = ""  # the X was the ID number's check character
            out.append(mask)
        elif kind == _MASKED:
            out.append(_DIGIT.sub("*", written))
        else:
            out.append(written)
    return "".join(out) + tail, len(pieces)


def mask_free_text(text: str | None) -> str:
    """Mask ID numbers and phone numbers that residents typed into a free-text field.

    Every run of seven or more digits, however written (see above), is masked: a mobile as 138****1234
    (a +86/0086 prefix is kept), an ID number as 18 asterisks, a landline as its area code and last two
    digits (028******21), and any other number digit by digit (a bank card, an order number). A run
    that holds several numbers is split where its separators allow (13812341234/13912345678).

    What stays readable:
    - shorter numbers: 3栋2单元501, 门牌12号, a six-digit postcode;
    - dates written with 年月日 (2026年11月30日): 年 and 月 are words, not separators, so no run forms;
    - dates and times written with separators (2026-11-30, 2026/11/30 10:00, 10:00-12:00) when the run
      holds nothing else than dates, times and numbers that are masked, and does not spell a mobile or a
      valid ID number; 20261130 with no separators is masked like any eight digits;
    - amounts of money grouped by thousands or with one or two decimals and a currency beside them
      (1,234,567元, ¥12,345.67), unless they spell a mobile or a valid ID number; 1234567元 is masked;
    - lists of three or more short numbers of equal length (501、502、503), unless they read as a phone;
    - a number of at most four digits beside a masked number, a date or a time across a space or a comma
      (13812341234 3号楼, 2026-11-30，12号楼);
    - the digits a mask keeps: masking masked text changes nothing.
    """
    if not text:
        return ""
    scan = _KEPT_BY_MASK.sub(lambda kept: "\ue000" * len(kept.group()), text) if "****" in text else text
    runs = list(_RUN.finditer(scan))
    if not runs:
        return text  # no run of digits long enough to be a number: the common, fast case
    out, position, budget = [], 0, _MAX_PIECES_PER_TEXT
    for run in runs:
        masked, planned = _mask_run(scan, run.start(), run.end(), budget)
        out += [text[position : run.start()], masked]
        position, budget = run.end(), budget - planned
    out.append(text[position:])
    return "".join(out)


def public_text(text: str | None, length: int = 40) -> str:
    """Free text as a public screen may show it: masked, then shortened."""
    return mask_free_text(text)[:length]
