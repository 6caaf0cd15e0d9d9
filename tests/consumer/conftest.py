"""A tiny local Azure for the consumer tests: an App Service managed-identity endpoint and an
APIM-shaped gateway, served by uvicorn on 127.0.0.1 in a background thread.

Self-contained on purpose (the sandbox emulators are a separate, richer piece): the point
here is that the *real* DefaultAzureCredential and azure-core pipeline talk HTTP to something
that answers the way App Service and APIM do (see shared/reference/azure-facts.md).
"""

from __future__ import annotations

import json
import os
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import jwt
import pytest
import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

TENANT_ID = "11111111-1111-4111-8111-111111111111"
API_CLIENT_ID = "22222222-2222-4222-8222-222222222222"
CONSUMER_CLIENT_ID = "33333333-3333-4333-8333-333333333333"
CONSUMER_PRINCIPAL_ID = "44444444-4444-4444-8444-444444444444"
IDENTITY_HEADER = "identity-header-secret"
SUBSCRIPTION_KEY = "sk0123456789abcdef0123456789abcd"
SIGNING_SECRET = "test-only-hs256-secret-not-entra-0123456789"
ISSUER = f"https://login.microsoftonline.com/{TENANT_ID}/v2.0"
OPERATION_ROLES = {"GET": "Orders.Read", "POST": "Orders.Write", "PUT": "Orders.Write"}


def apim_error(status: int, message: str, headers: dict[str, str] | None = None) -> Response:
    """APIM's error body, byte for byte: single-line JSON with spaces inside the braces."""
    body = f'{{ "statusCode": {status}, "message": {json.dumps(message)} }}'
    return Response(body, status, headers=headers, media_type="application/json")


@dataclass
class Seen:
    method: str
    path: str
    query: dict[str, str]
    headers: dict[str, str]
    body: bytes


@dataclass
class FakeAzure:
    """The knobs and the record of one test; reset between tests.

    Test modules cannot import this conftest under --import-mode=importlib, so the constants
    and helpers they need travel on the fixture object itself.
    """

    tenant_id = TENANT_ID
    api_client_id = API_CLIENT_ID
    consumer_client_id = CONSUMER_CLIENT_ID
    subscription_key = SUBSCRIPTION_KEY
    identity_header = IDENTITY_HEADER

    port: int = 0
    roles: list[str] = field(default_factory=lambda: ["Orders.Read"])
    identity_error: tuple[int, str] | None = None
    scripted: list[Response] = field(default_factory=list)
    token_requests: list[Seen] = field(default_factory=list)
    gateway_requests: list[Seen] = field(default_factory=list)

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def scope(self) -> str:
        return f"api://{API_CLIENT_ID}/.default"

    def script(self, status: int, message: str, headers: dict[str, str] | None = None) -> None:
        """The next request that passes the key and token checks gets this APIM error."""
        self.scripted.append(apim_error(status, message, headers))

    def reset(self) -> None:
        self.roles = ["Orders.Read"]
        self.identity_error = None
        self.scripted.clear()
        self.token_requests.clear()
        self.gateway_requests.clear()

    def issue_token(self, resource: str) -> str:
        now = int(time.time())
        claims: dict[str, Any] = {
            "aud": API_CLIENT_ID,
            "iss": ISSUER,
            "iat": now,
            "nbf": now,
            "exp": now + 3600,
            "azp": CONSUMER_CLIENT_ID,
            "oid": CONSUMER_PRINCIPAL_ID,
            "tid": TENANT_ID,
            "idtyp": "app",
            "ver": "2.0",
            "resource_asked": resource,
        }
        if self.roles:
            claims["roles"] = list(self.roles)
        return jwt.encode(claims, SIGNING_SECRET, algorithm="HS256", headers={"kid": "test-key"})


async def _seen(request: Request) -> Seen:
    return Seen(
        request.method,
        request.url.path,
        dict(request.query_params),
        {k.lower(): v for k, v in request.headers.items()},
        await request.body(),
    )


def build_app(state: FakeAzure) -> Starlette:
    async def managed_identity(request: Request) -> Response:
        seen = await _seen(request)
        state.token_requests.append(seen)
        if seen.headers.get("x-identity-header") != IDENTITY_HEADER:
            return JSONResponse({"statusCode": 401, "message": "bad X-IDENTITY-HEADER"}, 401)
        if seen.query.get("api-version") != "2019-08-01":
            return JSONResponse({"statusCode": 400, "message": "unsupported api-version"}, 400)
        resource = seen.query.get("resource", "")
        if state.identity_error:
            status, message = state.identity_error
            return JSONResponse({"statusCode": status, "message": message}, status)
        if resource != f"api://{API_CLIENT_ID}":
            message = f"AADSTS500011: The resource principal named {resource} was not found."
            return JSONResponse({"statusCode": 400, "message": message}, 400)
        expires_on = str(int(time.time()) + 3600)
        return JSONResponse(
            {
                "access_token": state.issue_token(resource),
                "expires_on": expires_on,
                "resource": resource,
                "token_type": "Bearer",
                "client_id": CONSUMER_CLIENT_ID,
            }
        )

    async def gateway(request: Request) -> Response:
        seen = await _seen(request)
        state.gateway_requests.append(seen)
        key = seen.headers.get("ocp-apim-subscription-key")
        if key is None:
            realm = (
                f'realm="{state.base_url}/orders",name="Ocp-Apim-Subscription-Key",type="header"'
            )
            return apim_error(
                401,
                "Access denied due to missing subscription key. Make sure to include "
                "subscription key when making requests to an API.",
                {"WWW-Authenticate": f"AzureApiManagementKey {realm}"},
            )
        if key != SUBSCRIPTION_KEY:
            return apim_error(
                401,
                "Access denied due to invalid subscription key. Make sure to provide a valid "
                "key for an active subscription.",
            )
        scheme, _, token = seen.headers.get("authorization", "").partition(" ")
        try:
            claims = jwt.decode(
                token,
                SIGNING_SECRET,
                algorithms=["HS256"],
                audience=API_CLIENT_ID,
                issuer=ISSUER,
            )
        except jwt.PyJWTError:
            return apim_error(401, "Unauthorized. Access token is missing or invalid.")
        if scheme != "Bearer":
            return apim_error(401, "Unauthorized. Access token is missing or invalid.")
        if state.scripted:
            return state.scripted.pop(0)
        needed = OPERATION_ROLES.get(seen.method, "Orders.Write")
        if needed not in claims.get("roles", []):
            return apim_error(403, f"This operation requires the app role {needed}.")
        echo = {
            "method": seen.method,
            "path": seen.path,
            "query": seen.query,
            "json": json.loads(seen.body) if seen.body else None,
            "caller": claims["azp"],
            "roles": claims.get("roles", []),
        }
        return JSONResponse(echo)

    methods = ["GET", "POST", "PUT", "DELETE", "PATCH"]
    return Starlette(
        routes=[
            Route("/msi/token", managed_identity, methods=["GET"]),
            Route("/orders", gateway, methods=methods),
            Route("/orders/{rest:path}", gateway, methods=methods),
        ]
    )


@pytest.fixture(scope="session")
def fake_azure_server() -> Iterator[FakeAzure]:
    state = FakeAzure()
    config = uvicorn.Config(
        build_app(state), host="127.0.0.1", port=0, log_level="warning", lifespan="off"
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, name="fake-azure", daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            raise RuntimeError("the fake Azure server did not start")
        time.sleep(0.01)
    state.port = server.servers[0].sockets[0].getsockname()[1]
    yield state
    server.should_exit = True
    thread.join(timeout=5)


@pytest.fixture
def fake_azure(fake_azure_server: FakeAzure) -> FakeAzure:
    fake_azure_server.reset()
    return fake_azure_server


@pytest.fixture
def app_service_env(
    fake_azure: FakeAzure, monkeypatch: pytest.MonkeyPatch, tmp_path: Any
) -> dict[str, str]:
    """The process environment of a Web App whose system-assigned identity is on.

    Everything that could steer DefaultAzureCredential elsewhere (service-principal
    variables, other managed-identity flavours, a developer's sign-in in HOME) is removed.
    Returns the variables set, for subprocesses.
    """
    for name in list(os.environ):
        if name.startswith(("AZURE_", "MSI_", "IDENTITY_", "IMDS_", "API_")):
            monkeypatch.delenv(name)
    for name in ("HTTP_PROXY", "HTTPS_PROXY", "http_proxy", "https_proxy", "ALL_PROXY"):
        monkeypatch.delenv(name, raising=False)
    values = {
        "IDENTITY_ENDPOINT": f"{fake_azure.base_url}/msi/token",
        "IDENTITY_HEADER": IDENTITY_HEADER,
        "NO_PROXY": "127.0.0.1,localhost",
        "HOME": str(tmp_path),
        "API_ORDERS_BASE_URL": f"{fake_azure.base_url}/orders",
        "API_ORDERS_SCOPE": f"api://{API_CLIENT_ID}/.default",
        "API_ORDERS_SUBSCRIPTION_KEY": SUBSCRIPTION_KEY,
    }
    for name, value in values.items():
        monkeypatch.setenv(name, value)
    return values
