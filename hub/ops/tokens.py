"""Members' API tokens: a bearer token is HMAC-SHA256(HUB_API_SECRET, member id) in hex.

The hub keeps no token list: it derives every registered member's token from the secret
and compares in constant time. Rotating the secret revokes every token at once; `hub
token MEMBER` prints a member's current token. A card page link carries its own token
(`card_token`), so a doctor's click in the HIS opens that one card and nothing else.

Operators (HUB_OPERATOR_TOKEN) send the token as a bearer (Prometheus, scripts) or sign in
to the dashboard once and carry a signed session cookie (`session_cookie`).
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Iterable
from functools import lru_cache

from hub.settings import get_settings

SCHEME = "bearer"


def member_token(secret: str | bytes, member_id: str) -> str:
    key = secret.encode() if isinstance(secret, str) else secret
    return hmac.new(key, member_id.encode(), hashlib.sha256).hexdigest()


def bearer_token(header: str | None) -> str | None:
    """The token of an `Authorization: Bearer <token>` header, or None without one."""
    if not header:
        return None
    scheme, _, token = header.strip().partition(" ")
    if scheme.lower() != SCHEME or not token.strip():
        return None
    return token.strip()


@lru_cache(maxsize=4)
def _tokens(secret: str, member_ids: tuple[str, ...]) -> tuple[tuple[str, str], ...]:
    return tuple((member_id, member_token(secret, member_id)) for member_id in member_ids)


@lru_cache(maxsize=1)
def _registered_members() -> tuple[str, ...]:
    return tuple(get_settings().load_registry().ids)


def authenticate(
    header: str | None,
    *,
    secret: str | None = None,
    member_ids: Iterable[str] | None = None,
) -> str | None:
    """The member whose token the Authorization header carries; None if it carries no
    valid token. Secret and members default to the hub's settings and registry."""
    token = bearer_token(header)
    if token is None:
        return None
    key = secret if secret is not None else get_settings().api_secret.get_secret_value()
    ids = tuple(member_ids) if member_ids is not None else _registered_members()
    found = None
    for member_id, expected in _tokens(key, ids):
        if hmac.compare_digest(expected, token.lower()):
            found = member_id
    return found


def card_token(secret: str, member_id: str, case_id: str, where: str) -> str:
    """The token of one card page link: only this member, this case, at this place in
    the table (`where`: partition and pseudonym, so the link finds the case's owner)."""
    message = "\x1f".join(("card-page", member_id, case_id, where))
    return hmac.new(secret.encode(), message.encode(), hashlib.sha256).hexdigest()


def card_token_valid(secret: str, member_id: str, case_id: str, where: str, token: str) -> bool:
    return hmac.compare_digest(card_token(secret, member_id, case_id, where), token.lower())


def is_operator(header: str | None, *, token: str | None = None) -> bool:
    """Whether the Authorization header carries the operators' bearer token."""
    given = bearer_token(header)
    expected = token if token is not None else (
        get_settings().operator_token.get_secret_value())
    return given is not None and hmac.compare_digest(given.encode(), expected.encode())


def session_cookie(token: str, expires: int) -> str:
    """An operator's signed sign-in: the expiry (epoch seconds) and its HMAC."""
    digest = hmac.new(token.encode(), f"operator-session\x1f{expires}".encode(),
                      hashlib.sha256).hexdigest()
    return f"{expires}.{digest}"


def session_valid(cookie: str | None, now: float, *, token: str | None = None) -> bool:
    if not cookie or "." not in cookie:
        return False
    expires, _, _ = cookie.partition(".")
    if not expires.isdigit() or int(expires) < now:
        return False
    key = token if token is not None else get_settings().operator_token.get_secret_value()
    return hmac.compare_digest(session_cookie(key, int(expires)), cookie)
