"""The calls verify makes and what each must get, built from the stack outputs. Pure: tokens
are made here from an injected key and time, nothing is sent.

Three groups, each only where the outputs allow it (a skipped group is a note, never a
silent gap):
- refusals that need no credential: the key gate (no key, a wrong key, another API's key),
  forged tokens (none, garbage, `alg: none`, signed by a key Entra never had, expired, wrong
  audience, v1 where only v2 is accepted), and path and method tricks;
- the caller's own token (built later, from the token, by `caller_scenarios`): every
  operation its roles open reaches the backend, every other is refused, and the token bent
  (a flipped signature byte, roles written in, sent to another API) is refused;
- the backend called directly, without the gateway's token, where the outputs name it.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

from cryptography.hazmat.primitives.asymmetric import rsa

from consumer.app_settings import DEFAULT_SUBSCRIPTION_KEY_HEADER
from sandbox.apim_answers import INVALID_KEY, MISSING_KEY, NO_OPERATION
from sandbox.verify import forge
from sandbox.verify.expect import (
    BACKEND,
    TOKEN_REFUSED,
    Expectation,
    forbidden,
    refused,
)
from sandbox.verify.outputs import ApiTarget, Operation, Target

Kind = Literal["refusal", "allowed", "forbidden", "bypass"]
_BODY_METHODS = frozenset({"POST", "PUT", "PATCH"})
# Tried in this order for "a method the API does not declare on this path".
_UNDECLARED_CANDIDATES = ("DELETE", "PATCH", "PUT", "POST", "GET")
OUTSIDE_PATH = "secure-api-calls-verify/no-such-api"


@dataclass(frozen=True)
class Call:
    base_url: str
    method: str
    path: str = ""  # relative to base_url
    token: str | None = field(default=None, repr=False)  # None: no Authorization header
    key: str | None = field(default=None, repr=False)  # None: no subscription-key header
    key_header: str = DEFAULT_SUBSCRIPTION_KEY_HEADER

    @property
    def body(self) -> Any:
        # An empty object: enough for the gateway; a backend that acts on it should refuse it.
        return {} if self.method in _BODY_METHODS else None


@dataclass(frozen=True)
class Scenario:
    name: str
    api: str  # "" for the gateway as a whole
    kind: Kind
    call: Call
    expected: Expectation


@dataclass(frozen=True)
class Forgery:
    """What forged tokens are made from: a key Entra never had, the time, and what the
    tenant's metadata said (issuer; a kid Entra publishes, when its JWKS could be read)."""

    key: rsa.RSAPrivateKey
    now: int
    issuer: str
    entra_kid: str | None
    wrong_key: str  # a random subscription key no subscription holds


@dataclass(frozen=True)
class Matrix:
    scenarios: tuple[Scenario, ...]
    notes: tuple[str, ...]  # what was skipped, and why, one line each


def _path_of(op: Operation | None) -> str:
    return op.sample_path() if op else ""


def refusal_scenarios(target: Target, forgery: Forgery) -> Matrix:
    scenarios: list[Scenario] = []
    notes: list[str] = []
    keys = {api.name: api.subscription_key for api in target.apis if api.subscription_key}
    for api in target.apis:
        found, skipped = _api_refusals(api, target, forgery, keys)
        scenarios += found
        notes += skipped
    # [choice] APIM's text for a path no API serves is not captured ("Resource not found" is
    # reported); only the status is judged. An API on the empty path serves every such path.
    catch_all = any(api.path == "" for api in target.apis)
    outside = Expectation(frozenset({401, 404}) if catch_all else frozenset({404}))
    scenarios.append(
        Scenario(
            "gateway: a path no API serves",
            "",
            "refusal",
            Call(target.gateway_url, "GET", OUTSIDE_PATH),
            outside,
        )
    )
    return Matrix(tuple(scenarios), tuple(notes))


def _api_refusals(
    api: ApiTarget, target: Target, forgery: Forgery, keys: Mapping[str, str]
) -> tuple[list[Scenario], list[str]]:
    op = api.operations[0] if api.operations else None
    path = _path_of(op)
    method = op.method if op else "GET"

    def scenario(label: str, expected: Expectation, **call: Any) -> Scenario:
        given = {"method": method, "path": path} | call
        return Scenario(
            f"{api.name}: {label}", api.name, "refusal", Call(api.url, **given), expected
        )

    found = [
        scenario("no subscription key", refused(401, MISSING_KEY)),
        scenario("a wrong subscription key", refused(401, INVALID_KEY), key=forgery.wrong_key),
    ]
    other_key = next((key for name, key in keys.items() if name != api.name), None)
    if other_key and other_key != api.subscription_key:
        found.append(
            scenario("another API's verification key", refused(401, INVALID_KEY), key=other_key)
        )
    notes: list[str] = []
    missing = [
        name
        for name, present in (
            ("verification.subscriptionKey", api.subscription_key is not None),
            ("operations", op is not None),
            ("clientId", api.client_id is not None),
        )
        if not present
    ]
    if missing:
        masked = api.subscription_key_masked and " (masked: save them with --show-secrets)"
        notes.append(
            f"{api.name}: token, method and path scenarios skipped: the outputs lack "
            f"{', '.join(missing)}{masked or ''}; only the subscription-key gate was tested"
        )
        return found, notes
    key = api.subscription_key
    assert op is not None and api.client_id is not None and key is not None  # checked above
    roles = api.all_roles
    claims = forge.v2_claims(target.tenant_id, forgery.issuer, api.client_id, roles, forgery.now)
    kid = forgery.entra_kid or forge.UNKNOWN_KID
    tokens: list[tuple[str, str | None]] = [
        ("no token", None),
        ("a garbage token", forge.GARBAGE),
        ("alg none (unsigned)", forge.unsigned(claims, kid)),
        (
            "signed by a key Entra never had (unknown kid)",
            forge.sign(claims, forgery.key, forge.UNKNOWN_KID),
        ),
    ]
    if forgery.entra_kid:  # else the run says once why it has none
        tokens.append(
            ("signed by a key Entra never had (Entra's kid)", forge.sign(claims, forgery.key, kid))
        )
    expired = claims | {
        "iat": forgery.now - 7200,
        "nbf": forgery.now - 7200,
        "exp": forgery.now - 3600,
    }
    tokens.append(("an expired token", forge.sign(expired, forgery.key, kid)))
    wrong_audience = next(
        (a.client_id for a in target.apis if a.client_id and a.client_id != api.client_id),
        forge.made_up_id("audience", api.client_id),
    )
    tokens.append(
        ("a wrong audience", forge.sign(claims | {"aud": wrong_audience}, forgery.key, kid))
    )
    if api.accepts_v1 is False:
        v1 = forge.as_v1(claims, target.tenant_id, api.identifier_uri or f"api://{api.client_id}")
        tokens.append(("a v1 token where only v2 is accepted", forge.sign(v1, forgery.key, kid)))
    elif api.accepts_v1 is None:
        notes.append(f"{api.name}: the v1-token scenario skipped: the outputs lack acceptsV1Tokens")
    found += [scenario(label, TOKEN_REFUSED, token=token, key=key) for label, token in tokens]
    found += _path_tricks(api, op, key, scenario)
    return found, notes


def _path_tricks(
    api: ApiTarget, op: Operation, key: str, scenario: Callable[..., Scenario]
) -> list[Scenario]:
    declared = {o.method for o in api.operations or () if o.url_template == op.url_template}
    undeclared = next((m for m in _UNDECLARED_CANDIDATES if m not in declared), None)
    found = []
    if undeclared:
        found.append(
            scenario(
                f"an undeclared method ({undeclared} {op.url_template})",
                refused(404, NO_OPERATION),
                method=undeclared,
                key=key,
            )
        )
    # Percent-encoded: a literal `..` is resolved by the client itself (urllib3 2 removes dot
    # segments from http(s) URLs, `util/url.py` `_remove_path_dot_segments`) and never reaches
    # the gateway. Whether APIM resolves it (then the operation wants a token: 401) or not
    # (no operation: 404), a refusal is the only right answer.
    dotted = f"%2E%2E/{api.path}{op.sample_path()}" if api.path else f"%2E%2E{op.sample_path()}"
    found.append(
        scenario(
            "%2E%2E segments in the path, no token",
            Expectation(frozenset({401, 404})),
            path=dotted,
            key=key,
        )
    )
    return found


def caller_scenarios(
    api: ApiTarget, token: str, others: Mapping[str, str] | None = None
) -> tuple[Scenario, ...]:
    """The caller's genuine token on every operation, and bent. `others`: genuine tokens of
    the same caller for other APIs (each must be refused here)."""
    if not api.operations or not api.subscription_key:
        raise ValueError(f"{api.name}: caller scenarios need operations and a verification key")
    held = set(forge.claims_of(token).get("roles") or [])
    no_role_here = not held & set(api.all_roles)
    found = []
    for op in api.operations:
        call = Call(api.url, op.method, op.sample_path(), token=token, key=api.subscription_key)
        name = f"{api.name}/{op.id} with your token"
        if no_role_here:
            # The API scope demands any role of the API (docs/architecture.md): a 401.
            found.append(
                Scenario(
                    f"{name} (no role of this API)", api.name, "forbidden", call, TOKEN_REFUSED
                )
            )
        elif held & set(op.roles):
            found.append(Scenario(name, api.name, "allowed", call, BACKEND))
        else:
            found.append(Scenario(name, api.name, "forbidden", call, forbidden(op.roles)))
    opened = next((op for op in api.operations if held & set(op.roles)), api.operations[0])
    closed = next((op for op in api.operations if not held & set(op.roles)), opened)

    def bent(label: str, op: Operation, bent_token: str) -> Scenario:
        call = Call(
            api.url, op.method, op.sample_path(), token=bent_token, key=api.subscription_key
        )
        return Scenario(f"{api.name}: {label}", api.name, "refusal", call, TOKEN_REFUSED)

    found.append(
        bent("your token, one signature byte flipped", opened, forge.flip_signature_byte(token))
    )
    lacking = [role for role in api.all_roles if role not in held]
    if lacking:
        edited = forge.with_claims(token, roles=sorted(held | set(lacking)))
        found.append(bent("your token with roles it lacks written in", closed, edited))
    else:
        # It holds every role already: impersonate instead (the backend trusts `oid`).
        other_oid = forge.made_up_id("impersonated", api.name)
        found.append(
            bent(
                "your token with another caller's oid written in",
                opened,
                forge.with_claims(token, oid=other_oid),
            )
        )
    for other, other_token in sorted((others or {}).items()):
        if other != api.name:
            found.append(bent(f"your token for {other}", opened, other_token))
            break  # one is enough: the audience check is one check
    return tuple(found)


def bypass_scenarios(target: Target) -> tuple[Scenario, ...]:
    """Each named backend, called without the gateway's token: App Service authentication
    answers 401 (unauthenticated), access restrictions 403."""
    found = []
    for api in target.apis:
        if not api.backend_url:
            continue
        ops: Sequence[Operation] = api.operations or ()
        # A GET where there is one: a backend that is wrongly open must not be written to.
        op = next((o for o in ops if o.method == "GET"), ops[0] if ops else None)
        call = Call(api.backend_url, op.method if op else "GET", _path_of(op))
        found.append(
            Scenario(
                f"{api.name}: the backend called directly, without the gateway's token",
                api.name,
                "bypass",
                call,
                Expectation(frozenset({401, 403})),
            )
        )
    return tuple(found)
