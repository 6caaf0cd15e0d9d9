"""Rules 44-46: the CI identities (the bootstrap plan) cannot escalate.

A CI identity is an app registration with a federated credential; its service principals hold
its Azure roles and Graph permissions. The pipeline stays least-privileged when:
- an identity that pull requests can use (subject `...:pull_request`) only reads, and reads no
  secret (rule 44);
- a Graph permission that can grant permissions goes only to an identity whose every credential
  names a protected GitHub environment (rule 45). GitHub's protection itself lives in GitHub;
  the bootstrap writes what its config declares into each credential's description;
- every credential names one exact subject (rule 46); issuer and audience are rule 35's.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

from pulumi_policy import Policy

from ._common import (
    Props,
    StackResource,
    Violation,
    is_opaque,
    resource_policy,
    show,
    stack_policy,
    unverifiable,
)
from ._links import client_ids, known, link, object_ids, of_type, registration_ids
from .entra import APP_ROLE_ASSIGNMENT, FEDERATED_CREDENTIAL, REGISTRATION, SERVICE_PRINCIPAL

ROLE_ASSIGNMENT = "azure-native:authorization:RoleAssignment"
ROLE_DEFINITION = "azure-native:authorization:RoleDefinition"
FLEXIBLE_CREDENTIAL = (
    "azuread:index/applicationFlexibleFederatedIdentityCredential:"
    "ApplicationFlexibleFederatedIdentityCredential"
)

# learn.microsoft.com/azure/role-based-access-control/built-in-roles/general: Reader is
# `*/read` ("Read resources of all types, except secrets") and no data action.
READER = "acdd72a7-3385-48ef-bd42-f606fba81ae7"
_BUILT_IN = {
    "b24988ac-6180-42a0-ab88-20f7382dd24c": "Contributor",
    "8e3af657-a8ff-443c-a75c-2fe8c4bcb635": "Owner",
    "f58310d9-a9f6-439a-9e8d-f62e7b41a168": "Role Based Access Control Administrator",
    "18d7d88d-d35e-4fb5-a5c3-7773c20a72d9": "User Access Administrator",
    "4633458b-17de-408a-b874-0445c86b69e6": "Key Vault Secrets User",
}

# Microsoft Graph application-permission IDs, identical in every tenant
# (learn.microsoft.com/graph/permissions-reference). Permission-granting: each can give any
# principal, itself included, more permissions ("Permissions that allow granting
# authorization, such as AppRoleAssignment.ReadWrite.All, allow an application to grant
# additional privileges to itself, other applications, or any user").
PERMISSION_GRANTING = {
    "06b708a9-e830-4db3-a914-8e69da51d44f": "AppRoleAssignment.ReadWrite.All",
    "1bfefb4e-e0b5-418b-a88f-73c46d2cc8e9": "Application.ReadWrite.All",
    "9e3f62cf-ca93-4989-b6ce-bf83c28f9fe8": "RoleManagement.ReadWrite.Directory",
    "8e8e4742-1d95-4f68-9d56-6ee75648c72a": "DelegatedPermissionGrant.ReadWrite.All",
    "19dbc75e-c2e2-444c-a770-ec69d8559fc7": "Directory.ReadWrite.All",
    "a402ca1c-2696-4531-972d-6e5ee4aa11ea": "Policy.ReadWrite.PermissionGrant",
}
READ_ONLY_GRAPH = {"9a5d68dd-52b0-4cc2-bd40-abcf44ac3a30": "Application.Read.All"}
_GRAPH_NAMES = {
    **PERMISSION_GRANTING,
    **READ_ONLY_GRAPH,
    "18a4783c-866b-4cc7-a460-3d5e5662c884": "Application.ReadWrite.OwnedBy",
}

# What the bootstrap writes into an environment credential's description (bootstrap/
# ci_identity.py ENVIRONMENT_PROTECTED; a test keeps the two equal).
ENVIRONMENT_PROTECTED = "GitHub environment protection: required reviewers"

# GitHub's default OIDC subjects (docs.github.com, "About security hardening with OpenID
# Connect", example subject claims); Entra compares the subject as an exact string.
_SUBJECT = re.compile(
    r"^repo:[A-Za-z0-9][A-Za-z0-9-]{0,38}/[A-Za-z0-9._-]{1,100}:"
    r"(environment:(?P<env>[A-Za-z0-9._-]{1,255})|pull_request|ref:refs/(heads|tags)/[\w./-]+)$"
)
# Control-plane actions that return secrets (keys, connection strings, app settings,
# subscription keys, named-value secrets), and every wildcard action.
_SECRET_ACTION = re.compile(
    r"(^\*$|\*/action|/\*$|list\w*(keys|secrets?|credentials?|value|connectionstrings)/action"
    r"|/config/list/action|getsecret)",
    re.IGNORECASE,
)


@dataclass(frozen=True)
class CiIdentity:
    registration: StackResource
    principals: tuple[StackResource, ...]
    credentials: tuple[StackResource, ...]

    @property
    def principal_urns(self) -> set[str]:
        return {p.urn for p in self.principals}

    @property
    def subjects(self) -> list[str | None]:
        return [known(c.props.get("subject")) for c in self.credentials]

    @property
    def serves_pull_requests(self) -> bool:
        return any(s is not None and s.endswith(":pull_request") for s in self.subjects)


def ci_identities(resources: Sequence[StackResource]) -> list[CiIdentity]:
    """Every registration with a federated credential, with its principals and credentials."""
    principals = of_type(resources, SERVICE_PRINCIPAL)
    credentials = of_type(resources, FEDERATED_CREDENTIAL, FLEXIBLE_CREDENTIAL)
    found = []
    for reg in of_type(resources, REGISTRATION):
        mine = tuple(c for c in credentials if link(c, "applicationId", [reg], registration_ids))
        if mine:
            sps = tuple(p for p in principals if link(p, "clientId", [reg], client_ids))
            found.append(CiIdentity(reg, sps, mine))
    return found


def _held(
    resources: Sequence[StackResource], kind: str, prop: str, identity: CiIdentity
) -> list[StackResource]:
    return [
        a
        for a in of_type(resources, kind)
        if {h.urn for h in link(a, prop, identity.principals, object_ids) or []}
    ]


def _role_problem(assignment: StackResource, definitions: Sequence[StackResource]) -> str | None:
    """What an Azure role assignment grants beyond reading; None if it grants no more."""
    role_id = known(assignment.props.get("roleDefinitionId"))
    guid = role_id.rsplit("/", 1)[-1].lower() if role_id else None
    custom = [
        d
        for d in definitions
        if assignment.depends_on("roleDefinitionId", d.urn)
        or (
            guid and guid in {str(d.props.get(k, "")).lower() for k in ("roleDefinitionId", "name")}
        )
    ]
    if guid == READER:
        return None
    if not custom:
        if guid is None:
            return "a role that is unknown until deployment (write its ID as a literal)"
        return f"{_BUILT_IN.get(guid, f'built-in role {guid}')}, more than Reader"
    actions, data = _permissions(custom[0].props)
    secret = [a for a in actions + data if _SECRET_ACTION.search(a)]
    if secret:
        return f"{custom[0].label}, whose {', '.join(secret)} return secrets"
    beyond = [a for a in actions if not a.lower().endswith("/read")] + data
    if beyond:
        return f"{custom[0].label}, whose {', '.join(beyond)} go beyond reading"
    return None


def _permissions(props: Props) -> tuple[list[str], list[str]]:
    actions: list[str] = []
    data: list[str] = []
    permissions = props.get("permissions")
    for block in permissions if isinstance(permissions, list) else []:
        if isinstance(block, dict):
            actions += [str(a) for a in block.get("actions") or []]
            data += [str(a) for a in block.get("dataActions") or []]
    return actions, data


def preview_identity_read_only(resources: Sequence[StackResource]) -> list[Violation]:
    definitions = of_type(resources, ROLE_DEFINITION)
    found = []
    for identity in ci_identities(resources):
        if not identity.serves_pull_requests:
            continue
        who = f"{identity.registration.label}, which pull requests can use,"
        for assignment in _held(resources, ROLE_ASSIGNMENT, "principalId", identity):
            if (problem := _role_problem(assignment, definitions)) is not None:
                found.append(
                    Violation(
                        f"{assignment.label} gives {who} {problem}: a pull request must never "
                        "write or read a secret, so give it Reader only (or move the grant to "
                        "an environment's identity)",
                        assignment.urn,
                    )
                )
        for grant in _held(resources, APP_ROLE_ASSIGNMENT, "principalObjectId", identity):
            role = (known(grant.props.get("appRoleId")) or "").lower()
            if role in READ_ONLY_GRAPH:
                continue
            found.append(
                Violation(
                    f"{grant.label} gives {who} {_GRAPH_NAMES.get(role, f'app role {role!r}')}: "
                    f"it may hold read-only Graph permissions "
                    f"({', '.join(READ_ONLY_GRAPH.values())}) at most; remove it",
                    grant.urn,
                )
            )
    return found


def _unprotected(credential: StackResource) -> str | None:
    """Why a credential does not name a protected environment; None when it does."""
    subject = known(credential.props.get("subject"))
    if credential.type == FLEXIBLE_CREDENTIAL or subject is None:
        return f"{credential.label} has no exact subject"
    match = _SUBJECT.match(subject)
    if match is None or match.group("env") is None:
        return f"{credential.label} names {subject}, not a GitHub environment"
    description = credential.props.get("description")
    if isinstance(description, str) and ENVIRONMENT_PROTECTED in description:
        return None
    return f"{credential.label} names environment '{match.group('env')}', not declared protected"


def permission_granting_only_protected(resources: Sequence[StackResource]) -> list[Violation]:
    identities = ci_identities(resources)
    principals = of_type(resources, SERVICE_PRINCIPAL)
    found = []
    for grant in of_type(resources, APP_ROLE_ASSIGNMENT):
        role = known(grant.props.get("appRoleId"))
        holders = link(grant, "principalObjectId", principals, object_ids) or []
        holder_urns = {h.urn for h in holders}
        identity = next((i for i in identities if i.principal_urns & holder_urns), None)
        if role is None:
            if identity is not None and is_opaque(grant.props.get("appRoleId")):
                found.append(
                    Violation(unverifiable(grant.label, "appRoleId", "name it"), grant.urn)
                )
            continue
        name = PERMISSION_GRANTING.get(role.lower())
        if name is None:
            continue
        why = (
            [_unprotected(c) for c in identity.credentials]
            if identity is not None
            else ["its principal is not a CI identity of this stack"]
        )
        reasons = [w for w in why if w is not None]
        if reasons:
            found.append(
                Violation(
                    f"{grant.label} grants {name}, which can grant any permission in the tenant, "
                    f"but {'; '.join(reasons)}: only an identity whose every federated credential "
                    "names a protected GitHub environment (required reviewers) may hold it",
                    grant.urn,
                )
            )
    return found


def federated_subject_exact(props: Props, who: str) -> list[str]:
    subject = props.get("subject")
    if is_opaque(subject):
        return [unverifiable(who, "subject", "name one repository and environment")]
    if isinstance(subject, str) and _SUBJECT.match(subject):
        return []
    return [
        f"{who} has subject={show(subject)}: name one exact GitHub subject, "
        '"repo:ORG/REPO:environment:<name>" (deployments) or "repo:ORG/REPO:pull_request" '
        "(read-only previews)"
    ]


def no_flexible_credential(_props: Props, who: str) -> list[str]:
    return [
        f"{who} matches subjects by expression, so any branch or environment that fits can use "
        "it: use an ApplicationFederatedIdentityCredential with one exact subject"
    ]


def policies() -> list[Policy]:
    return [
        stack_policy("pipeline-preview-identity-read-only", preview_identity_read_only),
        stack_policy(
            "pipeline-permission-granting-only-protected", permission_granting_only_protected
        ),
        resource_policy(
            "pipeline-federated-subject-exact",
            {
                FEDERATED_CREDENTIAL: federated_subject_exact,
                FLEXIBLE_CREDENTIAL: no_flexible_credential,
            },
        ),
    ]
