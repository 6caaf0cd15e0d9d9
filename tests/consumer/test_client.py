"""The client against a local App Service identity endpoint and an APIM-shaped gateway,
with the real DefaultAzureCredential and azure-core pipeline doing the HTTP."""

from __future__ import annotations

import socket
import time
from typing import TYPE_CHECKING

import jwt
import pytest

from consumer import (
    ApiClient,
    ApiSettings,
    ConsumerConfigError,
    GatewayError,
    GatewayUnreachableError,
    TokenAcquisitionError,
    default_credential,
)

if TYPE_CHECKING:
    from conftest import FakeAzure  # annotations only: importlib mode cannot import conftest


def test_the_key_header_and_a_managed_identity_token_reach_the_gateway(
    fake_azure: FakeAzure, app_service_env: dict[str, str]
) -> None:
    with ApiClient.from_environment("orders") as client:
        answer = client.get("/orders", params={"top": "5"})

    assert answer.status == 200
    assert answer.json()["caller"] == fake_azure.consumer_client_id
    (seen,) = fake_azure.gateway_requests
    assert seen.path == "/orders/orders" and seen.query == {"top": "5"}
    assert seen.headers["ocp-apim-subscription-key"] == fake_azure.subscription_key
    scheme, _, token = seen.headers["authorization"].partition(" ")
    assert scheme == "Bearer"
    assert jwt.decode(token, options={"verify_signature": False})["aud"] == fake_azure.api_client_id
    assert seen.headers["user-agent"].startswith("secure-api-calls-consumer/")


def test_the_identity_endpoint_is_asked_for_the_resource_without_default(
    fake_azure: FakeAzure, app_service_env: dict[str, str]
) -> None:
    with ApiClient.from_environment("orders") as client:
        client.get()
    (asked,) = fake_azure.token_requests
    assert asked.query == {
        "api-version": "2019-08-01",
        "resource": f"api://{fake_azure.api_client_id}",
    }


def test_the_token_is_requested_once_and_reused_across_calls_and_clients(
    fake_azure: FakeAzure, app_service_env: dict[str, str]
) -> None:
    credential = default_credential()
    with ApiClient.from_environment("orders", credential=credential) as client:
        for _ in range(3):
            client.get("/orders")
    # A second client sharing the credential: the credential's own cache answers.
    with ApiClient.from_environment("orders", credential=credential) as again:
        again.get("/orders/1")

    assert len(fake_azure.gateway_requests) == 4
    assert len(fake_azure.token_requests) == 1


def test_a_json_body_arrives_as_sent(
    fake_azure: FakeAzure, app_service_env: dict[str, str]
) -> None:
    fake_azure.roles = ["Orders.Read", "Orders.Write"]
    with ApiClient.from_environment("orders") as client:
        answer = client.post("orders", json={"id": 7, "note": "ünïcode"})
    assert answer.json()["json"] == {"id": 7, "note": "ünïcode"}
    assert answer.json()["method"] == "POST"


def test_a_missing_role_becomes_a_gateway_error_with_the_gateways_message(
    fake_azure: FakeAzure, app_service_env: dict[str, str]
) -> None:
    with ApiClient.from_environment("orders") as client, pytest.raises(GatewayError) as caught:
        client.post("/orders", json={"id": 1})

    error = caught.value
    assert error.status == 403
    assert error.message == "This operation requires the app role Orders.Write."
    assert (
        str(error)
        == "403 from gateway: Forbidden. This operation requires the app role Orders.Write."
    )
    assert '"statusCode": 403' in error.body


def test_a_429_with_retry_after_zero_is_retried(
    fake_azure: FakeAzure, app_service_env: dict[str, str]
) -> None:
    fake_azure.script(429, "Rate limit is exceeded. Try again in 0 seconds.", {"Retry-After": "0"})
    with ApiClient.from_environment("orders") as client:
        assert client.get("/orders").status == 200
    assert len(fake_azure.gateway_requests) == 2


def test_a_post_rejected_by_the_rate_limit_is_retried_too(
    fake_azure: FakeAzure, app_service_env: dict[str, str]
) -> None:
    fake_azure.roles = ["Orders.Write"]
    fake_azure.script(429, "Rate limit is exceeded.", {"Retry-After": "0"})
    with ApiClient.from_environment("orders") as client:
        assert client.post("/orders", json={}).status == 200
    assert len(fake_azure.gateway_requests) == 2


def test_a_long_retry_after_is_surfaced_at_once_instead_of_slept(
    fake_azure: FakeAzure, app_service_env: dict[str, str]
) -> None:
    message = "Rate limit is exceeded. Try again in 60 seconds."
    fake_azure.script(429, message, {"Retry-After": "60"})
    started = time.monotonic()
    with ApiClient.from_environment("orders") as client, pytest.raises(GatewayError) as caught:
        client.get("/orders")
    assert time.monotonic() - started < 5
    assert str(caught.value) == f"429 from gateway: Too Many Requests. {message}"
    assert caught.value.headers["Retry-After"] == "60"


def test_a_server_error_is_retried_for_get_but_not_for_post(
    fake_azure: FakeAzure, app_service_env: dict[str, str]
) -> None:
    fake_azure.roles = ["Orders.Read", "Orders.Write"]
    with ApiClient.from_environment("orders", retry_total=1) as client:
        fake_azure.script(503, "Service unavailable.")
        assert client.get("/orders").status == 200
        assert len(fake_azure.gateway_requests) == 2

        fake_azure.script(503, "Service unavailable.")
        with pytest.raises(GatewayError, match="503 from gateway: Service Unavailable"):
            client.post("/orders", json={"id": 1})  # the backend may already have acted
        assert len(fake_azure.gateway_requests) == 3


def test_a_key_sent_under_another_header_gets_apims_missing_key_answer(
    fake_azure: FakeAzure, app_service_env: dict[str, str]
) -> None:
    settings = ApiSettings(
        "orders",
        f"{fake_azure.base_url}/orders",
        f"api://{fake_azure.api_client_id}/.default",
        fake_azure.subscription_key,
        "X-Api-Key",
    )
    with ApiClient(settings, default_credential()) as client, pytest.raises(GatewayError) as e:
        client.get()
    assert e.value.status == 401
    assert e.value.message.startswith("Access denied due to missing subscription key.")
    assert e.value.headers["WWW-Authenticate"].startswith("AzureApiManagementKey realm=")


def test_an_unassigned_identity_gets_a_one_line_token_error_with_a_hint(
    fake_azure: FakeAzure, app_service_env: dict[str, str]
) -> None:
    api = f"api://{fake_azure.api_client_id}"
    message = f"AADSTS501051: Application 'c'(consumer-app) is not assigned to a role for {api}."
    fake_azure.identity_error = (400, message)
    with ApiClient.from_environment("orders") as client, pytest.raises(TokenAcquisitionError) as e:
        client.get("/orders")

    text = str(e.value)
    assert "\n" not in text
    assert text.startswith(f"could not get a token for api://{fake_azure.api_client_id}/.default: ")
    assert "AADSTS501051" in text
    assert "roles through groups do not reach managed identities" in e.value.hint
    assert fake_azure.gateway_requests == []


def test_a_missing_setting_names_the_variable_before_any_network_call(
    fake_azure: FakeAzure, app_service_env: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("API_ORDERS_SCOPE")
    with pytest.raises(ConsumerConfigError, match=r"^set API_ORDERS_SCOPE \(the stack writes"):
        ApiClient.from_environment("orders")
    assert fake_azure.token_requests == []


def test_settings_can_come_from_a_mapping_instead_of_the_process_environment(
    fake_azure: FakeAzure, app_service_env: dict[str, str]
) -> None:
    environ = {
        "API_CUSTOMER_PROFILE_BASE_URL": f"{fake_azure.base_url}/orders",
        "API_CUSTOMER_PROFILE_SCOPE": f"api://{fake_azure.api_client_id}/.default",
        "API_CUSTOMER_PROFILE_SUBSCRIPTION_KEY": fake_azure.subscription_key,
    }
    with ApiClient.from_environment("customer-profile", environ=environ) as client:
        assert client.get("/orders").status == 200


@pytest.mark.parametrize("path", ["https://evil.example/steal", "//evil.example/x"])
def test_an_absolute_url_is_refused_so_the_token_only_goes_to_the_gateway(
    fake_azure: FakeAzure, app_service_env: dict[str, str], path: str
) -> None:
    with ApiClient.from_environment("orders") as client, pytest.raises(ValueError):
        client.get(path)
    assert fake_azure.token_requests == []


def test_an_unreachable_gateway_is_one_line_naming_the_url(
    fake_azure: FakeAzure, app_service_env: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    with socket.socket() as probe:  # a port nobody listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    monkeypatch.setenv("API_ORDERS_BASE_URL", f"http://127.0.0.1:{port}/orders")
    client = ApiClient.from_environment("orders", retry_total=0)
    with client, pytest.raises(GatewayUnreachableError) as caught:
        client.get("/orders")
    assert str(caught.value).startswith(f"could not reach http://127.0.0.1:{port}/orders/orders: ")
    assert "\n" not in str(caught.value)
