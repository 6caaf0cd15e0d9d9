"""Running scenarios against started emulators.

Consumers call through the real client: `consumer.ApiClient` with azure-identity's
`ManagedIdentityCredential` finding the emulated App Service endpoint via IDENTITY_ENDPOINT /
IDENTITY_HEADER, exactly as inside a Web App. Developers use the same client with the token
Entra would hand their tool. Controls and attacks are hand-made HTTP requests, because a
well-behaved client cannot send a broken token.
"""

from __future__ import annotations

import itertools
import os
import secrets
import threading
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import urlencode

import httpx
from azure.core.credentials import AccessToken
from azure.identity import ManagedIdentityCredential

from components import naming
from components.caller_headers import SUBSCRIPTION_KEY_QUERY
from components.config import DEVELOPER_TOOLS, StackConfig
from consumer import (
    DEFAULT_SUBSCRIPTION_KEY_HEADER,
    ApiClient,
    ApiSettings,
    ConsumerConfigError,
    GatewayError,
    GatewayUnreachableError,
    TokenAcquisitionError,
    setting_names,
)
from consumer.errors import gateway_message
from sandbox.program.runner import PROJECT_DIR
from sandbox.rehearsal.emulators.forge import claims_of
from sandbox.rehearsal.emulators.gateway_core import REASON_HEADER
from sandbox.rehearsal.emulators.gateway_statements import IdentityTokenError
from sandbox.rehearsal.emulators.issuer import TokenRefusedError
from sandbox.rehearsal.expect import backend_expectation
from sandbox.rehearsal.report import Outcome, ScenarioResult, judge
from sandbox.rehearsal.scenarios import (
    FORGED_CALLER_HEADERS,
    KEPT_QUERY,
    METHOD_OVERRIDES,
    AttackInputs,
    IntendedOperation,
    Scenario,
    attack_token,
)
from sandbox.rehearsal.scenarios import intended_operations as operations_of

if TYPE_CHECKING:
    from sandbox.rehearsal.servers import Rehearsal

_ENVIRON_LOCK = threading.Lock()
_BODY_METHODS = frozenset({"POST", "PUT", "PATCH"})


@contextmanager
def process_environment(values: Mapping[str, str], remove: Sequence[str] = ()) -> Iterator[None]:
    """Set variables for the duration. azure-identity reads IDENTITY_* when the credential is
    built and MSAL again at every token request, so they must stay set while it is used."""
    with _ENVIRON_LOCK:
        saved = {name: os.environ.get(name) for name in itertools.chain(values, remove)}
        try:
            for name in remove:
                os.environ.pop(name, None)
            os.environ.update(values)
            yield
        finally:
            for name, value in saved.items():
                if value is None:
                    os.environ.pop(name, None)
                else:
                    os.environ[name] = value


def loopback_no_proxy() -> dict[str, str]:
    """A proxy configured for the machine must not see rehearsal tokens."""
    current = os.environ.get("NO_PROXY") or os.environ.get("no_proxy") or ""
    value = ",".join(filter(None, [current, "127.0.0.1", "localhost"]))
    return {"NO_PROXY": value, "no_proxy": value}


class StaticCredential:
    """A TokenCredential holding one token: what a developer tool hands the client."""

    def __init__(self, token: str) -> None:
        self._token = AccessToken(token, int(claims_of(token).get("exp", 0)))

    def get_token(self, *scopes: str, **kwargs: Any) -> AccessToken:
        return self._token


def _echo_view(body: Any) -> str | None:
    if not isinstance(body, dict):
        return None
    # A subscription key that reached the backend is named, not printed: reports go to CI logs.
    pairs = [
        f"{SUBSCRIPTION_KEY_QUERY}=[key]" if pair.startswith(f"{SUBSCRIPTION_KEY_QUERY}=") else pair
        for pair in str(body.get("query") or "").split("&")
        if pair
    ]
    query = f"?{'&'.join(pairs)}" if pairs else ""
    return f"{body.get('method')} {body.get('path')}{query}"


def _call(client: ApiClient, op: IntendedOperation, name: str) -> Outcome:
    body = {"rehearsal": name} if op.method in _BODY_METHODS else None
    try:
        answer = client.request(op.method, op.sample_path(), json=body)
    except GatewayError as error:
        return Outcome(error.status, error.message, reason=error.headers.get(REASON_HEADER, ""))
    except TokenAcquisitionError as error:
        return Outcome("no token", error.reason)
    except GatewayUnreachableError as error:
        return Outcome("unreachable", error.reason)
    except ConsumerConfigError as error:
        return Outcome("config error", str(error))
    seen = answer.json()
    return Outcome(answer.status, "", _echo_view(seen), seen=seen)


class _Runner:
    def __init__(self, rehearsal: Rehearsal, intent: StackConfig, project_dir: Path) -> None:
        self.rehearsal = rehearsal
        self.intent = intent
        self.project_dir = project_dir  # where an API's openapi file is read
        self.tenant = rehearsal.tenant
        self.consumers = {c.name for c in self.tenant.consumers}

    def operation(self, scenario: Scenario) -> IntendedOperation:
        api = self.intent.api(scenario.api)
        return next(o for o in operations_of(api, self.project_dir) if o.id == scenario.operation)

    def consumer_calls(self, name: str, scenarios: list[Scenario]) -> list[Outcome]:
        if name not in self.consumers:
            return [Outcome("not in plan", f"no Web App for consumer {name}")] * len(scenarios)
        environ = self.rehearsal.consumer_environment(name)
        identity = {k: environ[k] for k in ("IDENTITY_ENDPOINT", "IDENTITY_HEADER")}
        outcomes: list[Outcome] = []
        clients: dict[str, ApiClient] = {}
        with process_environment(identity | loopback_no_proxy(), ("IDENTITY_SERVER_THUMBPRINT",)):
            credential = ManagedIdentityCredential()
            try:
                for scenario in scenarios:
                    if scenario.api not in clients:
                        try:
                            clients[scenario.api] = ApiClient.from_environment(
                                scenario.api,
                                credential=credential,
                                environ=environ,
                                retry_total=0,
                            )
                        except ConsumerConfigError as error:
                            outcomes.append(Outcome("config error", str(error)))
                            continue
                    op = self.operation(scenario)
                    outcomes.append(_call(clients[scenario.api], op, scenario.name))
            finally:
                for client in clients.values():
                    client.close()
                credential.close()
        return outcomes

    def _setting(self, consumer: str, api: str, which: str) -> str | None:
        if consumer not in self.consumers:
            return None
        names = setting_names(api)
        return self.rehearsal.consumer_environment(consumer).get(getattr(names, which))

    def _verification_subscription(self, api: str) -> tuple[str | None, str | None]:
        """The gateway URL of the API and the key of its verification subscription (the one
        `verify` calls with), for a developer's call to an API no consumer calls."""
        path = next((a.path for a in self.rehearsal.model.apis if a.api_id == api), None)
        sid = naming.subscription_id(api, naming.VERIFICATION)
        key = self.rehearsal.keys_by_sid.get(sid)
        if path is None or key is None:
            return None, None
        return f"{self.rehearsal.gateway.url}/{path.strip('/')}", key

    def developer_call(self, scenario: Scenario) -> Outcome:
        group = next(g for g in self.intent.developers.groups if g.name == scenario.group)
        user = {g.lower(): u for g, u in self.tenant.developer_by_group.items()}.get(
            group.object_id.lower()
        )
        app = self.tenant.apis.get(scenario.api)
        if scenario.consumer is None:
            base, key = self._verification_subscription(scenario.api)
        else:
            base = self._setting(scenario.consumer, scenario.api, "base_url")
            key = self._setting(scenario.consumer, scenario.api, "subscription_key")
        if user is None or app is None or base is None or key is None:
            return Outcome("not in plan", "group, API or subscription missing from the plan")
        tool = DEVELOPER_TOOLS[scenario.tool or ""]
        try:
            token = self.rehearsal.issuer.issue_user_token(user, tool, app.identifier_uri)
        except TokenRefusedError as refused:
            return Outcome(f"no token: {refused.code}", refused.message)
        settings = ApiSettings(scenario.api, base, f"{app.identifier_uri}/{app.scope}", key)
        with (
            process_environment(loopback_no_proxy()),
            ApiClient(settings, StaticCredential(token), retry_total=0) as client,
        ):
            return _call(client, self.operation(scenario), scenario.name)

    def raw_call(self, scenario: Scenario, http: httpx.Client) -> Outcome:
        consumer = scenario.consumer or ""
        base = self._setting(consumer, scenario.api, "base_url")
        key = self._setting(consumer, scenario.api, "subscription_key")
        app = self.tenant.apis.get(scenario.api)
        if base is None or key is None or app is None:
            return Outcome("not in plan", "consumer, API or subscription missing from the plan")
        issuer = self.rehearsal.issuer
        other_api, other_consumer = scenario.other_api, scenario.other_consumer
        other_app = self.tenant.apis.get(other_api or "")

        def other_token() -> str:
            caller = self.tenant.consumer(other_consumer or "").principal_id
            return issuer.issue_app_token(caller, other_app.identifier_uri if other_app else "")

        tools = self.intent.developers.tools
        try:
            genuine = issuer.issue_app_token(
                self.tenant.consumer(consumer).principal_id, app.identifier_uri
            )
            token = attack_token(
                scenario.attack or "genuine",
                AttackInputs(
                    issuer,
                    self.tenant,
                    scenario.api,
                    genuine,
                    self.rehearsal.clock(),
                    other_api,
                    other_token,
                    DEVELOPER_TOOLS[tools[0]] if tools else None,
                ),
            )
        except TokenRefusedError as refused:
            return Outcome(f"no token: {refused.code}", refused.message)
        except KeyError as missing:
            return Outcome("not in plan", f"no Web App for consumer {missing}")
        header = self._setting(consumer, scenario.api, "subscription_key_header")
        header = header or DEFAULT_SUBSCRIPTION_KEY_HEADER
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        if scenario.attack == "wrong-key":
            headers[header] = secrets.token_hex(16)
        elif scenario.attack == "foreign-key":
            foreign = self._setting(other_consumer or "", other_api or "", "subscription_key")
            headers[header] = foreign or ""
        elif scenario.attack not in ("no-key", "key-in-query"):
            headers[header] = key
        sent = list(headers.items())
        if scenario.attack == "forged-caller-headers":
            sent += FORGED_CALLER_HEADERS
        if scenario.attack == "method-override":
            sent += METHOD_OVERRIDES
        op = self.operation(scenario)
        url = base + op.sample_path()
        if scenario.attack == "key-in-query":
            # APIM reads the key from the query when the header is absent (its default name).
            url += f"?{urlencode({SUBSCRIPTION_KEY_QUERY: key})}&{KEPT_QUERY}"
        return _send(http, op, url, sent, scenario.name)

    def backend_call(self, scenario: Scenario, http: httpx.Client) -> Outcome:
        """Past the gateway, straight to the API's backend, with the recipe's token."""
        url = self.rehearsal.backend_urls.get(scenario.api)
        app = self.tenant.apis.get(scenario.api)
        other = self.tenant.apis.get(scenario.other_api or "")
        if url is None or app is None:
            return Outcome("not in plan", f"no backend or registration for {scenario.api}")
        token: str | None = None
        try:
            if scenario.attack == "backend-consumer-token":
                caller = self.tenant.consumer(scenario.consumer or "").principal_id
                token = self.rehearsal.issuer.issue_app_token(caller, app.identifier_uri)
            elif scenario.attack == "backend-other-api-token":
                tokens = self.rehearsal.gateway_tokens
                if tokens is None or other is None:
                    return Outcome("not in plan", "no gateway identity or no other API")
                # What the gateway asks for on the other API's hop: its client ID.
                token = tokens.token(other.client_id)
        except (TokenRefusedError, IdentityTokenError) as refused:
            return Outcome("no token", str(refused))
        except KeyError as missing:
            return Outcome("not in plan", f"no Web App for consumer {missing}")
        headers = [("Authorization", f"Bearer {token}")] if token else []
        op = self.operation(scenario)
        return _send(http, op, url + op.sample_path(), headers, scenario.name)


def _send(
    http: httpx.Client,
    op: IntendedOperation,
    url: str,
    headers: Sequence[tuple[str, str]],
    name: str,
) -> Outcome:
    body = {"rehearsal": name} if op.method in _BODY_METHODS else None
    response = http.request(op.method, url, headers=list(headers), json=body)
    if response.status_code == 200:
        seen = response.json()
        return Outcome(200, "", _echo_view(seen), seen=seen)
    reason = response.headers.get(REASON_HEADER, "")
    return Outcome(response.status_code, gateway_message(response.text), reason=reason)


def run_scenarios(
    rehearsal: Rehearsal,
    intent: StackConfig,
    scenarios: Sequence[Scenario],
    project_dir: Path = PROJECT_DIR,
) -> list[ScenarioResult]:
    """Outcomes judged against the intent, in scenario order."""
    runner = _Runner(rehearsal, intent, project_dir)
    outcomes: dict[int, Outcome] = {}
    consumer_indices = [i for i, s in enumerate(scenarios) if s.kind == "consumer"]
    # One credential per consumer, used for all its calls, as one Web App process would.
    key = lambda i: scenarios[i].consumer or ""  # noqa: E731
    for name, group in itertools.groupby(sorted(consumer_indices, key=key), key=key):
        indices = list(group)
        calls = runner.consumer_calls(name, [scenarios[i] for i in indices])
        outcomes.update(zip(indices, calls, strict=True))
    with httpx.Client(trust_env=False, timeout=10.0) as http:
        for index, scenario in enumerate(scenarios):
            if scenario.kind == "developer":
                outcomes[index] = runner.developer_call(scenario)
            elif scenario.kind in ("control", "attack"):
                outcomes[index] = runner.raw_call(scenario, http)
            elif scenario.kind == "bypass":
                outcomes[index] = runner.backend_call(scenario, http)
    tenant = rehearsal.tenant
    return [
        judge(scenario, outcomes[i], backend_expectation(scenario, intent, tenant, project_dir))
        for i, scenario in enumerate(scenarios)
    ]
