"""The emulated tenant and the consumers' settings, read from a Plan alone.

Everything here comes from resources the program registers: app registrations and their
roles, identifier URIs, scopes and pre-authorized tools; service principals; app-role
assignments; the Web Apps' identities, client IDs and app settings; and the chain that says
which APIM subscription's key a Web App reads (app setting -> Key Vault reference -> Secret ->
the key generator it shares with a Subscription's primaryKey); and the gateway's own managed
identity (outputs.gatewayIdentity), which holds the gateway role on each API whose backend hop
it authenticates. The only things added are the
rehearsal's own actors, marked `synthetic`: one signed-in developer per group, a managed
identity that holds roles only through a group, and a user with default access but no role.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from sandbox.errors import SandboxError
from sandbox.rehearsal.emulators.directory import (
    DEFAULT_ACCESS_ROLE_ID,
    ApiApp,
    Assignment,
    Directory,
    Principal,
)

NAMESPACE = uuid.UUID("3f0b9a52-3c1e-4f7e-a7a5-5d1f2c6b9e10")  # rehearsal-only identifiers
_KV_SECRET = re.compile(r"SecretName=([^;)]+)|/secrets/([^/;)]+)")


def synthetic_id(*parts: str) -> str:
    return str(uuid.uuid5(NAMESPACE, "/".join(parts)))


def _kind(resource: Mapping[str, Any]) -> str:
    return str(resource["type"]).rsplit(":", 1)[-1]


def _values(resource: Mapping[str, Any]) -> dict[str, Any]:
    return {**resource.get("inputs", {}), **resource.get("outputs", {})}


@dataclass(frozen=True)
class ConsumerFacts:
    name: str
    principal_id: str
    client_id: str  # outputs.consumers.<name>.clientId: Graph's appId of the system identity
    app_settings: Mapping[str, str]
    subscription_by_setting: Mapping[str, str]  # API_X_SUBSCRIPTION_KEY -> subscription sid


@dataclass(frozen=True)
class Tenant:
    directory: Directory
    apis: Mapping[str, ApiApp]  # API name (as in the stack outputs) -> app
    consumers: tuple[ConsumerFacts, ...]
    developer_by_group: Mapping[str, str]  # group object ID -> synthetic user object ID
    group_only_identity: str | None  # synthetic MI in every group, holding no direct role
    no_role_user: str  # synthetic user with default access to every API
    gateway_url: str  # the deployed gateway URL the app settings point at
    gateway_identity: Principal | None = None  # the APIM service's system identity

    def consumer(self, name: str) -> ConsumerFacts:
        """KeyError names a consumer the config declares but the Plan has no Web App for."""
        found = next((c for c in self.consumers if c.name == name), None)
        if found is None:
            raise KeyError(name)
        return found


def _need(value: Any, what: str) -> Any:
    if value in (None, "", "[secret]"):
        raise SandboxError(f"the plan lacks {what}; re-create it with `secure-api-calls plan`")
    return value


def _api_apps(
    plan: Mapping[str, Any], by_kind: dict[str, list[dict[str, Any]]]
) -> dict[str, ApiApp]:
    registrations = {
        str(_values(r).get("clientId")): _values(r) for r in by_kind["ApplicationRegistration"]
    }
    principals = {str(_values(r).get("clientId")): _values(r) for r in by_kind["ServicePrincipal"]}

    def children(kind: str, application: str) -> list[dict[str, Any]]:
        return [_values(r) for r in by_kind[kind] if _values(r).get("applicationId") == application]

    apps: dict[str, ApiApp] = {}
    for name, facts in sorted((plan["outputs"].get("apis") or {}).items()):
        client_id = _need(facts.get("clientId"), f"outputs.apis.{name}.clientId")
        registration = registrations.get(client_id)
        principal = principals.get(client_id)
        if registration is None or principal is None:
            raise SandboxError(
                f"API '{name}': no app registration and service principal for "
                f"client ID {client_id} in the plan"
            )
        application = f"/applications/{_need(registration.get('objectId'), f'{name} objectId')}"
        uris = [v["identifierUri"] for v in children("ApplicationIdentifierUri", application)]
        scopes = [v["value"] for v in children("ApplicationPermissionScope", application)]
        version = registration.get("requestedAccessTokenVersion") or 1  # null means v1
        apps[name] = ApiApp(
            client_id=client_id,
            object_id=_need(principal.get("objectId"), f"{name} service principal objectId"),
            name=str(registration.get("displayName") or name),
            identifier_uri=uris[0] if uris else "",
            token_version=2 if int(version) == 2 else 1,
            roles={v["value"]: v["roleId"] for v in children("ApplicationAppRole", application)},
            assignment_required=bool(principal.get("appRoleAssignmentRequired", False)),
            scope=scopes[0] if scopes else "API.Access",
            pre_authorized=tuple(
                v["authorizedClientId"] for v in children("ApplicationPreAuthorized", application)
            ),
        )
    return apps


def _subscription_chain(resources: list[dict[str, Any]]) -> dict[str, str]:
    """Key Vault secret name -> sid of the APIM subscription whose key the secret holds.

    The stack generates each key itself (a RandomPassword) and hands the same value to the
    Subscription's primaryKey and to the Secret: a secret belongs to the subscription whose
    primaryKey comes from the same generator."""
    sids_by_source: dict[str, set[str]] = {}
    for r in resources:
        if str(r["type"]) != "azure-native:apimanagement:Subscription":
            continue
        for urn in r.get("propertyDependencies", {}).get("primaryKey") or ():
            sids_by_source.setdefault(urn, set()).add(str(_values(r)["sid"]))
    chain: dict[str, str] = {}
    for resource in resources:
        if str(resource["type"]) != "azure-native:keyvault:Secret":
            continue
        sources = resource.get("propertyDependencies", {}).get("properties") or ()
        found = {sid for urn in sources for sid in sids_by_source.get(urn, ())}
        if len(found) == 1:
            chain[str(_values(resource)["secretName"])] = found.pop()
    return chain


def _site_settings(site: dict[str, Any], settings: list[dict[str, Any]]) -> dict[str, str]:
    """The app settings of one Web App: its WebAppApplicationSettings resource (the one whose
    `name` is the site's), as deployed. A secret value in it (the App Insights connection
    string) is masked on its own; the rehearsal reads only the API_* settings."""
    name = _values(site).get("name")
    mine = [r for r in settings if _values(r).get("name") == name]
    if len(mine) != 1:
        raise SandboxError(
            f"{site['urn']}: expected one WebAppApplicationSettings for site {name!r}, "
            f"found {len(mine)}"
        )
    properties = _values(mine[0]).get("properties")
    if not isinstance(properties, Mapping):
        raise SandboxError(
            f"{mine[0]['urn']}: its properties are not readable in the plan (masked as a "
            "whole?); re-create the plan with `secure-api-calls plan`"
        )
    return {str(k): str(v) for k, v in properties.items()}


def _consumer(
    resource: dict[str, Any],
    names: Mapping[str, str],
    chain: Mapping[str, str],
    settings_resources: list[dict[str, Any]],
    exported: Mapping[str, Any],
) -> ConsumerFacts:
    values = _values(resource)
    principal_id = _need(
        (values.get("identity") or {}).get("principalId"), f"{resource['urn']} identity.principalId"
    )
    parent = str(resource.get("parent") or "")
    name = names.get(principal_id) or parent.rsplit("::", 1)[-1] or str(values.get("name"))
    facts = exported.get(name) or {}
    # The managed identity's client ID as the stack deployed it (Graph's appId, looked up by
    # the program): the emulated gateway's <client-application-ids> check then is the real one.
    client_id = _need(facts.get("clientId"), f"outputs.consumers.{name}.clientId")
    settings = _site_settings(resource, settings_resources)
    by_setting: dict[str, str] = {}
    for setting, value in settings.items():
        if not setting.endswith("_SUBSCRIPTION_KEY"):
            continue
        match = _KV_SECRET.search(value)
        secret = (match.group(1) or match.group(2)) if match else None
        if secret is None or secret not in chain:
            raise SandboxError(
                f"consumer '{name}': {setting} is not a Key Vault reference to a secret that "
                "holds an APIM subscription key; the rehearsal cannot tell whose key it is"
            )
        by_setting[setting] = chain[secret]
    return ConsumerFacts(name, principal_id, str(client_id), settings, by_setting)


def tenant_from_plan(plan: Mapping[str, Any]) -> Tenant:
    resources: list[dict[str, Any]] = list(plan["resources"])
    by_kind: dict[str, list[dict[str, Any]]] = {}
    for resource in resources:
        if str(resource["type"]).startswith("azuread:"):
            by_kind.setdefault(_kind(resource), []).append(resource)
    for kind in (
        "ApplicationRegistration",
        "ServicePrincipal",
        "ApplicationIdentifierUri",
        "ApplicationPermissionScope",
        "ApplicationAppRole",
        "ApplicationPreAuthorized",
        "AppRoleAssignment",
    ):
        by_kind.setdefault(kind, [])
    tenant_id = _need(plan["outputs"].get("tenantId"), "outputs.tenantId")
    apps = _api_apps(plan, by_kind)
    names = {
        str(facts.get("principalId")): name
        for name, facts in (plan["outputs"].get("consumers") or {}).items()
    }
    chain = _subscription_chain(resources)
    settings = [r for r in resources if r["type"] == "azure-native:web:WebAppApplicationSettings"]
    exported = plan["outputs"].get("consumers") or {}
    consumers = tuple(
        sorted(
            (
                _consumer(r, names, chain, settings, exported)
                for r in resources
                if r["type"] == "azure-native:web:WebApp"
            ),
            key=lambda c: c.name,
        )
    )
    principals = [
        Principal(c.principal_id, c.client_id, c.name, "ManagedIdentity") for c in consumers
    ]
    gateway = _gateway_identity(plan)
    if gateway is not None:
        principals.append(gateway)
    assignments = [
        Assignment(v["principalObjectId"], v["resourceObjectId"], v["appRoleId"])
        for v in (_values(r) for r in by_kind["AppRoleAssignment"])
    ]
    known = {p.object_id.lower() for p in principals}
    # [choice] An assignee that is not a Web App identity is a developer group (the only
    # other kind of assignee the stack declares).
    groups = sorted({a.principal_object_id for a in assignments} - known, key=str.lower)
    group_members: dict[str, tuple[str, ...]] = {}
    developers: dict[str, str] = {}
    group_only = synthetic_id("group-only-identity", tenant_id) if groups else None
    for group in groups:
        user = synthetic_id("developer", group)
        developers[group] = user
        principals += [
            Principal(group, None, f"group {group}", "Group"),
            Principal(
                user,
                None,
                f"developer of {group}",
                "User",
                upn=f"developer-{group[:8]}@rehearsal.invalid",
            ),
        ]
        group_members[group] = (user, group_only) if group_only else (user,)
    if group_only:
        principals.append(
            Principal(
                group_only,
                synthetic_id("mi-client", group_only),
                "group-only identity",
                "ManagedIdentity",
            )
        )
    no_role_user = synthetic_id("no-role-user", tenant_id)
    principals.append(
        Principal(
            no_role_user, None, "user without roles", "User", upn="no-roles@rehearsal.invalid"
        )
    )
    assignments += [
        Assignment(no_role_user, app.object_id, DEFAULT_ACCESS_ROLE_ID) for app in apps.values()
    ]
    directory = Directory(
        tenant_id, tuple(apps.values()), tuple(principals), tuple(assignments), group_members
    )
    return Tenant(
        directory,
        apps,
        consumers,
        developers,
        group_only,
        no_role_user,
        str(plan["outputs"].get("gatewayUrl") or ""),
        gateway,
    )


def _gateway_identity(plan: Mapping[str, Any]) -> Principal | None:
    """The gateway's system identity as the stack exported it (principal ID from ARM, client ID
    from Graph, as for the Web Apps); None when no API authenticates its backend hop."""
    facts = plan["outputs"].get("gatewayIdentity")
    if not facts:
        return None
    return Principal(
        str(_need(facts.get("principalId"), "outputs.gatewayIdentity.principalId")),
        str(_need(facts.get("clientId"), "outputs.gatewayIdentity.clientId")),
        "API Management gateway",
        "ManagedIdentity",
    )
