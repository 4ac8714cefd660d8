"""Members' API tokens: a bearer token is HMAC-SHA256(HUB_API_SECRET, member id) in hex.

The hub keeps no token list: it derives every registered member's token from the secret
and compares in constant time. Rotating the secret revokes every token at once; `hub
token MEMBER` prints a member's current token.
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
