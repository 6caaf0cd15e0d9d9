"""The token doctor: why would the gateway answer 401 or 403 to this token? Offline.

The signature is NOT verified: the doctor explains claims, the gateway also checks the signature
against Entra's keys. For every API and operation it replays the checks the deployed
`validate-azure-ad-token` policies make, in the gateway's order (tenant, token version, audience,
lifetime, the allowed client applications, the API's roles -> 401, the operation's roles -> 403),
and gives each failure a fix that
names the principal, role, scope or config key to change. Input parsing is in `doctor_input`,
fix wording in `doctor_fixes`, rendering in `doctor_render`.
"""

from __future__ import annotations

import datetime
import json
import math
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from components.config import DEVELOPER_TOOLS, PROJECT, Api, StackConfig
from components.gateway_policy import UnsupportedPolicyError, ValidateAzureAdToken, parse_policy
from components.protected_api import operation_roles
from sandbox.doctor import fixes
from sandbox.doctor.backend import BackendVerdict, backend_verdicts, numeric_date
from sandbox.doctor.fixes import Caller
from sandbox.doctor.token_input import (
    DecodedToken,
    decode_unverified,
    load_config,
    read_token_argument,
)
from sandbox.errors import SandboxError

__all__ = [
    "ApiVerdict", "BackendVerdict", "Caller", "DecodedToken", "Diagnosis", "OperationVerdict",
    "Problem",
    "decode_unverified", "diagnose", "exit_code", "load_config", "read_token_argument",
]  # fmt: skip

_GUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}", re.I)
_ISSUERS = (  # the two forms the gateway accepts for its tenant (azure-facts.md, [choice])
    (1, re.compile(r"^https://sts\.windows\.net/([^/]+)/$")),
    (2, re.compile(r"^https://login\.microsoftonline\.com/([^/]+)/v2\.0$")),
)
# Tokens people paste by mistake; `az account get-access-token` without --scope gives ARM's.
_NAMED_VALUE = re.compile(r"\{\{([^{}]*)\}\}")


def allowed_clients(plan: Mapping[str, Any]) -> dict[str, tuple[str, ...]]:
    """API id -> the client IDs its deployed API-scope policy lists in <client-application-ids>,
    named values resolved from the plan (`{{client-storefront}}` -> the identity's client ID).
    An API whose policy cannot be read is left out: the doctor then does not guess."""
    resources = plan.get("resources") or []

    def values(r: Mapping[str, Any]) -> dict[str, Any]:
        return {**(r.get("inputs") or {}), **(r.get("outputs") or {})}

    named = {
        str(v.get("displayName") or v.get("namedValueId")): str(v.get("value"))
        for r in resources
        if str(r.get("type", "")).endswith("apimanagement:NamedValue")
        for v in [values(r)]
    }
    found: dict[str, tuple[str, ...]] = {}
    for r in resources:
        if not str(r.get("type", "")).endswith("apimanagement:ApiPolicy"):
            continue
        v = values(r)
        try:
            document = parse_policy(str(v.get("value") or ""))
        except UnsupportedPolicyError:
            continue
        ids = [
            _NAMED_VALUE.sub(lambda m: named.get(m.group(1), m.group(0)), client)
            for s in document.inbound
            if isinstance(s, ValidateAzureAdToken)
            for client in s.client_application_ids
        ]
        found[str(v.get("apiId"))] = tuple(ids)
    return found


_KNOWN_AUDIENCES = {
    "00000003-0000-0000-c000-000000000000": "Microsoft Graph",
    "https://graph.microsoft.com": "Microsoft Graph",
    "https://management.azure.com": "Azure Resource Manager",
    "https://management.core.windows.net": "Azure Resource Manager",
}


@dataclass(frozen=True)
class Problem:
    check: str  # signature | tenant | version | audience | lifetime | client | roles
    reason: str
    fix: str


@dataclass(frozen=True)
class OperationVerdict:
    operation: str
    roles: tuple[str, ...]
    status: int  # 200, 401 (refused at the API scope) or 403
    reason: str
    fix: str


@dataclass(frozen=True)
class ApiVerdict:
    api: str
    client_id: str
    named_by_audience: bool
    status: int  # 200 when the API scope lets the token through, else 401
    problems: tuple[Problem, ...]
    operations: tuple[OperationVerdict, ...]


@dataclass(frozen=True)
class Diagnosis:
    stack: str
    now: float
    header: dict[str, Any]
    claims: dict[str, Any]
    caller: Caller
    target_api: str | None  # the API the audience names (exactly or in a wrong form)
    apis: tuple[ApiVerdict, ...]
    notes: tuple[str, ...]
    signature_verified: bool = False
    # The token sent straight to each backend of an API whose hop the gateway authenticates.
    backends: tuple[BackendVerdict, ...] = ()


def exit_code(diagnosis: Diagnosis) -> int:
    """0 when some operation of the API the audience names would answer 200, else 1."""
    target = [v for v in diagnosis.apis if v.api == diagnosis.target_api]
    return 0 if any(op.status == 200 for v in target for op in v.operations) else 1


def utc(epoch: float) -> str:
    try:
        moment = datetime.datetime.fromtimestamp(epoch, datetime.UTC)
    except (OverflowError, ValueError, OSError):  # a claim far outside the calendar
        return f"{epoch} (not a representable time)"
    return moment.strftime("%Y-%m-%d %H:%M:%S UTC")


def minutes(seconds: float) -> str:
    return "under a minute" if abs(seconds) < 60 else f"{abs(seconds) / 60:.0f} min"


def _shown(value: Any) -> str:
    """A claim value in a message: quoted as given, or said to be absent (never `None`)."""
    if value is None:
        return "(absent)"
    return repr(value) if isinstance(value, str) else json.dumps(value, ensure_ascii=False)


def _str(value: Any) -> str | None:
    return value if isinstance(value, str) and value else None


def _strings(value: Any) -> tuple[str, ...]:
    """`aud` / `roles` as the gateway reads them: one string or a JSON array of strings."""
    if isinstance(value, str):
        return (value,)
    return tuple(v for v in value if isinstance(v, str)) if isinstance(value, list) else ()


_NO_DATE = (
    "is not a date the gateway can read (RFC 7519 NumericDate: a number of seconds since "
    "1970, before the year 10000)"
)


def seconds(value: Any) -> float | None:
    """A NumericDate claim, or None (JSON true is an int to Python, not a time)."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    try:
        return float(value)
    except OverflowError:  # JSON integers have no size limit
        return math.inf if value > 0 else -math.inf


class _Doctor:
    """One token against one stack's plan and config."""

    def __init__(self, token: DecodedToken, plan: Mapping[str, Any], config: StackConfig) -> None:
        outputs = plan.get("outputs") or {}
        try:
            self.tenant = str(outputs["tenantId"]).lower()
            apis, consumers = outputs["apis"].items(), (outputs.get("consumers") or {}).items()
            self.client_ids = {str(n): str(v["clientId"]) for n, v in apis}
            principals = {str(n): str(v["principalId"]).lower() for n, v in consumers}
        except (KeyError, TypeError, AttributeError):
            raise SandboxError(
                "the plan lacks outputs tenantId/apis.*.clientId; re-create it with "
                "`secure-api-calls plan --stack <stack>`"
            ) from None
        self.requests_v2 = {  # client ID -> does its registration request v2 tokens
            str(r["outputs"].get("clientId", "")): (
                r["outputs"].get("requestedAccessTokenVersion") == 2
            )
            for r in plan.get("resources", [])
            if r["type"].endswith("ApplicationRegistration")
        }
        self.allowed = allowed_clients(plan)
        self.header, self.claims, self.config = token.header, token.claims, config
        gateway = str((outputs.get("gatewayIdentity") or {}).get("clientId") or "").lower()
        self.held = _strings(self.claims.get("roles"))
        self.auds = _strings(self.claims.get("aud"))
        client = _str(self.claims.get("azp")) or _str(self.claims.get("appid"))
        oid, delegated = _str(self.claims.get("oid")), "scp" in self.claims
        # A consumer is recognised by its identity's object ID (`oid`); its client ID is in the
        # plan too, but a token from another app may reuse an oid only by forgery.
        consumer = next((n for n, p in principals.items() if oid and p == oid.lower()), None)
        tool = next((n for n, c in DEVELOPER_TOOLS.items() if client and c == client.lower()), None)
        if consumer and not delegated:
            self.caller = Caller(client, oid, "consumer", consumer, delegated)
        elif gateway and client and client.lower() == gateway and not delegated:
            self.caller = Caller(client, oid, "gateway", "API Management gateway", delegated)
        else:
            kind = "developer-tool" if tool else "unknown"
            self.caller = Caller(client, oid, kind, tool, delegated)
        self.named = next(  # the API whose client ID the audience carries, in whatever form
            (n for a in self.auds for g in _GUID.findall(a)
             for n, cid in self.client_ids.items() if g.lower() == cid.lower()),
            None,
        )  # fmt: skip

    def api_problems(self, index: int, api: Api, now: float) -> list[Problem]:
        """What the API scope's validate-azure-ad-token refuses, in the gateway's order."""
        claims, cid, found = self.claims, self.client_ids[api.name], []
        if (alg := self.header.get("alg")) != "RS256":
            reason = (
                f"alg {_shown(alg)}: Entra signs access tokens with RS256 and the gateway verifies "
                "them against Entra's published keys"
            )
            fix = "use a token issued by Entra; a hand-made or re-signed token is always refused"
            found.append(Problem("signature", reason, fix))
        iss, tid = _str(claims.get("iss")) or "", (_str(claims.get("tid")) or "").lower()
        match = next((m for _, pattern in _ISSUERS if (m := pattern.match(iss))), None)
        if match is None:
            reason = (
                f"iss {_shown(claims.get('iss'))} is neither Entra's v1 issuer "
                "https://sts.windows.net/<tid>/ nor its v2 issuer "
                "https://login.microsoftonline.com/<tid>/v2.0"
            )
            found.append(Problem("tenant", reason, fixes.tenant(self.tenant)))
        elif (issuer_tenant := match.group(1).lower()) != self.tenant or tid != self.tenant:
            other = issuer_tenant if issuer_tenant != self.tenant else tid or "? (no tid claim)"
            reason = f"token from tenant {other}; the gateway trusts only tenant {self.tenant}"
            found.append(Problem("tenant", reason, fixes.tenant(self.tenant)))
        if not api.accepts_v1 and claims.get("ver") != "2.0":
            reason = (
                f"ver {_shown(claims.get('ver'))}: API '{api.name}' accepts only v2 tokens "
                "(required claim ver = 2.0)"
            )
            fix = fixes.version(index, self.requests_v2.get(cid, False))
            found.append(Problem("version", reason, fix))
        accepted = [cid] + ([f"api://{cid}"] if api.accepts_v1 else [])
        if not any(a in accepted for a in self.auds):  # exact, as the gateway compares
            found.append(self.audience_problem(api, accepted))
            if self.named != api.name:  # everything further is moot for somebody else's token
                return found
        found += self.lifetime_problems(now)
        if (problem := self.client_problem(index, api)) is not None:
            found.append(problem)
        if not set(self.held) & set(api.role_values):
            listed = ", ".join(api.role_values)
            if self.caller.delegated and not self.held:
                reason = (
                    f"delegated token (scp {_shown(claims.get('scp'))}) without roles: the API "
                    f"scope requires one of {listed}, for people too"
                )
            elif not self.held:
                reason = f"no roles claim: the caller holds none of {listed}"
            else:
                reason = f"roles {', '.join(self.held)} are none of {api.name}'s ({listed})"
            fix = fixes.grant(self.caller, self.config, index, api, cid, api.role_values)
            found.append(Problem("roles", reason, fix))
        return found

    def audience_problem(self, api: Api, accepted: list[str]) -> Problem:
        # The gateway compares `aud` exactly: say which form is wrong, or whose token this is.
        cid, aud = self.client_ids[api.name], self.claims.get("aud")
        shown = " or ".join(f"`{a}`" for a in accepted)
        if self.named == api.name:
            # A v1 token echoes the resource string the client asked for; v2 always has the ID.
            fix = (
                f"request the resource exactly as `api://{cid}` ({fixes.scopes(api, cid)})"
                if api.accepts_v1
                else "this API takes v2 tokens only (see the version fix)"
            )
            reason = (
                f"aud {_shown(aud)} is not an accepted form; the gateway compares exactly: {shown}"
            )
            return Problem("audience", reason, f"{fix}; a v2 token always carries `{cid}`")
        known = next(
            (k for a in self.auds if (k := _KNOWN_AUDIENCES.get(a.lower().rstrip("/")))), None
        )
        what = f"API '{self.named}'" if self.named else f"a {known} token" if known else None
        reason = f"aud {_shown(aud)} is {what or 'no API of this stack'}, not '{api.name}'"
        fix = f"to call {api.name}, request {fixes.scopes(api, cid)} (audience {shown})"
        return Problem("audience", reason, fix)

    def client_problem(self, index: int, api: Api) -> Problem | None:
        """<client-application-ids>: the token's azp (v2) or appid (v1) must be listed."""
        listed = self.allowed.get(api.name)
        if not listed:
            return None  # no readable policy, or one without the list: nothing to replay
        client = self.caller.client_id
        if client and client.lower() in {c.lower() for c in listed}:
            return None
        claim = "azp" if _str(self.claims.get("azp")) else "appid"
        reason = (
            f"{claim} {_shown(client)} is not among the client applications API '{api.name}' "
            f"allows ({', '.join(listed)}): a valid token with the right role is still refused"
        )
        return Problem("client", reason, fixes.allow_client(self.caller, self.config, api))

    def lifetime_problems(self, now: float) -> list[Problem]:
        exp_claim, nbf_claim = self.claims.get("exp"), self.claims.get("nbf")
        exp, nbf = numeric_date(exp_claim), numeric_date(nbf_claim)
        found: list[Problem] = []
        if exp is None:
            reason = (
                "no numeric exp claim"
                if seconds(exp_claim) is None
                else f"exp {_shown(exp_claim)} {_NO_DATE}"
            )
            found.append(Problem("lifetime", reason, "use a token issued by Entra"))
        elif exp <= now:
            reason = f"expired at {utc(exp)} ({minutes(now - exp)} ago)"
            found.append(Problem("lifetime", reason, fixes.NEW_TOKEN))
        if nbf_claim is not None and nbf is None:
            # RFC 7519 4.1.5: nbf is a NumericDate; the validator cannot read anything else.
            found.append(
                Problem(
                    "lifetime", f"nbf {_shown(nbf_claim)} {_NO_DATE}", "use a token issued by Entra"
                )
            )
        elif nbf is not None and nbf > now:
            reason = f"not valid before {utc(nbf)} (in {minutes(nbf - now)})"
            found.append(Problem("lifetime", reason, fixes.CLOCK))
        return found

    def verdict(self, index: int, api: Api, now: float) -> ApiVerdict:
        problems, ops = self.api_problems(index, api, now), []
        cid = self.client_ids[api.name]
        for op_id, roles in operation_roles(api).items():
            have = [r for r in roles if r in self.held]
            if problems:  # the API scope answered 401 before the operation scope ran
                ops.append(OperationVerdict(op_id, roles, 401, "refused at the API scope", ""))
            elif have:
                ops.append(OperationVerdict(op_id, roles, 200, f"has {have[0]}", ""))
            else:
                reason = f"needs {' or '.join(roles)}; token has {', '.join(self.held)}"
                fix = fixes.grant(self.caller, self.config, index, api, cid, roles)
                ops.append(OperationVerdict(op_id, roles, 403, reason, fix))
        status = 401 if problems else 200
        named = self.named == api.name
        return ApiVerdict(api.name, cid, named, status, tuple(problems), tuple(ops))

    def notes(self) -> list[str]:
        notes, claims, caller = [], self.claims, self.caller
        version = next((v for v, p in _ISSUERS if p.match(str(claims.get("iss", "")))), None)
        if version and claims.get("ver") != f"{version}.0":
            notes.append(
                f"iss is a v{version} issuer but ver is {_shown(claims.get('ver'))}: Entra never "
                "mixes them, so this token was not issued by Entra as it is"
            )
        if version == 1 and self.named and self.requests_v2.get(self.client_ids[self.named]):
            notes.append(
                f"{self.named}'s registration requests v2 tokens (requestedAccessTokenVersion 2):"
                " Entra issues v2 tokens for it, so this v1 token predates that setting"
            )
        if caller.kind == "developer-tool" and caller.name not in self.config.developers.tools:
            notes.append(
                f"{caller.name} is not pre-authorized in this stack: add it to "
                f"`{PROJECT}:developers.tools` (else AADSTS65001 at sign-in)"
            )
        if caller.kind == "gateway":
            notes.append(
                "this is the gateway's own token for the backend hop "
                "(authentication-managed-identity): only a backend takes it, never the gateway"
            )
        if caller.kind == "unknown":
            notes.append(
                f"client {caller.client_text} (oid {caller.object_text}) is neither a consumer Web "
                "App identity of this plan nor a known developer tool"
            )
        return notes


def diagnose(
    token: DecodedToken, plan: Mapping[str, Any], config: StackConfig, now: float
) -> Diagnosis:
    """Per API and operation of the stack: would the gateway accept this token, and if not, why."""
    doctor = _Doctor(token, plan, config)
    apis = [(i, api) for i, api in enumerate(config.apis) if api.name in doctor.client_ids]
    verdicts = tuple(doctor.verdict(i, api, now) for i, api in apis)
    facts = (token.header, token.claims, doctor.caller, doctor.named)
    backends = backend_verdicts(token.claims, plan, config, now)
    stack = str(plan.get("stack", ""))
    return Diagnosis(stack, now, *facts, verdicts, tuple(doctor.notes()), backends=backends)
