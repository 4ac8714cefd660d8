"""The members' integration guide (docs/member-integration.md) stays true to the code: it
names every HL7 message and FHIR resource the connectors accept, every CSV column, every
ACK error code, and only settings that exist."""

from __future__ import annotations

import re
from datetime import date
from pathlib import Path

from connectors.member.batch import COLUMNS, REQUIRED
from connectors.member.fhir.mapping import MAPPERS as FHIR_MAPPERS
from connectors.member.hl7.ack import ERROR_CODES
from connectors.member.hl7.card import card_fields
from connectors.member.hl7.handler import MAPPERS as HL7_MAPPERS
from connectors.member.hl7.message import decode
from connectors.member.hl7.patient import patient_from_pid
from connectors.settings import ConnectorSettings
from hub.settings import HubSettings
from schemas.models.common import Occupation
from tests.connectors.test_hl7_messages import typhoid_adt

GUIDE = (Path(__file__).resolve().parents[2] / "docs" / "member-integration.md").read_text(
    "utf-8")


def test_every_accepted_message_and_resource_is_described() -> None:
    for message_type, trigger in HL7_MAPPERS:
        assert f"`{message_type}^{trigger}`" in GUIDE, (message_type, trigger)
    for resource in FHIR_MAPPERS:
        assert resource in GUIDE, resource


def test_every_csv_column_and_ack_code_is_described() -> None:
    for column in COLUMNS:
        required = "是" if column in REQUIRED else "否"
        assert re.search(rf"\| `{column}` \| {required}", GUIDE), column
    for code, _ in ERROR_CODES.values():
        assert code in GUIDE, code


def test_the_guide_names_only_settings_that_exist() -> None:
    settings = {f"HUB_{name.upper()}" for model in (ConnectorSettings, HubSettings)
                for name in model.model_fields}  # the hub's: catalogue files it loads
    named = set(re.findall(r"\bHUB_[A-Z_]+[A-Z]\b", GUIDE))
    assert named and named <= settings, sorted(named - settings)


def test_the_card_field_examples_of_the_guide_map_as_it_says() -> None:
    """The guide's HL7 examples of the card's fields, put into an ADT^A01, give the
    occupation group, onset and address it describes."""
    card_section = GUIDE.split("\n## 报告卡字段", 1)[1].split("\n## ", 1)[0]
    lines = re.findall(r"^((?:OBX|ZCD|PID)\|.*)$", card_section, flags=re.MULTILINE)
    segments = {line[:3]: [x for x in lines if x.startswith(line[:3])] for line in lines}
    assert len(segments["OBX"]) == 3 and len(segments["ZCD"]) == 1
    for extra in ([segments["OBX"][0], segments["OBX"][2]], segments["ZCD"]):
        parsed = decode(typhoid_adt(occupation="", onset="", extra=tuple(extra)).encode())
        card = card_fields(parsed)
        assert (card.occupation, card.onset_date) == (Occupation.FARMER, date(2026, 2, 26))
    parsed = decode(typhoid_adt(occupation="", onset="", extra=(segments["OBX"][1],)).encode())
    assert card_fields(parsed).occupation is Occupation.SCATTERED_CHILD
    [pid] = segments["PID"]
    address = patient_from_pid(decode(typhoid_adt().replace(
        typhoid_adt().split("\r")[2], pid).encode()).first("PID")).address
    assert address is not None and (address.city, address.county) == ("绵阳市", "涪城区")
