"""`python -m benchmarks`: the raw aiokafka baseline, the Faust floor and every flow on
Apache Kafka and on the embedded broker, side by side in one table, then the scale, worker
and MLLP runs on the first broker; written as JSON under benchmarks/results/."""

from __future__ import annotations

import json
import os
import platform
import tempfile
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, cast

import click
from rich.console import Console
from rich.table import Table

from benchmarks import (
    failover,
    faust_floor,
    index_scale,
    mllp,
    scale_out,
)
from benchmarks.baseline import passthrough_latency, passthrough_rate
from benchmarks.faust_floor import FloorFigures
from benchmarks.harness import BROKER_KIND, Latencies, Stage
from benchmarks.index_scale import ScaleFigures
from benchmarks.pharmacy_scale import run as pharmacy_scale_run
from benchmarks.pure_runs import (
    referral_watchdog_run,
    remote_read_watchdog_runs,
    retention_run,
)
from benchmarks.scenarios import FLOWS, FlowFigures, run_flow, run_workers
from hub.brokers import BrokerKind, describe
from hub.brokers.kafka_runtime import unavailable_reason
from hub.settings import get_settings

RESULTS = Path(__file__).parent / "results"


def _machine() -> str:
    return f"{platform.machine()} {os.cpu_count()} cores, Python {platform.python_version()}"


@dataclass
class BrokerFigures:
    """The core table of one broker kind: the plain loop, the Faust floor, every flow."""

    broker: str
    baseline: float
    floor: Latencies
    faust_hop: FloorFigures
    flows: list[FlowFigures]

    def as_dict(self) -> dict[str, Any]:
        return {
            "broker": self.broker,
            "baseline_msgs_per_s": round(self.baseline, 1),
            "baseline_latency": {"samples": len(self.floor.samples_ms),
                                 "p50_ms": _rounded(self.floor.p50),
                                 "p99_ms": _rounded(self.floor.p99)},
            "faust_floor": {"msgs_per_s": round(self.faust_hop.throughput, 1),
                            "ratio_to_baseline": round(self.faust_hop.throughput
                                                       / self.baseline, 3),
                            "samples": len(self.faust_hop.latency.samples_ms),
                            "p50_ms": _rounded(self.faust_hop.latency.p50),
                            "p99_ms": _rounded(self.faust_hop.latency.p99)},
            "flows": [f.as_dict() for f in self.flows],
        }


def core_figures(kind: BrokerKind, events: int, rate: float, seconds: float, flows: str,
                 console: Console) -> BrokerFigures:
    """Baseline, Faust floor and every flow, each on a fresh broker of `kind`."""
    BROKER_KIND.set(kind)
    with Stage() as stage:
        name = describe(stage.broker) if stage.broker is not None else kind
        baseline = passthrough_rate(stage.bootstrap, max(events, 50_000))
        floor = passthrough_latency(stage.bootstrap, rate, seconds,
                                    get_settings().producer_linger_ms)
    console.print(f"[{kind}] raw aiokafka passthrough: {baseline:,.0f} msg/s; one hop at "
                  f"{rate:,.0f}/s: p50 {_ms(floor.p50)} ms, p99 {_ms(floor.p99)} ms")
    faust_hop = faust_floor.run(max(events, 50_000), rate, seconds)
    console.print(f"[{kind}] one bare Faust agent, the same work: "
                  f"{faust_hop.throughput:,.0f} msg/s "
                  f"({faust_hop.throughput / baseline:.2f} x baseline)")
    figures: list[FlowFigures] = []
    for flow in filter(None, flows.split(",")):  # --flows "": only the other runs
        console.print(f"[{kind}] running {flow} ...")
        figures.append(run_flow(flow, events, rate, seconds, baseline))
    return BrokerFigures(name, baseline, floor, faust_hop, figures)


def default_brokers() -> str:
    return "embedded" if unavailable_reason() else "kafka,embedded"


@click.command()
@click.option("--brokers", default=default_brokers(), help="Broker kinds for the core table, "
              "side by side (kafka,embedded where Java and Maven are present); the other runs "
              "use the first")
@click.option("--events", default=20_000, help="Events per throughput run")
@click.option("--rate", default=250.0, help="Offered load (events/s) for latency, below "
              "saturation")
@click.option("--seconds", default=15.0, help="Length of each latency run")
@click.option("--flows", default=",".join(FLOWS), help="Comma-separated subset")
@click.option("--index-sizes", default="", help="Indexed results for the scale runs, e.g. "
              "1000000 (empty: skip)")
@click.option("--stores", default="memory://,rocksdb://", help="Table stores for scale runs")
@click.option("--scale-rate", default=500.0, help="Orders/s offered in the scale runs")
@click.option("--mllp-messages", default=2000, help="HL7 messages per MLLP run (0: skip)")
@click.option("--pharmacy-scale", default="", help="MEMBERSxDRUGS ledgers, e.g. 200x2000")
@click.option("--compare-workers/--no-compare-workers", default=True,
              help="The mix with one worker and with two")
@click.option("--failover", "failover_size", default=0, help="Indexed results for the failover "
              "runs (a worker SIGKILLed: the other takes over; it restarts on its RocksDB), "
              "e.g. 1000000 (0: skip)")
@click.option("--failover-rate", default=100.0, help="Orders/s offered through the failover runs")
@click.option("--scale-out", "scale_out_workers", default="",
              help="Worker counts for the mix on a three-node Kafka cluster, e.g. 1,2,3 "
              "(empty: skip)")
@click.option("--retention-days", default=730, help="Days of a county's results fed through "
              "the recognition rules on a simulated clock: the size the index settles at "
              "(pure, no broker; 0: skip)")
@click.option("--retention-results", default=2_000_000, help="Result items a year in the "
              "retention run (a county lead hospital's laboratory: 1-3 M)")
@click.option("--referral-watchdog", "open_referrals", default=100_000, help="Open "
              "referrals in the table one sweep of the referral watchdog goes through, timed "
              "and its memory measured (pure, no broker; 0: skip)")
@click.option("--remote-read-watchdog", "open_reads", default="100000,3000", help="Open "
              "read requests in the tables the remote-read watchdog sweeps, timed and its "
              "memory measured (pure, no broker; empty: skip)")
@click.option("--core/--no-core", default=True, help="The core table (--no-core: only the "
              "scale, worker and MLLP runs, on the first broker)")
def main(brokers: str, events: int, rate: float, seconds: float, flows: str,
         index_sizes: str, stores: str, scale_rate: float, mllp_messages: int,
         pharmacy_scale: str, compare_workers: bool, failover_size: int, failover_rate: float,
         scale_out_workers: str, retention_days: int, retention_results: int,
         open_referrals: int, open_reads: str, core: bool) -> None:
    console = Console(width=170)
    settled = retention_run(retention_days, retention_results, console) if retention_days else None
    watchdog = referral_watchdog_run(open_referrals, console) if open_referrals else None
    reads = remote_read_watchdog_runs(open_reads, console)
    kinds = [cast(BrokerKind, k) for k in brokers.split(",") if k]
    cores = [core_figures(kind, events, rate, seconds, flows, console)
             for kind in kinds] if core else []
    if cores:
        console.print(side_by_side(cores, rate))
    BROKER_KIND.set(kinds[0])
    scale: list[ScaleFigures] = []
    for size in filter(None, index_sizes.split(",")):
        for store in stores.split(","):
            console.print(f"scale: {int(size):,} indexed results, {store} ...")
            scale.append(index_scale.run(int(size), store, scale_rate, seconds))
    if scale:
        console.print(_scale_table(scale))
    ledgers = None
    if pharmacy_scale:
        members, drugs = (int(n) for n in pharmacy_scale.lower().split("x"))
        ledgers = pharmacy_scale_run(members, drugs, events, rate / 5, seconds,
                                     Path(tempfile.mkdtemp(prefix="hub-pharmacy-scale-")))
        console.print(ledgers)
    failovers = [failover.run(case, failover_size, failover_rate)
                 for case in ("takeover", "restart")] if failover_size else []
    if failovers:
        console.print(_failover_table(failovers))
    scaled = [scale_out.run(events, int(n)) for n in filter(None, scale_out_workers.split(","))]
    for grown in scaled:
        console.print(f"[kafka, 3 nodes] mix with {grown.workers} worker(s): "
                      f"{grown.events_per_s:,.0f} events/s, {grown.cpu_ms_per_event:.2f} ms of "
                      f"worker CPU per event, brokers {grown.broker_cpu_s:.0f} s CPU")
    by_workers = {n: run_workers("mix", events, n) for n in (1, 2)} if compare_workers else {}
    for n, rate_n in by_workers.items():
        console.print(f"[{kinds[0]}] mix with {n} worker(s), all running before the backlog: "
                      f"{rate_n:,.0f} events/s")
    hl7 = [mllp.run(n, mllp_messages) for n in (1, 10)] if mllp_messages else []
    for row in hl7:
        console.print(f"[{kinds[0]}] MLLP ACK to ACK, {row.connections} connection(s): "
                      f"{row.messages_per_s:,.0f} messages/s ({row.accepted}/{row.messages} AA)")
    RESULTS.mkdir(exist_ok=True)
    out = RESULTS / f"bench-{datetime.now(UTC):%Y%m%dT%H%M%S}.json"
    out.write_text(json.dumps({
        "date": datetime.now(UTC).isoformat(), "machine": _machine(), "offered_rate": rate,
        "brokers": [c.as_dict() for c in cores], "other_runs_broker": kinds[0],
        "index_scale": [s.as_dict() for s in scale],
        "mllp": [m.as_dict() for m in hl7],
        "pharmacy_scale": ledgers.as_dict() if ledgers else None,
        "mix_by_workers": by_workers,
        "failover": [f.as_dict() for f in failovers],
        "scale_out_3_nodes": [r.as_dict() for r in scaled],
        "retention": settled.as_dict() if settled else None,
        "referral_watchdog": watchdog.as_dict() if watchdog else None,
        "remote_read_watchdog": [r.as_dict() for r in reads],
    }, indent=2))
    console.print(f"written {out}")


def side_by_side(cores: list[BrokerFigures], rate: float) -> Table:
    """One row per flow, the figures of each broker beside each other."""
    table = Table(title=f"hub benchmarks {datetime.now(UTC):%Y-%m-%d %H:%M} UTC, {_machine()}; "
                  f"latency at {rate:,.0f} events/s offered")
    table.add_column("flow")
    for core in cores:
        for column in ("events/s", "x base", "p50 ms", "p99 ms", "RSS MB", "msgs/ev"):
            table.add_column(f"{core.broker.split(' (')[0]}\n{column}", justify="right")
    rows: dict[str, list[str]] = {}
    for core in cores:
        rows.setdefault("aiokafka passthrough (one hop)", []).extend([
            f"{core.baseline:,.0f}", "1.00", _ms(core.floor.p50), _ms(core.floor.p99), "", ""])
        hop = core.faust_hop
        rows.setdefault("Faust floor: bare agent, same work", []).extend([
            f"{hop.throughput:,.0f}", f"{hop.throughput / core.baseline:.2f}",
            _ms(hop.latency.p50), _ms(hop.latency.p99), "", ""])
        for f in core.flows:
            rows.setdefault(f.flow, []).extend([
                f"{f.throughput:,.0f}", f"{f.ratio_to_baseline or 0:.2f}", _ms(f.p50_ms),
                _ms(f.p99_ms), f"{f.peak_rss_mb:,.0f}",
                "-" if f.messages_per_event is None else f"{f.messages_per_event:.1f}"])
    for flow, cells in rows.items():
        table.add_row(flow, *cells)
    return table


def _scale_table(rows: list[ScaleFigures]) -> Table:
    table = Table(title="recognition with a large index (recovered from its changelog)")
    for column in ("indexed results", "store", "recovery s", "orders/s offered", "advice p50 ms",
                   "advice p99 ms", "samples", "peak RSS MB", "RSS after MB", "heap trims",
                   "trim s"):
        table.add_column(column, justify="right")
    for r in rows:
        table.add_row(f"{r.indexed_results:,}", r.store, f"{r.recovery_s:.1f}",
                      f"{r.offered_rate:,.0f}", _ms(r.p50_ms), _ms(r.p99_ms),
                      str(r.advice_samples), f"{r.peak_rss_mb:,.0f}", f"{r.rss_after_mb:,.0f}",
                      str(r.heap_trims), f"{r.heap_trim_s:.2f}")
    return table


def _failover_table(rows: list[failover.FailoverFigures]) -> Table:
    table = Table(title="a worker SIGKILLed with a large index: how long advice stops")
    for column in ("case", "indexed results", "session timeout s", "orders/s", "orders",
                   "unanswered", "recognised", "outage s (from the kill)",
                   f"advice > {failover.SLOW_S:.0f} s", "p99 ms before"):
        table.add_column(column, justify="right")
    for r in rows:
        table.add_row(r.case, f"{r.indexed_results:,}", f"{r.session_timeout_s:.0f}",
                      f"{r.offered_rate:,.0f}", str(r.orders), str(r.unanswered),
                      str(r.recognised), f"{r.outage_s:.1f}", str(r.slow_orders),
                      _ms(r.p99_ms_before))
    return table


def _rounded(value: float | None) -> float | None:
    return None if value is None else round(value, 2)


def _ms(value: float | None) -> str:
    return "-" if value is None else f"{value:.1f}"


if __name__ == "__main__":
    main()
