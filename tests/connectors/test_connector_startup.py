"""Every member connector refuses to start, with one line and a non-zero exit, when a
setting it needs is missing or wrong (an unknown member, no broker, no FHIR URL, a CSV it
cannot read, a port in use), instead of a traceback, a hang or a listener that answers AE.
No broker runs here: each check comes before any connection."""

from __future__ import annotations

import asyncio
import socket
from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from connectors.cli import main
from connectors.settings import get_settings
from tests.connectors.test_hl7_messages import lab_oru

DOWN = "127.0.0.1:1"  # nothing listens there
STOCK = "kind,drug_code,quantity,at\nCOUNT,YP000123,120,2025-03-01 18:00\n"


@pytest.fixture(autouse=True)
def clean_settings(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[None]:
    monkeypatch.chdir(tmp_path)
    for name in ("HUB_BROKER", "HUB_MEMBER_ID", "HUB_FEEDBACK_FHIR_URL", "HUB_REGISTRY_FILE",
                 "HUB_FEEDBACK_TARGET"):
        monkeypatch.delenv(name, raising=False)
    get_settings.cache_clear()
    yield
    get_settings.cache_clear()


def run(*args: str, env: dict[str, str] | None = None) -> Result:
    get_settings.cache_clear()
    return CliRunner().invoke(main, list(args), env=env)


def one_line_failure(result: Result, *needles: str) -> None:
    assert result.exit_code not in (0, None), result.output
    assert isinstance(result.exception, SystemExit), repr(result.exception)
    lines = result.output.strip().splitlines()
    assert len(lines) == 1, result.output
    for needle in needles:
        assert needle in lines[0], lines[0]


def stock_file(tmp_path: Path, text: str = STOCK, encoding: str = "utf-8") -> str:
    path = tmp_path / "stock.csv"
    path.write_bytes(text.encode(encoding))
    return str(path)


@pytest.mark.parametrize("command", [
    ["mllp", "--port", "0"], ["fhir", "--port", "0"], ["deliver-feedback"], ["import-csv"],
])
def test_an_unknown_member_is_refused_at_start(command: list[str], tmp_path: Path) -> None:
    args = [*command, "--member", "nosuch", "--broker", DOWN]
    if command == ["import-csv"]:
        args.insert(1, stock_file(tmp_path))
    one_line_failure(run(*args), "nosuch", "成员注册表")


def test_the_member_registry_file_is_the_hubs(tmp_path: Path) -> None:
    registry = tmp_path / "members.toml"
    registry.write_text('[consortium]\nid = "c"\nname = "C"\n\n'
                        '[[members]]\nid = "only-one"\nname = "One"\nlevel = "CENTRE"\n')
    env = {"HUB_REGISTRY_FILE": str(registry)}
    one_line_failure(run("deliver-feedback", "--member", "lead", "--broker", DOWN, env=env),
                     "'lead'", "only-one")


@pytest.mark.parametrize("command", [["mllp"], ["deliver-feedback"], ["import-csv"]])
def test_missing_member_or_broker_is_one_line(command: list[str], tmp_path: Path) -> None:
    args = list(command)
    if command == ["import-csv"]:
        args.append(stock_file(tmp_path))
    one_line_failure(run(*args, env={"HUB_BROKER": DOWN}), "HUB_MEMBER_ID")
    one_line_failure(run(*args, env={"HUB_MEMBER_ID": "lead"}), "HUB_BROKER")


def test_fhir_feedback_without_its_url_is_one_line() -> None:
    env = {"HUB_MEMBER_ID": "lead", "HUB_BROKER": DOWN}
    one_line_failure(run("deliver-feedback", "--target", "fhir", env=env),
                     "HUB_FEEDBACK_FHIR_URL")


def test_a_csv_with_a_bad_header_is_one_line(tmp_path: Path) -> None:
    path = stock_file(tmp_path, "kind,code,qty,when\nCOUNT,YP000123,1,2025-03-01\n")
    result = run("import-csv", path, "--member", "lead", "--broker", DOWN)
    one_line_failure(result, "drug_code")
    assert result.exit_code == 2


def test_import_csv_takes_the_files_encoding(tmp_path: Path) -> None:
    path = stock_file(tmp_path, STOCK.replace("COUNT", "盘点"), encoding="utf-16")
    unnamed = run("import-csv", path, "--member", "lead", "--broker", DOWN)
    one_line_failure(unnamed, "没有导入任何内容", "用 --encoding 指明编码")
    unknown = run("import-csv", path, "--member", "lead", "--broker", DOWN,
                  "--encoding", "nosuch-codec")
    one_line_failure(unknown, "nosuch-codec")
    # Named, the file is read: it gets as far as the broker, which is down.
    named = run("import-csv", path, "--member", "lead", "--broker", DOWN,
                "--encoding", "utf-16", env={"HUB_PUBLISH_TIMEOUT": "1"})
    assert named.exit_code == 2 and isinstance(named.exception, SystemExit), named.output
    assert "Kafka" in named.output and "Traceback" not in named.output


def test_an_mllp_port_in_use_is_one_line() -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        result = run("mllp", "--member", "lead", "--broker", DOWN, "--host", "127.0.0.1",
                     "--port", str(port))
    one_line_failure(result, str(port))


def test_mllp_listens_and_answers_ar_while_the_broker_is_down(tmp_path: Path) -> None:
    from connectors.member.hl7.handler import start_hl7_listener
    from connectors.member.mllp.client import send_message
    from connectors.member.sdk import MemberPublisher

    publisher = MemberPublisher(DOWN, "lead", timeout=1)  # does not raise: connects later
    assert not publisher.connect()

    async def scenario() -> bytes:
        server = await start_hl7_listener(publisher, "lead", port=0)
        try:
            return await send_message("127.0.0.1", server.port, lab_oru().encode(), 30)
        finally:
            await server.close()

    reply = asyncio.run(scenario()).decode()
    publisher.close()
    assert "MSA|AR|" in reply, reply


def test_the_mllp_command_listens_and_answers_ar_with_the_broker_down(tmp_path: Path) -> None:
    import os
    import subprocess
    import sys
    import time

    from connectors.member.mllp.client import send_message
    from hub.brokers import free_port

    port, metrics_port = free_port(), free_port()
    env = {**os.environ, "HUB_BROKER": DOWN, "HUB_MEMBER_ID": "lead",
           "HUB_MLLP_HOST": "127.0.0.1", "HUB_MLLP_PORT": str(port),
           "HUB_METRICS_HOST": "127.0.0.1", "HUB_METRICS_PORT": str(metrics_port),
           "HUB_PUBLISH_TIMEOUT": "1", "PYTHONPATH": str(Path(__file__).resolve().parents[2])}
    process = subprocess.Popen([sys.executable, "-m", "connectors.cli", "mllp"], cwd=tmp_path,
                               env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                reply = asyncio.run(send_message("127.0.0.1", port, lab_oru().encode(), 30))
                break
            except OSError:
                assert process.poll() is None and time.monotonic() < deadline
                time.sleep(0.2)
    finally:
        process.terminate()
        output = process.communicate(timeout=30)[0].decode()
    assert "MSA|AR|" in reply.decode(), reply
    assert process.returncode == 0, output
    assert "kafka." not in output  # the library's lines are in the log file
