"""Personal data: masking, the GB 11643 check digit, keyed hashing and encryption of ID numbers.

Every surface that shows or sends personal data calls these functions; nothing else masks.
"""

from __future__ import annotations

import hashlib
import hmac
import re

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
    if not name:
        return ""
    name = name.strip()
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


class IdNumberVault:
    """Keyed hash (for matching) and authenticated encryption (for audited unmask) of ID numbers."""

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


_ID_IN_TEXT = re.compile(r"(?<!\d)\d{17}[\dXx](?!\d)")
_MOBILE_IN_TEXT = re.compile(r"(?<!\d)(1[3-9]\d)\d{4}(\d{4})(?!\d)")
_LONG_DIGIT_RUN = re.compile(r"\d{11}")


def mask_free_text(text: str | None) -> str:
    """Mask ID numbers and mobile numbers that residents typed into a free-text field."""
    if not text:
        return ""
    if not _LONG_DIGIT_RUN.search(text):
        return text  # nothing long enough to be a phone or ID number: the common, fast case
    text = _ID_IN_TEXT.sub(mask_id_number(None), text)
    return _MOBILE_IN_TEXT.sub(lambda m: f"{m.group(1)}****{m.group(2)}", text)
