"""The `hub` command: broker, topics, worker, and `dev` (all of them plus the demo)."""

from __future__ import annotations

import logging
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING

import click
from kafka.errors import KafkaError

from hub.brokers import BaseBroker, KafkaUnavailable, choose, describe, local_broker
from hub.ops.acls import acls_command
from hub.ops.dlq.commands import dlq
from hub.ops.reference import publish_on_start, reference
from hub.ops.topic_admin import (
    create_topics,
    create_topics_patiently,
    list_topics,
    partition_mismatches_patiently,
    unreachable,
)
from hub.process.logs import (
    configure_logging,
    configure_tool_logging,
    install_exception_hook,
    worker_logging_config,
)
from hub.process.worker_process import WorkerProcess
from hub.settings import BROKER_URL_FILE, TOOL_LOG_FILE, SettingsError, get_settings
from schemas.topics import TopicSpec, catalogue

if TYPE_CHECKING:
    import faust

log = logging.getLogger("hub")


class _Commands(click.Group):
    """A missing setting ends any command with its one line and exit code 1."""

    def invoke(self, ctx: click.Context) -> object:
        try:
            return super().invoke(ctx)
        except SettingsError as exc:
            raise click.ClickException(str(exc)) from exc


@click.group(cls=_Commands)
@click.pass_context
def main(ctx: click.Context) -> None:
    """The consortium hub."""
    settings = get_settings()
    if ctx.invoked_subcommand == "worker":  # a service: everything to its log stream
        configure_logging(settings.log_level, settings.log_json)
    else:  # a tool: the hub's own lines on the console, the libraries' in the log file
        configure_tool_logging(settings.data_dir / TOOL_LOG_FILE, settings.log_level,
                               settings.log_json)


def _all_topics() -> list[TopicSpec]:
    settings = get_settings()
    return catalogue(settings.load_registry().ids, settings.member_partitions)


def start_local_broker(port: int = 0, prefix: str = "") -> BaseBroker:
    """Start this machine's broker (HUB_BROKER_KIND: Apache Kafka where it can run, else
    the embedded one), say which and why, and write its address to <data_dir>/broker.url."""
    settings = get_settings()
    say = settings.locale().say
    try:
        choice = choose(settings.broker_kind)
        if choice.kind == "kafka":
            click.echo(prefix + say("dev.resolving_kafka", version=settings.kafka_version,
                                    cache=settings.kafka_cache_dir))
        local = local_broker(choice, settings.data_dir, version=settings.kafka_version,
                             cache_dir=settings.kafka_cache_dir,
                             heap_mb=settings.kafka_heap_mb, port=port).start()
    except (KafkaUnavailable, RuntimeError, TimeoutError) as exc:
        raise click.ClickException(say("dev.broker_failed", error=exc)) from exc
    (settings.data_dir / BROKER_URL_FILE).write_text(local.bootstrap)
    click.echo(prefix + say("dev.broker", broker=describe(local), bootstrap=local.bootstrap,
                            reason=choice.reason, data=local.data_dir, log=local.log_path))
    return local


@main.command()
@click.option("--port", type=int, default=0, help="Loopback port (default: a free one)")
@click.option("--nodes", type=click.IntRange(1, 5), default=1, help="Apache Kafka nodes: 3 "
              "starts a cluster like production's (replication 3, min.insync.replicas 2)")
def broker(port: int, nodes: int) -> None:
    """Run this machine's broker in the foreground: Apache Kafka where Java and Maven are
    present, else the embedded one (HUB_BROKER_KIND=kafka|embedded forces either)."""
    if nodes > 1:
        run_local_cluster(nodes)
        return
    local = start_local_broker(port)
    try:
        assert local.process is not None
        local.process.wait()
    except KeyboardInterrupt:
        local.stop()


def run_local_cluster(nodes: int) -> None:
    """A cluster of Kafka nodes on loopback, in the foreground until Ctrl-C."""
    from hub.brokers.cluster import KafkaCluster
    from hub.brokers.kafka_config import read_properties
    from hub.brokers.kafka_runtime import resolve

    settings = get_settings()
    say = settings.locale().say
    try:
        cluster = KafkaCluster(resolve(settings.kafka_version, settings.kafka_cache_dir),
                               settings.data_dir / "cluster", size=nodes,
                               heap_mb=settings.kafka_heap_mb).start()
    except (KafkaUnavailable, RuntimeError, TimeoutError) as exc:
        raise click.ClickException(say("dev.broker_failed", error=exc)) from exc
    (settings.data_dir / BROKER_URL_FILE).write_text(cluster.bootstrap)
    props = read_properties(next(iter(cluster.nodes.values())).config_path)
    click.echo(say("dev.cluster", nodes=nodes, replicas=props["default.replication.factor"],
                   min_isr=props["min.insync.replicas"], bootstrap=cluster.bootstrap,
                   data=settings.data_dir / "cluster"))
    try:
        while all(node.running() for node in cluster.nodes.values()):
            time.sleep(1)
    except KeyboardInterrupt:
        pass
    finally:
        cluster.stop()


@main.command()
@click.argument("member_id")
def token(member_id: str) -> None:
    """Print the API token of a member (derived from HUB_API_SECRET)."""
    from hub.ops.tokens import member_token

    settings = get_settings()
    if settings.load_registry().get(member_id) is None:
        raise click.ClickException(f"no member {member_id!r} in the registry")
    click.echo(member_token(settings.api_secret.get_secret_value(), member_id))


@main.group()
def topics() -> None:
    """Topic administration."""


@topics.command("create")
def topics_create() -> None:
    """Create every catalogue topic that does not exist yet."""
    settings = get_settings()
    servers = settings.broker_servers()
    try:
        made = create_topics(servers, _all_topics(), settings.replication_factor)
    except KafkaError as exc:
        raise click.ClickException(unreachable(servers, exc)) from exc
    click.echo(f"created {len(made)} topics" + (": " + ", ".join(made) if made else ""))


@topics.command("list")
def topics_list() -> None:
    servers = get_settings().broker_servers()
    try:
        names = list_topics(servers)
    except KafkaError as exc:
        raise click.ClickException(unreachable(servers, exc)) from exc
    for name in names:
        click.echo(name)


@main.command()
def worker() -> None:
    """Run a hub worker (Faust) against HUB_BROKER or the embedded broker."""
    settings = get_settings()
    servers = settings.broker_servers()
    create_topics_patiently(servers, _all_topics(), settings.replication_factor)
    refuse_partition_mismatches(servers)
    publish_on_start(servers, settings)
    settings.warn_dev_secrets()
    use_event_loop()
    from hub.process import gc_pauses, heap_trim
    from hub.runtime.app import app, load_agents

    load_agents()
    install_exception_hook()
    gc_pauses.install()
    heap_trim.start(settings.heap_trim_interval_s, settings.heap_trim_growth_mb)
    run_faust_worker(app)


def refuse_partition_mismatches(servers: str) -> None:
    """Stop before joining if a topic has another partition count than the settings give
    it: partition n of the member topics, the internal topics and the tables must be one
    worker's, or two workers would write one patient's state."""
    mismatches = partition_mismatches_patiently(servers, _all_topics())
    if mismatches:
        say = get_settings().locale().say
        raise click.ClickException(say("worker.partition_mismatch", topics="; ".join(
            f"{topic}: {has} != {wanted}" for topic, has, wanted in mismatches)))


def use_event_loop() -> None:
    """Select the worker's event loop (HUB_EVENT_LOOP); before `hub.runtime.app` is imported."""
    if get_settings().event_loop == "uvloop":
        import mode.loop

        mode.loop.use("uvloop")


def run_faust_worker(app: faust.App) -> None:
    """Run `app` as a worker in the foreground, as `hub worker` does (the benchmarks' Faust
    floor runs its bare agents the same way)."""
    import faust

    settings = get_settings()
    (settings.data_dir / "faust" / settings.app_id).mkdir(parents=True, exist_ok=True)
    runner = faust.Worker(
        app, loglevel=settings.log_level.lower(),
        logging_config=worker_logging_config(settings.log_level, settings.log_json,
                                             settings.log_outage_reminder_s,
                                             settings.log_outage_quiet_s),
    )
    # Faust's terminal spinner sets the root logger to DEBUG at WARN and above, so every
    # debug call in aiokafka would build a record: 6% of the worker's time.
    runner.spinner = None
    runner.execute_from_commandline()


# What `hub dev` clears before a run: both brokers' data and the worker's tables.
DEV_STATE = ("kafka", "broker", "faust")


@main.command()
@click.option("--demo/--no-demo", default=True, help="Publish demo events as members")
@click.option("--keep-state/--fresh-state", default=False, help="Keep the last run's broker "
              "data and tables (default: clear them, so the demo tells the same story each run)")
def dev(demo: bool, keep_state: bool) -> None:
    """This machine's broker + one worker + the demo. Ctrl-C stops all."""
    settings = get_settings()
    say = settings.locale().say
    data_dir: Path = settings.data_dir
    if not keep_state:  # the demo's patients and drugs are the same every run
        for state in DEV_STATE:
            shutil.rmtree(data_dir / state, ignore_errors=True)
        click.echo(say("dev.fresh_state", folder=data_dir))
    local = start_local_broker(prefix="[dev] ")
    create_topics(local.bootstrap, _all_topics(), 1)
    # The demo's late read escalates while it runs: the watchdog looks every 2 s, not 30.
    sweep = {"HUB_REMOTE_READ_SWEEP_SECONDS": os.environ.get("HUB_REMOTE_READ_SWEEP_SECONDS",
                                                             "2")}
    worker_process = WorkerProcess(local.bootstrap, data_dir, {**sweep, **local.worker_env()},
                                   web_port=settings.web_port)
    click.echo(say("dev.worker_starting", log=worker_process.log_path,
                   web=f"{worker_process.url}/"))
    demo_process: subprocess.Popen[bytes] | None = None
    try:
        worker_process.start(timeout=90)
        click.echo(say("dev.worker_ready"))
        click.echo(say("dev.sign_in", url=worker_process.sign_in_url(
            settings.operator_token.get_secret_value())))
        if demo:
            demo_process = subprocess.Popen(
                [sys.executable, "-m", "connectors.demo.console", "--bootstrap", local.bootstrap])
        while worker_process.running():
            time.sleep(0.5)
        click.echo(say("dev.worker_stopped", tail=worker_process.log_tail(20)))
    except KeyboardInterrupt:
        click.echo("\n" + say("dev.stopping"))
    finally:
        if demo_process is not None and demo_process.poll() is None:
            demo_process.terminate()
            demo_process.wait(10)
        worker_process.stop()
        local.stop()


main.add_command(dlq)
main.add_command(acls_command)
main.add_command(reference)

if __name__ == "__main__":
    main()
