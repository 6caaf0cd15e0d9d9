"""Would the API's backend accept this token if it were sent there directly, past the gateway?

Only the gateway's own token for the API passes (docs/backend-hop.md). A backend site the stack
configures checks what its App Service authentication settings in the plan say (issuer,
audience, allowed application and identity; never roles: learn.microsoft.com/azure/app-service/
configure-authentication-provider-aad); an external backend of an API whose hop is
authenticated is held to the checklist (issuer, audience, azp/appid = the gateway, the
Gateway.Forward role). Unverified, like the rest of the doctor.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from components import naming
from components.config import StackConfig

AUTH_SETTINGS = "azure-native:web:WebAppAuthSettingsV2"


@dataclass(frozen=True)
class BackendVerdict:
    api: str
    checked_by: str  # what decides at the backend
    status: int  # 200, 401 (not a valid token for it) or 403 (valid, but not the gateway's)
    reason: str
    fix: str


def _shown(value: Any) -> str:
    """A claim in a message, as the doctor says them: absent, quoted, or JSON; never None."""
    if value is None:
        return "(absent)"
    return repr(value) if isinstance(value, str) else json.dumps(value, ensure_ascii=False)


def _issuer(tenant: str, version: int) -> str:
    if version == 2:
        return f"https://login.microsoftonline.com/{tenant}/v2.0"
    return f"https://sts.windows.net/{tenant}/"


def _values(resource: Mapping[str, Any]) -> dict[str, Any]:
    return {**(resource.get("inputs") or {}), **(resource.get("outputs") or {})}


def _sites(plan: Mapping[str, Any]) -> dict[str, dict[str, Any]]:
    """Registration client ID -> the Entra provider settings of the site validating for it."""
    found = {}
    for resource in plan.get("resources") or []:
        if resource.get("type") == AUTH_SETTINGS:
            values = _values(resource)
            entra = (values.get("identityProviders") or {}).get("azureActiveDirectory") or {}
            client = str((entra.get("registration") or {}).get("clientId") or "")
            found[client.lower()] = {"site": values.get("name"), **entra}
    return found


def backend_verdicts(
    claims: Mapping[str, Any], plan: Mapping[str, Any], config: StackConfig, now: float
) -> tuple[BackendVerdict, ...]:
    outputs = plan.get("outputs") or {}
    gateway = outputs.get("gatewayIdentity") or {}
    tenant = str(outputs.get("tenantId") or "")
    sites = _sites(plan)
    found = []
    for api in config.apis:
        facts = (outputs.get("apis") or {}).get(api.name) or {}
        client_id = str(facts.get("clientId") or "")
        if not api.hop_authenticated or not client_id or not gateway:
            continue
        site = sites.get(client_id.lower())
        checked_by = (
            f"App Service authentication on {api.app_service.name}"
            if site is not None and api.app_service is not None
            else "the external-backend checklist (docs/backend-hop.md)"
        )
        status, reason = _judge(claims, api.token_version, tenant, client_id, gateway, site, now)
        fix = "" if status == 200 else _fix(api.name, facts)
        found.append(BackendVerdict(api.name, checked_by, status, reason, fix))
    return tuple(found)


def _judge(
    claims: Mapping[str, Any],
    version: int,
    tenant: str,
    client_id: str,
    gateway: Mapping[str, Any],
    site: Mapping[str, Any] | None,
    now: float,
) -> tuple[int, str]:
    issuer = _issuer(tenant, version)
    if site is not None:
        issuer = str((site.get("registration") or {}).get("openIdIssuer") or issuer)
    if claims.get("iss") != issuer:
        return 401, f"iss {_shown(claims.get('iss'))}: the backend trusts {issuer} only"
    audiences = {client_id}
    if site is not None:
        audiences |= set((site.get("validation") or {}).get("allowedAudiences") or [])
    aud = claims.get("aud")
    # RFC 7519 4.1.3: `aud` is one string or an array; a token is for the backend when any of
    # its audiences is one the backend accepts.
    given = [aud] if isinstance(aud, str) else aud if isinstance(aud, list) else []
    if not any(isinstance(a, str) and a in audiences for a in given):
        return 401, f"aud {_shown(aud)}: the backend takes tokens for {client_id} only"
    exp = numeric_date(claims.get("exp"))
    if exp is None or exp <= now:
        return 401, "expired or without a numeric exp"
    client = claims.get("azp", claims.get("appid"))
    wanted = str(gateway.get("clientId") or "")
    if not isinstance(client, str) or client.lower() != wanted.lower():
        return 403, (
            f"azp/appid {_shown(client)} is not the gateway ({wanted}): the backend accepts the "
            "gateway's own token and nothing else, a valid token for the API included"
        )
    if site is not None:
        oid, principal = claims.get("oid"), str(gateway.get("principalId") or "")
        if not isinstance(oid, str) or oid.lower() != principal.lower():
            return 403, f"oid {_shown(oid)} is not the gateway's identity ({principal})"
    elif naming.GATEWAY_ROLE not in (claims.get("roles") or []):
        return 403, f"no {naming.GATEWAY_ROLE} role (the gateway's assignment is missing)"
    return 200, "the gateway's own token for this API"


# 9999-12-31T23:59:59Z: the last second .NET's DateTime (APIM, App Service authentication)
# can hold; a NumericDate beyond it is not a date the token validators can read.
LAST_DATE = 253402300799


def numeric_date(value: Any) -> float | None:
    """A NumericDate claim (RFC 7519 section 2: a JSON number of seconds since the epoch), or
    None when it is no readable date: not a number (JSON true is an int to Python), NaN or
    infinite, or past the year 9999."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    try:
        number = float(value)
    except OverflowError:  # JSON integers have no size limit
        return None
    return number if math.isfinite(number) and abs(number) <= LAST_DATE else None


def _fix(api: str, facts: Mapping[str, Any]) -> str:
    url = facts.get("url") or f"<gateway>/{facts.get('path', api)}"
    return (
        f"call {api} through the gateway ({url}): it checks your token, then calls the "
        "backend with its own; no caller's token is meant to reach the backend"
    )
