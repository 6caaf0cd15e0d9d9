"""The rehearsal's API Management gateway: a thin Starlette layer over `gateway_core`.

    model = model_from_plan(plan)                      # refuses what it cannot execute
    gateway = Gateway(model, {"orders-app1": key}, OpenIdKeys(entra_url),
                      backend_overrides={"orders-backend": echo_url + "/api"})
    with RunningServer(gateway_app(gateway)) as server: ...

Signing keys come from the emulated Entra's OpenID metadata, fetched once per tenant and
cached for an hour (validate-jwt's documented cache time). Backends are only ever called on
127.0.0.1/localhost: the rehearsal never sends a token or a key off the machine.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Mapping
from typing import Any
from urllib.parse import urlsplit

import httpx
from cryptography.hazmat.primitives.asymmetric.rsa import RSAPublicKey
from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from sandbox.rehearsal.emulators.gateway_core import (
    Clock,
    Forward,
    Gateway,
    GatewayRequest,
    GatewayResponse,
    Sender,
    error_response,
)
from sandbox.rehearsal.emulators.gateway_model import GatewayConfigError, model_from_plan
from sandbox.rehearsal.emulators.gateway_token import rsa_keys_from_jwks

__all__ = [
    "Gateway",
    "GatewayConfigError",
    "HttpxSender",
    "OpenIdKeys",
    "gateway_app",
    "model_from_plan",
]

ALL_METHODS = ["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"]
KEY_CACHE_SECONDS = 3600.0
_LOCAL_HOSTS = frozenset({"127.0.0.1", "localhost", "::1"})
_DROP_FROM_BACKEND = frozenset(
    {"connection", "keep-alive", "transfer-encoding", "content-length", "date", "server"}
)


class OpenIdKeys:
    """Signing keys from `<authority>/<tenant>/v2.0/.well-known/openid-configuration`.

    [choice] An unknown kid does not trigger a refetch within the cache hour: a token
    naming a key Entra never published is refused, not used to make the gateway call out.
    """

    def __init__(
        self, authority: str, *, clock: Clock = time.monotonic, client: httpx.Client | None = None
    ) -> None:
        self.authority = authority.rstrip("/")
        self._clock = clock
        self._client = client or httpx.Client(trust_env=False, timeout=5.0)
        self._cache: dict[str, tuple[float, dict[str, RSAPublicKey]]] = {}
        self._lock = threading.Lock()
        self.fetches = 0

    def keys(self, tenant_id: str) -> Mapping[str, RSAPublicKey]:
        with self._lock:
            cached = self._cache.get(tenant_id.lower())
            if cached and self._clock() - cached[0] < KEY_CACHE_SECONDS:
                return cached[1]
            metadata_url = f"{self.authority}/{tenant_id}/v2.0/.well-known/openid-configuration"
            metadata = self._get(metadata_url)
            keys = rsa_keys_from_jwks(self._get(str(metadata["jwks_uri"])))
            self.fetches += 1
            self._cache[tenant_id.lower()] = (self._clock(), keys)
            return keys

    def _get(self, url: str) -> Any:
        response = self._client.get(url)
        response.raise_for_status()
        return response.json()

    def close(self) -> None:
        self._client.close()


class HttpxSender:
    """Forwards to local backends only; the answer is passed back as the backend gave it."""

    def __init__(self, timeout: float = 10.0) -> None:
        self._client = httpx.Client(trust_env=False, timeout=timeout, follow_redirects=False)

    def __call__(self, forward: Forward) -> GatewayResponse:
        host = urlsplit(forward.url).hostname or ""
        if host not in _LOCAL_HOSTS:
            # Emulator-only answer: a backend still pointing at Azure is a rehearsal setup bug.
            return error_response(
                502,
                f"The rehearsal gateway calls only local backends, not {host}.",
                "backend not local",
            )
        try:
            answer = self._client.request(
                forward.method, forward.url, headers=list(forward.headers), content=forward.body
            )
        except httpx.HTTPError as error:
            return error_response(502, "Backend unreachable.", type(error).__name__)
        headers = tuple(
            (k, v) for k, v in answer.headers.multi_items() if k.lower() not in _DROP_FROM_BACKEND
        )
        return GatewayResponse(answer.status_code, headers, answer.content)

    def close(self) -> None:
        self._client.close()


async def _gateway_request(request: Request) -> GatewayRequest:
    raw_path = request.scope.get("raw_path") or request.url.path.encode()
    return GatewayRequest(
        method=request.method,
        path=raw_path.decode("latin-1"),
        query=request.scope.get("query_string", b"").decode("latin-1"),
        headers=tuple((k.decode("latin-1"), v.decode("latin-1")) for k, v in request.headers.raw),
        body=await request.body(),
        gateway_url=str(request.base_url).rstrip("/"),
    )


def gateway_app(gateway: Gateway, sender: Sender | None = None) -> Starlette:
    """Every path and method goes through the pipeline; `app.state.requests` counts them."""
    send: Sender = sender or HttpxSender()

    async def handle(request: Request) -> Response:
        request.app.state.requests += 1
        incoming = await _gateway_request(request)
        # The core is synchronous (key fetch, forwarding): keep it off the event loop.
        answer = await run_in_threadpool(gateway.handle, incoming, send)
        response = Response(content=answer.body, status_code=answer.status)
        for name, value in answer.headers:
            if name.lower() not in _DROP_FROM_BACKEND:
                response.headers.append(name, value)
        return response

    app = Starlette(routes=[Route("/{path:path}", handle, methods=ALL_METHODS)])
    app.state.requests = 0
    return app
