"""The member SDK: publish events to the member's ingress topic, read its feedback."""

from connectors.member.sdk.feedback import FeedbackReader
from connectors.member.sdk.publisher import MemberPublisher, PublishError
from schemas.partitioning import ordering_key

__all__ = ["FeedbackReader", "MemberPublisher", "PublishError", "ordering_key"]
