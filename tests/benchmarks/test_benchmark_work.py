"""The work the benchmarks' raw baseline and Faust floor do on each message: the same
for both, so their figures compare like with like."""

from __future__ import annotations

from benchmarks.baseline import answer, transform
from schemas.codec import AvroCodec
from schemas.models import LabResult
from tests.factories import lab_result

CODEC = AvroCodec()


def test_the_throughput_work_drops_the_id_number_and_keeps_the_rest() -> None:
    event = lab_result("mch")
    assert event.patient.id_number
    writer = CODEC.store.current[LabResult.avro_name()]
    out = CODEC.decode(transform(writer, CODEC.encode(event)))
    assert isinstance(out, LabResult)
    assert out.patient.id_number is None
    assert out.model_copy(update={"patient": event.patient}) == event


def test_the_latency_work_answers_with_the_event_id_as_correlation_id() -> None:
    event = lab_result("mch")
    out = CODEC.decode(answer(CODEC.encode(event)))
    assert out.envelope.correlation_id == event.envelope.event_id
    assert out.model_copy(update={"envelope": event.envelope}) == event
