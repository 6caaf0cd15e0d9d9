"""The emulated tenant and the consumers' settings, read from a Plan alone.

Everything here comes from resources the program registers: app registrations and their
roles, identifier URIs, scopes and pre-authorized tools; service principals; app-role
assignments; the Web Apps' identities and app settings; and the chain that says which APIM
subscription's key a Web App reads (app setting -> Key Vault reference -> Secret -> the
Subscription it depends on). The only things added are the rehearsal's own actors, marked
`synthetic`: one signed-in developer per group, a managed identity that holds roles only
through a group, and a user with default access but no role.
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
    client_id: str  # [choice] derived: the Plan has no client ID for a system identity
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

    def consumer(self, name: str) -> ConsumerFacts:
        """KeyError names a consumer the config declares but the Plan has no Web App for."""
        found = next((c for c in self.consumers if c.name == name), None)
        if found is None:
            raise KeyError(name)
        return found


def _need(value: Any, what: str) -> Any:
    if value in (None, "", "[secret]"):
        raise SandboxError(f"the plan lacks {what}; re-create it with `python -m sandbox plan`")
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
    """Key Vault secret name -> sid of the APIM subscription whose key the secret holds."""
    sids = {
        r["urn"]: _values(r)["sid"]
        for r in resources
        if _kind(r) == "Subscription" and str(r["type"]).startswith("azure-native:apimanagement:")
    }
    chain: dict[str, str] = {}
    for resource in resources:
        if str(resource["type"]) != "azure-native:keyvault:Secret":
            continue
        sources = resource["propertyDependencies"].get("properties") or resource["dependencies"]
        found = [sids[urn] for urn in sources if urn in sids]
        if len(found) == 1:
            chain[str(_values(resource)["secretName"])] = found[0]
    return chain


def _consumer(
    resource: dict[str, Any], names: Mapping[str, str], chain: Mapping[str, str]
) -> ConsumerFacts:
    values = _values(resource)
    principal_id = _need(
        (values.get("identity") or {}).get("principalId"), f"{resource['urn']} identity.principalId"
    )
    parent = str(resource.get("parent") or "")
    name = names.get(principal_id) or parent.rsplit("::", 1)[-1] or str(values.get("name"))
    settings = {
        s["name"]: str(s["value"]) for s in (values.get("siteConfig") or {}).get("appSettings", [])
    }
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
    return ConsumerFacts(
        name, principal_id, synthetic_id("mi-client", principal_id), settings, by_setting
    )


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
    consumers = tuple(
        sorted(
            (
                _consumer(r, names, chain)
                for r in resources
                if r["type"] == "azure-native:web:WebApp"
            ),
            key=lambda c: c.name,
        )
    )
    principals = [
        Principal(c.principal_id, c.client_id, c.name, "ManagedIdentity") for c in consumers
    ]
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
    )
