"""Every table, imported once so that Base.metadata is complete (for Alembic and tests)."""

from tandem.audit.models import AuditChain, AuditRecord
from tandem.catalog.models import Process
from tandem.core.db import Base
from tandem.core.ratelimit import RateLimitCounter
from tandem.custody.models import KeyRotation, PurgeReport
from tandem.decisions.models import Decision, Ruleset, RulesetTest
from tandem.delivery.models import WebhookAttempt, WebhookDelivery, WebhookSubscription
from tandem.documents.models import Document
from tandem.quality.models import (
    AgentQuality,
    FieldCheck,
    GoldCopy,
    GoldItem,
    GoldSeeding,
    Keying,
    QualityAlert,
    Review,
    ReviewRequest,
)
from tandem.servicedesk.knowledge.models import Article
from tandem.servicedesk.models import (
    Attachment,
    Brand,
    BrandAddress,
    Conversation,
    Customer,
    CustomerIdentity,
    MailAttempt,
    Message,
    OutgoingMail,
)
from tandem.servicedesk.surveys import Survey
from tandem.tenancy.models import ApiKey, ApiToken, Client, ConsoleSession, User
from tandem.work.models import Batch, WorkItem, WorkItemEvent
from tandem.workforce.models import (
    Agent,
    AgentClearance,
    AgentLanguage,
    AgentPresence,
    AgentSkill,
    DeliveryCenter,
    Shift,
    Skill,
)
from tandem.workforce.roster_models import (
    Roster,
    RosterDay,
    RosterRequirement,
    RosterShift,
    ShiftRequest,
)

metadata = Base.metadata

__all__ = [
    "Agent",
    "AgentClearance",
    "AgentLanguage",
    "AgentPresence",
    "AgentQuality",
    "AgentSkill",
    "ApiKey",
    "ApiToken",
    "Article",
    "Attachment",
    "AuditChain",
    "AuditRecord",
    "Batch",
    "Brand",
    "BrandAddress",
    "Client",
    "ConsoleSession",
    "Conversation",
    "Customer",
    "CustomerIdentity",
    "Decision",
    "DeliveryCenter",
    "Document",
    "FieldCheck",
    "GoldCopy",
    "GoldItem",
    "GoldSeeding",
    "KeyRotation",
    "Keying",
    "MailAttempt",
    "Message",
    "OutgoingMail",
    "Process",
    "PurgeReport",
    "QualityAlert",
    "RateLimitCounter",
    "Review",
    "ReviewRequest",
    "Roster",
    "RosterDay",
    "RosterRequirement",
    "RosterShift",
    "Ruleset",
    "RulesetTest",
    "Shift",
    "ShiftRequest",
    "Skill",
    "Survey",
    "User",
    "WebhookAttempt",
    "WebhookDelivery",
    "WebhookSubscription",
    "WorkItem",
    "WorkItemEvent",
    "metadata",
]
