"""Which ``Authorization`` headers the emulator accepts: the forms Drip itself accepts.

Drip's docs name two: HTTP Basic with the API token as username and an empty password
(``base64("token:")``), and an OAuth ``Bearer`` token. Drip's own Node client (drip-nodejs 3.1.4)
sends ``base64("token")`` without the colon, and Drip answers it, so that form is accepted too.
Everything else is refused, notably a non-empty password: the docs say the password is empty.
"""

from __future__ import annotations

import base64
import binascii
import hmac


def check_authorization(header: str | None, token: str) -> tuple[str, bool]:
    """``(scheme, ok)`` for an ``Authorization`` header; ``scheme`` is lower case, ``"none"``
    when the header is absent (the scheme is counted in the emulator's stats)."""
    scheme, _, credentials = (header or "").partition(" ")
    scheme = scheme.lower()
    if scheme == "basic":
        try:
            decoded = base64.b64decode(credentials.strip(), validate=True).decode()
        except (binascii.Error, UnicodeDecodeError):
            return "basic", False
        username, colon, password = decoded.partition(":")
        if colon and password:
            return "basic", False
        return "basic", _same(username, token)
    if scheme == "bearer":
        return "bearer", _same(credentials.strip(), token)
    return (scheme or "none"), False


def _same(given: str, token: str) -> bool:
    """Constant-time comparison, as a server comparing secrets should."""
    return hmac.compare_digest(given.encode(), token.encode())
