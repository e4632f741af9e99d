"""What a use case runs with, as one argument."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy.orm import Session

from tandem.tenancy.principal import Principal
from tandem.vault.sealing import Keyring


@dataclass(frozen=True)
class Context:
    """One unit of work: its transaction's session, who asks, the clock's time read once for
    the whole unit, the keys of personal data at rest and the audit chain's key. Built per
    request by the route's dependency (tandem.http.context) or by Container.context (CLI,
    worker, demo, tests)."""

    session: Session
    principal: Principal
    now: datetime
    keyring: Keyring
    audit_key: bytes
