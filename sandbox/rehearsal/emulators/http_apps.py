"""Thin Starlette layers: Entra's metadata endpoints, the App Service managed-identity
endpoint and an echo backend that first checks the token as the real backend would
(emulators/backend_auth.py). All decisions live in the pure cores; these only translate.

Errors are always 4xx: azure-identity retries 5xx with backoff, which would turn a refused
token into a slow test instead of a fast, readable failure.
"""

from __future__ import annotations

import hmac
import time
from collections.abc import Callable
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse
from starlette.routing import Route

from sandbox.rehearsal.emulators import backend_auth
from sandbox.rehearsal.emulators.backend_auth import BackendGuard
from sandbox.rehearsal.emulators.forge import claims_of
from sandbox.rehearsal.emulators.gateway_core import REASON_HEADER
from sandbox.rehearsal.emulators.gateway_token import KeySource
from sandbox.rehearsal.emulators.issuer import EntraIssuer, TokenRefusedError, TokenVersion

MSI_API_VERSION = "2019-08-01"
ALL_METHODS = ["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"]


def entra_app(issuer: EntraIssuer) -> Starlette:
    """OpenID metadata and JWKS for one tenant, v1 and v2 paths."""

    def unknown_tenant(tenant: str) -> JSONResponse:
        return JSONResponse(
            {
                "error": "invalid_tenant",
                "error_description": f"AADSTS90002: Tenant '{tenant}' not found.",
            },
            status_code=404,
        )

    def is_ours(request: Request) -> bool:
        return str(request.path_params["tenant"]).lower() == issuer.tenant_id.lower()

    def metadata(version: TokenVersion) -> Any:
        async def endpoint(request: Request) -> JSONResponse:
            if not is_ours(request):
                return unknown_tenant(request.path_params["tenant"])
            base_url = str(request.base_url).rstrip("/")
            return JSONResponse(issuer.openid_configuration(version, base_url))

        return endpoint

    async def keys(request: Request) -> JSONResponse:
        if not is_ours(request):
            return unknown_tenant(request.path_params["tenant"])
        return JSONResponse(issuer.jwks())

    return Starlette(
        routes=[
            Route("/{tenant}/.well-known/openid-configuration", metadata(1)),
            Route("/{tenant}/v2.0/.well-known/openid-configuration", metadata(2)),
            Route("/{tenant}/discovery/keys", keys),
            Route("/{tenant}/discovery/v2.0/keys", keys),
        ]
    )


def _msi_error(status: int, error: str, description: str) -> JSONResponse:
    # OAuth-style error fields for azure-identity's async path (which shows the whole body)
    # plus App Service's own statusCode/message, the two fields MSAL (sync path) reports.
    body = {
        "statusCode": status,
        "message": description,
        "error": error,
        "error_description": description,
    }
    return JSONResponse(body, status_code=status)


def managed_identity_app(
    issuer: EntraIssuer, principal_object_id: str, identity_header: str
) -> Starlette:
    """The endpoint a Web App's system-assigned identity exposes as IDENTITY_ENDPOINT.

    `app.state.token_requests` counts requests that reached token issuance, so tests can
    tell a client-side cache hit from a fresh request.
    """
    principal = issuer.directory.principal(principal_object_id)
    if principal is None or not principal.client_id:
        raise ValueError(f"no managed identity with object ID {principal_object_id}")
    client_id = principal.client_id

    async def token(request: Request) -> JSONResponse:
        sent = request.headers.get("x-identity-header")
        if sent is None:
            return _msi_error(401, "unauthorized", "X-IDENTITY-HEADER is missing.")
        if not hmac.compare_digest(sent.encode(), identity_header.encode()):
            return _msi_error(403, "forbidden", "X-IDENTITY-HEADER is not valid.")
        query = request.query_params
        if query.get("api-version") != MSI_API_VERSION:
            return _msi_error(400, "invalid_request", f"api-version must be {MSI_API_VERSION}.")
        resource = query.get("resource")
        if not resource:
            return _msi_error(400, "invalid_request", "resource is required.")
        # Selecting a user-assigned identity that this app does not have is an error.
        selectors = {
            "client_id": client_id,
            "principal_id": principal_object_id,
            "object_id": principal_object_id,
        }
        for name, expected in selectors.items():
            given = query.get(name)
            if given is not None and given.lower() != expected.lower():
                return _msi_error(
                    400, "invalid_request", f"No managed identity found for {name} {given}."
                )
        if "mi_res_id" in query:
            return _msi_error(400, "invalid_request", "mi_res_id is not supported here.")
        request.app.state.token_requests += 1
        try:
            access_token = issuer.issue_app_token(principal_object_id, resource)
        except TokenRefusedError as refused:
            return _msi_error(400, refused.error, str(refused))
        return JSONResponse(
            {
                "access_token": access_token,
                "expires_on": str(int(claims_of(access_token)["exp"])),
                "resource": resource,
                "token_type": "Bearer",
                "client_id": client_id,
            }
        )

    app = Starlette(routes=[Route("/msi/token", token, methods=["GET"])])
    app.state.token_requests = 0
    return app


# [choice] App Service authentication's refusal bodies are not documented byte for byte.
_REFUSED = {401: "Unauthorized", 403: "You do not have permission to view this directory or page."}


def echo_app(
    guard: BackendGuard | None = None,
    keys: KeySource | None = None,
    clock: Callable[[], float] = time.time,
) -> Starlette:
    """The backend behind the gateway: checks the token as `guard` says (None: an open
    backend), then answers 200 with exactly what reached it and whom it authenticated."""
    if guard is not None and keys is None:
        raise ValueError("a guarded backend needs the issuer's signing keys")

    async def echo(request: Request) -> Any:
        authenticated: dict[str, Any] | None = None
        if guard is not None and keys is not None:
            verdict = backend_auth.judge(
                guard, request.headers.getlist("authorization"), keys, clock()
            )
            if not verdict.ok:
                refusal = {REASON_HEADER: verdict.reason.encode("ascii", "replace").decode()}
                if verdict.status == 401:
                    refusal["www-authenticate"] = "Bearer"
                return PlainTextResponse(
                    _REFUSED.get(verdict.status, "Refused"), verdict.status, headers=refusal
                )
            claims = verdict.claims or {}
            authenticated = {
                claim: claims.get(claim)
                for claim in ("aud", "iss", "azp", "appid", "oid", "roles", "ver")
                if claim in claims
            }
        headers: dict[str, str] = {}
        for name, value in request.headers.items():
            # A token is shown as its scheme only: `authenticatedAs` says whose it is, and an
            # echo that reflects credentials hands them to whoever reads its answers.
            if name.lower() == "authorization":
                value = f"{value.split(' ', 1)[0]} [redacted]"
            # Repeated headers are folded the way HTTP allows, so none is silently lost.
            headers[name] = f"{headers[name]}, {value}" if name in headers else value
        body = await request.body()
        return JSONResponse(
            {
                "method": request.method,
                "path": request.url.path,
                "query": request.url.query,
                "headers": headers,
                "body": body.decode("utf-8", errors="replace"),
                "authenticatedAs": authenticated,
            }
        )

    return Starlette(
        routes=[
            Route("/", echo, methods=ALL_METHODS),
            Route("/{path:path}", echo, methods=ALL_METHODS),
        ]
    )
