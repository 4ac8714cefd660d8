"""The `hub` command: broker, topics, worker, and `dev` (all of them plus the demo)."""

from __future__ import annotations

import logging
import os
import subprocess
import sys
import time
from pathlib import Path

import click

from hub.admin import create_topics, list_topics
from hub.embedded_broker import EmbeddedBroker, free_port
from hub.settings import BROKER_URL_FILE, get_settings
from schemas.topics import TopicSpec, catalogue

log = logging.getLogger("hub")


@click.group()
def main() -> None:
    """The consortium hub."""
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s %(message)s")


def _all_topics() -> list[TopicSpec]:
    settings = get_settings()
    return catalogue(settings.load_registry().ids, settings.member_partitions)


@main.command()
@click.option("--port", type=int, default=0, help="Loopback port (default: a free one)")
def broker(port: int) -> None:
    """Run the embedded Kafka-compatible broker in the foreground."""
    settings = get_settings()
    embedded = EmbeddedBroker(settings.data_dir / "broker", port=port).start()
    (settings.data_dir / BROKER_URL_FILE).write_text(embedded.bootstrap)
    click.echo(f"embedded broker on {embedded.bootstrap} (data in {embedded.data_dir})")
    try:
        assert embedded.process is not None
        embedded.process.wait()
    except KeyboardInterrupt:
        embedded.stop()


@main.group()
def topics() -> None:
    """Topic administration."""


@topics.command("create")
def topics_create() -> None:
    """Create every catalogue topic that does not exist yet."""
    settings = get_settings()
    made = create_topics(settings.broker_servers(), _all_topics(), settings.replication_factor)
    click.echo(f"created {len(made)} topics" + (": " + ", ".join(made) if made else ""))


@topics.command("list")
def topics_list() -> None:
    for name in list_topics(get_settings().broker_servers()):
        click.echo(name)


@main.command()
def worker() -> None:
    """Run a hub worker (Faust) against HUB_BROKER or the embedded broker."""
    import faust

    settings = get_settings()
    servers = settings.broker_servers()
    create_topics(servers, _all_topics(), settings.replication_factor)
    settings.warn_dev_secrets()
    (settings.data_dir / "faust" / settings.app_id).mkdir(parents=True, exist_ok=True)
    from hub.app import app, load_agents

    load_agents()
    faust.Worker(app, loglevel=settings.log_level.lower()).execute_from_commandline()


def _wait_http(url: str, timeout: float) -> bool:
    import urllib.request

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(url, timeout=1) as reply:
                if reply.status == 200 and b'"assigned_partitions": 0' not in reply.read():
                    return True
        except OSError:
            pass
        time.sleep(0.3)
    return False


@main.command()
@click.option("--demo/--no-demo", default=True, help="Publish demo events as members")
def dev(demo: bool) -> None:
    """Embedded broker + one worker + the demo, on this machine. Ctrl-C stops all."""
    settings = get_settings()
    data_dir: Path = settings.data_dir
    embedded = EmbeddedBroker(data_dir / "broker").start()
    (data_dir / BROKER_URL_FILE).write_text(embedded.bootstrap)
    click.echo(f"[dev] embedded broker on {embedded.bootstrap}")
    create_topics(embedded.bootstrap, _all_topics(), 1)
    env = {**os.environ, "HUB_BROKER": embedded.bootstrap}
    web_port = settings.web_port if settings.web_port else free_port()
    env["HUB_WEB_PORT"] = str(web_port)
    worker_log = (data_dir / "worker.log").open("ab")
    procs = [subprocess.Popen([sys.executable, "-m", "hub.cli", "worker"], env=env,
                              stdout=worker_log, stderr=subprocess.STDOUT)]
    click.echo(f"[dev] worker starting (log: {data_dir / 'worker.log'}, "
               f"web: http://127.0.0.1:{web_port}/)")
    try:
        if not _wait_http(f"http://127.0.0.1:{web_port}/health", 60):
            raise click.ClickException("worker did not become ready; see worker.log")
        click.echo("[dev] worker ready")
        if demo:
            procs.append(subprocess.Popen(
                [sys.executable, "-m", "connectors.demo", "--bootstrap", embedded.bootstrap],
                env=env))
        while all(p.poll() is None for p in procs[:1]):
            time.sleep(0.5)
    except KeyboardInterrupt:
        click.echo("\n[dev] stopping")
    finally:
        for proc in reversed(procs):
            if proc.poll() is None:
                proc.terminate()
                try:
                    proc.wait(10)
                except subprocess.TimeoutExpired:
                    proc.kill()
        embedded.stop()


if __name__ == "__main__":
    main()
