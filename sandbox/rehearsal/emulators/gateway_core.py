"""The APIM request pipeline as a pure function of (model, keys, clock, request).

Order, as API Management runs it: find the API by path, the subscription gate (before any
policy), find the operation, then the policy scopes section by section (operation -> API ->
global, each `<base />` running the enclosing scope's statements in place, executed by
`gateway_statements`), then forward to the backend through an injected `send`, so no socket is
opened here.
"""

from __future__ import annotations

import hmac
import json
import re
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from urllib.parse import parse_qsl, unquote

from components.gateway_policy import Base, PolicyDocument, Statement
from sandbox.apim_answers import INVALID_KEY, MISSING_KEY, NO_OPERATION
from sandbox.rehearsal.emulators.gateway_model import (
    GatewayApi,
    GatewayConfigError,
    GatewayModel,
    Operation,
)
from sandbox.rehearsal.emulators.gateway_statements import (
    IdentityTokens,
    RequestState,
    StatementRunner,
)
from sandbox.rehearsal.emulators.gateway_token import KeySource

REASON_HEADER = "x-rehearsal-reason"  # emulator-only: why the gateway itself said no
_HOP_BY_HOP = frozenset(
    {
        "connection",
        "keep-alive",
        "proxy-authenticate",
        "proxy-authorization",
        "te",
        "trailer",
        "transfer-encoding",
        "upgrade",
        "host",
        "content-length",
    }
)

Headers = tuple[tuple[str, str], ...]
Clock = Callable[[], float]


@dataclass(frozen=True)
class GatewayRequest:
    method: str
    path: str  # as received (percent-encoded), starting with "/"
    query: str = ""  # raw, without "?"
    headers: Headers = ()
    body: bytes = b""
    gateway_url: str = "http://127.0.0.1"  # what the caller dialled; realms are built from it

    def header_values(self, name: str) -> list[str]:
        wanted = name.lower()
        return [value for key, value in self.headers if key.lower() == wanted]


@dataclass(frozen=True)
class GatewayResponse:
    status: int
    headers: Headers = ()
    body: bytes = b""

    def header(self, name: str) -> str | None:
        return next((v for k, v in self.headers if k.lower() == name.lower()), None)


@dataclass(frozen=True)
class Forward:
    method: str
    url: str
    headers: Headers
    body: bytes


Sender = Callable[[Forward], GatewayResponse]


def error_response(
    status: int, message: str, reason: str = "", extra: Headers = ()
) -> GatewayResponse:
    """APIM's own error body: one line, spaces inside the braces, application/json."""
    body = f'{{ "statusCode": {status}, "message": {json.dumps(message, ensure_ascii=False)} }}'
    headers: Headers = (("content-type", "application/json"), *extra)
    if reason:
        headers += ((REASON_HEADER, reason.encode("ascii", "replace").decode()),)
    return GatewayResponse(status, headers, body.encode("utf-8"))


def _compose(section: str, scopes: tuple[PolicyDocument | None, ...]) -> tuple[Statement, ...]:
    """The statements a section runs: the innermost scope's, each `<base />` replaced by the
    enclosing scope's section; no policy at a scope behaves as `<base />` alone."""
    if not scopes:
        return ()
    inner, outer = scopes[0], scopes[1:]
    if inner is None:
        return _compose(section, outer)
    result: list[Statement] = []
    for statement in getattr(inner, section):
        result.extend(_compose(section, outer) if isinstance(statement, Base) else [statement])
    return tuple(result)


def _ambiguous_path(raw_path: str) -> bool:
    """[choice] A path whose segments a server could read two ways is matched to nothing: an
    empty segment (`//orders`), a segment that is or decodes to `.` or `..`, or one holding an
    encoded slash. APIM documents none of these; the gateway must not route by one reading
    while the backend (or httpx, which removes dot segments) acts on another. `verify` sends
    `%2E%2E` to the deployed gateway and accepts only a refusal there."""
    segments = raw_path.split("?", 1)[0].removeprefix("/").split("/")
    for index, segment in enumerate(segments):
        decoded = unquote(segment)
        if decoded in (".", "..") or "/" in decoded or "\\" in decoded:
            return True
        if not segment and index < len(segments) - 1:  # a trailing slash is matched as is
            return True
    return False


def _template_regex(template: str) -> tuple[re.Pattern[str], int]:
    """`/orders/{orderId}` -> a regex and its count of literal characters (specificity)."""
    pattern, literal = "", 0
    for part in re.split(r"(\{[^{}/]+\})", template):
        if part.startswith("{") and part.endswith("}"):
            pattern += "[^/]+"
        else:
            pattern += re.escape(part)
            literal += len(part)
    return re.compile(pattern), literal


@dataclass(frozen=True)
class _Route:
    api: GatewayApi
    operation: Operation
    regex: re.Pattern[str]
    literal: int
    inbound: tuple[Statement, ...]
    backend: tuple[Statement, ...]


class Gateway:
    def __init__(
        self,
        model: GatewayModel,
        keys_by_sid: Mapping[str, str],
        key_source: KeySource,
        *,
        clock: Clock = time.time,
        backend_overrides: Mapping[str, str] | None = None,
        service_url_overrides: Mapping[str, str] | None = None,
        identity: IdentityTokens | None = None,
    ) -> None:
        self.model = model
        self.key_source = key_source
        self.clock = clock
        known = {s.sid for s in model.subscriptions}
        if unknown := sorted(set(keys_by_sid) - known):
            raise GatewayConfigError(f"keys given for unknown subscriptions: {unknown}")
        self._keys = dict(keys_by_sid)
        self._backends = {**model.backends, **(backend_overrides or {})}
        self._statements = StatementRunner(key_source, clock, self._backends, identity)
        self._service_urls = {
            api.api_id: (service_url_overrides or {}).get(api.api_id, api.service_url)
            for api in model.apis
        }
        self._routes = {
            api.api_id: [self._route(api, op) for op in api.operations] for api in model.apis
        }

    def _route(self, api: GatewayApi, operation: Operation) -> _Route:
        scopes = (operation.policy, api.policy, self.model.global_policy)
        where = f"API {api.api_id!r} operation {operation.operation_id!r}"
        for section in ("outbound", "on_error"):
            if _compose(section, scopes):
                raise GatewayConfigError(f"{where}: statements in <{section}> are not emulated")
        inbound, backend = _compose("inbound", scopes), _compose("backend", scopes)
        variables: set[str] = set()
        for statement in (*inbound, *backend):
            self._statements.check_runnable(statement, variables, where)
        regex, literal = _template_regex(operation.url_template)
        return _Route(api, operation, regex, literal, inbound, backend)

    # --- routing ---------------------------------------------------------------------------

    def _api_for(self, path: str) -> tuple[GatewayApi, str] | None:
        """The API whose path is the longest whole-segment prefix, and the rest of the path.
        [choice] Case-sensitive, like the URL templates."""
        segments = path.lstrip("/").split("/")
        best: tuple[GatewayApi, str] | None = None
        best_length = -1
        for api in self.model.apis:
            prefix = api.path.split("/") if api.path else []
            if segments[: len(prefix)] == prefix and len(prefix) > best_length:
                rest = segments[len(prefix) :]
                best, best_length = (api, "/" + "/".join(rest) if rest else ""), len(prefix)
        return best

    def _operation_for(self, api: GatewayApi, method: str, suffix: str) -> _Route | None:
        # [choice] Exact method; the most literal template wins, then declaration order.
        matches = [
            route
            for route in self._routes[api.api_id]
            if route.operation.method == method and route.regex.fullmatch(suffix or "/")
        ]
        return max(matches, key=lambda route: route.literal, default=None)

    # --- the subscription gate ----------------------------------------------------------------

    def _subscription_gate(
        self, api: GatewayApi, request: GatewayRequest
    ) -> GatewayResponse | None:
        header = [v for v in request.header_values(api.key_header) if v]
        query = [
            v for k, v in parse_qsl(request.query, keep_blank_values=True) if k == api.key_query
        ]
        # The query is read only when the header is absent. [choice] An empty header is absent;
        # of several key headers the first non-empty one is judged (APIM documents neither).
        key = header[0] if header else (query[0] if query else "")
        if not key:
            realm = f"{request.gateway_url.rstrip('/')}/{api.path}"
            challenge = (
                f'AzureApiManagementKey realm="{realm}",name="{api.key_header}",type="header"'
            )
            return error_response(
                401, MISSING_KEY, "no subscription key", (("www-authenticate", challenge),)
            )
        for subscription in self.model.subscriptions:
            secret = self._keys.get(subscription.sid)
            if secret is not None and hmac.compare_digest(secret.encode(), key.encode()):
                if subscription.opens(api.api_id):
                    return None
                return error_response(401, INVALID_KEY, f"key of {subscription.sid} not for API")
        return error_response(401, INVALID_KEY, "unknown subscription key")

    # --- the pipeline ------------------------------------------------------------------------

    def handle(self, request: GatewayRequest, send: Sender) -> GatewayResponse:
        if _ambiguous_path(request.path):
            return error_response(404, NO_OPERATION, "empty, dot or encoded-slash path segment")
        found = self._api_for(request.path)
        if found is None:
            # [choice] The facts file captures only this 404 text; used for unknown APIs too.
            return error_response(404, NO_OPERATION, "no API for this path")
        api, suffix = found
        if api.subscription_required and (refusal := self._subscription_gate(api, request)):
            return refusal
        route = self._operation_for(api, request.method.upper(), suffix)
        if route is None:
            return error_response(404, NO_OPERATION, "no operation matches")
        # Hop-by-hop headers never travel on (APIM opens its own connection to the backend).
        state = RequestState(
            [(k, v) for k, v in request.headers if k.lower() not in _HOP_BY_HOP], request.query
        )
        for statement in (*route.inbound, *route.backend):
            stopped = self._statements.run(statement, state)
            if stopped is not None:
                # on-error composes to nothing (checked at start-up)
                return error_response(stopped.status, stopped.message, stopped.reason)
        base = state.backend_url or self._service_urls.get(api.api_id)
        if not base:
            return error_response(500, "No backend service URL.", "no backend")
        url = base.rstrip("/") + suffix + (f"?{state.query}" if state.query else "")
        # Everything the caller sent goes on as the policies left it, the subscription key
        # included (APIM removes it only when a policy says so; the stack's policy does).
        return send(Forward(request.method.upper(), url, tuple(state.headers), request.body))
