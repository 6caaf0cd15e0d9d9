"""The rehearsal's scenario matrix, and the attack tokens it sends.

Expectations come from the config's declared intent (which consumer holds which roles,
which roles each operation needs, which token versions an API accepts), never from the
policy XML: the rehearsal exists to catch the generated policy being wrong. The Plan-derived
tenant only decides which scenarios can be staged (a foreign key needs a second API...).
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from components.config import Api, StackConfig
from consumer.app_settings import setting_names
from sandbox.apim_answers import INVALID_KEY, MISSING_KEY
from sandbox.rehearsal.emulators import forge
from sandbox.rehearsal.emulators.issuer import EntraIssuer
from sandbox.rehearsal.tenant import Tenant, synthetic_id

Kind = Literal["consumer", "developer", "control", "attack", "bypass"]


@dataclass(frozen=True)
class Scenario:
    name: str
    kind: Kind
    api: str
    operation: str
    expected_status: int
    consumer: str | None = None  # the identity calling, or whose token/key an attack bends
    tool: str | None = None  # developer tool (config name)
    group: str | None = None  # developer group (config name)
    attack: str | None = None  # recipe in ATTACKS / CONTROLS
    other_api: str | None = None  # the second API some attacks borrow from
    other_consumer: str | None = None  # a caller of other_api
    expected_message: str | None = None  # exact gateway message, where APIM's text is known
    expected_words: tuple[str, ...] = ()  # words the error message must contain


@dataclass(frozen=True)
class IntendedOperation:
    id: str
    method: str
    url_template: str
    roles: tuple[str, ...]

    def sample_path(self) -> str:
        """The template with each `{param}` filled, e.g. /orders/sample-orderId."""
        return re.sub(r"\{([^{}/]+)\}", lambda m: f"sample-{m.group(1)}", self.url_template)


def intended_operations(api: Api, base_dir: Path) -> tuple[IntendedOperation, ...]:
    if api.openapi is None:
        return tuple(
            IntendedOperation(o.id, o.method, o.url_template, o.roles) for o in api.operations
        )
    document = json.loads((base_dir / api.openapi.file).read_text(encoding="utf-8"))
    found = []
    for path, item in (document.get("paths") or {}).items():
        for method, spec in (item or {}).items():
            op_id = spec.get("operationId") if isinstance(spec, dict) else None
            if op_id in api.openapi.operation_roles:
                roles = api.openapi.operation_roles[op_id]
                found.append(IntendedOperation(op_id, method.upper(), path, roles))
    return tuple(found)


# recipe -> label. Controls must pass (200); every attack must be refused with 401.
CONTROLS = {
    "genuine": "a genuine token, sent by hand",
    "v1-accepted": "a v1 token (aud api://<id>), accepted by intent",
    # Through the gateway with X-Caller-* headers of the caller's own making: the call passes,
    # and the backend sees the headers the gateway derived from the token, never the forged.
    "forged-caller-headers": "forged caller headers, replaced by the gateway's",
    # The caller's credentials and method overrides stop at the gateway: the backend must see
    # neither the subscription key (header or query) nor an override of the judged method.
    "key-in-query": "the subscription key in the query, removed before the backend",
    "method-override": "method-override headers, removed before the backend",
}
# The query a key-in-query call sends besides the key: the backend must receive exactly this.
KEPT_QUERY = "page=1"
# What a caller sends to make a backend framework run another method than the one judged.
METHOD_OVERRIDES = (
    ("X-HTTP-Method-Override", "DELETE"),
    ("x-http-method", "DELETE"),
    ("X-Method-Override", "DELETE"),
)
# The backend called directly, past the gateway (recipe -> label, expected status): App
# Service authentication answers 401 without a valid token for the API and 403 for a valid one
# from any application but the gateway; the checklist for external backends asks the same.
BYPASSES = {
    "backend-no-token": ("the backend called directly, without a token", 401),
    "backend-consumer-token": ("the backend called directly with a consumer's valid token", 403),
    "backend-other-api-token": (
        "the backend called directly with the gateway's token for another API",
        401,
    ),
}
# What a caller sends to impersonate someone else (mixed case: header names are not
# case-sensitive, and neither is their removal).
FORGED_CALLER_HEADERS = (
    ("X-Caller-Client-Id", "00000000-0000-0000-0000-00000000f0f0"),
    ("x-caller-object-id", "00000000-0000-0000-0000-00000000f0f1"),
    ("X-CALLER-ROLES", "Orders.Write,Inventory.Admin"),
    ("X-Caller-Token-Version", "1.0"),
)
ATTACKS = {
    "no-token": "no token",
    "no-key": "no subscription key",
    "wrong-key": "a wrong subscription key",
    "foreign-key": "the key of another API's subscription",
    "expired": "an expired token",
    "not-yet-valid": "a token not valid yet",
    "no-expiry": "a token without exp",
    "wrong-tenant": "a token from another tenant",
    "aud-trailing-slash": "aud api://<id>/ (trailing slash)",
    "aud-https": "aud https://<id>",
    "aud-other-api": "aud = another API's client ID",
    "aud-identifier-uri": "aud api://<id> where only v2 is accepted",
    "v1-token": "a v1 token where only v2 is accepted",
    "flipped-signature": "a flipped signature byte",
    "alg-none": "alg none",
    "hs256-public-key": "HS256 keyed with the public key",
    "unknown-kid": "an unknown kid",
    "foreign-signing-key": "a well-shaped token signed by a foreign key",
    "roles-of-other-api": "roles of another API",
    "token-for-other-api": "a genuine token for another API",
    "group-only-identity": "a managed identity holding its role only through a group",
    "delegated-no-roles": "a delegated token without roles",
    "unlisted-client": "the right role, held by a client the policy does not list",
}
_KEY_MESSAGES = {"no-key": MISSING_KEY, "wrong-key": INVALID_KEY, "foreign-key": INVALID_KEY}


def _key_sid(tenant: Tenant, consumer: str, api: str) -> str | None:
    facts = next((c for c in tenant.consumers if c.name == consumer), None)
    return facts.subscription_by_setting.get(setting_names(api).subscription_key) if facts else None


def build_scenarios(config: StackConfig, tenant: Tenant, base_dir: Path) -> tuple[Scenario, ...]:
    scenarios: list[Scenario] = []
    callers = {
        api.name: [c.name for c in config.consumers if any(k.api == api.name for k in c.calls)]
        for api in config.apis
    }
    for consumer in config.consumers:
        for call in consumer.calls:
            for op in intended_operations(config.api(call.api), base_dir):
                allowed = bool(set(call.roles) & set(op.roles))
                scenarios.append(
                    Scenario(
                        f"{consumer.name} calls {call.api}/{op.id}",
                        "consumer",
                        call.api,
                        op.id,
                        200 if allowed else 403,
                        consumer=consumer.name,
                        expected_words=() if allowed else op.roles,
                    )
                )
    for group in config.developers.groups:
        for api_name, roles in group.roles.items():
            # A developer needs a subscription key besides the token: a caller's, or where no
            # consumer calls the API the verification subscription's (consumer None).
            if not callers[api_name] and not config.verification.enabled:
                continue  # no subscription to borrow a key from: nothing to stage
            for op in intended_operations(config.api(api_name), base_dir):
                allowed = bool(set(roles) & set(op.roles))
                for tool in config.developers.tools:
                    scenarios.append(
                        Scenario(
                            f"{group.name} via {tool} calls {api_name}/{op.id}",
                            "developer",
                            api_name,
                            op.id,
                            200 if allowed else 403,
                            consumer=next(iter(callers[api_name]), None),
                            tool=tool,
                            group=group.name,
                            expected_words=() if allowed else op.roles,
                        )
                    )
    for api in config.apis:
        scenarios += _token_scenarios(config, tenant, api, callers, base_dir)
    for api in config.apis:
        scenarios += _bypass_scenarios(config, api, callers, base_dir)
    return tuple(scenarios)


def unrehearsed(config: StackConfig, scenarios: tuple[Scenario, ...]) -> tuple[str, ...]:
    """A note per API the scenarios leave untested, in part or whole, saying why and what
    makes it testable: a rehearsal must never pass silently on what it did not try."""
    notes = []
    for api in config.apis:
        kinds = {s.kind for s in scenarios if s.api == api.name}
        if not kinds:
            has_group = any(api.name in g.roles for g in config.developers.groups)
            why = (
                "verification.enabled is false, so developers have no subscription key"
                if has_group
                else "no developer group holds its roles"
            )
            notes.append(
                f"API '{api.name}' not rehearsed: no consumer calls it and {why}; add a "
                "consumer whose calls include it (secure-api-calls:consumers)"
            )
        elif not kinds & {"consumer", "attack"}:
            notes.append(
                f"API '{api.name}': only developers' calls rehearsed; its attacks and backend "
                "checks need a consumer that calls it (secure-api-calls:consumers)"
            )
    return tuple(notes)


def nothing_to_rehearse(stack: str, config: StackConfig) -> str:
    """Why a stack gave no scenario, and the fix: a rehearsal of nothing is no pass."""
    apis = ", ".join(api.name for api in config.apis)
    why = (
        "verification.enabled is false, so developers have no subscription key"
        if config.developers.groups
        else "no developer group holds a role on one"
    )
    return (
        f"stack '{stack}': nothing to rehearse: no consumer calls any API ({apis}) and {why}; "
        "add a consumer whose calls name an API (secure-api-calls:consumers, "
        "docs/adding-an-api-or-consumer.md)"
    )


def _bypass_scenarios(
    config: StackConfig, api: Api, callers: dict[str, list[str]], base_dir: Path
) -> list[Scenario]:
    """The backend of an API whose hop the gateway authenticates (by intent), called directly:
    every one must be refused. An API without the hop has an open backend by declaration."""
    caller = next(iter(callers[api.name]), None)
    ops = intended_operations(api, base_dir)
    if not api.hop_authenticated or caller is None or not ops:
        return []
    # A GET where there is one: a backend that is wrongly open must not be written to.
    op = next((o for o in ops if o.method == "GET"), ops[0])
    other = next((a.name for a in config.apis if a.name != api.name and a.hop_authenticated), None)
    found = []
    for recipe, (label, status) in BYPASSES.items():
        if recipe == "backend-other-api-token" and other is None:
            continue
        found.append(
            Scenario(
                f"{api.name}: {label}",
                "bypass",
                api.name,
                op.id,
                status,
                consumer=caller,
                attack=recipe,
                other_api=other,
            )
        )
    return found


def _token_scenarios(
    config: StackConfig, tenant: Tenant, api: Api, callers: dict[str, list[str]], base_dir: Path
) -> list[Scenario]:
    """Controls and attacks on one API, each bending one property of a genuine call: the
    first consumer that calls the API, on the first operation its roles open."""
    caller = next(iter(callers[api.name]), None)
    if caller is None:
        return []
    call = next(c for c in config.consumers if c.name == caller).calls
    roles = next(c.roles for c in call if c.api == api.name)
    op = next((o for o in intended_operations(api, base_dir) if set(o.roles) & set(roles)), None)
    if op is None:
        return []
    others = [a.name for a in config.apis if a.name != api.name]
    other = next((name for name in others if callers[name]), None)  # has a genuine caller
    other_caller = callers[other][0] if other else None
    borrowed = other or next(iter(others), None)  # audiences and roles need only the API
    foreign_key = other is not None and _key_sid(tenant, callers[other][0], other) is not None
    has_group = any(api.name in g.roles for g in config.developers.groups)
    applicable = {
        "v1-accepted": api.accepts_v1,
        "foreign-key": foreign_key,
        "aud-other-api": bool(others),
        "aud-identifier-uri": not api.accepts_v1,
        "v1-token": not api.accepts_v1,
        "roles-of-other-api": bool(others),
        "token-for-other-api": other is not None,
        "group-only-identity": has_group and tenant.group_only_identity is not None,
        "delegated-no-roles": bool(config.developers.tools),
    }
    found = []
    stages: tuple[tuple[Kind, dict[str, str]], ...] = (("control", CONTROLS), ("attack", ATTACKS))
    for kind, catalogue in stages:
        for recipe, label in catalogue.items():
            if not applicable.get(recipe, True):
                continue
            found.append(
                Scenario(
                    f"{api.name}: {label}",
                    kind,
                    api.name,
                    op.id,
                    200 if kind == "control" else 401,
                    consumer=caller,
                    attack=recipe,
                    other_api=borrowed,
                    other_consumer=other_caller,
                    expected_message=_KEY_MESSAGES.get(recipe),
                )
            )
    return found


@dataclass(frozen=True)
class AttackInputs:
    """What a recipe may bend: a genuine token for the API and facts about the tenant."""

    issuer: EntraIssuer
    tenant: Tenant
    api: str
    genuine: str
    now: float
    other_api: str | None = None
    other_token: Callable[[], str] | None = None  # a genuine token for other_api
    tool_client_id: str | None = None


def attack_token(recipe: str, given: AttackInputs) -> str | None:
    """The bearer token a recipe sends (None: no Authorization header at all)."""
    issuer, genuine, now = given.issuer, given.genuine, int(given.now)
    app = given.tenant.apis[given.api]
    other = given.tenant.apis.get(given.other_api or "")
    claims = forge.claims_of(genuine)
    v1 = {
        "iss": f"https://sts.windows.net/{issuer.tenant_id}/",
        "ver": "1.0",
        "appid": claims.get("azp"),
        "appidacr": "2",
        "azp": None,
        "azpacr": None,
    }
    other_tenant = synthetic_id("another-tenant")
    recipes: dict[str, Callable[[], str | None]] = {
        "no-token": lambda: None,
        "expired": lambda: forge.resign(
            issuer, genuine, iat=now - 7200, nbf=now - 7200, exp=now - 60
        ),
        "not-yet-valid": lambda: forge.resign(
            issuer, genuine, iat=now, nbf=now + 600, exp=now + 4200
        ),
        "no-expiry": lambda: forge.resign(issuer, genuine, exp=None),
        "wrong-tenant": lambda: forge.resign(
            issuer,
            genuine,
            tid=other_tenant,
            iss=f"https://login.microsoftonline.com/{other_tenant}/v2.0",
        ),
        "aud-trailing-slash": lambda: forge.resign(issuer, genuine, aud=f"{app.identifier_uri}/"),
        "aud-https": lambda: forge.resign(issuer, genuine, aud=f"https://{app.client_id}"),
        "aud-other-api": lambda: forge.resign(
            issuer, genuine, aud=other.client_id if other else ""
        ),
        "aud-identifier-uri": lambda: forge.resign(issuer, genuine, aud=app.identifier_uri),
        "v1-token": lambda: forge.resign(issuer, genuine, aud=app.client_id, **v1),
        "v1-accepted": lambda: forge.resign(issuer, genuine, aud=app.identifier_uri, **v1),
        "flipped-signature": lambda: forge.flip_signature_byte(genuine),
        "alg-none": lambda: forge.alg_none(genuine),
        "hs256-public-key": lambda: forge.hs256_with_public_key(genuine, issuer.key.public_pem),
        "unknown-kid": lambda: forge.with_unknown_kid(issuer, claims),
        "foreign-signing-key": lambda: forge.signed_by_foreign_key(issuer, claims),
        "roles-of-other-api": lambda: forge.resign(
            issuer, genuine, roles=sorted(other.roles) if other else ["Unknown.Role"]
        ),
        "token-for-other-api": lambda: given.other_token() if given.other_token else None,
        "group-only-identity": lambda: issuer.issue_app_token(
            given.tenant.group_only_identity or "", app.identifier_uri
        ),
        "delegated-no-roles": lambda: issuer.issue_user_token(
            given.tenant.no_role_user, given.tool_client_id or "", app.identifier_uri
        ),
        # Everything genuine (tenant, audience, roles, signature) but the caller's client ID,
        # which no <client-application-ids> of the API lists: only that check refuses it.
        "unlisted-client": lambda: forge.resign(
            issuer, genuine, azp=synthetic_id("unlisted-client", app.client_id)
        ),
    }
    return recipes.get(recipe, lambda: genuine)()
