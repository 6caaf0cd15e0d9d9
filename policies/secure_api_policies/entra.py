"""Rules 26-32 (per resource) and 35: the Entra side, where "no more secrets" is enforced.

Rule 32's uniqueness half and rules 33-34 need several resources at once: see `stack_rules`.
"""

from __future__ import annotations

import re
import uuid
from urllib.parse import urlsplit

from pulumi_policy import PolicyConfigSchema, ResourceValidationPolicy

from ._common import (
    Props,
    configured_resource_policy,
    is_guid,
    is_opaque,
    resource_policy,
    show,
    unverifiable,
)

_AZUREAD = "azuread:index/"
APPLICATION = _AZUREAD + "application:Application"
APPLICATION_PASSWORD = _AZUREAD + "applicationPassword:ApplicationPassword"
SERVICE_PRINCIPAL_PASSWORD = _AZUREAD + "servicePrincipalPassword:ServicePrincipalPassword"
REGISTRATION = _AZUREAD + "applicationRegistration:ApplicationRegistration"
IDENTIFIER_URI = _AZUREAD + "applicationIdentifierUri:ApplicationIdentifierUri"
SERVICE_PRINCIPAL = _AZUREAD + "servicePrincipal:ServicePrincipal"
APP_ROLE = _AZUREAD + "applicationAppRole:ApplicationAppRole"
APP_ROLE_ASSIGNMENT = _AZUREAD + "appRoleAssignment:AppRoleAssignment"
FEDERATED_CREDENTIAL = (
    _AZUREAD + "applicationFederatedIdentityCredential:ApplicationFederatedIdentityCredential"
)

GITHUB_ISSUER = "https://token.actions.githubusercontent.com"
TOKEN_EXCHANGE_AUDIENCE = "api://AzureADTokenExchange"
_MEMBER_TYPES = frozenset({"User", "Application"})
_API_GUID_URI = re.compile(r"^api://[0-9a-fA-F]{8}(-[0-9a-fA-F]{4}){3}-[0-9a-fA-F]{12}$")


def no_password_resource(_props: Props, who: str) -> list[str]:
    return [
        (
            f"{who} creates a client secret: delete it and authenticate with a managed identity "
            "(run time) or a federated identity credential (CI)"
        )
    ]


def no_application_password_block(props: Props, who: str) -> list[str]:
    if props.get("password"):
        return no_password_resource(props, who)
    return []


def identifier_uri_format(props: Props, who: str) -> list[str]:
    uri = props.get("identifierUri")
    # `api://<clientId>` can only be built from the client ID Graph assigns, so it is unknown
    # in a first preview; the engine re-runs this rule with the real value during `pulumi up`.
    if is_opaque(uri):
        return []
    if isinstance(uri, str) and _API_GUID_URI.match(uri):
        return []
    if isinstance(uri, str) and uri.startswith("https://") and urlsplit(uri).hostname:
        return []  # a verified-domain URI; Entra itself refuses unverified domains
    return [
        (
            f"{who} has identifierUri={show(uri)}: use api://<clientId> "
            '(Output.format("api://{0}", registration.client_id)) or an https:// URI on a '
            "verified domain"
        )
    ]


def assignment_required(props: Props, who: str) -> list[str]:
    value = props.get("appRoleAssignmentRequired")
    if is_opaque(value):
        return [unverifiable(who, "appRoleAssignmentRequired", "set it to True")]
    if value is not True:
        return [
            (
                f"{who} has appRoleAssignmentRequired={show(value)}: set "
                "app_role_assignment_required=True, otherwise any identity in the tenant gets a "
                "token for this API (just without roles)"
            )
        ]
    return []


def v2_access_tokens(props: Props, who: str) -> list[str]:
    value = props.get("requestedAccessTokenVersion")
    if isinstance(value, bool) or value != 2:
        return [
            (
                f"{who} has requestedAccessTokenVersion={show(value)}: set "
                "requested_access_token_version=2 so tokens carry aud=<clientId> and the v2 issuer"
            )
        ]
    return []


def single_tenant(props: Props, who: str) -> list[str]:
    value = props.get("signInAudience")
    if is_opaque(value):
        return [unverifiable(who, "signInAudience", 'set sign_in_audience="AzureADMyOrg"')]
    # Unset means the provider default, AzureADMyOrg.
    if value not in (None, "AzureADMyOrg"):
        return [
            (
                f'{who} has signInAudience={show(value)}: set sign_in_audience="AzureADMyOrg" '
                "so only this tenant's identities can obtain tokens"
            )
        ]
    return []


def no_implicit_grant(props: Props, who: str) -> list[str]:
    problems = []
    for prop in ("implicitAccessTokenIssuanceEnabled", "implicitIdTokenIssuanceEnabled"):
        value = props.get(prop)
        if is_opaque(value):
            problems.append(unverifiable(who, prop, "leave it unset or False"))
        elif value is True:
            problems.append(
                f"{who} has {prop}=true: remove it; the implicit grant returns tokens in the URL "
                "fragment (use the authorization code flow with PKCE)"
            )
    return problems


def _is_uuid5(value: object) -> bool:
    return is_guid(value) and uuid.UUID(str(value)).version == 5


def app_role_well_formed(props: Props, who: str) -> list[str]:
    problems = []
    value = props.get("value")
    if is_opaque(value):
        problems.append(unverifiable(who, "value", "use a literal role value"))
    elif not isinstance(value, str) or not value or any(ch.isspace() for ch in value):
        problems.append(
            f"{who} has value={show(value)}: use a non-empty value without spaces "
            '(e.g. "Orders.Read"); it is what the roles claim and the gateway policy compare'
        )
    role_id = props.get("roleId")
    if is_opaque(role_id):
        problems.append(unverifiable(who, "roleId", "derive it with uuid5"))
    elif not _is_uuid5(role_id):
        problems.append(
            f"{who} has roleId={show(role_id)}, not a uuid5: derive it with "
            'uuid.uuid5(namespace, f"{api}/{role}") so it survives re-creation '
            "(a random ID orphans every assignment)"
        )
    members = props.get("allowedMemberTypes")
    if is_opaque(members):
        problems.append(unverifiable(who, "allowedMemberTypes", 'list "User"/"Application"'))
    # Any JSON value may arrive here: an item that is not a string (an object is not even
    # hashable) is as wrong as an unknown member type.
    elif (
        not isinstance(members, list)
        or not members
        or any(not isinstance(m, str) or m not in _MEMBER_TYPES for m in members)
    ):
        problems.append(
            f"{who} has allowedMemberTypes={show(members)}: use a non-empty subset of "
            '["User", "Application"]'
        )
    return problems


def federated_credential_scoped(props: Props, who: str, config: Props) -> list[str]:
    problems = []
    subject = props.get("subject")
    if is_opaque(subject):
        problems.append(unverifiable(who, "subject", "name one repository and environment"))
    elif not isinstance(subject, str) or not subject or "*" in subject:
        problems.append(
            f"{who} has subject={show(subject)}: name one exact subject such as "
            '"repo:ORG/REPO:environment:prod" (no wildcards)'
        )
    allowed = {GITHUB_ISSUER}
    extra = config.get("allowedIssuers")
    if isinstance(extra, list):
        allowed |= {i for i in extra if isinstance(i, str) and i.startswith("https://")}
    issuer = props.get("issuer")
    if is_opaque(issuer):
        problems.append(unverifiable(who, "issuer", f'set issuer="{GITHUB_ISSUER}"'))
    elif issuer not in allowed:
        problems.append(
            f"{who} has issuer={show(issuer)}: use {' or '.join(sorted(allowed))} (add another "
            "HTTPS issuer to the allowedIssuers pack config if you really trust it)"
        )
    audiences = props.get("audiences")
    if is_opaque(audiences):
        problems.append(
            unverifiable(who, "audiences", f'set audiences=["{TOKEN_EXCHANGE_AUDIENCE}"]')
        )
    elif audiences != [TOKEN_EXCHANGE_AUDIENCE]:
        problems.append(
            f"{who} has audiences={show(audiences)}: set audiences="
            f'["{TOKEN_EXCHANGE_AUDIENCE}"], the only audience Entra token exchange accepts'
        )
    return problems


_ISSUERS_SCHEMA = PolicyConfigSchema(
    properties={
        "allowedIssuers": {
            "type": "array",
            "items": {"type": "string", "pattern": "^https://"},
            "description": "HTTPS issuers trusted besides GitHub Actions",
        }
    }
)


def policies() -> list[ResourceValidationPolicy]:
    return [
        resource_policy(
            "entra-no-password-credentials",
            {
                APPLICATION_PASSWORD: no_password_resource,
                SERVICE_PRINCIPAL_PASSWORD: no_password_resource,
                APPLICATION: no_application_password_block,
            },
        ),
        resource_policy("entra-identifier-uri-format", {IDENTIFIER_URI: identifier_uri_format}),
        resource_policy("entra-assignment-required", {SERVICE_PRINCIPAL: assignment_required}),
        resource_policy("entra-v2-access-tokens", {REGISTRATION: v2_access_tokens}),
        resource_policy(
            "entra-single-tenant", {REGISTRATION: single_tenant, APPLICATION: single_tenant}
        ),
        resource_policy("entra-no-implicit-grant", {REGISTRATION: no_implicit_grant}),
        resource_policy("entra-app-role-well-formed", {APP_ROLE: app_role_well_formed}),
        configured_resource_policy(
            "entra-federated-credential-scoped",
            {FEDERATED_CREDENTIAL: federated_credential_scoped},
            config_schema=_ISSUERS_SCHEMA,
        ),
    ]
