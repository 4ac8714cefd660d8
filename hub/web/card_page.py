"""The card page: a doctor completes an incomplete report card (传染病报告卡) at the
workstation.

- GET /reporting/cards/{case_id}?member=ID&at=PARTITION:KEY&token=T: the card as the hub
  has it, the fields it lacks as a form, the deadline counting down (Beijing time);
- POST the same address (form fields named as in `missing_fields`): checked at once (the
  page again naming a wrong field, 422), then published on hub.card-completions for the
  reporting agent (hub.agents.card_completion); the page confirms once the card is out
  (202 "submitted" if that takes longer than SENT_WITHIN_SECONDS).

Access: the link's own token (hub.agents.card_links; HMAC of HUB_API_SECRET, the member,
the case and where it lives), or the member's API token as a bearer with member and at in
the query. Only a case the member reported opens: another member's case and an unknown one
get the same 404. The case lives on one partition of `reporting-cases`: a worker that does
not own it forwards the request there (as hub.web.recognition_api does).
"""

from __future__ import annotations

from typing import NamedTuple, cast
from urllib.parse import parse_qsl

from aiohttp import web
from faust.web import Request, Response, View
from yarl import URL

from hub.agents import reporting
from hub.agents.card_completion import check, owed, sent_case, submit
from hub.ops.tokens import card_token_valid
from hub.rules.reporting.card import card_number
from hub.rules.reporting.completion import CompletionRefused
from hub.runtime.app import app
from hub.runtime.placement import owner_url
from hub.runtime.services import runtime
from hub.web.access import member_of
from hub.web.card_form import confirmation, form_page, message_page

ROUTED_HEADER = "X-Hub-Routed"
SENT_WITHIN_SECONDS = 10.0  # the agent applies a completion in milliseconds; else 202
STATUS = {"not_found": 404, "already_reported": 409, "pending_diagnosis": 409}


class CardRef(NamedTuple):
    member_id: str
    case_id: str
    partition: int
    key: str


class Denied(Exception):
    def __init__(self, status: int, reason: str) -> None:
        super().__init__(reason)
        self.status = status


def _where(at: str | None) -> tuple[int, str]:
    partition, _, key = (at or "").partition(":")
    if not partition.isdigit() or not key:
        raise Denied(400, "card_page.bad_link")
    return int(partition), key


def card_ref(request: Request, case_id: str) -> CardRef:
    """Who asks for which card: the link's token, else the member's bearer token."""
    query = request.query
    token, member_id = query.get("token"), query.get("member")
    if token:
        secret = runtime.settings.api_secret.get_secret_value()
        if not member_id or member_id not in runtime.registry.ids or not card_token_valid(
                secret, member_id, case_id, query.get("at") or "", token):
            raise Denied(403, "card_page.bad_token")
    else:
        if not request.headers.get("Authorization"):
            raise Denied(401, "card_page.no_token")
        member_id = member_of(request)
        if member_id is None:
            raise Denied(403, "card_page.bad_token")
    return CardRef(member_id, case_id, *_where(query.get("at")))


def _own_url() -> URL:
    return URL(str(app.conf.canonical_url))


async def forward(request: Request, partition: int, body: bytes | None) -> Response | None:
    """The owner's answer when another worker owns the partition of `reporting-cases`,
    else None."""
    if request.headers.get(ROUTED_HEADER):
        return None
    owner = owner_url(reporting.cases, partition)
    if owner is None or (owner.host, owner.port) == (_own_url().host, _own_url().port):
        return None
    headers = {name: request.headers[name] for name in ("Authorization", "Content-Type")
               if name in request.headers}
    headers[ROUTED_HEADER] = "1"
    url = URL(str(request.url)).with_host(owner.host or "").with_port(owner.port)
    async with app.http_client.request(request.method, url, data=body,
                                       headers=headers) as reply:
        answer = web.Response(body=await reply.read(), status=reply.status,
                              headers={"Content-Type": reply.headers.get("Content-Type", "")})
        return cast(Response, answer)


def _html(page: str, status: int = 200) -> Response:
    reply = web.Response(body=page.encode(), status=status, headers={
        "Content-Type": "text/html; charset=utf-8", "Cache-Control": "no-store",
        "Referrer-Policy": "no-referrer"})  # the link's token stays out of other sites' logs
    return cast(Response, reply)


def _denied(denied: Denied) -> Response:
    headers = {"WWW-Authenticate": "Bearer"} if denied.status == 401 else {}
    reply = _html(message_page(str(denied)), denied.status)
    reply.headers.update(headers)
    return reply


@app.page("/reporting/cards/{case_id}")
class CardPage(View):
    async def get(self, request: Request, case_id: str) -> Response:
        try:
            ref = card_ref(request, case_id)
        except Denied as denied:
            return _denied(denied)
        routed = await forward(request, ref.partition, None)
        if routed is not None:
            return routed
        if not reporting._ready():
            return _html(message_page("card_page.not_ready"), 503)
        try:
            found, view = owed(ref.key, ref.case_id, ref.member_id)
        except CompletionRefused as refused:
            return _html(message_page(f"card_page.{refused.code}"), STATUS[refused.code])
        return _html(form_page(found, view, {}, None))

    async def post(self, request: Request, case_id: str) -> Response:
        try:
            ref = card_ref(request, case_id)
        except Denied as denied:
            return _denied(denied)
        body = await self.read_request_content(request)
        routed = await forward(request, ref.partition, body)
        if routed is not None:
            return routed
        if not reporting._ready():  # partitions moving: the case may not be loaded yet
            return _html(message_page("card_page.not_ready"), 503)
        form = dict(parse_qsl(body.decode(errors="replace")))
        try:
            found, view = owed(ref.key, ref.case_id, ref.member_id)
        except CompletionRefused as refused:
            return _html(message_page(f"card_page.{refused.code}"), STATUS[refused.code])
        try:
            check(ref.key, ref.case_id, ref.member_id, form)
        except CompletionRefused as refused:
            return _html(form_page(found, view, form, refused), 422)
        await submit(ref.key, ref.partition, ref.case_id, ref.member_id, form)
        case = await sent_case(ref.key, ref.case_id, SENT_WITHIN_SECONDS)
        if case is None or case.current_card is None:  # on its way: the topic keeps it
            return _html(message_page("card_page.submitted"), 202)
        return _html(confirmation(card_number(case, reporting.catalogue), case.current_card))
