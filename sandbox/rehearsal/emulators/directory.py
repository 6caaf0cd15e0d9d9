"""The emulated tenant as plain data: API apps, principals, app-role assignments, groups.

Only what token issuance needs is modelled. Everything is frozen so a `Directory` built from a
Plan cannot drift while servers read it from other threads.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Literal

PrincipalKind = Literal["ManagedIdentity", "ServicePrincipal", "User", "Group"]

# Entra's "default access" role: assigning it grants access (satisfies assignment required)
# but puts nothing into `roles`.
DEFAULT_ACCESS_ROLE_ID = "00000000-0000-0000-0000-000000000000"

_GUID = re.compile(r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$")

# Kinds that authenticate as applications. Entra leaves group-held roles out of their tokens.
_APP_KINDS: frozenset[str] = frozenset({"ManagedIdentity", "ServicePrincipal"})


def _frozen(mapping: Mapping[str, str]) -> Mapping[str, str]:
    return MappingProxyType(dict(mapping))


@dataclass(frozen=True)
class ApiApp:
    """A protected API: its app registration and service principal in one record."""

    client_id: str
    object_id: str  # the service principal's object ID: what assignments point at
    name: str
    identifier_uri: str = ""  # empty means the convention `api://<client_id>`
    token_version: Literal[1, 2] = 2
    roles: Mapping[str, str] = field(default_factory=dict)  # role value -> role ID
    assignment_required: bool = True
    scope: str = "API.Access"
    pre_authorized: tuple[str, ...] = ()  # client IDs allowed the delegated scope

    def __post_init__(self) -> None:
        if self.token_version not in (1, 2):
            raise ValueError(f"token_version must be 1 or 2, not {self.token_version!r}")
        if not self.identifier_uri:
            object.__setattr__(self, "identifier_uri", f"api://{self.client_id}")
        object.__setattr__(self, "roles", _frozen(self.roles))
        object.__setattr__(self, "pre_authorized", tuple(self.pre_authorized))

    def role_value(self, role_id: str) -> str | None:
        for value, known_id in self.roles.items():
            if known_id.lower() == role_id.lower():
                return value
        return None


@dataclass(frozen=True)
class Principal:
    """Anything that can hold an assignment: identities, service principals, users, groups."""

    object_id: str
    client_id: str | None  # app ID for managed identities and service principals
    name: str
    kind: PrincipalKind
    upn: str | None = None  # users only; goes into user tokens


@dataclass(frozen=True)
class Assignment:
    """An `appRoleAssignedTo` entry: principal holds role on the resource service principal."""

    principal_object_id: str
    resource_object_id: str
    role_id: str


@dataclass(frozen=True)
class Directory:
    tenant_id: str
    apps: tuple[ApiApp, ...] = ()
    principals: tuple[Principal, ...] = ()
    assignments: tuple[Assignment, ...] = ()
    group_members: Mapping[str, tuple[str, ...]] = field(default_factory=dict)

    def __post_init__(self) -> None:
        object.__setattr__(self, "apps", tuple(self.apps))
        object.__setattr__(self, "principals", tuple(self.principals))
        object.__setattr__(self, "assignments", tuple(self.assignments))
        members = {group: tuple(ids) for group, ids in self.group_members.items()}
        object.__setattr__(self, "group_members", MappingProxyType(members))

    def principal(self, object_id: str) -> Principal | None:
        wanted = object_id.lower()
        return next((p for p in self.principals if p.object_id.lower() == wanted), None)

    def principal_by_client_id(self, client_id: str) -> Principal | None:
        wanted = client_id.lower()
        return next(
            (p for p in self.principals if p.client_id and p.client_id.lower() == wanted), None
        )

    def app_for_resource(self, resource: str) -> ApiApp | None:
        """The API a token request names: its identifier URI (with or without a trailing
        slash) or its bare client ID. Anything else, including `/.default`, is unknown."""
        candidate = resource.removesuffix("/")
        for app in self.apps:
            if candidate == app.identifier_uri.rstrip("/"):
                return app
            if _GUID.match(resource) and resource.lower() == app.client_id.lower():
                return app
        return None

    def groups_of(self, object_id: str) -> tuple[str, ...]:
        # Direct membership only: Entra does not honour nested groups for app assignment.
        wanted = object_id.lower()
        return tuple(
            group
            for group, members in self.group_members.items()
            if wanted in (m.lower() for m in members)
        )

    def _assignments(self, principal_object_ids: tuple[str, ...], app: ApiApp) -> list[Assignment]:
        wanted = {oid.lower() for oid in principal_object_ids}
        return [
            a
            for a in self.assignments
            if a.principal_object_id.lower() in wanted
            and a.resource_object_id.lower() == app.object_id.lower()
        ]

    def is_assigned(self, principal_object_id: str, app: ApiApp) -> bool:
        """Any assignment to the app, direct or through a group (what assignment required
        checks before a token is issued)."""
        holders = (principal_object_id, *self.groups_of(principal_object_id))
        return bool(self._assignments(holders, app))

    def direct_roles(self, principal_object_id: str, app: ApiApp) -> tuple[str, ...]:
        """Role values Entra puts into `roles` for this principal.

        Managed identities and service principals: direct assignments only (a role held
        through a group never reaches their tokens). Users: direct and group-held roles.
        Role IDs the app does not define (such as default access) add nothing.
        """
        principal = self.principal(principal_object_id)
        holders: tuple[str, ...] = (principal_object_id,)
        if principal is not None and principal.kind not in _APP_KINDS:
            holders = (principal_object_id, *self.groups_of(principal_object_id))
        values: list[str] = []
        for assignment in self._assignments(holders, app):
            value = app.role_value(assignment.role_id)
            if value is not None and value not in values:
                values.append(value)
        return tuple(sorted(values))
