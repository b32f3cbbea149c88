"""Personal data: masking, the GB 11643 check digit, keyed hashing and encryption of ID numbers.

Every surface that shows or sends personal data calls these functions; nothing else masks.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
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
    """13812341234 → 138****1234; anything shorter keeps at most its last two digits."""
    if not phone:
        return ""
    digits = re.sub(r"\D", "", phone)
    if len(digits) >= 11:
        return digits[:3] + "****" + digits[-4:]
    return "*" * max(len(digits) - 2, 0) + digits[-2:]


def mask_id_number(_value: str | None) -> str:
    """ID numbers are never shown, not even in part."""
    return "******************"


def mask_address(address: str | None, keep: int = 6) -> str:
    """Keep the first characters (district, street, compound), hide the house number."""
    if not address:
        return ""
    address = address.strip()
    return address[:keep] + ("***" if len(address) > keep else "")


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


_SEPARATOR = r"[\s\-]?"
# Mainland mobiles, with an optional +86/86 prefix and spaces or dashes between digit groups.
_MOBILE_IN_TEXT = re.compile(
    r"(?<!\d)(?:\+?86[\s\-]?)?(1[3-9]\d)" + _SEPARATOR + r"(\d{4})" + _SEPARATOR + r"(\d{4})(?!\d)"
)
# 18-digit ID numbers (and the old 15-digit ones), and landlines such as 028-85551234.
_ID_IN_TEXT = re.compile(r"(?<!\d)(?:\d{17}[\dXx]|\d{15})(?![\dXx])")
_LANDLINE_IN_TEXT = re.compile(r"(?<!\d)0\d{2,3}[\s\-]?\d{7,8}(?!\d)")
_DIGIT_RUN = re.compile(r"\d[\d\s\-]{6,}")


def mask_free_text(text: str | None) -> str:
    """Mask ID numbers and phone numbers that residents typed into a free-text field."""
    if not text:
        return ""
    normal = unicodedata.normalize("NFKC", text)  # full-width digits become ASCII
    if not _DIGIT_RUN.search(normal):
        return text  # no run of digits long enough to be a number: the common, fast case
    text = _ID_IN_TEXT.sub(mask_id_number(None), normal)
    text = _ID_IN_TEXT.sub(mask_id_number(None), text)
    text = _MOBILE_IN_TEXT.sub(lambda m: f"{m.group(1)}****{m.group(3)}", text)
    return _LANDLINE_IN_TEXT.sub(lambda m: m.group(0)[:3] + "*" * max(len(m.group(0)) - 5, 0) + m.group(0)[-2:], text)


def public_text(text: str | None, length: int = 40) -> str:
    """Free text as a public screen may show it: masked, then shortened."""
    return mask_free_text(text)[:length]
