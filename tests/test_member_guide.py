"""The members' integration guide (docs/member-integration.md) stays true to the code: it
names every HL7 message and FHIR resource the connectors accept, every CSV column, every
ACK error code, and only settings that exist."""

from __future__ import annotations

import re
from pathlib import Path

from connectors.batch import COLUMNS, REQUIRED
from connectors.fhir.mapping import MAPPERS as FHIR_MAPPERS
from connectors.hl7.ack import ERROR_CODES
from connectors.hl7.handler import MAPPERS as HL7_MAPPERS
from connectors.settings import ConnectorSettings
from hub.settings import HubSettings

GUIDE = (Path(__file__).resolve().parent.parent / "docs" / "member-integration.md").read_text(
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
