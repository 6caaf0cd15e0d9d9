"""One verification run: read the tenant's signing metadata, send the refusals, then the
caller's own calls, then the backend bypass, and judge each.

The caller's credential is injected: the command line passes azure-identity's
DefaultAzureCredential (az / azd / VS Code sign-in, or the CI identity); the tests pass one
that gets a developer token from the rehearsal's emulated Entra.
"""

from __future__ import annotations

import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass
from urllib.parse import urlsplit

from azure.core.credentials import TokenCredential

from consumer import ApiClient, ApiSettings, ConsumerError, TokenAcquisitionError
from consumer.errors import one_line
from sandbox.errors import SandboxError
from sandbox.verify import forge
from sandbox.verify.calls import Caller
from sandbox.verify.outputs import Target
from sandbox.verify.report import Report, Result, result_of
from sandbox.verify.scenarios import (
    Forgery,
    Scenario,
    bypass_scenarios,
    caller_scenarios,
    refusal_scenarios,
)

MAX_CALLS = 150  # a verification, not a load test: more APIs than this allows, use --api
_NO_CREDENTIAL = "no credential was available"


class GatewayUnreachableError(SandboxError):
    """Nothing could be verified: the gateway did not answer the first call (exit 2)."""


@dataclass(frozen=True)
class Options:
    timeout: float = 10.0  # seconds, per request (connect and read each)
    clock: Callable[[], float] = time.time


def signing_facts(caller: Caller, target: Target) -> tuple[str, str | None, str | None]:
    """(issuer, a kid Entra publishes or None, a note when the metadata could not be read).

    Two public GETs: the tenant's v2 OpenID metadata, then its JWKS. The issuer falls back to
    the documented v2 form when the metadata cannot be read.
    """
    issuer = f"https://login.microsoftonline.com/{target.tenant_id}/v2.0"
    try:
        metadata = caller.get_json(target.openid_configuration_url)
        issuer = str(metadata.get("issuer") or issuer)
        jwks_uri = str(metadata["jwks_uri"])
        if urlsplit(jwks_uri).scheme not in ("https", "http"):
            raise ValueError(f"jwks_uri {jwks_uri!r}")
        keys = caller.get_json(jwks_uri).get("keys") or []
        kid = next((k["kid"] for k in keys if k.get("kty") == "RSA" and k.get("kid")), None)
    except (ConsumerError, KeyError, TypeError, ValueError, AttributeError) as error:
        return (
            issuer,
            None,
            (
                "the 'Entra's kid' forgeries skipped: the tenant's signing keys could not be read "
                f"from {target.openid_configuration_url} ({one_line(str(error), 160)})"
            ),
        )
    return issuer, str(kid) if kid else None, None


def _caller_tokens(target: Target, credential: TokenCredential) -> tuple[dict[str, str], list[str]]:
    tokens: dict[str, str] = {}
    notes: list[str] = []
    for api in target.apis:
        if not (api.app_scope and api.operations and api.subscription_key):
            notes.append(
                f"{api.name}: allowed calls skipped: the outputs lack appScope, operations or "
                "verification.subscriptionKey"
            )
            continue
        # `/.default`, not the delegated developerScope: azure-identity's AzureCliCredential
        # turns a scope into `--resource` by stripping only `/.default` (1.27,
        # `_internal._scopes_to_resource`), and Entra answers `.default` with the
        # pre-authorized delegated scope for a person and with app roles for an app.
        settings = ApiSettings(api.name, api.url, api.app_scope, "")
        with ApiClient(settings, credential, retry_total=0) as client:
            try:
                tokens[api.name] = client.token().token
            except TokenAcquisitionError as error:
                if _NO_CREDENTIAL in error.reason:
                    notes.append(
                        "allowed calls skipped: no credential (sign in with `az login` or "
                        "`azd auth login`, or pass --skip-allowed)"
                    )
                    return {}, notes
                notes.append(f"{api.name}: allowed calls skipped: {error}")
    return tokens, notes


def _send_all(caller: Caller, scenarios: tuple[Scenario, ...]) -> list[Result]:
    return [result_of(scenario, caller.send(scenario.call)) for scenario in scenarios]


def _own_calls(target: Target) -> int:
    """At most: every operation, plus three bent tokens, per API."""
    return sum(len(api.operations or ()) + 3 for api in target.apis)


def run_verify(
    target: Target, credential: TokenCredential | None, options: Options | None = None
) -> Report:
    """Every scenario the outputs allow; `credential=None` skips the caller's own calls."""
    options = options or Options()
    notes: list[str] = []
    results: list[Result] = []
    with Caller(options.timeout) as caller:
        issuer, kid, problem = signing_facts(caller, target)
        if problem:
            notes.append(problem)
        forgery = Forgery(
            forge.fresh_key(), int(options.clock()), issuer, kid, secrets.token_hex(16)
        )
        matrix = refusal_scenarios(target, forgery)
        bypass = bypass_scenarios(target)
        own = _own_calls(target) if credential is not None else 0
        planned = len(matrix.scenarios) + len(bypass) + own
        if planned > MAX_CALLS:
            raise SandboxError(
                f"the outputs name {len(target.apis)} APIs: up to {planned} calls, more than "
                f"the {MAX_CALLS} a verification may make; choose some with --api NAME"
            )
        notes += matrix.notes
        first, *rest = matrix.scenarios
        outcome = caller.send(first.call)
        if outcome.status is None:
            raise GatewayUnreachableError(
                f"the gateway {target.gateway_url} did not answer ({outcome.message}); check "
                "that the stack is deployed and the outputs are this stack's"
            )
        results.append(result_of(first, outcome))
        results += _send_all(caller, tuple(rest))
        if credential is None:
            notes.append("allowed calls skipped (--skip-allowed)")
        else:
            tokens, skipped = _caller_tokens(target, credential)
            notes += skipped
            for api in target.apis:
                if api.name in tokens:
                    results += _send_all(caller, caller_scenarios(api, tokens[api.name], tokens))
        results += _send_all(caller, bypass)
    return Report(target.source, target.gateway_url, tuple(results), tuple(notes))
