"""The `hub-connector` command run at a member: `mllp` (HL7 v2 listener), `fhir` (FHIR R4
endpoint), `import-csv` (stock counts and dispenses from a file), `deliver-feedback` (the
hub's answers back to the HIS). Settings come from HUB_* variables (connectors/settings.py);
options override them. The other subcommands (`cdc-sink`, `pharmacy-view`) follow: each
imports its module lazily, so one command's dependencies do not slow the others."""

from __future__ import annotations

import asyncio
import json
import logging
import signal
from pathlib import Path

import click

from connectors.settings import ConnectorSettings, FeedbackTarget, SettingsError, get_settings

log = logging.getLogger("connectors")


class _Commands(click.Group):
    """A missing or wrong setting ends any command with its one line and exit code 1."""

    def invoke(self, ctx: click.Context) -> object:
        try:
            return super().invoke(ctx)
        except SettingsError as exc:
            raise click.ClickException(str(exc)) from exc


@click.group(cls=_Commands)
@click.option("--log-level", default="INFO", show_default=True)
def main(log_level: str) -> None:
    """Member connectors of the consortium hub."""
    _configure_logging(log_level.upper(), get_settings().connector_log_file)


class _OwnLines(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        return record.name.split(".", 1)[0] in ("connectors", "schemas", "__main__")


def _configure_logging(level: str, log_file: Path) -> None:
    """The console shows the connectors' own lines; every library's records (kafka-python,
    aiohttp) go, at INFO and above, to `log_file` (HUB_CONNECTOR_LOG_FILE) only."""
    text = logging.Formatter("%(asctime)s %(levelname)s %(name)s %(message)s")
    console = logging.StreamHandler()
    console.setFormatter(text)
    console.setLevel(level)
    console.addFilter(_OwnLines())
    handlers: list[logging.Handler] = [console]
    try:
        log_file.parent.mkdir(parents=True, exist_ok=True)
        to_file = logging.FileHandler(log_file, encoding="utf-8")
        to_file.setFormatter(text)
        to_file.setLevel(logging.INFO)
        handlers.append(to_file)
    except OSError:
        pass  # a read-only folder: no file, the console stays quiet all the same
    level_number = logging.getLevelName(level)
    root_level = min(level_number, logging.INFO) if isinstance(level_number, int) else "INFO"
    logging.basicConfig(level=root_level, handlers=handlers, force=True)


def _settings(member: str | None, broker: str | None) -> ConnectorSettings:
    settings = get_settings()
    updates = {k: v for k, v in (("member_id", member), ("broker", broker)) if v}
    return settings.model_copy(update=updates) if updates else settings


def _member_settings(member: str | None, broker: str | None) -> ConnectorSettings:
    """Settings of a command run at a member: the member must be in the registry and a
    broker named, or the command stops at once (SettingsError)."""
    settings = _settings(member, broker)
    settings.require_known_member()
    settings.broker_servers()
    return settings


def _cannot_listen(what: str, host: str, port: int, exc: OSError) -> str:
    return f"{what} 监听端口 {host}:{port} 无法打开（已被占用或无权限）：{exc.strerror or exc}"


async def _until_stopped() -> None:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    await stop.wait()


@main.command()
@click.option("--member", help="Member id (default HUB_MEMBER_ID)")
@click.option("--broker", help="Kafka bootstrap servers (default HUB_BROKER)")
@click.option("--host", help="Listen address (default HUB_MLLP_HOST)")
@click.option("--port", type=int, help="Listen port (default HUB_MLLP_PORT)")
def mllp(member: str | None, broker: str | None, host: str | None, port: int | None) -> None:
    """Listen for HL7 v2 over MLLP and publish what arrives to the hub."""
    from connectors.member.deadletter import DeadLetterFile
    from connectors.member.hl7.handler import start_hl7_listener
    from connectors.member.hl7.patient_cache import PatientCache
    from connectors.member.mapping import CodeMapper
    from connectors.member.reference import follow_reference
    from connectors.member.sdk import MemberPublisher
    from connectors.metrics import serve_metrics

    settings = _member_settings(member, broker)
    member_id = settings.require_member()

    async def run() -> None:
        reference = follow_reference(settings)
        # Connected once the listener is up: while the broker is down it answers AR.
        publisher = MemberPublisher(settings.broker_servers(), member_id,
                                    timeout=settings.publish_timeout,
                                    security=settings.kafka_client_config(), connect=False)
        listen_host = host or settings.mllp_host
        listen_port = port if port is not None else settings.mllp_port
        try:
            server = await start_hl7_listener(
                publisher, member_id, host=listen_host, port=listen_port,
                codes=CodeMapper.following(member_id, lambda: reference.current),
                patients=PatientCache(settings.patient_cache_file),
                dead_letters=DeadLetterFile(settings.dead_letter_dir, member_id),
                zone=settings.local_timezone, default_charset=settings.hl7_default_charset,
                max_message_bytes=settings.mllp_max_message_bytes,
                idle_timeout=settings.mllp_idle_timeout,
            )
        except OSError as exc:
            publisher.close()
            raise SettingsError(_cannot_listen("HL7", listen_host, listen_port, exc)) from exc
        # Started once the port is ours; a message meanwhile waits for the first read.
        await asyncio.get_running_loop().run_in_executor(
            None, reference.start().wait_ready, settings.reference_wait_seconds)
        connecting = asyncio.get_running_loop().run_in_executor(None, publisher.connect)
        serve_metrics(settings.metrics_port, settings.metrics_host)
        log.info("HL7 listener of %s on port %d; metrics on %d", member_id, server.port,
                 settings.metrics_port)
        try:
            await _until_stopped()
        finally:
            await server.close()
            await connecting
            publisher.close()
            reference.stop()

    asyncio.run(run())


@main.command()
@click.option("--member", help="Member id (default HUB_MEMBER_ID)")
@click.option("--broker", help="Kafka bootstrap servers (default HUB_BROKER)")
@click.option("--host", help="Listen address (default HUB_FHIR_HOST)")
@click.option("--port", type=int, help="Listen port (default HUB_FHIR_PORT)")
def fhir(member: str | None, broker: str | None, host: str | None, port: int | None) -> None:
    """Serve the FHIR R4 endpoint (and /metrics) and publish what arrives to the hub."""
    from aiohttp import web

    from connectors.member.fhir.server import build_app
    from connectors.member.mapping import CodeMapper
    from connectors.member.reference import follow_reference
    from connectors.member.sdk import MemberPublisher

    settings = _member_settings(member, broker)
    member_id = settings.require_member()
    reference = follow_reference(settings).start()
    reference.wait_ready(settings.reference_wait_seconds)
    publisher = MemberPublisher(settings.broker_servers(), member_id,
                                timeout=settings.publish_timeout,
                                security=settings.kafka_client_config())
    listen_host = host or settings.fhir_host
    listen_port = port if port is not None else settings.fhir_port
    codes = CodeMapper.following(member_id, lambda: reference.current)
    try:
        web.run_app(build_app(settings, publisher, codes=codes), host=listen_host,
                    port=listen_port)
    except OSError as exc:
        raise SettingsError(_cannot_listen("FHIR", listen_host, listen_port, exc)) from exc
    finally:
        publisher.close()
        reference.stop()


@main.command()
@click.option("--broker", help="Kafka bootstrap servers (default HUB_BROKER)")
@click.option("--metrics-url", help="The running connector's /metrics (default: "
              "http://127.0.0.1:<HUB_METRICS_PORT>/metrics; a FHIR connector: its own port)")
def reference(broker: str | None, metrics_url: str | None) -> None:
    """参考数据：运行中的连接器使用的版本，与中心在 hub.reference 上发布的版本对照。"""
    from connectors.member.reference_status import show_status

    settings = _settings(None, broker)
    url = metrics_url or f"http://127.0.0.1:{settings.metrics_port}/metrics"
    show_status(settings, url)


@main.command("import-csv")
@click.argument("path", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--member", help="Member id (default HUB_MEMBER_ID)")
@click.option("--broker", help="Kafka bootstrap servers (default HUB_BROKER)")
@click.option("--kind", type=click.Choice(["COUNT", "DISPENSE"], case_sensitive=False),
              help="Kind of every row, for files without a kind column")
@click.option("--encoding", help="The file's encoding, e.g. gb18030, big5, utf-16 "
              "(default: UTF-8, else GB18030)")
def import_csv_command(path: Path, member: str | None, broker: str | None,
                       kind: str | None, encoding: str | None) -> None:
    """Import a CSV of stock counts or dispenses (columns: see connectors/member/batch.py).
    Exits 1 if any row was rejected."""
    from connectors.member.batch import run_import_command

    settings = _member_settings(member, broker)
    rejected = run_import_command(path, settings, kind, encoding)
    if rejected:
        raise SystemExit(1)


def _feedback_settings_help() -> str:
    """The HUB_FEEDBACK_* settings with their defaults, for `deliver-feedback --help`."""
    lines = ["\b", "设置（环境变量）："]
    for name, field in ConnectorSettings.model_fields.items():
        if name.startswith("feedback_"):
            default = field.get_default(call_default_factory=True)
            shown = default.value if isinstance(default, FeedbackTarget) else default
            if isinstance(shown, list):
                shown = "'" + json.dumps(shown) + "'"
            lines.append(f"  HUB_{name.upper()}={shown}  {field.description or ''}".rstrip())
    return "\n".join(lines)


@main.command("deliver-feedback", epilog=_feedback_settings_help())
@click.option("--member", help="Member id (default HUB_MEMBER_ID)")
@click.option("--broker", help="Kafka bootstrap servers (default HUB_BROKER)")
@click.option("--target", type=click.Choice([t.value for t in FeedbackTarget]),
              help="mllp or fhir (default HUB_FEEDBACK_TARGET)")
def deliver_feedback(member: str | None, broker: str | None, target: str | None) -> None:
    """Deliver the hub's feedback for this member to its HIS, as HL7 or FHIR."""
    from connectors.member.feedback_delivery import run_delivery

    settings = _member_settings(member, broker)
    if target:
        settings = settings.model_copy(update={"feedback_target": FeedbackTarget(target)})
    run_delivery(settings)


@main.command("pharmacy-view")
@click.option("--broker", help="Kafka bootstrap servers (default HUB_BROKER)")
@click.option("--export", "export_dir", type=click.Path(file_okay=False, path_type=Path),
              help="追上最新消息，在此目录写出 shortages.csv、orders.csv、stock.csv 和 "
                   "transfers.csv 后退出")
@click.option("--refresh", default=1.0, show_default=True, help="Seconds between polls")
def pharmacy_view(broker: str | None, export_dir: Path | None, refresh: float) -> None:
    """中心药房：各成员实时库存、缺药、调拨和待到货订单，实时显示或导出 CSV。"""
    from connectors.pharmacy.view import run_view

    settings = _settings(None, broker)
    run_view(settings.broker_servers(), export_dir=export_dir, refresh=refresh,
             security=settings.kafka_client_config(), locale=settings.locale())


@main.command("cdc-sink")
@click.option("--broker", help="Kafka bootstrap servers (default HUB_BROKER)")
@click.option("--out", "out_dir", type=click.Path(file_okay=False, path_type=Path),
              default=Path("cdc-cards"), show_default=True, envvar="HUB_CDC_SINK_DIR",
              help="Folder the cards are filed in (HUB_CDC_SINK_DIR)")
@click.option("--group", default="cdc-sink", show_default=True, envvar="HUB_CDC_SINK_GROUP",
              help="Kafka consumer group (HUB_CDC_SINK_GROUP)")
@click.option("--once", is_flag=True, help="Catch up, then exit")
def cdc_sink(broker: str | None, out_dir: Path, group: str, once: bool) -> None:
    """The CDC: file every report card and revision from cdc.disease-reports as JSON and
    in the national exchange layout."""
    from connectors.cdc.sink import run_sink

    settings = _settings(None, broker)
    run_sink(settings.broker_servers(), out_dir, group, follow=not once,
             security=settings.kafka_client_config(), locale=settings.locale())


if __name__ == "__main__":
    main()
