"""The one list of permissions, named scope:resource:action, and the roles built from it."""

from __future__ import annotations

from enum import StrEnum


class Permission(StrEnum):
    CLIENT_READ = "provider:client:read"
    CLIENT_MANAGE = "provider:client:manage"
    WORKFORCE_READ = "provider:workforce:read"
    WORKFORCE_MANAGE = "provider:workforce:manage"
    OPERATIONS_READ = "provider:operations:read"
    PROCESS_READ = "client:process:read"
    PROCESS_MANAGE = "client:process:manage"
    PROCESS_TERMS = "provider:process:terms"  # a process's SLA, priority and price
    WORK_ITEM_CREATE = "client:work_item:create"
    WORK_ITEM_READ = "client:work_item:read"
    WORK_ITEM_MANAGE = "client:work_item:manage"
    # The provider's operations on work: reprioritize, take a lease back, reassign, in bulk.
    WORK_ITEM_OPERATE = "provider:work_item:operate"
    RESULT_EXPORT = "client:result:export"
    WEBHOOK_MANAGE = "client:webhook:manage"
    WORK_CLAIM = "agent:work_item:claim"
    WORK_SUBMIT = "agent:work_item:submit"
    RULESET_READ = "client:ruleset:read"
    RULESET_MANAGE = "client:ruleset:manage"
    DECISION_JUDGE = "agent:decision:judge"
    QUALITY_READ = "client:quality:read"  # accuracy per process and field, the QA report
    RESULT_REJECT = "client:result:reject"  # send a delivered result back (acceptance)
    QUALITY_REVIEW = "provider:quality:review"  # review, score, adjudicate
    QUALITY_MANAGE = "provider:quality:manage"  # QA policies, gold items
    AGENT_QUALITY_READ = "provider:agent_quality:read"  # accuracy per agent, alerts
    AUDIT_READ = "provider:audit:read"  # verify and export the audit trail
    API_KEY_MANAGE = "client:api_key:manage"  # make, list and revoke a client's API keys
    PERSONAL_REVEAL = "agent:personal_data:reveal"  # unmask a leased item's personal fields
    # unmask personal fields of an item waiting for your review or adjudication
    REVIEW_REVEAL = "provider:personal_data:reveal"
    PROVIDER_USER_MANAGE = "provider:user:manage"  # any user, any role
    CLIENT_USER_MANAGE = "client:user:manage"  # a client's own users, in client roles
    KEY_ROTATE = "provider:encryption_key:rotate"  # new keys for personal data at rest
    RETENTION_MANAGE = "provider:retention:manage"  # retention periods, purge reports
    # Open an item's document: the lease holder, a reviewer of it, the client's own people
    # (tandem.documents.service.openable decides, and records each opening).
    DOCUMENT_READ = "client:document:read"
    # The service desk's conversations: read (the client's people, in clear; provider staff,
    # masked; an agent, only the one whose work item they hold), answer or note under the
    # lease, and move a conversation's state (solve, pending, reopen).
    CONVERSATION_READ = "client:conversation:read"
    CONVERSATION_REPLY = "agent:conversation:reply"
    CONVERSATION_MANAGE = "provider:conversation:manage"
    # Begin a conversation for a customer from the client's own site or app (the JSON
    # channel): a client system's key, or the client's admin.
    CONVERSATION_CREATE = "client:conversation:create"
    # A brand's knowledge base: write, edit, publish and delete its help articles (the
    # client's admin, the provider's service-desk managers).
    KNOWLEDGE_MANAGE = "client:knowledge:manage"
    # Customer satisfaction per brand, agent and week (tandem.servicedesk.surveys): the
    # client's readers for their brands; provider staff who report on the service, for all.
    SATISFACTION_READ = "client:satisfaction:read"
    # Plan and publish rosters (tandem.workforce.rosters): workforce planners, ops managers.
    ROSTER_MANAGE = "provider:roster:manage"


P = Permission

_CLIENT_READ = {
    P.PROCESS_READ,
    P.WORK_ITEM_READ,
    P.RESULT_EXPORT,
    P.QUALITY_READ,
    P.DOCUMENT_READ,
    P.CONVERSATION_READ,
    P.SATISFACTION_READ,
}
_AGENT = {
    P.WORK_CLAIM,
    P.WORK_SUBMIT,
    P.PERSONAL_REVEAL,
    P.DOCUMENT_READ,
    P.CONVERSATION_READ,
    P.CONVERSATION_REPLY,
}

ROLES: dict[str, frozenset[Permission]] = {
    "provider_admin": frozenset(Permission),
    "ops_manager": frozenset(
        {
            P.CLIENT_READ,
            P.WORKFORCE_READ,
            P.WORKFORCE_MANAGE,
            P.OPERATIONS_READ,
            P.PROCESS_READ,
            P.PROCESS_MANAGE,
            P.PROCESS_TERMS,
            P.WORK_ITEM_READ,
            P.WORK_ITEM_MANAGE,
            P.WORK_ITEM_OPERATE,
            P.RULESET_READ,
            P.RULESET_MANAGE,
            P.QUALITY_READ,
            P.QUALITY_MANAGE,
            P.AGENT_QUALITY_READ,
            P.CONVERSATION_READ,
            P.CONVERSATION_MANAGE,
            P.KNOWLEDGE_MANAGE,
            P.SATISFACTION_READ,
            P.ROSTER_MANAGE,
        }
    ),
    "team_lead": frozenset(
        {
            P.CONVERSATION_MANAGE,
            P.KNOWLEDGE_MANAGE,
            P.SATISFACTION_READ,
            P.WORKFORCE_READ,
            P.OPERATIONS_READ,
            P.PROCESS_READ,
            P.WORK_ITEM_READ,
            P.RULESET_READ,
            P.DECISION_JUDGE,
            P.QUALITY_READ,
            P.QUALITY_REVIEW,
            P.REVIEW_REVEAL,
            P.AGENT_QUALITY_READ,
            *_AGENT,
        }
    ),
    "agent": frozenset(_AGENT),
    "analyst": frozenset({*_AGENT, P.DECISION_JUDGE}),
    "qa_reviewer": frozenset(
        {
            P.PROCESS_READ,
            P.WORK_ITEM_READ,
            P.DOCUMENT_READ,
            P.QUALITY_READ,
            P.QUALITY_REVIEW,
            P.REVIEW_REVEAL,
            P.AGENT_QUALITY_READ,
        }
    ),
    "wfm_planner": frozenset({P.WORKFORCE_READ, P.OPERATIONS_READ, P.ROSTER_MANAGE}),
    "security_officer": frozenset(
        {P.CLIENT_READ, P.WORKFORCE_READ, P.AUDIT_READ, P.KEY_ROTATE, P.RETENTION_MANAGE}
    ),
    "client_admin": frozenset(
        {
            *_CLIENT_READ,
            P.RESULT_REJECT,
            P.API_KEY_MANAGE,
            P.CLIENT_USER_MANAGE,
            P.PROCESS_MANAGE,
            P.WORK_ITEM_CREATE,
            P.WORK_ITEM_MANAGE,
            P.WEBHOOK_MANAGE,
            P.RULESET_READ,
            P.RULESET_MANAGE,
            P.CONVERSATION_CREATE,
            P.KNOWLEDGE_MANAGE,
        }
    ),
    "client_user": frozenset(
        {*_CLIENT_READ, P.WORK_ITEM_CREATE, P.WORK_ITEM_MANAGE, P.RESULT_REJECT}
    ),
    "client_system": frozenset(
        {*_CLIENT_READ, P.WORK_ITEM_CREATE, P.WEBHOOK_MANAGE, P.CONVERSATION_CREATE}
    ),
}

CLIENT_ROLES = frozenset({"client_admin", "client_user", "client_system"})
AGENT_ROLES = frozenset({"agent", "analyst", "team_lead"})
