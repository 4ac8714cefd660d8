"""The demo's two-way referral (双向转诊, issue 26): one closed loop, told step by step.

Liu Xiuying's chest pain at the Hexi village clinic (vp-hexi) is referred up to the lead
hospital's cardiology clinic; the lead hospital books her into a slot it reserves for
referrals, sees her, completes with a plan back down, and refers her down to the village
clinic, which records her arrival and the first follow-up. The story is told within the
last hour, so every deadline lies ahead and nothing escalates while the demo runs.

Steps sent by different members reach the hub through different topics: each step says
which state its referral must have reached first (`Step.after`), and whoever publishes the
script waits for it.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

from connectors.demo.script import Step, person
from schemas.models.clinical import OrderPriority
from schemas.models.common import Sex
from schemas.models.referral import (
    Booking,
    CapacityPool,
    DocumentKind,
    DocumentRef,
    ReferralAction,
    ReferralDirection,
    ReferralKind,
    ReferralRequest,
    ReferralUpdate,
    ReservedSlot,
    ResourceKind,
    referral_id,
)
from schemas.reference.messages import text

BEIJING = ZoneInfo("Asia/Shanghai")
VILLAGE, LEAD = "vp-hexi", "lead"
SLOT_POOL, BED_POOL = "CARD-OPD-W49", "CARD-WARD-W49"
SLOTS = 6  # cardiology specialist slots reserved for referrals, every 30 minutes
ANGINA = "I20.000"  # 不稳定型心绞痛 (ICD-10, national clinical edition 2.0)
LIU = person("510726195806120023", "刘秀英", Sex.FEMALE, date(1958, 6, 12), "河西村")


def referral_refs(now: datetime) -> tuple[str, str]:
    """The village clinic's and the lead hospital's numbers of this run's two referrals
    (a run with the last one's state kept tells a new loop, not a repeat)."""
    stamp = f"{now.astimezone(BEIJING):%Y%m%d%H%M%S}"
    return f"HX-ZZ-{stamp}", f"LD-XZ-{stamp}"


def referral_ids(now: datetime) -> tuple[str, str]:
    """This run's upward and downward referral ids."""
    up, down = referral_refs(now)
    return referral_id(VILLAGE, up), referral_id(LEAD, down)


def _slot(start: datetime, i: int) -> str:
    """A slot's number: the clinic and its Beijing start time."""
    return f"CARD-{(start + i * timedelta(minutes=30)).astimezone(BEIJING):%Y%m%d-%H%M}"


def _period(now: datetime) -> tuple[datetime, datetime]:
    """Two Beijing days from the midnight before the first slot."""
    local = (now - timedelta(hours=2)).astimezone(BEIJING)
    start = local.replace(hour=0, minute=0, second=0, microsecond=0)
    return start, start + timedelta(days=2)


def pools(now: datetime, first_slot: datetime) -> list[CapacityPool]:
    start, end = _period(now)
    slots = [ReservedSlot(slot_id=_slot(first_slot, i),
                          starts_at=first_slot + i * timedelta(minutes=30))
             for i in range(SLOTS)]
    at = now - timedelta(hours=2)
    return [
        CapacityPool(envelope=CapacityPool.new_envelope(LEAD, occurred_at=at),
                     pool_id=SLOT_POOL, resource=ResourceKind.SPECIALIST_SLOT,
                     resource_code="CARD", resource_name="心血管内科专家门诊",
                     period_start=start, period_end=end, total=24, reserved=SLOTS,
                     slots=slots),
        CapacityPool(envelope=CapacityPool.new_envelope(LEAD, occurred_at=at),
                     pool_id=BED_POOL, resource=ResourceKind.BED, resource_code="CARD-WARD",
                     resource_name="心血管内科病房", period_start=start, period_end=end,
                     total=40, reserved=2),
    ]


def _update(member: str, ref: str, to: str, action: ReferralAction, at: datetime,
            **fields: object) -> ReferralUpdate:
    return ReferralUpdate.model_validate({
        "envelope": ReferralUpdate.new_envelope(member, occurred_at=at),
        "referral_id": ref, "to_member": to, "action": action, **fields})


def upward_request(ref: str, at: datetime) -> ReferralRequest:
    return ReferralRequest(
        envelope=ReferralRequest.new_envelope(VILLAGE, occurred_at=at), patient=LIU,
        referral_ref=ref, direction=ReferralDirection.UP, to_member=LEAD,
        to_service="CARD", to_service_name="心血管内科", priority=OrderPriority.URGENT,
        kind=ReferralKind.OUTPATIENT,
        reason="反复胸闷胸痛3天，活动后加重，含服硝酸甘油可缓解；心电图示V4-V6导联ST段压低，"
               "村卫生室无条件进一步检查，申请上转心血管内科明确诊断",
        icd10=ANGINA, diagnosis_name="不稳定型心绞痛", requested_by=at.astimezone(BEIJING).date(),
        documents=[
            DocumentRef(kind=DocumentKind.SUMMARY, reference="HX-EMR-2026-000123",
                        title="转诊病历摘要", issued_at=at),
            DocumentRef(kind=DocumentKind.EXAM_REPORT, reference="HX-ECG-2026-000311",
                        title="十二导联心电图", issued_at=at),
        ],
        referring_doctor="王医生", referring_phone="08163000000", requested_at=at)


def downward_request(ref: str, upward: str, at: datetime) -> ReferralRequest:
    return ReferralRequest(
        envelope=ReferralRequest.new_envelope(LEAD, occurred_at=at), patient=LIU,
        referral_ref=ref, direction=ReferralDirection.DOWN, to_member=VILLAGE,
        priority=OrderPriority.ROUTINE, kind=ReferralKind.REHABILITATION,
        reason="冠状动脉CTA示前降支中段狭窄约50%，药物治疗后症状缓解，病情稳定，"
               "转回村卫生室慢病管理与随访",
        icd10="I25.103", diagnosis_name="冠状动脉粥样硬化性心脏病", returns_referral=upward,
        documents=[DocumentRef(kind=DocumentKind.REHABILITATION_PLAN,
                               reference="LD-PLAN-2026-004417", title="下转康复计划",
                               issued_at=at)],
        referring_doctor="李主任", requested_at=at)


DOWNWARD_PLAN = ("阿司匹林100mg每日一次、阿托伐他汀20mg每晚一次；村卫生室每两周随访血压、"
                 "心率和胸痛情况，1个月后心血管内科复诊；胸痛持续超过15分钟立即急诊")
CTA_STUDY = "1.2.156.112605.14038010221.20261207.0001"  # a DICOM Study Instance UID


def referral_loop(now: datetime) -> Iterator[Step]:
    """The loop, within the hour before `now`."""
    def at(minutes_ago: float) -> datetime:
        return now - timedelta(minutes=minutes_ago)

    up_ref, down_ref = referral_refs(now)
    upward, downward = referral_ids(now)
    day = f"{now.astimezone(BEIJING):%Y%m%d}"
    first_slot = at(30).replace(second=0, microsecond=0)
    booked = Booking(pool_id=SLOT_POOL, slot_id=_slot(first_slot, 0))
    slot_pool, bed_pool = pools(now, first_slot)
    yield Step(LEAD, text("demo.referral_pool", slots=SLOTS, start=first_slot), slot_pool)
    yield Step(LEAD, text("demo.referral_beds"), bed_pool)
    yield Step(VILLAGE, text("demo.referral_up"), upward_request(up_ref, at(60)))
    yield Step(LEAD, text("demo.referral_accept", start=first_slot), _update(
        LEAD, upward, LEAD, ReferralAction.ACCEPTED, at(50), booking=booked),
        after=(upward, "requested"))
    yield Step(LEAD, text("demo.referral_arrived"), _update(
        LEAD, upward, LEAD, ReferralAction.ARRIVED, at(29), encounter_ref=f"MZ{day}-0457"),
        after=(upward, "booked"))
    yield Step(LEAD, text("demo.referral_completed"), _update(
        LEAD, upward, LEAD, ReferralAction.COMPLETED, at(12), downward_plan=DOWNWARD_PLAN,
        documents=[DocumentRef(kind=DocumentKind.DICOM_STUDY, reference=CTA_STUDY,
                               title="冠状动脉CTA", issued_at=at(20)),
                   DocumentRef(kind=DocumentKind.OUTCOME, reference="LD-EMR-2026-088213",
                               title="门诊病历", issued_at=at(12))]),
        after=(upward, "arrived"))
    yield Step(LEAD, text("demo.referral_down"), downward_request(down_ref, upward, at(10)),
               after=(upward, "completed"))
    yield Step(VILLAGE, text("demo.referral_down_accept"), _update(
        VILLAGE, downward, VILLAGE, ReferralAction.ACCEPTED, at(8)),
        after=(downward, "requested"))
    yield Step(VILLAGE, text("demo.referral_down_arrived"), _update(
        VILLAGE, downward, VILLAGE, ReferralAction.ARRIVED, at(4),
        encounter_ref=f"HX-MZ-{day}-03"), after=(downward, "accepted"))
    yield Step(VILLAGE, text("demo.referral_followed_up"), _update(
        VILLAGE, downward, VILLAGE, ReferralAction.FOLLOWED_UP, at(1),
        encounter_ref=f"HX-SF-{day}-01", note="血压128/78mmHg，心率72次/分，无胸痛发作，"
        "遵医嘱服药"), after=(downward, "arrived"))
