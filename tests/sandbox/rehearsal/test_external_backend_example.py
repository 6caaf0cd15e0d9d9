"""The PyJWT example of docs/backend-hop.md, run as written against the rehearsal's issuer: it
accepts the gateway's token for the API and refuses everything else a backend must refuse."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import jwt
import pytest

from sandbox.rehearsal.emulators import forge
from sandbox.rehearsal.servers import Rehearsal

DOC = Path(__file__).resolve().parents[3] / "docs" / "backend-hop.md"


def _example() -> Callable[..., dict[str, Any]]:
    blocks = re.findall(r"```python\n(.*?)```", DOC.read_text(encoding="utf-8"), re.DOTALL)
    (source,) = [b for b in blocks if "def verify_gateway_token" in b]
    namespace: dict[str, Any] = {}
    exec(compile(source, str(DOC), "exec"), namespace)  # the doc's own code, as written
    verify: Callable[..., dict[str, Any]] = namespace["verify_gateway_token"]
    return verify


@pytest.fixture(scope="module")
def rehearsal(dev_plan: dict[str, Any]) -> Iterator[Rehearsal]:
    with Rehearsal(dev_plan) as running:
        yield running


@pytest.fixture(autouse=True)
def _loopback_without_proxy(monkeypatch: pytest.MonkeyPatch) -> None:
    # PyJWKClient fetches with urllib, which honours proxy variables.
    monkeypatch.setenv("NO_PROXY", "127.0.0.1,localhost")
    monkeypatch.setenv("no_proxy", "127.0.0.1,localhost")


def test_the_example_accepts_the_gateways_token_and_refuses_the_rest(
    rehearsal: Rehearsal,
) -> None:
    verify = _example()
    tenant = rehearsal.tenant.directory.tenant_id
    orders, inventory = rehearsal.tenant.apis["orders"], rehearsal.tenant.apis["inventory"]
    gateway = rehearsal.tenant.gateway_identity
    assert gateway is not None and rehearsal.gateway_tokens is not None
    jwks = f"{rehearsal.entra.url}/{tenant}/discovery/v2.0/keys"
    expected = {
        "tenant_id": tenant,
        "api_client_id": orders.client_id,
        "gateway_client_id": gateway.client_id,
        "jwks_url": jwks,
    }
    token = rehearsal.gateway_tokens.token(orders.client_id)
    claims = verify(token, **expected)
    assert claims["azp"] == gateway.client_id and claims["roles"] == ["Gateway.Forward"]

    storefront = rehearsal.tenant.consumer("storefront").principal_id
    consumer = rehearsal.issuer.issue_app_token(storefront, orders.identifier_uri)
    other_api = rehearsal.gateway_tokens.token(inventory.client_id)
    issuer = rehearsal.issuer
    refused = {
        "a consumer's valid token for the API": consumer,
        "the gateway's token for another API": other_api,
        "an expired token": forge.resign(issuer, token, exp=1_000_000_000),
        "a token without the role": forge.resign(issuer, token, roles=None),
        "a v1-issued token": forge.resign(issuer, token, iss=f"https://sts.windows.net/{tenant}/"),
        "a token signed by another key": forge.signed_by_foreign_key(issuer, claims),
        "an unsigned token": forge.alg_none(token),
    }
    for what, bad in refused.items():
        with pytest.raises(jwt.InvalidTokenError):
            verify(bad, **expected)
            pytest.fail(f"the example accepted {what}")
