"""A broker outage in a few log lines instead of thousands.

While a broker is away, aiokafka logs every failed connection attempt of every retry loop
at ERROR: a worker wrote about 50,000 `Unable connect to node` lines over two outages of
12 s and 19 s (1,600 a second into the operators' log store). This filter, on the worker's
log handler, collapses them per logger and node: the first line passes, rewritten to say
an outage started; later ones are counted and held back, with a reminder (the count so
far) every `reminder_s`; once no such line came for `quiet_s`, one line says the outage
ended, how long it lasted and how many lines were held back. Every other record passes
untouched. The metrics (`hub_broker_connection_errors_total`, `hub_broker_unreachable`)
and the HubBrokerUnreachable alert carry the rest.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

from hub.metrics import BROKER_CONNECTION_ERRORS, BROKER_UNREACHABLE

# The connection errors of the Kafka clients, by the logger's top-level package and the
# record's message template, with the position of the argument naming the node or host
# (None: the record names none). What a 12 s outage under a worker logged: aiokafka's
# connection and metadata errors and the fetcher's (two a node each 100 ms), the group
# coordinator's lookups.
CONNECTION_ERRORS: dict[str, dict[str, int | None]] = {
    "aiokafka": {
        "Unable connect to node with id %s: %s": 0,
        'Unable connect to "%s:%s": %s': 0,
        "Unable to update metadata from %s": 0,
        "Unable to request metadata from node with id %s: %r": 0,
        'Unable to request metadata from "%s:%s": %s': 0,
        "Failed fetch messages from %s: %s": 0,
        "Group Coordinator Request failed: %s": None,
    },
}
OUTAGE_LOGGER = "hub.process.outages"
log = logging.getLogger(OUTAGE_LOGGER)


@dataclass
class Outage:
    started: float
    last_error: float
    last_shown: float
    suppressed: int = 0
    suppressed_total: int = 0


def connection_error_key(record: logging.LogRecord) -> tuple[str, str] | None:
    """(logger, node) for a Kafka client's connection error; None for any other record."""
    templates = CONNECTION_ERRORS.get(record.name.split(".", 1)[0], {})
    if not isinstance(record.msg, str) or record.msg not in templates:
        return None
    node = templates[record.msg]
    args = record.args if isinstance(record.args, tuple) else ()
    return record.name, str(args[node]) if node is not None and node < len(args) else "-"


class OutageLogFilter(logging.Filter):
    """Collapses repeated connection errors per (logger, node); see the module's text."""

    def __init__(
        self, reminder_s: float = 30.0, quiet_s: float = 5.0, *,
        clock: Callable[[], float] = time.monotonic,
        on_error: Callable[[str], None] | None = None,
        on_unreachable: Callable[[bool], None] | None = None,
        sweep_every_s: float | None = 1.0,
    ) -> None:
        super().__init__()
        self.reminder_s = reminder_s
        self.quiet_s = quiet_s
        self.clock = clock
        self.on_error = on_error
        self.on_unreachable = on_unreachable
        self.sweep_every_s = sweep_every_s  # None: the caller calls sweep() (tests)
        self.outages: dict[tuple[str, str], Outage] = {}
        self._lock = threading.Lock()
        self._sweeper: threading.Thread | None = None

    def filter(self, record: logging.LogRecord) -> bool:
        key = connection_error_key(record)
        if key is None:
            return True
        if self.on_error is not None:
            self.on_error(record.name)
        now = self.clock()
        with self._lock:
            outage = self.outages.get(key)
            if outage is None:
                first = not self.outages
                self.outages[key] = Outage(started=now, last_error=now, last_shown=now)
                self._start_sweeper()
            else:
                outage.last_error = now
                if now - outage.last_shown < self.reminder_s:
                    outage.suppressed += 1
                    outage.suppressed_total += 1
                    return False
        if outage is None:
            if first and self.on_unreachable is not None:
                self.on_unreachable(True)
            _rewrite(record, f"Kafka connection outage started ({key[0]}, node {key[1]}): "
                             f"{record.getMessage()} (lines like it are held back; a "
                             f"reminder every {self.reminder_s:g} s)")
            return True
        _rewrite(record, f"Kafka connection outage continues ({key[0]}, node {key[1]}) for "
                         f"{now - outage.started:.0f} s: {outage.suppressed} lines like it "
                         f"held back since the last; now: {record.getMessage()}")
        with self._lock:
            outage.suppressed = 0
            outage.last_shown = now
        return True

    def sweep(self) -> None:
        """Log the end of every outage that had no error for `quiet_s`."""
        now = self.clock()
        with self._lock:
            ended = [(key, outage) for key, outage in self.outages.items()
                     if now - outage.last_error >= self.quiet_s]
            for key, _ in ended:
                del self.outages[key]
            none_left = bool(ended) and not self.outages
        for (name, node), outage in ended:
            log.warning("Kafka connection outage ended (%s, node %s) after %.1f s: %d lines "
                        "like it were held back", name, node,
                        outage.last_error - outage.started, outage.suppressed_total)
        if none_left and self.on_unreachable is not None:
            self.on_unreachable(False)

    def _start_sweeper(self) -> None:
        if self.sweep_every_s is None or (self._sweeper and self._sweeper.is_alive()):
            return
        self._sweeper = threading.Thread(target=self._sweep_while_open, daemon=True,
                                         name="outage-log-sweeper")
        self._sweeper.start()

    def _sweep_while_open(self) -> None:
        assert self.sweep_every_s is not None
        while True:
            time.sleep(self.sweep_every_s)
            self.sweep()
            with self._lock:
                if not self.outages:
                    self._sweeper = None
                    return


def _rewrite(record: logging.LogRecord, message: str) -> None:
    record.msg = message
    record.args = None


def metered_outage_filter(reminder_s: float = 30.0, quiet_s: float = 5.0) -> OutageLogFilter:
    """The filter with the worker's metrics attached."""
    return OutageLogFilter(
        reminder_s, quiet_s,
        on_error=lambda name: BROKER_CONNECTION_ERRORS.labels(name).inc(),
        on_unreachable=lambda down: BROKER_UNREACHABLE.set(1 if down else 0),
    )
