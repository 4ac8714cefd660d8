"""The card page's HTML (hub.web.card_page): what the card says, the missing fields as a
form, the deadline counting down, and the confirmation. Text from messages.toml, times in
the hub's zone (Beijing) with the date; every value escaped."""

from __future__ import annotations

from collections.abc import Mapping
from enum import Enum
from html import escape

from hub.rules.reporting import CardView
from hub.rules.reporting.card_fields import CARD_ID_TYPES
from hub.rules.reporting.completion import ENUMS, CompletionRefused, Owed
from hub.rules.reporting.state import SentCard
from hub.runtime.services import runtime
from schemas.models.common import IdType, Patient

STYLE = """body{font-family:sans-serif;max-width:46em;margin:1em auto;padding:0 1em}
dl{display:grid;grid-template-columns:12em auto;gap:.3em}dt{color:#555}
label{display:block;margin:.6em 0}.error{color:#b00;font-weight:bold}
.deadline{font-size:1.1em}#countdown{font-weight:bold}.late{color:#b00}"""
# Counts down to data-deadline (epoch ms) every second; the text around it is the server's.
COUNTDOWN = """<script>(function(){var e=document.getElementById("countdown");
if(!e)return;var end=Number(e.dataset.deadline);function tick(){
var s=Math.round((end-Date.now())/1000),neg=s<0;s=Math.abs(s);
var t=Math.floor(s/3600)+":"+String(Math.floor(s%3600/60)).padStart(2,"0")+":"
+String(s%60).padStart(2,"0");e.textContent=(neg?"-":"")+t;e.className=neg?"late":"";}
tick();setInterval(tick,1000);})();</script>"""


def _say(key: str, **params: object) -> str:
    return escape(runtime.locale.say(key, **params))


def _label(name: str) -> str:
    return escape(runtime.locale.label(name))


def _choice_label(value: Enum) -> str:
    own = runtime.locale.label(f"card.{value.value}")
    return escape(own if own != f"card.{value.value}" else runtime.locale.label(value.value))


def _page(title: str, body: str) -> str:
    return (f'<!doctype html><html lang="zh-CN"><head><meta charset="utf-8">'
            f'<meta name="viewport" content="width=device-width">'
            f"<title>{title}</title><style>{STYLE}</style></head><body>"
            f"<h1>{title}</h1>{body}</body></html>")


def message_page(key: str) -> str:
    return _page(_say("card_page.title"), f'<p class="error" id="message">{_say(key)}</p>')


def _known(patient: Patient, view: CardView) -> list[tuple[str, str]]:
    address = patient.address
    where = "".join(getattr(address, part) or "" for part in (
        "province", "city", "county", "township", "village", "house_number")) if address else ""
    rows: list[tuple[str, object]] = [
        ("patient_name", patient.name), ("parent_name", patient.parent_name),
        ("id_number", patient.id_number), ("sex", patient.sex),
        ("birth_date", patient.birth_date or (
            f"{patient.age_value} {patient.age_unit.value}" if patient.age_unit else None)),
        ("belonging", patient.belonging), ("address", where or None),
        ("occupation", patient.occupation), ("case_classification", view.classification),
        ("chronicity", view.chronicity), ("onset_date", view.onset_date),
    ]
    return [(_label(name), _choice_label(value) if isinstance(value, Enum) else escape(str(value)))
            for name, value in rows if value is not None and name not in view.missing]


def _options(name: str, chosen: str) -> str:
    values: list[Enum] = list(ENUMS[name]) if name in ENUMS else [  # type: ignore[call-overload]
        t for t in IdType if t in CARD_ID_TYPES]
    options = [f'<option value="">{_say("card_page.choose")}</option>']
    for value in values:
        if name != "id_type" and value.value == "UNKNOWN":
            continue  # the card needs a real value
        mark = " selected" if value.value == chosen else ""
        options.append(f'<option value="{value.value}"{mark}>{_choice_label(value)}</option>')
    return f'<select name="{name}" id="{name}">{"".join(options)}</select>'


def _input(name: str, form: Mapping[str, str], view: CardView) -> str:
    given = form.get(name, "")
    if name in ENUMS:
        field = _options(name, given)
    elif name == "subtype":
        options = [f'<option value="{escape(s.code)}">{escape(s.name)}</option>'
                   for s in view.match.disease.subtypes]
        field = f'<select name="subtype" id="subtype">{"".join(options)}</select>'
    elif name in ("birth_date", "onset_date"):
        field = f'<input type="date" name="{name}" id="{name}" value="{escape(given)}">'
    else:
        field = f'<input type="text" name="{name}" id="{escape(name)}" value="{escape(given)}">'
        if name == "id_number":
            field = _options("id_type", form.get("id_type", IdType.RESIDENT_ID.value)) + field
    return f"<label>{_label(name)} {field}</label>"


def form_page(owed: Owed, view: CardView, form: Mapping[str, str],
              refused: CompletionRefused | None) -> str:
    case = owed.case
    deadline = case.deadline
    error = ""
    if refused is not None:
        field = _label(refused.field) if refused.field else ""
        error = (f'<p class="error" id="error">'
                 f'{_say(f"card_page.refused.{refused.code}", field=field)}</p>')
    known = "".join(f"<dt>{k}</dt><dd>{v}</dd>" for k, v in _known(view.patient, view))
    unit = runtime.registry.get(view.winner.member_id)
    fields = "".join(_input(name, form, view) for name in owed.missing)
    about = _say("card_page.disease", disease=view.match.name, unit=unit.name if unit else "",
                 diagnosed=view.winner.diagnosed_at)
    body = (
        f"<p>{about}</p>"
        f'<p class="deadline">{_say("card_page.deadline", deadline=deadline)} '
        f'<span id="countdown" data-deadline="{int(deadline.timestamp() * 1000)}"></span></p>'
        f"<h2>{_say('card_page.known')}</h2><dl id=\"known\">{known}</dl>"
        f"<h2>{_say('card_page.missing')}</h2>{error}"
        f'<form method="post" id="card-form">{fields}'
        f'<button type="submit" id="submit">{_say("card_page.submit")}</button></form>'
        f"{COUNTDOWN}"
    )
    return _page(_say("card_page.title"), body)


def confirmation(number: str, card: SentCard) -> str:
    body = (f'<p id="confirmation">{_say("report.sent", card_number=number)}</p>'
            f"<p>{_say('card_page.sent_at', at=card.filled_at)}</p>")
    return _page(_say("card_page.title"), body)
