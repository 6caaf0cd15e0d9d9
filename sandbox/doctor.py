"""The token doctor: why would the gateway answer 401 or 403 to this token? Offline.

The signature is NOT verified: the doctor explains claims, the gateway also checks the signature
against Entra's keys. For every API and operation it replays the checks the deployed
`validate-azure-ad-token` policies make, in the gateway's order (tenant, token version, audience,
lifetime, the API's roles -> 401, the operation's roles -> 403), and gives each failure a fix that
names the principal, role, scope or config key to change. Rendering is in `doctor_render`.
"""

from __future__ import annotations

import datetime
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from components.config import DEVELOPER_TOOLS, PROJECT, Api, StackConfig
from components.protected_api import operation_roles
from sandbox.doctor_input import DecodedToken, decode_unverified, load_config, read_token_argument
from sandbox.errors import SandboxError

__all__ = [
    "ApiVerdict", "Caller", "DecodedToken", "Diagnosis", "OperationVerdict", "Problem",
    "decode_unverified", "diagnose", "exit_code", "load_config", "read_token_argument",
]

_GUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}", re.I)
_ISSUERS = (  # the two forms the gateway accepts for its tenant (azure-facts.md, [choice])
    (1, re.compile(r"^https://sts\.windows\.net/([^/]+)/$")),
    (2, re.compile(r"^https://login\.microsoftonline\.com/([^/]+)/v2\.0$")),
)
# Tokens people paste by mistake; `az account get-access-token` without --scope gives ARM's.
_KNOWN_AUDIENCES = {
    "00000003-0000-0000-c000-000000000000": "Microsoft Graph",
    "https://graph.microsoft.com": "Microsoft Graph",
    "https://management.azure.com": "Azure Resource Manager",
    "https://management.core.windows.net": "Azure Resource Manager",
}
MI_CACHE_NOTE = (
    "a managed identity's token is cached by the platform for up to ~24 h, so a role granted "
    "recently may not appear in `roles` yet: restart the Web App (or wait) for a fresh token; "
    "roles granted through a group never reach a managed identity's token, assign it directly"
)


@dataclass(frozen=True)
class Caller:
    client_id: str | None  # `azp` (v2) or `appid` (v1)
    object_id: str | None
    kind: str  # "consumer" | "developer-tool" | "unknown"
    name: str | None  # consumer or tool name
    delegated: bool  # `scp` present: a signed-in person, not an app


@dataclass(frozen=True)
class Problem:
    check: str  # signature | tenant | version | audience | lifetime | roles
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


def _str(value: Any) -> str | None:
    return value if isinstance(value, str) and value else None


def _roles(claims: Mapping[str, Any]) -> tuple[str, ...]:
    roles = claims.get("roles")
    if isinstance(roles, str):
        return (roles,)
    return tuple(r for r in roles if isinstance(r, str)) if isinstance(roles, list) else ()


def _audiences(claims: Mapping[str, Any]) -> tuple[str, ...]:
    aud = claims.get("aud")
    return (aud,) if isinstance(aud, str) else tuple(a for a in aud or () if isinstance(a, str))


def exit_code(diagnosis: Diagnosis) -> int:
    """0 when some operation of the API the audience names would answer 200, else 1."""
    return 0 if any(
        op.status == 200
        for verdict in diagnosis.apis if verdict.api == diagnosis.target_api
        for op in verdict.operations
    ) else 1


class _Doctor:
    """One token against one stack; methods return problems in the gateway's order."""

    def __init__(self, token: DecodedToken, plan: Mapping[str, Any], config: StackConfig,
                 now: float) -> None:
        outputs = plan.get("outputs") or {}
        try:
            self.tenant = str(outputs["tenantId"]).lower()
            self.client_ids = {n: str(v["clientId"]).lower() for n, v in outputs["apis"].items()}
            principals = {n: str(v["principalId"]).lower()
                          for n, v in (outputs.get("consumers") or {}).items()}
        except (KeyError, TypeError, AttributeError):
            raise SandboxError("the plan lacks outputs tenantId/apis.*.clientId; re-create it "
                               "with `python -m sandbox plan --stack <stack>`") from None
        self.requested_versions = {
            str(r["outputs"].get("clientId", "")).lower(): r["outputs"].get(
                "requestedAccessTokenVersion")
            for r in plan.get("resources", []) if r["type"].endswith("ApplicationRegistration")
        }
        self.token, self.config, self.now = token, config, now
        self.claims = token.claims
        self.held = _roles(self.claims)
        self.auds = _audiences(self.claims)
        client, oid = _str(self.claims.get("azp")) or _str(self.claims.get("appid")), _str(
            self.claims.get("oid"))
        delegated = "scp" in self.claims
        consumer = next((n for n, p in principals.items() if oid and p == oid.lower()), None)
        tool = next((n for n, c in DEVELOPER_TOOLS.items() if client and c == client.lower()), None)
        kind, name = ("consumer", consumer) if consumer and not delegated else (
            ("developer-tool", tool) if tool else ("unknown", None))
        self.caller = Caller(client, oid, kind, name, delegated)

    def named_api(self) -> str | None:
        """The API whose client ID the audience carries, in whatever form."""
        for aud in self.auds:
            for guid in _GUID.findall(aud):
                for name, cid in self.client_ids.items():
                    if guid.lower() == cid:
                        return name
        return None

    def scopes(self, api: Api) -> str:
        cid = self.client_ids[api.name]
        return f"`api://{cid}/.default` for apps, `api://{cid}/{api.scope.value}` for developers"

    def api_problems(self, index: int, api: Api) -> list[Problem]:
        claims, cid, found = self.claims, self.client_ids[api.name], []
        alg = self.token.header.get("alg")
        if alg != "RS256":
            found.append(Problem(
                "signature", f"alg {alg!r}: Entra signs access tokens with RS256 and the gateway "
                "verifies them against Entra's published keys",
                "use a token issued by Entra; a hand-made or re-signed token is always refused"))
        iss, tid = str(claims.get("iss", "")), str(claims.get("tid", "")).lower()
        match = next((m for _, p in _ISSUERS if (m := p.match(iss))), None)
        get_there = (f"get the token from tenant {self.tenant}: developers `az login --tenant "
                     f"{self.tenant}` (or AZURE_TENANT_ID for DefaultAzureCredential); a managed "
                     "identity only gets tokens from its own tenant")
        if match is None:
            found.append(Problem("tenant", f"iss {iss!r} is neither Entra's v1 issuer "
                                 f"https://sts.windows.net/<tid>/ nor v2 issuer "
                                 "https://login.microsoftonline.com/<tid>/v2.0", get_there))
        elif match.group(1).lower() != self.tenant or tid != self.tenant:
            found.append(Problem("tenant", f"token from tenant {tid or match.group(1)}; the "
                                 f"gateway trusts only tenant {self.tenant}", get_there))
        at = f"`{PROJECT}:apis[{index}]"
        if not api.accepts_v1 and claims.get("ver") != "2.0":
            fix = (f"the API's registration decides the version: make it issue v2 tokens "
                   f"(requestedAccessTokenVersion 2, {at}.tokenVersion: 2`) or accept v1 at the "
                   f"gateway with {at}.acceptV1Tokens: true`")
            if self.requested_versions.get(cid) == 2:
                fix += "; its registration already requests v2, so get a new token"
            found.append(Problem("version", f"ver {claims.get('ver')!r}: API '{api.name}' "
                                 "accepts only v2 tokens (required claim ver = 2.0)", fix))
        accepted = [cid] + ([f"api://{cid}"] if api.accepts_v1 else [])
        if not any(a.lower() in accepted for a in self.auds):
            shown = " or ".join(f"`{a}`" for a in accepted)
            named = self.named_api()
            known = next((v for a in self.auds
                          if (v := _KNOWN_AUDIENCES.get(a.lower().rstrip("/")))), None)
            if named == api.name:
                reason = (f"aud {self.claims.get('aud')!r} is not an accepted form; the gateway "
                          f"compares exactly and accepts {shown}")
                # A v1 token echoes the resource string the client asked for; v2 never does.
                fix = (f"request the resource exactly as `api://{cid}` ({self.scopes(api)})"
                       if api.accepts_v1 else "only a v2 token carries it (see the version fix)")
                fix += f"; a v2 token always carries `{cid}`"
            else:
                what = (f"API '{named}'" if named else f"a {known} token" if known
                        else "no API of this stack")
                reason = f"aud {self.claims.get('aud')!r} is {what}, not '{api.name}'"
                fix = f"to call {api.name}, request {self.scopes(api)} (audience {shown})"
            found.append(Problem("audience", reason, fix))
            if named != api.name:  # everything further is moot for somebody else's token
                return found
        found.extend(self.lifetime())
        if not set(self.held) & set(api.role_values):
            if self.caller.delegated and not self.held:
                reason = (f"delegated token (scp {self.claims.get('scp')!r}) without roles: the "
                          f"API scope requires one of {', '.join(api.role_values)}, for people too")
            elif not self.held:
                reason = f"no roles claim: the caller holds none of {', '.join(api.role_values)}"
            else:
                reason = (f"roles {', '.join(self.held)} are none of {api.name}'s "
                          f"({', '.join(api.role_values)})")
            found.append(Problem("roles", reason, self.grant_fix(index, api, api.role_values)))
        return found

    def lifetime(self) -> list[Problem]:
        exp, nbf, found = self.claims.get("exp"), self.claims.get("nbf"), []
        if not isinstance(exp, int | float) or isinstance(exp, bool):
            found.append(Problem("lifetime", "no numeric exp claim: Entra tokens always have one",
                                 "use an access token issued by Entra"))
        elif exp <= self.now:
            found.append(Problem(
                "lifetime", f"expired at {utc(exp)} ({minutes(self.now - exp)} ago)",
                "Entra access tokens live 60-90 minutes: get a new token (azure-identity renews "
                "5 minutes before expiry; a token copied from a log or a variable goes stale)"))
        if isinstance(nbf, int | float) and not isinstance(nbf, bool) and nbf > self.now:
            found.append(Problem(
                "lifetime", f"not valid before {utc(nbf)} (in {minutes(nbf - self.now)})",
                "the gateway allows no clock skew: sync the clock of the machine that made or "
                "checks the token (NTP), then retry"))
        return found

    def grant_fix(self, index: int, api: Api, needed: tuple[str, ...]) -> str:
        """Who should get which role, and where that is configured."""
        want = needed[0] if len(needed) == 1 else f"one of {', '.join(needed)}"
        caller, cid = self.caller, self.client_ids[api.name]
        if caller.kind == "consumer":
            i = next(i for i, c in enumerate(self.config.consumers) if c.name == caller.name)
            calls = self.config.consumers[i].calls
            j = next((j for j, call in enumerate(calls) if call.api == api.name), None)
            path = f"`{PROJECT}:consumers[{i}].calls"
            if j is not None and set(calls[j].roles) & set(needed):
                return (f"the config already grants {caller.name} "
                        f"{', '.join(set(calls[j].roles) & set(needed))} ({path}[{j}].roles`); "
                        f"after `pulumi up`: {MI_CACHE_NOTE}")
            where = (f"add {want} to {path}[{j}].roles`" if j is not None else
                     f"add `{{api: {api.name}, roles: [{needed[0]}]}}` to {path}`")
            return (f"{where} (assigns it to {caller.name}'s managed identity) and run "
                    f"`pulumi up`; then {MI_CACHE_NOTE}")
        if caller.delegated:
            app_only = [r.value for r in api.roles
                        if r.value in needed and "User" not in r.allowed_member_types]
            if len(app_only) == len(needed):
                return (f"{' and '.join(app_only)}: applications only "
                        f"(`{PROJECT}:apis[{index}].roles[].allowedMemberTypes`), a person cannot "
                        f"be assigned; call as the app (scope `api://{cid}/.default`) or add User")
            groups = [f"{g.name} (`{PROJECT}:developers.groups[{k}].roles.{api.name}`)"
                      for k, g in enumerate(self.config.developers.groups)
                      if set(g.roles.get(api.name, ())) & set(needed)]
            via = f"; groups granting it: {', '.join(groups)}" if groups else ""
            return (f"assign the user {caller.object_id} (or a group they belong to) the app role "
                    f"{want} of {api.name}{via}; then get a new token with scope "
                    f"`api://{cid}/{api.scope.value}`; or call as the app "
                    f"(a consumer's managed identity, scope `api://{cid}/.default`)")
        return (f"assign the app role {want} of {api.name} directly to the calling app's service "
                f"principal (client ID {caller.client_id}, object ID {caller.object_id}) with "
                f"Graph `appRoleAssignedTo` or `azuread.AppRoleAssignment`; if it is a managed "
                f"identity: {MI_CACHE_NOTE}")

    def verdict(self, index: int, api: Api) -> ApiVerdict:
        problems = self.api_problems(index, api)
        ops = []
        for op_id, roles in operation_roles(api).items():
            have = [r for r in roles if r in self.held]
            if problems:
                ops.append(OperationVerdict(op_id, roles, 401, "refused at the API scope", ""))
            elif have:
                ops.append(OperationVerdict(op_id, roles, 200, f"has {have[0]}", ""))
            else:
                ops.append(OperationVerdict(
                    op_id, roles, 403, f"needs {' or '.join(roles)}; token has "
                    f"{', '.join(self.held) or 'no roles'}", self.grant_fix(index, api, roles)))
        return ApiVerdict(api.name, self.client_ids[api.name], self.named_api() == api.name,
                          401 if problems else 200, tuple(problems), tuple(ops))

    def notes(self) -> list[str]:
        notes, claims, caller = [], self.claims, self.caller
        version = next((v for v, p in _ISSUERS if p.match(str(claims.get("iss", "")))), None)
        if version and claims.get("ver") != f"{version}.0":
            notes.append(f"iss is a v{version} issuer but ver is {claims.get('ver')!r}: "
                         "Entra never mixes them; this token was not issued by Entra as is")
        named = self.named_api()
        if version == 1 and named and self.requested_versions.get(self.client_ids[named]) == 2:
            notes.append(f"{named}'s registration requests v2 tokens (requestedAccessTokenVersion"
                         " 2): Entra issues v2 tokens for it, so this v1 token predates that")
        if caller.kind == "developer-tool" and caller.name not in self.config.developers.tools:
            notes.append(f"{caller.name} is not pre-authorized in this stack: add it to "
                         f"`{PROJECT}:developers.tools` (else AADSTS65001 at sign-in)")
        if caller.kind == "unknown":
            notes.append(f"client {caller.client_id} (oid {caller.object_id}) is neither a "
                         "consumer Web App identity of this plan nor a known developer tool")
        return notes


def diagnose(token: DecodedToken, plan: Mapping[str, Any], config: StackConfig,
             now: float) -> Diagnosis:
    doctor = _Doctor(token, plan, config, now)
    verdicts = tuple(doctor.verdict(i, api) for i, api in enumerate(config.apis)
                     if api.name in doctor.client_ids)
    return Diagnosis(str(plan.get("stack", "")), now, token.header, token.claims, doctor.caller,
                     doctor.named_api(), verdicts, tuple(doctor.notes()))


def utc(epoch: float) -> str:
    try:
        return datetime.datetime.fromtimestamp(epoch, datetime.UTC).strftime("%Y-%m-%d %H:%M:%S UTC")
    except (OverflowError, ValueError, OSError):  # a claim far outside the calendar
        return f"{epoch} (not a representable time)"


def minutes(seconds: float) -> str:
    return "under a minute" if abs(seconds) < 60 else f"{abs(seconds) / 60:.0f} min"
