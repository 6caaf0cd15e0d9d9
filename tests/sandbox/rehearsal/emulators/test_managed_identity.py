"""The App Service endpoint driven by the real azure-identity, as inside a Web App."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator

import httpx
import pytest
from azure.core.exceptions import ClientAuthenticationError
from azure.core.pipeline.transport import AsyncioRequestsTransport
from azure.identity import ManagedIdentityCredential
from azure.identity.aio import ManagedIdentityCredential as AsyncManagedIdentityCredential

from sandbox.rehearsal.emulators.forge import claims_of
from sandbox.rehearsal.emulators.http_apps import managed_identity_app
from sandbox.rehearsal.emulators.issuer import EntraIssuer
from sandbox.rehearsal.emulators.server import RunningServer

SECRET = "identity-header-secret"

# Anything that would make azure-identity pick another source or send us through a proxy.
_OTHER_ENVIRONMENT = (
    "IDENTITY_SERVER_THUMBPRINT",
    "MSI_ENDPOINT",
    "MSI_SECRET",
    "IMDS_ENDPOINT",
    "AZURE_CLIENT_ID",
    "AZURE_TENANT_ID",
    "AZURE_FEDERATED_TOKEN_FILE",
    "AZURE_POD_IDENTITY_AUTHORITY_HOST",
    "HTTP_PROXY",
    "HTTPS_PROXY",
    "ALL_PROXY",
    "http_proxy",
    "https_proxy",
    "all_proxy",
)


class Endpoint:
    def __init__(self, server: RunningServer, app) -> None:
        self.server = server
        self.app = app
        self.url = f"{server.url}/msi/token"

    @property
    def token_requests(self) -> int:
        return int(self.app.state.token_requests)


def _endpoint_for(issuer: EntraIssuer, object_id: str, monkeypatch) -> Iterator[Endpoint]:
    app = managed_identity_app(issuer, object_id, SECRET)
    with RunningServer(app) as server:
        endpoint = Endpoint(server, app)
        for name in _OTHER_ENVIRONMENT:
            monkeypatch.delenv(name, raising=False)
        monkeypatch.setenv("NO_PROXY", "127.0.0.1,localhost")
        monkeypatch.setenv("IDENTITY_ENDPOINT", endpoint.url)
        monkeypatch.setenv("IDENTITY_HEADER", SECRET)
        yield endpoint


@pytest.fixture
def reader(issuer: EntraIssuer, ids, monkeypatch) -> Iterator[Endpoint]:
    yield from _endpoint_for(issuer, ids.reader_mi, monkeypatch)


@pytest.fixture
def lonely(issuer: EntraIssuer, ids, monkeypatch) -> Iterator[Endpoint]:
    yield from _endpoint_for(issuer, ids.lonely_mi, monkeypatch)


def test_azure_identity_gets_a_v2_token_for_a_default_scope(reader: Endpoint, verify, ids):
    with ManagedIdentityCredential() as credential:
        access = credential.get_token(f"api://{ids.orders}/.default")
    claims = verify(access.token, audience=ids.orders)
    assert claims["azp"] == ids.reader_mi_client
    assert claims["oid"] == ids.reader_mi
    assert claims["roles"] == ["Orders.Read"]
    assert abs(access.expires_on - claims["exp"]) <= 2


def test_azure_identity_asks_for_the_resource_without_default_so_v1_audience_has_no_slash(
    reader: Endpoint, verify, ids
):
    with ManagedIdentityCredential() as credential:
        access = credential.get_token(f"api://{ids.legacy}/.default")
    assert verify(access.token, audience=f"api://{ids.legacy}")["appid"] == ids.reader_mi_client


def test_a_second_request_is_served_from_azure_identitys_cache(reader: Endpoint, ids):
    with ManagedIdentityCredential() as credential:
        first = credential.get_token(f"api://{ids.orders}/.default")
        second = credential.get_token(f"api://{ids.orders}/.default")
    assert first.token == second.token
    assert reader.token_requests == 1


def test_an_unassigned_identity_fails_quickly_with_the_entra_reason(lonely: Endpoint, ids):
    started = time.monotonic()
    with ManagedIdentityCredential() as credential, pytest.raises(ClientAuthenticationError) as e:
        credential.get_token(f"api://{ids.orders}/.default")
    assert time.monotonic() - started < 5
    assert "AADSTS501051" in str(e.value)


def test_the_async_credential_gets_a_token_too(reader: Endpoint, verify, ids):
    async def fetch() -> str:
        # aiohttp is not installed; the requests-based asyncio transport needs nothing extra.
        async with AsyncManagedIdentityCredential(transport=AsyncioRequestsTransport()) as cred:
            return (await cred.get_token(f"api://{ids.orders}/.default")).token

    assert verify(asyncio.run(fetch()), audience=ids.orders)["azp"] == ids.reader_mi_client


def _get(
    endpoint: Endpoint,
    headers: dict[str, str] | None = None,
    api_version: str = "2019-08-01",
    **params: str,
) -> httpx.Response:
    query = {"api-version": api_version} | params
    sent = {"X-IDENTITY-HEADER": SECRET} if headers is None else headers
    return httpx.get(endpoint.url, params=query, headers=sent)


def test_a_success_answer_has_the_app_service_shape(reader: Endpoint, ids):
    response = _get(reader, resource=f"api://{ids.orders}/")
    assert response.status_code == 200
    body = response.json()
    assert set(body) == {"access_token", "expires_on", "resource", "token_type", "client_id"}
    assert body["resource"] == f"api://{ids.orders}/"
    assert body["token_type"] == "Bearer"
    assert body["client_id"] == ids.reader_mi_client
    assert body["expires_on"] == str(claims_of(body["access_token"])["exp"])


def test_a_missing_or_wrong_identity_header_is_refused(reader: Endpoint, ids):
    assert _get(reader, headers={}, resource=ids.orders).status_code == 401
    wrong = _get(reader, headers={"X-IDENTITY-HEADER": "guess"}, resource=ids.orders)
    assert wrong.status_code == 403
    assert wrong.json()["statusCode"] == 403
    assert reader.token_requests == 0


def test_a_wrong_api_version_or_missing_resource_is_a_bad_request(reader: Endpoint, ids):
    assert _get(reader, resource=ids.orders, api_version="2017-09-01").status_code == 400
    assert _get(reader).status_code == 400


def test_selecting_an_identity_the_app_does_not_have_is_a_bad_request(reader: Endpoint, ids):
    assert _get(reader, resource=ids.orders, client_id=ids.lonely_mi_client).status_code == 400
    assert _get(reader, resource=ids.orders, principal_id=ids.lonely_mi).status_code == 400
    assert _get(reader, resource=ids.orders, client_id=ids.reader_mi_client).status_code == 200


def test_a_refused_token_is_a_400_with_the_aadsts_code(lonely: Endpoint, ids):
    response = _get(lonely, resource=f"api://{ids.orders}")
    assert response.status_code == 400
    body = response.json()
    assert body["error"] == "invalid_grant"
    assert body["error_description"].startswith("AADSTS501051: ")
    unknown = _get(lonely, resource="api://nobody").json()
    assert unknown["error"] == "invalid_resource"
    assert unknown["error_description"].startswith("AADSTS500011: ")


def test_an_endpoint_is_only_built_for_an_identity_in_the_directory(issuer: EntraIssuer, ids):
    with pytest.raises(ValueError, match="no managed identity"):
        managed_identity_app(issuer, ids.alice, SECRET)
