"""`python -m benchmarks`: the raw aiokafka baseline and every flow, on one embedded broker
kind, printed as a table and written as JSON under benchmarks/results/."""

from __future__ import annotations

import json
import os
import platform
import tempfile
from datetime import UTC, datetime
from pathlib import Path

import click
from rich.console import Console
from rich.table import Table

from benchmarks import faust_floor, index_scale, mllp
from benchmarks.baseline import passthrough_latency, passthrough_rate
from benchmarks.harness import Stage
from benchmarks.index_scale import ScaleFigures
from benchmarks.pharmacy_scale import run as pharmacy_scale_run
from benchmarks.scenarios import FLOWS, FlowFigures, run_flow, run_workers
from hub.settings import get_settings

RESULTS = Path(__file__).parent / "results"


def _machine() -> str:
    return f"{platform.machine()} {os.cpu_count()} cores, Python {platform.python_version()}"


@click.command()
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
def main(events: int, rate: float, seconds: float, flows: str, index_sizes: str,
         stores: str, scale_rate: float, mllp_messages: int, pharmacy_scale: str,
         compare_workers: bool) -> None:
    console = Console(width=150)
    with Stage() as stage:
        baseline = passthrough_rate(stage.bootstrap, max(events, 50_000))
        floor = passthrough_latency(stage.bootstrap, rate, seconds,
                                    get_settings().producer_linger_ms)
    console.print(f"raw aiokafka passthrough: {baseline:,.0f} msg/s; one hop at {rate:,.0f}/s: "
                  f"p50 {_ms(floor.p50)} ms, p99 {_ms(floor.p99)} ms")
    faust_hop = faust_floor.run(max(events, 50_000), rate, seconds)
    console.print(f"one bare Faust agent of the hub's app, the same work: "
                  f"{faust_hop.throughput:,.0f} msg/s "
                  f"({faust_hop.throughput / baseline:.2f} x baseline); one hop at "
                  f"{rate:,.0f}/s: p50 {_ms(faust_hop.latency.p50)} ms, "
                  f"p99 {_ms(faust_hop.latency.p99)} ms")
    figures: list[FlowFigures] = []
    for flow in filter(None, flows.split(",")):  # --flows "": only the other runs
        console.print(f"running {flow} ...")
        figures.append(run_flow(flow, events, rate, seconds, baseline))
    table = Table(title=f"hub benchmarks {datetime.now(UTC):%Y-%m-%d %H:%M} UTC, {_machine()}")
    for column in ("flow", "events/s", "x baseline", "offered/s", "p50 ms", "p99 ms",
                   "samples", "peak RSS MB"):
        table.add_column(column, justify="right")
    table.add_row("aiokafka passthrough", f"{baseline:,.0f}", "1.00", f"{rate:,.0f}",
                  _ms(floor.p50), _ms(floor.p99), str(len(floor.samples_ms)), "")
    table.add_row("Faust agent, same work (one hop)", f"{faust_hop.throughput:,.0f}",
                  f"{faust_hop.throughput / baseline:.2f}", f"{rate:,.0f}",
                  _ms(faust_hop.latency.p50), _ms(faust_hop.latency.p99),
                  str(len(faust_hop.latency.samples_ms)), "")
    for f in figures:
        table.add_row(f.flow, f"{f.throughput:,.0f}", f"{f.ratio_to_baseline or 0:.2f}",
                      f"{f.offered_rate:,.0f}", _ms(f.p50_ms), _ms(f.p99_ms),
                      str(f.latency_samples), f"{f.peak_rss_mb:,.0f}")
    console.print(table)
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
    by_workers = {n: run_workers("mix", events, n) for n in (1, 2)} if compare_workers else {}
    for n, rate_n in by_workers.items():
        console.print(f"mix with {n} worker(s), all running before the backlog: "
                      f"{rate_n:,.0f} events/s")
    hl7 = [mllp.run(n, mllp_messages) for n in (1, 10)] if mllp_messages else []
    for row in hl7:
        console.print(f"MLLP ACK to ACK, {row.connections} connection(s): "
                      f"{row.messages_per_s:,.0f} messages/s ({row.accepted}/{row.messages} AA)")
    RESULTS.mkdir(exist_ok=True)
    out = RESULTS / f"bench-{datetime.now(UTC):%Y%m%dT%H%M%S}.json"
    out.write_text(json.dumps({
        "date": datetime.now(UTC).isoformat(), "machine": _machine(),
        "baseline_msgs_per_s": round(baseline, 1),
        "faust_floor": {"msgs_per_s": round(faust_hop.throughput, 1),
                        "ratio_to_baseline": round(faust_hop.throughput / baseline, 3),
                        "offered_rate": rate, "samples": len(faust_hop.latency.samples_ms),
                        "p50_ms": _rounded(faust_hop.latency.p50),
                        "p99_ms": _rounded(faust_hop.latency.p99)},
        "baseline_latency": {"offered_rate": rate, "samples": len(floor.samples_ms),
                             "p50_ms": _rounded(floor.p50), "p99_ms": _rounded(floor.p99)},
        "flows": [f.as_dict() for f in figures],
        "index_scale": [s.as_dict() for s in scale],
        "mllp": [m.as_dict() for m in hl7],
        "pharmacy_scale": ledgers.as_dict() if ledgers else None,
        "mix_by_workers": by_workers,
    }, indent=2))
    console.print(f"written {out}")


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


def _rounded(value: float | None) -> float | None:
    return None if value is None else round(value, 2)


def _ms(value: float | None) -> str:
    return "-" if value is None else f"{value:.1f}"


if __name__ == "__main__":
    main()
