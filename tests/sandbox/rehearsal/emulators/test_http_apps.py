"""Entra metadata and the echo backend over real HTTP."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import jwt
import pytest

from sandbox.rehearsal.emulators.directory import Directory
from sandbox.rehearsal.emulators.http_apps import echo_app, entra_app
from sandbox.rehearsal.emulators.issuer import EntraIssuer, SigningKey
from sandbox.rehearsal.emulators.server import RunningServer


@pytest.fixture(scope="module")
def entra(directory: Directory, signing_key: SigningKey) -> Iterator[RunningServer]:
    # Same directory and key as the `issuer` fixture, so its tokens verify against this JWKS.
    with RunningServer(entra_app(EntraIssuer(directory, signing_key))) as server:
        yield server


@pytest.fixture(scope="module")
def echo() -> Iterator[RunningServer]:
    with RunningServer(echo_app()) as server:
        yield server


@pytest.mark.parametrize(
    ("path", "issuer_url", "keys_path"),
    [
        (".well-known/openid-configuration", "https://sts.windows.net/{t}/", "discovery/keys"),
        (
            "v2.0/.well-known/openid-configuration",
            "https://login.microsoftonline.com/{t}/v2.0",
            "discovery/v2.0/keys",
        ),
    ],
)
def test_openid_metadata_points_at_keys_on_the_same_server(
    entra: RunningServer, ids, path, issuer_url, keys_path
):
    response = httpx.get(f"{entra.url}/{ids.tenant}/{path}")
    assert response.status_code == 200
    metadata = response.json()
    assert metadata["issuer"] == issuer_url.format(t=ids.tenant)
    assert metadata["jwks_uri"] == f"{entra.url}/{ids.tenant}/{keys_path}"
    keys = httpx.get(metadata["jwks_uri"])
    assert keys.status_code == 200
    assert keys.headers["content-type"] == "application/json"


def test_pyjwks_client_verifies_an_issued_token_from_the_served_jwks(
    entra: RunningServer, issuer: EntraIssuer, ids
):
    token = issuer.issue_app_token(ids.reader_mi, ids.orders)
    metadata = httpx.get(f"{entra.url}/{ids.tenant}/v2.0/.well-known/openid-configuration").json()
    key = jwt.PyJWKClient(metadata["jwks_uri"]).get_signing_key_from_jwt(token)
    claims = jwt.decode(
        token, key.key, algorithms=["RS256"], audience=ids.orders, issuer=metadata["issuer"]
    )
    assert claims["azp"] == ids.reader_mi_client


@pytest.mark.parametrize(
    "path",
    [
        ".well-known/openid-configuration",
        "v2.0/.well-known/openid-configuration",
        "discovery/keys",
        "discovery/v2.0/keys",
    ],
)
def test_another_tenant_is_not_found(entra: RunningServer, path):
    response = httpx.get(f"{entra.url}/72f988bf-86f1-41af-91ab-2d7cd011db47/{path}")
    assert response.status_code == 404
    assert response.json()["error"] == "invalid_tenant"


@pytest.mark.parametrize("method", ["GET", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"])
def test_the_echo_backend_returns_what_reached_it(echo: RunningServer, method):
    response = httpx.request(
        method,
        f"{echo.url}/orders/42",
        params={"expand": "lines", "x": "1"},
        headers={"X-Forwarded-Caller": "reader", "Authorization": "Bearer abc"},
        content=b'{"qty": 2}' if method != "GET" else None,
    )
    assert response.status_code == 200
    body = response.json()
    assert body["method"] == method
    assert body["path"] == "/orders/42"
    assert body["query"] == "expand=lines&x=1"
    assert body["headers"]["x-forwarded-caller"] == "reader"
    # The scheme shows a token arrived; the token itself is not reflected to the caller.
    assert body["headers"]["authorization"] == "Bearer [redacted]"
    assert "abc" not in response.text
    assert body["body"] == ('{"qty": 2}' if method != "GET" else "")


def test_the_echo_backend_answers_the_root_and_folds_repeated_headers(echo: RunningServer):
    headers = [("X-Tag", "a"), ("X-Tag", "b")]
    body = httpx.get(f"{echo.url}/", headers=headers).json()
    assert body["path"] == "/"
    assert body["headers"]["x-tag"] == "a, b"
