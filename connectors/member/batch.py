"""Importing a CSV of stock counts or dispenses from the member's pharmacy system.

Columns (header row required; UTF-8, UTF-8 with BOM or GB18030, as Excel writes them):

    kind         COUNT (盘点: the counted balance) or DISPENSE (发药: units handed out);
                 may be left out when the whole file is one kind (`--kind`)
    drug_code    the member's local drug code (or the national insurance code)
    quantity     COUNT: the balance, 0 or more; DISPENSE: more than 0
    at           when: YYYY-MM-DD[ HH:MM[:SS]] local time, or ISO 8601 with an offset
    trace_codes  optional, DISPENSE only: 20-digit pack codes separated by ';'
    batch_no     optional
    expiry_date  optional, YYYY-MM-DD

Rows are numbered as a spreadsheet shows them (the header is row 1). A row that cannot be
read or mapped is rejected with its row number and reason and written to the local
dead-letter file; the other rows are published.

Event ids: deterministic_id(member, "csv", digest of the row's cells, n) where n counts
identical rows before it in the file. Importing the same file again gives the same ids,
which the hub drops. The digest is of the row rather than of the file (with its row number)
so that fixing a rejected row and importing the corrected file again does not count the
rows accepted the first time twice.
"""

from __future__ import annotations

import codecs
import csv
import hashlib
import io
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

from connectors import metrics
from connectors.member.deadletter import DeadLetterFile
from connectors.member.mapping import CodeMapper, EventSink, Rejected, RejectReason
from connectors.settings import ConnectorSettings, get_settings
from schemas.models import StockEvent, deterministic_id
from schemas.models.pharmacy import StockEventKind
from schemas.reference.messages import text as msg

CHANNEL = "csv"
KINDS: dict[str, StockEventKind] = {
    "COUNT": StockEventKind.COUNT, "盘点": StockEventKind.COUNT,
    "DISPENSE": StockEventKind.DISPENSE, "发药": StockEventKind.DISPENSE,
}
COLUMNS = ("kind", "drug_code", "quantity", "at", "trace_codes", "batch_no", "expiry_date")
REQUIRED = ("drug_code", "quantity", "at")
TRACE_CODE = re.compile(r"^\d{20}$")


@dataclass(frozen=True, slots=True)
class RowRejection:
    row: int
    code: str
    reason: str


@dataclass
class ImportSummary:
    path: Path
    file_sha256: str
    rows: int = 0
    accepted: int = 0
    rejections: list[RowRejection] = field(default_factory=list)
    events: list[StockEvent] = field(default_factory=list)

    @property
    def rejected(self) -> int:
        return len(self.rejections)


class UnreadableFile(ValueError):
    """The file's bytes are not text in any encoding tried: nothing was imported."""


def decode_text(data: bytes, encoding: str | None = None) -> str:
    if encoding:
        try:
            codecs.lookup(encoding)
        except LookupError:
            raise UnreadableFile(f"未知的编码 {encoding!r}：请用 Python 认得的编码名，"
                                 "如 utf-8、gb18030、big5、utf-16") from None
    tried = [encoding] if encoding else ["utf-8-sig", "gb18030"]
    for name in tried:
        try:
            return data.decode(name)
        except (UnicodeDecodeError, LookupError):
            continue
    raise UnreadableFile(get_settings().locale().say("batch.unreadable",
                                                     tried=" / ".join(tried)))


def _time(value: str, zone: ZoneInfo) -> datetime:
    text = value.strip().replace("/", "-")
    try:
        parsed = datetime.fromisoformat(text)
    except ValueError:
        raise Rejected(RejectReason.INVALID_VALUE, msg("connector.not_time", value=value),
                       "at") from None
    return (parsed if parsed.tzinfo else parsed.replace(tzinfo=zone)).astimezone(UTC)


def _quantity(value: str, kind: StockEventKind) -> float:
    try:
        quantity = float(value)
    except ValueError:
        raise Rejected(RejectReason.INVALID_VALUE, msg("connector.quantity_nan", value=value),
                       "quantity") from None
    if quantity < 0 or (kind is StockEventKind.DISPENSE and quantity == 0):
        bound = "connector.quantity_positive" if kind is StockEventKind.DISPENSE \
            else "connector.quantity_not_negative"
        raise Rejected(RejectReason.INVALID_VALUE, msg(bound, value=value), "quantity")
    return quantity


def _trace_codes(value: str, kind: StockEventKind) -> list[str]:
    codes = [c.strip() for c in value.replace(",", ";").split(";") if c.strip()]
    if codes and kind is not StockEventKind.DISPENSE:
        raise Rejected(RejectReason.INVALID_VALUE, msg("connector.trace_only_dispense"),
                       "trace_codes")
    for code in codes:
        if not TRACE_CODE.match(code):
            raise Rejected(RejectReason.INVALID_VALUE, msg("connector.trace_digits", code=code),
                           "trace_codes")
    return codes


def row_event(row: dict[str, str], event_id: str, member_id: str, codes: CodeMapper,
              zone: ZoneInfo, default_kind: StockEventKind | None) -> StockEvent:
    for column in REQUIRED:
        if not row.get(column):
            raise Rejected(RejectReason.MISSING_FIELD, msg("connector.column_empty",
                                                           column=column), column)
    kind_text = row.get("kind") or ""
    kind = KINDS.get(kind_text.upper()) if kind_text else default_kind
    if kind is None:
        raise Rejected(RejectReason.UNMAPPED_CODE,
                       msg("connector.kind", kind=kind_text) if kind_text
                       else msg("connector.kind_empty"), "kind")
    drug = codes.drug(row["drug_code"], "drug_code")
    at = _time(row["at"], zone)
    expiry: date | None = None
    if row.get("expiry_date"):
        try:
            expiry = date.fromisoformat(row["expiry_date"].replace("/", "-"))
        except ValueError:
            raise Rejected(RejectReason.INVALID_VALUE,
                           msg("connector.expiry_date", value=row["expiry_date"]), "expiry_date"
                           ) from None
    return StockEvent(
        envelope=StockEvent.new_envelope(member_id, event_id=event_id, occurred_at=at),
        kind=kind, drug_code=drug.code,
        local_drug_code=row["drug_code"] if row["drug_code"] != drug.code else None,
        quantity=_quantity(row["quantity"], kind),
        trace_codes=_trace_codes(row.get("trace_codes") or "", kind),
        batch_no=row.get("batch_no") or None, expiry_date=expiry, at=at,
    )


def check_header(cells: list[str]) -> list[str]:
    """The header row's columns in lower case; Rejected if a required one is missing."""
    header = [h.strip().lower() for h in cells]
    missing = [c for c in REQUIRED if c not in header]
    if missing:
        raise Rejected(RejectReason.MISSING_FIELD, msg("connector.header_lacks",
                                                       columns=", ".join(missing)), "row 1")
    return header


def _rows(text: str) -> Iterator[tuple[int, dict[str, str], str]]:
    """(spreadsheet row number, cells by lower-case column, the row's line) per data row."""
    reader = csv.reader(io.StringIO(text))
    header = check_header(next(reader, []))
    for cells in reader:
        if not any(c.strip() for c in cells):
            continue
        cells_by_column = {h: (cells[i].strip() if i < len(cells) else "")
                           for i, h in enumerate(header)}
        yield reader.line_num, cells_by_column, ",".join(cells)


def import_csv(
    path: Path,
    *,
    member_id: str,
    sink: EventSink,
    codes: CodeMapper,
    dead_letters: DeadLetterFile,
    zone: ZoneInfo,
    kind: StockEventKind | None = None,
    encoding: str | None = None,
    batch_size: int = 500,
    on_row: Callable[[int], None] | None = None,
) -> ImportSummary:
    """Map every row, publish the good ones in batches, reject the others. Raises
    `PublishError` (or whatever the sink raises) if Kafka did not take a batch: importing
    the file again then publishes the missing rows and the hub drops the others."""
    data = path.read_bytes()
    summary = ImportSummary(path, hashlib.sha256(data).hexdigest())
    occurrences: dict[str, int] = {}
    batch: list[StockEvent] = []
    for number, row, line in _rows(decode_text(data, encoding)):
        summary.rows += 1
        digest = hashlib.sha256("\x1f".join(row.get(c, "") for c in COLUMNS).encode()).hexdigest()
        occurrences[digest] = occurrences.get(digest, 0) + 1
        event_id = deterministic_id(member_id, CHANNEL, digest, str(occurrences[digest]))
        try:
            batch.append(row_event(row, event_id, member_id, codes, zone, kind))
        except Rejected as exc:
            summary.rejections.append(RowRejection(number, exc.code.value, exc.message))
            said = get_settings().locale().say("batch.row", row=number, code=exc.code.value,
                                               reason=exc.message)
            dead_letters.write(CHANNEL, exc.code.value, said, line,
                               details={"file": str(path), "row": str(number)})
            metrics.CSV_ROWS.labels("rejected").inc()
        if len(batch) >= batch_size:
            _publish(sink, batch, summary)
        if on_row is not None:
            on_row(number)
    _publish(sink, batch, summary)
    return summary


def _publish(sink: EventSink, batch: list[StockEvent], summary: ImportSummary) -> None:
    if not batch:
        return
    sink.publish_many(batch)
    summary.accepted += len(batch)
    summary.events.extend(batch)
    metrics.CSV_ROWS.labels("accepted").inc(len(batch))
    metrics.EVENTS_PUBLISHED.labels(CHANNEL, StockEvent.__name__).inc(len(batch))
    batch.clear()


def run_import_command(path: Path, settings: ConnectorSettings, kind: str | None = None,
                       encoding: str | None = None) -> int:
    """`hub-connector import-csv`: import with a progress bar, then print the summary and
    every rejection. Returns the number of rejected rows. A file that cannot be read
    (encoding, header) or a broker that does not take the rows ends it with one line and
    exit code 2."""
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn

    from connectors.member.reference import follow_reference
    from connectors.member.sdk import MemberPublisher, PublishError

    console, say = Console(), settings.locale().say
    member_id = settings.require_member()
    data = path.read_bytes()
    try:
        check_header(next(csv.reader(io.StringIO(decode_text(data, encoding))), []))
    except UnreadableFile as exc:
        console.print(f"{path.name}: {exc}", markup=False, soft_wrap=True)
        raise SystemExit(2) from exc
    except Rejected as exc:
        console.print(f"{path.name}: {exc.code.value}: {exc.message} "
                      f"(必需的列：{', '.join(REQUIRED)})", markup=False, soft_wrap=True)
        raise SystemExit(2) from exc
    total = max(data.count(b"\n"), 1)
    reference = follow_reference(settings).start()  # the hub's current codes, read once
    reference.wait_ready(settings.reference_wait_seconds)
    reference.stop()
    publisher = MemberPublisher(settings.broker_servers(), member_id,
                                timeout=settings.publish_timeout,
                                security=settings.kafka_client_config())
    try:
        with Progress(TextColumn("[bold]{task.description}"), BarColumn(),
                      MofNCompleteColumn(), console=console) as progress:
            task = progress.add_task(say("batch.importing", file=path.name), total=total)
            summary = import_csv(
                path, member_id=member_id, sink=publisher,
                codes=CodeMapper.following(member_id, lambda: reference.current),
                dead_letters=DeadLetterFile(settings.dead_letter_dir, member_id),
                zone=ZoneInfo(settings.local_timezone),
                kind=KINDS[kind.upper()] if kind else None, encoding=encoding,
                on_row=lambda number: progress.update(task, completed=number),
            )
            progress.update(task, completed=total)
    except PublishError as exc:
        console.print(f"{path.name}: 导入中断，Kafka 未确认写入（{exc}）；"
                      "恢复后重新导入同一文件即可，已写入的行不会重复",
                      markup=False, soft_wrap=True)
        raise SystemExit(2) from exc
    finally:
        publisher.close()
    console.print(say("batch.summary", file=path.name, rows=summary.rows,
                      accepted=summary.accepted, rejected=summary.rejected,
                      sha=summary.file_sha256[:12]))
    for rejection in summary.rejections:
        console.print(say("batch.row", row=rejection.row, code=rejection.code,
                          reason=rejection.reason), markup=False, soft_wrap=True)
    if summary.rejections:
        console.print(say("batch.dead_letters", folder=settings.dead_letter_dir), markup=False)
    return summary.rejected
