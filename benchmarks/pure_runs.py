"""The pure runs of `python -m benchmarks` (no broker), each run and its table printed on
the console, the figures returned for the results file: the result index on a simulated
clock (benchmarks/retention.py), the referral watchdog (benchmarks/referral_watchdog.py)
and the remote-read watchdog (benchmarks/remote_read_watchdog.py)."""

from __future__ import annotations

from rich.console import Console
from rich.table import Table

from benchmarks import referral_watchdog, remote_read_watchdog, retention
from benchmarks.referral_watchdog import SWEEPS

SWEEP_COLUMNS = ("s", "of which the pass s", "read again", "reading again s", "us/record",
                 "changed", "statuses")


def retention_run(days: int, results_a_year: int, console: Console
                  ) -> retention.RetentionFigures:
    visits = max(1, results_a_year // (365 * retention.ITEMS_PER_VISIT))
    figures = retention.run(days, visits, measure_disk=True)
    table = Table(title=f"the result index on a simulated clock: {results_a_year:,} result items "
                  f"a year, {figures.residents:,} residents, longest kept "
                  f"{figures.longest_kept_days} days ({figures.seconds:.0f} s)")
    for column in ("day", "patients held", "results held", "JSON MB"):
        table.add_column(column, justify="right")
    for sample in figures.samples[::3]:
        table.add_row(str(sample.day), f"{sample.patients:,}", f"{sample.results:,}",
                      f"{sample.megabytes:,.1f}")
    console.print(table)
    console.print(f"settled: {figures.settled.results:,} results of {figures.settled.patients:,} "
                  f"patients; end / first after the window: {figures.growth_after_window():.2f}")
    return figures


def referral_watchdog_run(open_referrals: int, console: Console
                          ) -> referral_watchdog.WatchdogFigures:
    figures = referral_watchdog.run(open_referrals)
    table = Table(title=f"the referral watchdog: one sweep of {open_referrals:,} open referrals "
                  f"({figures.overdue:,} overdue), target under {figures.target_s:.0f} s")
    for column in ("store", "sweep", "s", "of which the pass s", "read again",
                   "reading again s", "us/referral", "changed", "statuses", "alerts"):
        table.add_column(column, justify="right")
    before = figures.store_listed_first_quiet
    rows = [*(("rocksdb", name, row) for name, row in zip(SWEEPS, figures.store, strict=False)),
            *([("rocksdb", "quiet, listed first (before)", before)] if before else []),
            *(("memory", name, row) for name, row in zip(SWEEPS, figures.memory, strict=False))]
    for store, name, row in rows:
        table.add_row(store, name, f"{row.seconds:.2f}", f"{row.read_seconds:.2f}",
                      f"{row.reread:,}", f"{row.reread_seconds:.2f}", f"{row.us_per_record:.0f}",
                      f"{row.changed:,}", f"{row.statuses:,}", f"{row.alerts:,}")
    console.print(table)
    console.print(f"table {figures.table_json_mb:,.0f} MB of JSON, {figures.rocksdb_mb} MB in "
                  f"RocksDB; reading it alone {figures.store_items_only_s} s by its items, "
                  f"{figures.store_keys_and_get_only_s} s by key; a sweep's tracemalloc peak "
                  f"{figures.tracemalloc_peak_mb:,.1f} MB; RSS "
                  f"{figures.rss_before_store_sweeps_mb:,.0f} -> "
                  f"{figures.rss_after_store_sweeps_mb:,.0f} MB over the store sweeps")
    return figures


def remote_read_watchdog_runs(sizes: str, console: Console
                              ) -> list[remote_read_watchdog.ReadWatchdogFigures]:
    """A run for each size ("100000,3000": the stress size and a centre's realistic one)."""
    done = []
    for size in filter(None, sizes.split(",")):
        figures, _ = remote_read_watchdog.run(int(size))
        console.print(remote_read_table(figures))
        console.print(
            f"table {figures.table_json_mb:,.1f} MB of JSON, {figures.rocksdb_mb} MB in "
            f"RocksDB; a quiet sweep's tracemalloc peak {figures.tracemalloc_peak_mb:,.1f} MB; "
            f"RSS {figures.rss_before_store_sweeps_mb:,.0f} -> "
            f"{figures.rss_after_store_sweeps_mb:,.0f} MB over the store sweeps")
        done.append(figures)
    return done


def remote_read_table(figures: remote_read_watchdog.ReadWatchdogFigures) -> Table:
    table = Table(title=f"the remote-read watchdog: sweeps of {figures.open_reads:,} open reads "
                  f"({figures.overdue:,} overdue) until quiet, target under "
                  f"{figures.target_s:.0f} s ({figures.sweep_interval_s:.0f} s interval)")
    for column in ("store", "sweep", *SWEEP_COLUMNS, "to backup", "alerts"):
        table.add_column(column, justify="right")
    for store, sweeps in (("rocksdb", figures.store), ("memory", figures.memory)):
        for n, row in enumerate(sweeps, start=1):
            name = "quiet" if not row.changed else f"{n}: level {sorted(row.levels)}"
            table.add_row(store, name, f"{row.seconds:.2f}", f"{row.read_seconds:.2f}",
                          f"{row.reread:,}", f"{row.reread_seconds:.2f}",
                          f"{row.us_per_record:.0f}", f"{row.changed:,}",
                          f"{row.statuses:,}", f"{row.requests:,}", f"{row.alerts:,}")
    return table
