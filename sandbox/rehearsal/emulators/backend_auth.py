"""What the backend checks before it answers: App Service authentication as the Plan
configures it on a site the stack knows, or the checklist docs/backend-hop.md gives an
external backend. Pure: the signing keys and the time are handed in.

App Service authentication (learn.microsoft.com/azure/app-service/overview-authentication-
authorization, configure-authentication-provider-aad): with authentication required, a request
without a valid token for the configured issuer and audiences gets the configured
unauthenticated action (Return401 here); the registration's client ID is "always implicitly
considered to be an allowed audience"; a valid token whose appid/azp is not an allowed
application, or whose oid is not an allowed identity, is refused with 403. It never checks
roles ("this is not performed by App Service Authentication"): the external checklist does.

The signature, alg, kid and lifetime are verified by the gateway's own code
(`gateway_token.validate_token`, the same [choice]s: RS256 only, no clock skew); the issuer is
then compared exactly with the one configured ([choice]: a v1 token is refused by a backend
configured with the v2 issuer, and the other way round).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from components.gateway_policy import ValidateAzureAdToken
from sandbox.rehearsal.emulators.gateway_token import KeySource, validate_token


@dataclass(frozen=True)
class BackendGuard:
    source: str  # where the rules come from, for reports
    tenant_id: str
    issuer: str
    audiences: tuple[str, ...]
    allowed_applications: tuple[str, ...]  # appid/azp; empty: any
    allowed_identities: tuple[str, ...] = ()  # oid; empty: any
    required_role: str | None = None  # App Service authentication checks none
    unauthenticated_status: int = 401


@dataclass(frozen=True)
class BackendVerdict:
    status: int  # 200, or the refusal
    reason: str
    claims: Mapping[str, Any] | None = None

    @property
    def ok(self) -> bool:
        return self.status == 200


def _same(value: Any, allowed: Sequence[str]) -> bool:
    return isinstance(value, str) and value.lower() in {a.lower() for a in allowed}


def judge(
    guard: BackendGuard, authorization: Sequence[str], keys: KeySource, now: float
) -> BackendVerdict:
    """The backend's answer to a request carrying these Authorization header values."""
    check = ValidateAzureAdToken(
        tenant_id=guard.tenant_id,
        header_name="Authorization",
        failed_validation_httpcode=guard.unauthenticated_status,
        failed_validation_error_message=None,
        audiences=guard.audiences,
        client_application_ids=(),
        required_claims=(),
    )
    verdict = validate_token(check, authorization, keys, now)
    unauthenticated = guard.unauthenticated_status
    if not verdict.ok or verdict.claims is None:
        return BackendVerdict(unauthenticated, f"unauthenticated: {verdict.reason}")
    claims = verdict.claims
    if claims.get("iss") != guard.issuer:
        return BackendVerdict(
            unauthenticated, f"unauthenticated: issuer {claims.get('iss')!r} is not {guard.issuer}"
        )
    client = claims.get("azp", claims.get("appid"))
    if guard.allowed_applications and not _same(client, guard.allowed_applications):
        return BackendVerdict(403, f"application {client!r} is not allowed", claims)
    if guard.allowed_identities and not _same(claims.get("oid"), guard.allowed_identities):
        return BackendVerdict(403, f"identity {claims.get('oid')!r} is not allowed", claims)
    roles = claims.get("roles")
    if guard.required_role and not (isinstance(roles, list) and guard.required_role in roles):
        return BackendVerdict(403, f"role {guard.required_role} missing", claims)
    return BackendVerdict(200, "the gateway", claims)
