"""The statements of the backend hop, executed (sandbox/rehearsal/emulators/gateway_statements.py):
caller headers removed and set from the validated token, the gateway's own token for the
backend, and the operation's role check judging the caller, not the gateway."""

from __future__ import annotations

import pytest

from components.caller_headers import HEADER_NAMES
from sandbox.rehearsal.emulators import forge
from sandbox.rehearsal.emulators.gateway_model import GatewayConfigError
from sandbox.rehearsal.emulators.gateway_statements import NO_IDENTITY_TOKEN
from sandbox.rehearsal.servers import GatewayIdentityTokens
from tests.sandbox.rehearsal.emulators.gateway_helpers import (
    DIRECTORY,
    GATEWAY_CLIENT,
    GATEWAY_MI,
    NOW,
    ORDERS,
    READER,
    READER_CLIENT,
    WRITER,
    Backend,
    api_policy,
    gateway,
    hop_issuer,
    message,
    plan,
    request,
    token,
)

HOP = api_policy(hop_resource="{{orders-audience}}")


def _identity(assigned: bool = True) -> GatewayIdentityTokens:
    return GatewayIdentityTokens(hop_issuer(assigned), GATEWAY_MI, lambda: NOW)


def _forwarded(backend: Backend) -> dict[str, list[str]]:
    found: dict[str, list[str]] = {}
    for name, value in backend.forwarded[-1].headers:
        found.setdefault(name.lower(), []).append(value)
    return found


def test_caller_headers_are_set_from_the_validated_token_and_forged_ones_removed():
    backend = Backend()
    forged = (
        ("X-Caller-Client-Id", "forged"),
        ("x-caller-roles", "Orders.Admin"),
        ("X-CALLER-OBJECT-ID", "forged"),
        ("X-Caller-Roles", "another"),
    )
    answer = gateway().handle(request(bearer=token(WRITER), headers=forged), backend)
    assert answer.status == 200
    headers = _forwarded(backend)
    writer = DIRECTORY.principal(WRITER)
    assert headers["x-caller-client-id"] == [writer.client_id]
    assert headers["x-caller-object-id"] == [WRITER]
    assert headers["x-caller-roles"] == ["Orders.Read,Orders.Write"]  # joined, as APIM does
    assert headers["x-caller-token-version"] == ["2.0"]


def test_a_v1_tokens_caller_is_read_from_appid():
    v1 = forge.resign(
        hop_issuer(), token(), ver="1.0", appid=READER_CLIENT, azp=None,
        iss=f"https://sts.windows.net/{DIRECTORY.tenant_id}/",
    )  # fmt: skip
    backend = Backend()
    world = plan(api=api_policy(require_v2=False), **{"list-orders": ""})
    assert gateway(world).handle(request(bearer=v1), backend).status == 200
    headers = _forwarded(backend)
    assert (headers["x-caller-client-id"], headers["x-caller-token-version"]) == (
        [READER_CLIENT],
        ["1.0"],
    )


def test_the_backend_receives_the_gateways_token_for_the_api_not_the_callers():
    backend = Backend()
    caller = token(WRITER)
    answer = gateway(plan(api=HOP), identity=_identity()).handle(
        request("POST", bearer=caller), backend
    )
    assert answer.status == 200
    (authorization,) = _forwarded(backend)["authorization"]
    sent = forge.claims_of(authorization.removeprefix("Bearer "))
    assert sent["azp"] == GATEWAY_CLIENT and sent["aud"] == ORDERS
    assert sent["roles"] == ["Gateway.Forward"]
    assert caller not in authorization


def test_the_operations_role_check_judges_the_callers_token_before_the_hop():
    hop = gateway(plan(api=HOP), identity=_identity())
    assert hop.handle(request("POST", bearer=token(READER)), Backend()).status == 403
    assert hop.handle(request("POST", bearer=token(WRITER)), Backend()).status == 200


def test_a_role_check_placed_after_base_would_judge_the_gateway_and_refuse_everyone():
    # The shape the builder avoids: the emulator runs statements on the request as it stands,
    # so the role check sees the gateway's token here, exactly as APIM would.
    late = (
        "<policies><inbound><base />"
        '<validate-azure-ad-token tenant-id="{{tenant-id}}" failed-validation-httpcode="403">'
        "<client-application-ids><application-id>{{client-reader}}</application-id>"
        "</client-application-ids><audiences><audience>{{orders-audience}}</audience></audiences>"
        '<required-claims><claim name="roles" match="any"><value>Orders.Write</value></claim>'
        "</required-claims></validate-azure-ad-token></inbound>"
        "<backend><base /></backend><outbound><base /></outbound><on-error><base /></on-error>"
        "</policies>"
    )
    world = plan(api=HOP, **{"create-order": late})
    answer = gateway(world, identity=_identity()).handle(
        request("POST", bearer=token(WRITER)), Backend()
    )
    assert answer.status == 403


def test_a_gateway_without_its_role_gets_no_token_and_the_call_fails_on_the_server_side():
    answer = gateway(plan(api=HOP), identity=_identity(assigned=False)).handle(
        request(bearer=token()), Backend()
    )
    assert answer.status == 500
    assert message(answer) == NO_IDENTITY_TOKEN
    assert "AADSTS501051" in (answer.header("x-rehearsal-reason") or "")


def test_ignore_error_forwards_without_the_gateways_token():
    lenient = HOP.replace('resource="{{orders-audience}}"', 'resource="{{orders-audience}}" '
                          'ignore-error="true"')  # fmt: skip
    backend = Backend()
    world = plan(api=lenient)
    answer = gateway(world, identity=_identity(assigned=False)).handle(
        request(bearer=token()), backend
    )
    assert answer.status == 200
    assert _forwarded(backend)["authorization"] == [f"Bearer {token()}"]


def test_the_gateways_token_is_reused_until_it_expires():
    identity = _identity()
    world = gateway(plan(api=HOP), identity=identity)
    for _ in range(3):
        world.handle(request(bearer=token()), Backend())
    assert identity.issued == 1


@pytest.mark.parametrize(
    ("xml", "fragment"),
    [
        (HOP, "the Plan gives the gateway no managed identity"),
        (
            HOP.replace(' output-token-variable-name="caller-token"', ""),
            "reads the context variable 'caller-token', which no earlier",
        ),
        (
            HOP.replace('resource="{{orders-audience}}"', 'resource="x" client-id="y"'),
            "a user-assigned identity is not emulated",
        ),
    ],
)
def test_what_would_have_to_be_guessed_refuses_to_start(xml: str, fragment: str):
    with pytest.raises(GatewayConfigError, match=fragment):
        gateway(plan(api=xml))


def test_every_caller_header_the_builder_names_is_removed_and_set():
    backend = Backend()
    gateway().handle(
        request(bearer=token(), headers=tuple((h, "x") for h in HEADER_NAMES)), backend
    )
    headers = _forwarded(backend)
    assert all(headers[h.lower()] != ["x"] for h in HEADER_NAMES)
