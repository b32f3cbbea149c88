"""Secrets people and devices hold: passwords, wall tokens and API keys, made and stored only as hashes."""

from __future__ import annotations

import hashlib
import secrets

from werkzeug.security import generate_password_hash


def hash_password(password: str) -> str:
    """A salted, slow hash of a password (werkzeug's scrypt)."""
    return generate_password_hash(password)


def hash_token(token: str) -> str:
    """Wall tokens and API keys are stored only as their SHA-256 (they are long random strings)."""
    return hashlib.sha256(token.encode()).hexdigest()


def new_wall_token() -> str:
    """A fresh random wall token (shown once)."""
    return "wall_" + secrets.token_urlsafe(24)


def new_api_key() -> str:
    """A fresh random API key (shown once, stored hashed)."""
    return "cc_" + secrets.token_urlsafe(32)


hash_api_key = hash_token  # the same rule: a SHA-256 of a long random secret
