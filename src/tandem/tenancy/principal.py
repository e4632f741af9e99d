"""Who is calling: their role, client and agent profile, and the rows of which client they
may see (work items: tandem.work.access)."""

from __future__ import annotations

import uuid
from dataclasses import dataclass

from sqlalchemy import ColumnElement, true
from sqlalchemy.orm import InstrumentedAttribute

from tandem.core.errors import Forbidden
from tandem.tenancy.permissions import ROLES, Permission


@dataclass(frozen=True)
class Principal:
    user_id: uuid.UUID
    role: str
    client_id: int | None  # set for client users: they see this client only
    agent_id: uuid.UUID | None  # set for users who work items
    # An API key's own permissions (role "api_key"): exactly these, nothing of a role.
    scopes: frozenset[Permission] | None = None

    @property
    def permissions(self) -> frozenset[Permission]:
        if self.scopes is not None:
            return self.scopes
        return ROLES.get(self.role, frozenset())

    @property
    def actor(self) -> str:
        """How this principal appears in event rows."""
        if self.scopes is not None:
            return f"api_key:{self.user_id}"
        return f"agent:{self.agent_id}" if self.agent_id else f"user:{self.user_id}"

    def agent(self) -> uuid.UUID:
        """The agent profile of a user who works items; Forbidden for anyone else."""
        if self.agent_id is None:
            raise Forbidden("only users with an agent profile work items")
        return self.agent_id

    def require(self, permission: Permission) -> None:
        if permission not in self.permissions:
            raise Forbidden(f"your role ({self.role}) lacks the permission {permission.value}")

    def client_condition(
        self, client_column: ColumnElement[int] | InstrumentedAttribute[int]
    ) -> ColumnElement[bool]:
        """Rows of the caller's client; provider staff see every client."""
        if self.client_id is not None:
            return client_column == self.client_id
        return true()


SYSTEM = Principal(uuid.UUID(int=0), "provider_admin", None, None)
