"""Reference data that reaches the connectors: every loader reads a published file's bytes
as it reads the file; a published version is checked before a connector swaps to it; a
mapper made before a swap maps with the new catalogue; a version that does not load is
refused (the old one kept, counted); and the hub publishes the files it is configured with.
No broker here (the end-to-end run is tests/connectors/test_reference_integration.py)."""

from __future__ import annotations

import asyncio
import tomllib
from datetime import UTC, datetime
from pathlib import Path

import pytest

from connectors import metrics
from connectors.member.deadletter import DeadLetterFile
from connectors.member.hl7.handler import start_hl7_listener
from connectors.member.mapping import CodeMapper, MemorySink, Rejected
from connectors.member.mllp.client import MllpClient
from connectors.member.reference import LOCAL, TOPIC, ReferenceFollower, local_reference
from connectors.member.reference_status import versions_in_use
from connectors.settings import ConnectorSettings
from hub.ops.reference import configured_files
from hub.settings import HubSettings
from schemas.models import LabResult
from schemas.reference import DATA_DIR
from schemas.reference.diseases import load_disease_catalogue
from schemas.reference.formulary import load_formulary
from schemas.reference.items import load_item_catalogue
from schemas.reference.local_diagnosis_codes import load_local_diagnosis_codes
from schemas.reference.published import PublishedFile, ReferenceData, packaged_files
from schemas.reference.registry import load_registry
from tests.connectors.test_hl7_messages import PATIENT_ID, message, seg

# The ORU^R01 example of the HL7 v2 standard (chapter 7; also the example of Wikipedia's
# "Health Level 7" article): one glucose result, LOINC 1554-5 sent as the LIS's own code
# (no coding system), a structured numeric value. Adapted as a member's LIS sends it: the
# lead hospital's application and facility, a resident ID, a Chinese name and address.
#   OBX|1|SN|1554-5^GLUCOSE^POST 12H CFST:MCNC:PT:SER/PLAS:QN||^182|mg/dl|70_105|H|||F
GLUCOSE_CODE = "1554-5"


def glucose_oru(control: str = "CNTRL-3456") -> str:
    return message(
        seg("PID", {3: f"{PATIENT_ID}^^^LEAD^ID", 5: "王^芳^^^^^L", 7: "19620320", 8: "F",
                    11: "枫林路153号^^绵阳市^四川省^621000", 13: "13800000001"}),
        seg("OBR", {1: "1", 2: "845439^GHH OE", 3: "1045813^GHH LAB", 4: "15545^GLUCOSE",
                    7: "20250301073000+0800", 16: "D001^李^医生", 22: "20250301093000+0800",
                    25: "F"}),
        seg("OBX", {1: "1", 2: "SN", 3: f"{GLUCOSE_CODE}^GLUCOSE^POST 12H CFST:MCNC:PT:"
                    "SER/PLAS:QN", 5: "^182", 6: "mg/dl", 7: "70_105", 8: "H", 11: "F"}),
        app="GHH LAB", control=control,
    )


def items_with_glucose_code(member: str = "lead") -> bytes:
    """The shipped catalogue with an item for LOINC 1554-5 that `member` sends as its code."""
    shipped = (DATA_DIR / "items.toml").read_text("utf-8")
    return (shipped + f'''
[[items]]
code = "GLU-F12"
name = "空腹12小时血糖"
name_en = "Glucose, 12 h fasting"
kind = "LAB"
group = "biochemistry"
window_days = 30
loinc = "{GLUCOSE_CODE}"
unit = "mg/dL"
local_codes = {{ {member} = "{GLUCOSE_CODE}" }}
''').encode("utf-8")


def published(kind: str, content: bytes, by: str = "operator@hub") -> PublishedFile:
    return PublishedFile.of(kind, content, by, datetime(2026, 12, 7, 8, 0, tzinfo=UTC))


@pytest.mark.parametrize(("name", "load"), [
    ("items.toml", load_item_catalogue), ("members.toml", load_registry),
    ("diseases.toml", load_disease_catalogue),
    ("local_diagnosis_codes.csv", load_local_diagnosis_codes),
])
def test_each_loader_reads_bytes_as_it_reads_the_file(name: str, load: object) -> None:
    assert callable(load)
    path = DATA_DIR / name
    assert load(path.read_bytes()) == load(path)


def test_the_formulary_loads_from_bytes_with_its_catalogue() -> None:
    from_bytes = load_formulary((DATA_DIR / "formulary.toml").read_bytes(),
                                catalogue=(DATA_DIR / "formulary.csv").read_bytes())
    assert from_bytes.drugs == load_formulary().drugs
    with pytest.raises(ValueError, match="catalogue"):
        load_formulary((DATA_DIR / "formulary.toml").read_bytes())


def test_every_shipped_data_file_is_published_but_the_texts() -> None:
    shipped = {p.name for p in DATA_DIR.iterdir() if p.suffix in (".toml", ".csv")}
    assert set(packaged_files()) == shipped - {"messages.toml"}
    assert {"items.toml", "members.toml", "formulary.toml", "formulary.csv", "diseases.toml",
            "local_diagnosis_codes.csv"} <= set(packaged_files())


def test_the_hub_publishes_the_files_its_settings_name(tmp_path: Path) -> None:
    items = tmp_path / "my-items.toml"
    items.write_bytes(items_with_glucose_code())
    formulary = tmp_path / "formulary.toml"
    formulary.write_text((DATA_DIR / "formulary.toml").read_text("utf-8").replace(
        'catalogue = "formulary.csv"', 'catalogue = "drugs.csv"'), "utf-8")
    (tmp_path / "drugs.csv").write_bytes((DATA_DIR / "formulary.csv").read_bytes())
    files = configured_files(HubSettings(items_file=items, formulary_file=formulary))
    assert files["items.toml"] == items and files["formulary.toml"] == formulary
    assert files["formulary.csv"] == tmp_path / "drugs.csv"
    assert files["members.toml"] == DATA_DIR / "members.toml"
    assert ReferenceData.from_paths(files).items.get("GLU-F12") is not None


def test_a_published_file_round_trips_and_a_tampered_one_is_refused() -> None:
    file = published("items.toml", items_with_glucose_code())
    assert PublishedFile.from_bytes(file.to_bytes()) == file
    assert file.version == file.digest[:12] and file.key == b"items.toml"
    tampered = file.to_bytes().replace(b"GLU-F12", b"GLU-F13")
    with pytest.raises(ValueError, match="digest"):
        PublishedFile.from_bytes(tampered)


def test_a_new_version_swaps_under_a_mapper_made_before() -> None:
    follower = ReferenceFollower(ReferenceData.packaged())
    codes = CodeMapper.following("lead", lambda: follower.current)
    with pytest.raises(Rejected, match=GLUCOSE_CODE):
        codes.item(GLUCOSE_CODE)
    old = follower.current
    assert follower.apply([published("items.toml", items_with_glucose_code())]) == [
        "items.toml"]
    assert codes.item(GLUCOSE_CODE).code == "GLU-F12"
    assert old.items.resolve("lead", GLUCOSE_CODE) is None  # the old set is untouched
    assert follower.source("items.toml") == TOPIC and follower.source("members.toml") == LOCAL
    assert follower.apply([published("items.toml", items_with_glucose_code())]) == []


@pytest.mark.parametrize("bad", [
    b"[[items]\ncode = 'broken'",  # not TOML
    (DATA_DIR / "items.toml").read_bytes().replace(b'code = "NA"', b'code = "K"'),  # twice
])
def test_a_version_that_does_not_load_is_refused_and_the_old_kept(bad: bytes) -> None:
    follower = ReferenceFollower(ReferenceData.packaged())
    follower.apply([published("items.toml", items_with_glucose_code())])
    good = follower.current
    refused_before = metrics.REFERENCE_REFUSED.labels("items.toml")._value.get()
    assert follower.apply([published("items.toml", bad)]) == []
    assert follower.current is good
    assert follower.current.items.resolve("lead", GLUCOSE_CODE) is not None
    assert metrics.REFERENCE_REFUSED.labels("items.toml")._value.get() == refused_before + 1


def test_files_that_load_only_together_are_taken_together() -> None:
    """A new member with its local drug codes: the formulary names a member only the new
    registry has, so the two versions are checked together, in whatever order they come;
    a broken file beside them is refused alone."""
    members = (DATA_DIR / "members.toml").read_text("utf-8") + (
        '\n[[members]]\nid = "vp-xinzhuang"\nname = "新庄村卫生室"\nlevel = "VILLAGE_POINT"\n'
        'parent = "thc-river"\n')
    formulary_text = (DATA_DIR / "formulary.toml").read_text("utf-8")
    drug = next(iter(tomllib.loads(formulary_text)["local_codes"]["lead"].values()))
    formulary = formulary_text + f'\n[local_codes.vp-xinzhuang]\n"XZ-001" = "{drug}"\n'
    follower = ReferenceFollower(ReferenceData.packaged())
    lone = published("formulary.toml", formulary.encode())
    assert follower.apply([lone]) == []  # alone it names an unknown member
    broken_items = published("items.toml", b"[[items]\ncode = 'broken'")
    batch = [lone, broken_items, published("members.toml", members.encode())]
    assert sorted(follower.apply(batch)) == ["formulary.toml", "members.toml"]
    assert follower.current.files["items.toml"] != broken_items
    assert CodeMapper.following("vp-xinzhuang", lambda: follower.current).drug("XZ-001").code \
        == drug


def test_the_metric_names_each_version_in_use_and_its_source() -> None:
    follower = ReferenceFollower(ReferenceData.packaged())
    new = published("items.toml", items_with_glucose_code())
    follower.apply([new])
    text = metrics.render_metrics()[0].decode()
    used = versions_in_use(text)
    assert used["items.toml"] == (new.version, TOPIC)
    assert used["members.toml"] == (follower.current.files["members.toml"].version, LOCAL)
    assert set(used) == set(packaged_files())


def test_with_the_topic_unreachable_the_local_files_are_used_and_said(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    codes = tmp_path / "codes.csv"
    codes.write_text("member,local_code,icd10,name\nlead,BY-1,A09.900,感染性腹泻\n", "utf-8")
    local = local_reference(ConnectorSettings(local_diagnosis_codes_file=codes))
    follower = ReferenceFollower(local, "127.0.0.1:1", connect_timeout=0.5).start()
    try:
        assert follower.wait_ready(10) is False
        assert follower.current is local  # and it no longer waits for the topic
        assert follower.current.diagnoses.resolve("lead", "BY-1") is not None
        text = metrics.render_metrics()[0].decode()
        assert "connector_reference_topic_connected 0.0" in text
        assert versions_in_use(text)["items.toml"] == (local.files["items.toml"].version, LOCAL)
        assert "不可达，使用随连接器安装的参考数据" in caplog.text
    finally:
        follower.stop()


def test_a_running_listener_answers_with_the_new_catalogue(tmp_path: Path) -> None:
    """The tester's report: AE for an unknown local code, then AA for the same message once
    a catalogue with the code is applied, without a restart."""
    follower = ReferenceFollower(ReferenceData.packaged())
    sink = MemorySink()

    async def run() -> list[bytes]:
        server = await start_hl7_listener(
            sink, "lead", codes=CodeMapper.following("lead", lambda: follower.current),
            dead_letters=DeadLetterFile(tmp_path / "dead", "lead"))
        try:
            async with MllpClient("127.0.0.1", server.port, timeout=10) as client:
                before = await client.send(glucose_oru("GLU-1").encode())
                follower.apply([published("items.toml", items_with_glucose_code())])
                after = await client.send(glucose_oru("GLU-2").encode())
                return [before, after]
        finally:
            await server.close()

    before, after = asyncio.run(run())
    assert b"MSA|AE|GLU-1" in before and f"'{GLUCOSE_CODE}'".encode() in before
    assert b"MSA|AA|GLU-2" in after
    [result] = sink.events
    assert isinstance(result, LabResult)
    assert (result.item_code, result.local_code, result.value_numeric) == (
        "GLU-F12", GLUCOSE_CODE, 182.0)


def test_hub_reference_publish_refuses_a_file_that_does_not_load(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from click.testing import CliRunner

    from hub.cli import main
    from hub.settings import get_settings

    items = tmp_path / "items.toml"
    items.write_bytes(items_with_glucose_code().replace(b'code = "GLU-F12"', b'code = "K"'))
    for name, value in (("HUB_ITEMS_FILE", str(items)), ("HUB_BROKER", "127.0.0.1:1"),
                        ("HUB_DATA_DIR", str(tmp_path / "hub"))):
        monkeypatch.setenv(name, value)
    get_settings.cache_clear()
    try:
        result = CliRunner().invoke(main, ["reference", "publish"])
    finally:
        get_settings.cache_clear()
    assert result.exit_code == 1, result.output
    assert "参考数据未发布" in result.output and "items.toml" in result.output
    assert "K appears twice" in result.output  # refused before any connection is tried
