"""Each API's backend as the rehearsal stands it up, read from the Plan alone: what it checks
before it echoes (emulators/backend_auth.py) and where the gateway forwards to it.

- A site the stack configures: its `WebAppAuthSettingsV2` exactly as the Plan sends it, found by
  the registration client ID it validates for (the API's own, from the stack outputs).
- An external backend whose API authenticates the hop (outputs.apis.<api>.backendAuth): the
  checklist docs/backend-hop.md asks of it, with the Plan's facts (tenant, the registration's
  token version and client ID, the gateway identity's client ID, the gateway role).
- `backendAuth: none`: an open backend, as such a backend is.

Settings the emulator would have to guess about (sign-in redirects, excluded paths, group
rules, other identity providers) refuse to start.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from components import naming
from sandbox.errors import SandboxError
from sandbox.rehearsal.emulators.backend_auth import BackendGuard
from sandbox.rehearsal.tenant import Tenant

AUTH_SETTINGS = "azure-native:web:WebAppAuthSettingsV2"
_STATUS = {"Return401": 401, "Return403": 403}


def _values(resource: Mapping[str, Any]) -> dict[str, Any]:
    return {**resource.get("inputs", {}), **resource.get("outputs", {})}


def issuer(tenant_id: str, token_version: int) -> str:
    if token_version == 2:
        return f"https://login.microsoftonline.com/{tenant_id}/v2.0"
    return f"https://sts.windows.net/{tenant_id}/"


def _refuse(resource: Mapping[str, Any], what: str) -> SandboxError:
    return SandboxError(
        f"{resource['urn']}: {what} is not emulated by the rehearsal's backend; "
        "the rehearsal stops rather than guess"
    )


def _from_settings(resource: Mapping[str, Any], tenant_id: str) -> BackendGuard | None:
    values = _values(resource)
    if not (values.get("platform") or {}).get("enabled"):
        return None  # authentication off: the site answers anyone
    validation = values.get("globalValidation") or {}
    if validation.get("excludedPaths") or validation.get("redirectToProvider"):
        raise _refuse(resource, "excludedPaths/redirectToProvider")
    action = validation.get("unauthenticatedClientAction")
    if not validation.get("requireAuthentication") or action not in _STATUS:
        raise _refuse(resource, f"requireAuthentication false or action {action!r}")
    providers = dict(values.get("identityProviders") or {})
    entra = providers.pop("azureActiveDirectory", None) or {}
    if any((p or {}).get("enabled", True) for p in providers.values()) or not entra.get("enabled"):
        raise _refuse(resource, "an identity provider other than Microsoft Entra")
    registration = entra.get("registration") or {}
    checks = entra.get("validation") or {}
    policy = checks.get("defaultAuthorizationPolicy") or {}
    principals = policy.get("allowedPrincipals") or {}
    if checks.get("jwtClaimChecks") or principals.get("groups"):
        raise _refuse(resource, "jwtClaimChecks or allowedPrincipals.groups")
    client_id = str(registration.get("clientId") or "")
    # The registration's client ID is always an allowed audience (Microsoft's docs).
    audiences = tuple(dict.fromkeys([client_id, *(checks.get("allowedAudiences") or [])]))
    return BackendGuard(
        source=f"App Service authentication ({resource['name']})",
        tenant_id=tenant_id,
        issuer=str(registration.get("openIdIssuer") or ""),
        audiences=audiences,
        allowed_applications=tuple(policy.get("allowedApplications") or ()),
        allowed_identities=tuple(principals.get("identities") or ()),
        unauthenticated_status=_STATUS[str(action)],
    )


def backend_guards(plan: Mapping[str, Any], tenant: Tenant) -> dict[str, BackendGuard | None]:
    """API name -> what its backend checks (None: an open backend)."""
    tenant_id = tenant.directory.tenant_id
    settings: dict[str, Mapping[str, Any]] = {}
    for resource in plan["resources"]:
        if resource["type"] == AUTH_SETTINGS:
            provider = (_values(resource).get("identityProviders") or {}).get(
                "azureActiveDirectory"
            ) or {}
            client = str((provider.get("registration") or {}).get("clientId") or "")
            settings[client.lower()] = resource
    guards: dict[str, BackendGuard | None] = {}
    for name, facts in (plan["outputs"].get("apis") or {}).items():
        app = tenant.apis.get(name)
        if app is None:
            continue
        site = settings.get(app.client_id.lower())
        if site is not None:
            guards[name] = _from_settings(site, tenant_id)
        elif facts.get("backendAuth", "none") == "managedIdentity" and tenant.gateway_identity:
            guards[name] = BackendGuard(
                source="the external-backend checklist (docs/backend-hop.md)",
                tenant_id=tenant_id,
                issuer=issuer(tenant_id, app.token_version),
                audiences=(app.client_id,),
                allowed_applications=(str(tenant.gateway_identity.client_id),),
                required_role=naming.GATEWAY_ROLE,
            )
        else:
            guards[name] = None
    return guards
