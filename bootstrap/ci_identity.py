"""One GitHub Actions identity in Entra: no secret, one exact federated subject, scoped roles.

GitHub's OIDC token (issuer `token.actions.githubusercontent.com`, audience
`api://AzureADTokenExchange`, subject `repo:ORG/REPO:environment:<env>` or
`repo:ORG/REPO:pull_request`) is exchanged for an Entra token of this app registration, so the
registration never carries a password or certificate.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass

import pulumi
import pulumi_azuread as azuread
from pulumi_azure_native import authorization

from bootstrap.config import (
    GRAPH_PERMISSIONS,
    PERMISSION_GRANTING,
    PROJECT,
    READ_ONLY_GRAPH_PERMISSIONS,
    subscription_of,
)

GITHUB_ISSUER = "https://token.actions.githubusercontent.com"
TOKEN_EXCHANGE_AUDIENCE = "api://AzureADTokenExchange"
MICROSOFT_GRAPH_APP_ID = "00000003-0000-0000-c000-000000000000"
PULL_REQUEST = ":pull_request"

# Whether the GitHub environment a credential names has required reviewers, written into the
# credential's description: visible in Entra next to the subject it qualifies, and to the
# policy pack, which keeps permission-granting Graph permissions off unprotected environments
# (policies/secure_api_policies/pipeline.py reads the same words; a test keeps them equal).
ENVIRONMENT_PROTECTED = "GitHub environment protection: required reviewers"
ENVIRONMENT_UNPROTECTED = "GitHub environment protection: none"

# Built-in Azure role definitions (learn.microsoft.com/azure/role-based-access-control/
# built-in-roles); RBAC_ADMINISTRATOR is "Role Based Access Control Administrator".
CONTRIBUTOR = "b24988ac-6180-42a0-ab88-20f7382dd24c"
READER = "acdd72a7-3385-48ef-bd42-f606fba81ae7"
RBAC_ADMINISTRATOR = "f58310d9-a9f6-439a-9e8d-f62e7b41a168"
KEY_VAULT_SECRETS_USER = "4633458b-17de-408a-b874-0445c86b69e6"

# Azure ABAC "constrain roles" (learn.microsoft.com/azure/role-based-access-control/
# delegate-role-assignments-examples): the deploying identity may create and delete only
# *Key Vault Secrets User* assignments, and only for service principals (the consumers'
# managed identities). It can never grant itself or anyone else Owner or Contributor.
ONLY_KEY_VAULT_SECRETS_USER_FOR_SERVICE_PRINCIPALS = (
    "("
    " ("
    " !(ActionMatches{'Microsoft.Authorization/roleAssignments/write'})"
    " )"
    " OR"
    " ("
    " @Request[Microsoft.Authorization/roleAssignments:RoleDefinitionId]"
    f" ForAnyOfAnyValues:GuidEquals {{{KEY_VAULT_SECRETS_USER}}}"
    " AND"
    " @Request[Microsoft.Authorization/roleAssignments:PrincipalType]"
    " ForAnyOfAnyValues:StringEqualsIgnoreCase {'ServicePrincipal'}"
    " )"
    ")"
    " AND"
    " ("
    " ("
    " !(ActionMatches{'Microsoft.Authorization/roleAssignments/delete'})"
    " )"
    " OR"
    " ("
    " @Resource[Microsoft.Authorization/roleAssignments:RoleDefinitionId]"
    f" ForAnyOfAnyValues:GuidEquals {{{KEY_VAULT_SECRETS_USER}}}"
    " AND"
    " @Resource[Microsoft.Authorization/roleAssignments:PrincipalType]"
    " ForAnyOfAnyValues:StringEqualsIgnoreCase {'ServicePrincipal'}"
    " )"
    ")"
)

# Never change: it would rename (and so re-create) every role assignment of a deployed stack.
ID_NAMESPACE = uuid.UUID("2d0a6f5e-8c1b-4e7a-9f3d-5b6c7a8e9d01")


def stable_id(*parts: str) -> str:
    return str(uuid.uuid5(ID_NAMESPACE, "/".join((PROJECT, *parts))))


def role_definition_id(scope: str, role_guid: str) -> str:
    """The subscription-level ID ARM expects, derived from the scope (so it is a literal)."""
    return (
        f"/subscriptions/{subscription_of(scope)}/providers/Microsoft.Authorization/"
        f"roleDefinitions/{role_guid}"
    )


def _app_role(permission: str) -> Callable[[Mapping[str, str]], str]:
    def pick(ids: Mapping[str, str]) -> str:
        if permission not in ids:
            raise ValueError(f"Microsoft Graph has no application permission '{permission}'")
        return ids[permission]

    return pick


@dataclass(frozen=True)
class RoleGrant:
    """An Azure role for the identity on one scope; `label` names the Pulumi resource."""

    label: str
    role_guid: str
    scope: str
    condition: str | None = None


@dataclass(frozen=True)
class CiIdentityArgs:
    display_name: str
    subject: str
    grants: tuple[RoleGrant, ...]
    graph_permissions: tuple[str, ...] = ()
    # The GitHub environment the subject names has required reviewers.
    protected: bool = False
    description: str = ""
    depends_on: tuple[pulumi.Resource, ...] = ()

    def __post_init__(self) -> None:
        if not self.subject.startswith("repo:") or "*" in self.subject:
            raise ValueError(f"subject '{self.subject}' is not one exact repo:ORG/REPO:... subject")
        labels = [grant.label for grant in self.grants]
        if len(labels) != len(set(labels)):
            raise ValueError("two role grants share a label")
        for permission in self.graph_permissions:
            if permission not in GRAPH_PERMISSIONS:
                raise ValueError(f"unknown Graph permission '{permission}'; {GRAPH_PERMISSIONS}")
        # The config refuses these already; the component refuses them again so that no other
        # caller can build an identity that escalates.
        if self.is_pull_request and (
            set(self.graph_permissions) - set(READ_ONLY_GRAPH_PERMISSIONS)
            or any(g.role_guid != READER for g in self.grants)
        ):
            raise ValueError(
                "a pull_request identity may hold Reader only, and no Graph permission but "
                f"{READ_ONLY_GRAPH_PERMISSIONS}"
            )
        granting = PERMISSION_GRANTING.intersection(self.graph_permissions)
        if granting and (self.is_pull_request or not self.protected):
            raise ValueError(f"{sorted(granting)} only for a protected environment's identity")

    @property
    def is_pull_request(self) -> bool:
        return self.subject.endswith(PULL_REQUEST)

    @property
    def credential_description(self) -> str:
        if self.is_pull_request:
            return f"GitHub Actions OIDC: {self.subject}. Read-only previews."
        mark = ENVIRONMENT_PROTECTED if self.protected else ENVIRONMENT_UNPROTECTED
        return f"GitHub Actions OIDC: {self.subject}. {mark}."


class CiIdentity(pulumi.ComponentResource):
    """App registration + service principal + one federated credential + role assignments."""

    client_id: pulumi.Output[str]
    principal_object_id: pulumi.Output[str]

    def __init__(
        self, name: str, args: CiIdentityArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__("secure-api-calls-bootstrap:ci:CiIdentity", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        app = azuread.ApplicationRegistration(
            f"{name}-app",
            display_name=args.display_name,
            description=args.description or None,
            sign_in_audience="AzureADMyOrg",
            requested_access_token_version=2,
            opts=child,
        )
        # Assignment required: this app exposes no API, so no one should get a token for it.
        principal = azuread.ServicePrincipal(
            f"{name}-sp", client_id=app.client_id, app_role_assignment_required=True, opts=child
        )
        azuread.ApplicationFederatedIdentityCredential(
            f"{name}-github",
            application_id=app.id,
            display_name=f"{name}-github",
            description=args.credential_description,
            issuer=GITHUB_ISSUER,
            subject=args.subject,
            audiences=[TOKEN_EXCHANGE_AUDIENCE],
            opts=child,
        )
        for grant in args.grants:
            authorization.RoleAssignment(
                f"{name}-{grant.label}",
                role_assignment_name=stable_id(args.subject, grant.label, grant.scope),
                principal_id=principal.object_id,
                # Set explicitly: ARM then accepts a principal that Entra has not replicated yet.
                principal_type=authorization.PrincipalType.SERVICE_PRINCIPAL,
                role_definition_id=role_definition_id(grant.scope, grant.role_guid),
                scope=grant.scope,
                condition=grant.condition,
                condition_version="2.0" if grant.condition else None,
                description=f"{PROJECT}: {args.subject}",
                opts=pulumi.ResourceOptions(parent=self, depends_on=list(args.depends_on)),
            )
        if args.graph_permissions:
            graph = azuread.get_service_principal_output(
                client_id=MICROSOFT_GRAPH_APP_ID, opts=pulumi.InvokeOutputOptions(parent=self)
            )
            for permission in args.graph_permissions:
                azuread.AppRoleAssignment(
                    f"{name}-graph-{permission.lower().replace('.', '-')}",
                    app_role_id=graph.app_role_ids.apply(_app_role(permission)),
                    principal_object_id=principal.object_id,
                    resource_object_id=graph.object_id,
                    opts=child,
                )
        self.client_id = app.client_id
        self.principal_object_id = principal.object_id
        self.register_outputs(
            {"clientId": self.client_id, "principalObjectId": self.principal_object_id}
        )
