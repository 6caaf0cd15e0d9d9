"""The backend's own check (sandbox/rehearsal/emulators/backend_auth.py): only the gateway's
token for this API passes, as App Service authentication or the external checklist decides."""

from __future__ import annotations

import dataclasses

import httpx
import pytest

from sandbox.rehearsal.emulators import forge
from sandbox.rehearsal.emulators.backend_auth import BackendGuard, judge
from sandbox.rehearsal.emulators.gateway_token import StaticKeys
from sandbox.rehearsal.emulators.http_apps import echo_app
from sandbox.rehearsal.emulators.server import RunningServer
from tests.sandbox.rehearsal.emulators.gateway_helpers import (
    DIRECTORY,
    GATEWAY_CLIENT,
    GATEWAY_MI,
    NOW,
    ORDERS,
    READER,
    READER_CLIENT,
    hop_issuer,
    issuer,
    token,
)

TENANT = DIRECTORY.tenant_id
SITE = BackendGuard(
    source="App Service authentication",
    tenant_id=TENANT,
    issuer=f"https://login.microsoftonline.com/{TENANT}/v2.0",
    audiences=(ORDERS,),
    allowed_applications=(GATEWAY_CLIENT,),
    allowed_identities=(GATEWAY_MI,),
)
CHECKLIST = dataclasses.replace(
    SITE, allowed_identities=(), required_role="Gateway.Forward", source="checklist"
)
KEYS = StaticKeys(issuer().jwks())


def gateway_token() -> str:
    return hop_issuer().issue_app_token(GATEWAY_MI, ORDERS)


def _status(guard: BackendGuard, bearer: str | None) -> int:
    return judge(guard, [f"Bearer {bearer}"] if bearer else [], KEYS, NOW).status


@pytest.mark.parametrize("guard", [SITE, CHECKLIST], ids=["site", "checklist"])
def test_only_the_gateways_token_for_the_api_passes(guard: BackendGuard) -> None:
    assert _status(guard, gateway_token()) == 200
    assert _status(guard, None) == 401  # unauthenticated: the configured Return401
    assert _status(guard, token(READER)) == 403  # a valid token, but not the gateway's
    assert _status(guard, forge.flip_signature_byte(gateway_token())) == 401
    assert _status(guard, forge.resign(hop_issuer(), gateway_token(), aud="api://other")) == 401
    expired = forge.resign(hop_issuer(), gateway_token(), exp=NOW - 1)
    assert _status(guard, expired) == 401


@pytest.mark.parametrize("guard", [SITE, CHECKLIST], ids=["site", "checklist"])
def test_the_gateways_identity_and_role_under_another_applications_name_is_refused(
    guard: BackendGuard,
) -> None:
    # Everything the gateway's but azp: only the allowed-application check can refuse it.
    assert _status(guard, forge.resign(hop_issuer(), gateway_token(), azp=READER_CLIENT)) == 403
    as_v1 = forge.resign(hop_issuer(), gateway_token(), azp=None, appid=READER_CLIENT)
    assert _status(guard, as_v1) == 403


def test_the_issuer_must_be_the_one_of_the_registrations_token_version() -> None:
    v1 = forge.resign(hop_issuer(), gateway_token(), iss=f"https://sts.windows.net/{TENANT}/")
    assert _status(SITE, v1) == 401
    assert (
        _status(dataclasses.replace(SITE, issuer=f"https://sts.windows.net/{TENANT}/"), v1) == 200
    )


def test_the_site_checks_the_object_id_and_the_checklist_the_role() -> None:
    impostor = forge.resign(hop_issuer(), gateway_token(), oid=READER)
    assert _status(SITE, impostor) == 403
    assert _status(CHECKLIST, impostor) == 200  # the checklist asks azp and role, not oid
    roleless = forge.resign(hop_issuer(), gateway_token(), roles=None)
    assert _status(CHECKLIST, roleless) == 403
    assert _status(SITE, roleless) == 200  # App Service authentication checks no role


def test_the_echo_backend_refuses_before_echoing_and_says_whom_it_let_in() -> None:
    with RunningServer(echo_app(SITE, KEYS, lambda: NOW)) as server:
        refused = httpx.get(server.url + "/api/orders")
        assert refused.status_code == 401
        assert refused.headers["www-authenticate"] == "Bearer"
        assert "unauthenticated" in refused.headers["x-rehearsal-reason"]
        answer = httpx.get(
            server.url + "/api/orders", headers={"Authorization": f"Bearer {gateway_token()}"}
        )
        assert answer.status_code == 200
        seen = answer.json()["authenticatedAs"]
        assert (seen["azp"], seen["aud"], seen["oid"]) == (GATEWAY_CLIENT, ORDERS, GATEWAY_MI)


def test_an_open_echo_reports_nobody_authenticated() -> None:
    with RunningServer(echo_app()) as server:
        assert httpx.get(server.url + "/x").json()["authenticatedAs"] is None


def test_a_guard_without_keys_is_a_setup_error() -> None:
    with pytest.raises(ValueError, match="signing keys"):
        echo_app(SITE)
