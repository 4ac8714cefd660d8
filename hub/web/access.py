"""Who may read what on the worker's web port (docs/deployment.md has the table).

- Operators: the dashboard, /metrics and the reporting figures. A bearer token
  (HUB_OPERATOR_TOKEN; Prometheus sends it) or, in a browser, the session cookie that
  signing in at /sign-in sets (HMAC-signed with the token, 12 hours).
- Members: their own reporting figures and their own cards, with their API token (or a
  card page link's own token, hub.web.card_page).
- Anyone: /health, for the probes.
"""

from __future__ import annotations

import html
import time
from typing import cast
from urllib.parse import quote

from aiohttp import web
from faust.web import Request, Response, View

from hub.ops.tokens import authenticate, is_operator, session_cookie, session_valid
from hub.runtime.app import app
from hub.runtime.services import runtime

COOKIE = "hub_operator"
SESSION_SECONDS = 12 * 3600
SIGN_IN = "/sign-in"


def operator_signed_in(request: Request) -> bool:
    """A request from an operator: the bearer token, or a valid session cookie."""
    if is_operator(request.headers.get("Authorization")):
        return True
    return session_valid(request.cookies.get(COOKIE), time.time())


def member_of(request: Request) -> str | None:
    return authenticate(request.headers.get("Authorization"))


def unauthorised(view: View, reason: str = "operator credentials are required") -> Response:
    return view.json({"error": reason}, status=401, headers={"WWW-Authenticate": "Bearer"})


def to_sign_in(path: str) -> Response:
    """A browser without a session goes to the sign-in page, then back here."""
    reply = web.Response(status=303, headers={"Location": f"{SIGN_IN}?next={quote(path)}"})
    return cast(Response, reply)


def _safe_next(target: str | None) -> str:
    """Only a path on this server: never an open redirect."""
    # browsers read "/\\host" as "//host": a backslash anywhere is refused too
    if not target or not target.startswith("/") or target.startswith("//") or "\\" in target:
        return "/dashboard"
    return target


def _form(error: str, target: str) -> str:
    say = runtime.locale.say
    message = f'<p class="error">{say(error)}</p>' if error else ""
    target = html.escape(target)
    return f"""<!doctype html><html lang="zh-CN"><head><meta charset="utf-8">
<title>{say("sign_in.title")}</title></head><body>
<h1>{say("sign_in.title")}</h1>{message}
<form method="post" action="{SIGN_IN}"><input type="hidden" name="next" value="{target}">
<label>{say("sign_in.token")} <input type="password" name="token" id="token"></label>
<button type="submit" id="sign-in">{say("sign_in.submit")}</button></form></body></html>"""


def _signed_in(target: str) -> Response:
    expires = int(time.time()) + SESSION_SECONDS
    cookie = session_cookie(runtime.settings.operator_token.get_secret_value(), expires)
    reply = web.Response(status=303, headers={"Location": target})
    reply.set_cookie(COOKIE, cookie, max_age=SESSION_SECONDS, httponly=True, samesite="Strict")
    return cast(Response, reply)


@app.page(SIGN_IN)
class SignIn(View):
    async def get(self, request: Request) -> Response:
        target = _safe_next(request.query.get("next"))
        token = request.query.get("token")  # the link `hub dev` prints
        if token and is_operator(f"Bearer {token}"):
            return _signed_in(target)
        return self.html(_form("sign_in.wrong" if token else "", target),
                         status=401 if token else 200)

    async def post(self, request: Request) -> Response:
        form = await cast(web.Request, request).post()
        target = _safe_next(str(form.get("next", "")))
        if is_operator(f"Bearer {form.get('token', '')}"):
            return _signed_in(target)
        return self.html(_form("sign_in.wrong", target), status=401)
