"""The gateway over real HTTP (gateway.py): byte-exact answers on the wire, keys fetched from
the emulated Entra's OpenID metadata, forwarding to a local backend."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest

from sandbox.rehearsal.emulators.gateway import HttpxSender, OpenIdKeys, gateway_app
from sandbox.rehearsal.emulators.gateway_core import Forward, Gateway
from sandbox.rehearsal.emulators.gateway_model import model_from_plan
from sandbox.rehearsal.emulators.http_apps import echo_app, entra_app
from sandbox.rehearsal.emulators.server import RunningServer
from tests.sandbox.rehearsal.emulators.gateway_helpers import KEY, NOW, WRITER, issuer, plan, token


class World:
    def __init__(self, gateway: RunningServer, keys: OpenIdKeys, echo: RunningServer):
        self.url = gateway.url
        self.keys = keys
        self.echo = echo
        self.http = httpx.Client(base_url=gateway.url, trust_env=False)


@pytest.fixture
def world() -> Iterator[World]:
    with RunningServer(entra_app(issuer())) as entra, RunningServer(echo_app()) as echo:
        keys = OpenIdKeys(entra.url)
        gateway = Gateway(
            model_from_plan(plan()),
            {"orders-app1": KEY},
            keys,
            clock=lambda: NOW + 5,
            backend_overrides={"orders-backend": echo.url + "/api"},
        )
        with RunningServer(gateway_app(gateway)) as server:
            running = World(server, keys, echo)
            yield running
            running.http.close()
        keys.close()


def test_a_missing_key_is_answered_byte_for_byte_like_apim(world: World):
    answer = world.http.get("/orders/orders")
    assert answer.status_code == 401
    assert answer.content == (
        b'{ "statusCode": 401, "message": "Access denied due to missing subscription key. '
        b'Make sure to include subscription key when making requests to an API." }'
    )
    assert answer.headers["content-type"] == "application/json"
    assert answer.headers["www-authenticate"] == (
        f'AzureApiManagementKey realm="{world.url}/orders",'
        'name="Ocp-Apim-Subscription-Key",type="header"'
    )


def test_a_valid_call_reaches_the_backend_with_path_query_body_and_headers_but_no_credentials(
    world: World,
):
    bearer = token(WRITER)
    answer = world.http.post(
        "/orders/orders?x=1",
        content=b'{"item": 1}',
        headers={
            "Authorization": f"Bearer {bearer}",
            "Ocp-Apim-Subscription-Key": KEY,
            "content-type": "application/json",
        },
    )
    assert answer.status_code == 200, answer.text
    echoed = answer.json()
    assert (echoed["method"], echoed["path"], echoed["query"]) == ("POST", "/api/orders", "x=1")
    assert echoed["body"] == '{"item": 1}'
    assert echoed["headers"]["content-type"] == "application/json"
    # The caller's credentials stop at the gateway (this API's hop is not authenticated).
    assert "authorization" not in echoed["headers"]
    assert "ocp-apim-subscription-key" not in echoed["headers"]


def test_signing_keys_come_from_the_openid_metadata_and_are_cached(world: World):
    headers = {"Authorization": f"Bearer {token()}", "Ocp-Apim-Subscription-Key": KEY}
    for _ in range(3):
        assert world.http.get("/orders/orders", headers=headers).status_code == 200
    assert world.keys.fetches == 1


def test_a_refusal_names_the_configured_message_and_the_emulators_reason(world: World):
    headers = {"Authorization": f"Bearer {token()}", "Ocp-Apim-Subscription-Key": KEY}
    answer = world.http.post("/orders/orders", headers=headers)
    assert answer.status_code == 403
    assert answer.json() == {
        "statusCode": 403,
        "message": "Forbidden. This operation requires the app role Orders.Write.",
    }
    assert "Orders.Write" in answer.headers["x-rehearsal-reason"]


def test_the_sender_never_calls_a_backend_off_the_machine():
    sender = HttpxSender()
    answer = sender(Forward("GET", "https://orders.contoso.example/api", (), b""))
    sender.close()
    assert answer.status == 502
    assert b"only local backends" in answer.body
