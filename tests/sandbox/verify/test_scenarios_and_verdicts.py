"""The pure parts of verify: which calls the outputs allow, the tokens it forges, and the
verdict on each answer (a refusal counts only when it is the gateway's)."""

from __future__ import annotations

import jwt
import pytest

from components.gateway_policy import UNAUTHORIZED_MESSAGE, forbidden_message
from sandbox.apim_answers import MISSING_KEY, NO_OPERATION
from sandbox.verify import forge
from sandbox.verify.expect import (
    BACKEND,
    FORBIDDEN_PREFIX,
    TOKEN_REFUSED,
    Expectation,
    Outcome,
    forbidden,
    judge,
)
from sandbox.verify.outputs import parse_outputs
from sandbox.verify.scenarios import Forgery, caller_scenarios, refusal_scenarios

TENANT = "89d7da9c-78c3-5dbe-978e-4fe1877edc1b"
ISSUER = f"https://login.microsoftonline.com/{TENANT}/v2.0"
NOW = 1_750_000_000
KEY = forge.fresh_key()


def forgery(kid: str | None = "entra-kid") -> Forgery:
    return Forgery(KEY, NOW, ISSUER, kid, "f" * 32)


def full_outputs(dev_plan, **overrides):
    outputs = {**dev_plan["outputs"], "apis": {}}
    operations = {
        "orders": [
            {
                "id": "list-orders",
                "method": "GET",
                "urlTemplate": "/orders",
                "roles": ["Orders.Read"],
            },
            {
                "id": "create-order",
                "method": "POST",
                "urlTemplate": "/orders",
                "roles": ["Orders.Write"],
            },
        ],
        "inventory": [
            {
                "id": "list-items",
                "method": "GET",
                "urlTemplate": "/items",
                "roles": ["Inventory.Read"],
            },
        ],
    }
    for name, api in dev_plan["outputs"]["apis"].items():
        outputs["apis"][name] = {
            **api,
            "operations": operations[name],
            "acceptsV1Tokens": name == "orders",
            "verification": {"subscriptionKey": f"{name}-key-0123456789"},
            **overrides,
        }
    return parse_outputs(outputs, "test")


def test_verify_expects_the_start_of_every_403_the_policy_builder_writes():
    assert forbidden_message(["A"]).startswith(FORBIDDEN_PREFIX)
    assert forbidden_message(["A", "B"]).startswith(FORBIDDEN_PREFIX)


def test_outputs_without_the_verification_key_give_the_key_gate_and_say_why(dev_plan):
    # The plan masks the key, as `pulumi stack output` does without --show-secrets.
    matrix = refusal_scenarios(parse_outputs(dev_plan["outputs"], "stack dev"), forgery())
    assert [s.name for s in matrix.scenarios if "subscription key" in s.name] == [
        "inventory: no subscription key",
        "inventory: a wrong subscription key",
        "orders: no subscription key",
        "orders: a wrong subscription key",
    ]
    assert not any(s.call.token for s in matrix.scenarios)
    assert matrix.notes == tuple(
        f"{api}: token, method and path scenarios skipped: the outputs lack "
        "verification.subscriptionKey (masked: save them with --show-secrets); only the "
        "subscription-key gate was tested"
        for api in ("inventory", "orders")
    )


def test_full_outputs_give_every_refusal_with_the_status_apim_uses(dev_plan):
    matrix = refusal_scenarios(full_outputs(dev_plan), forgery())
    orders = {s.name.removeprefix("orders: "): s for s in matrix.scenarios if s.api == "orders"}
    assert orders["no subscription key"].expected == Expectation(frozenset({401}), MISSING_KEY)
    assert orders["a wrong subscription key"].call.key == "f" * 32
    assert orders["another API's verification key"].call.key == "inventory-key-0123456789"
    for label in ("no token", "a garbage token", "alg none (unsigned)", "an expired token"):
        assert orders[label].expected == TOKEN_REFUSED
        assert orders[label].call.key == "orders-key-0123456789"  # past the key gate
    # GET and POST are declared on /orders, so the undeclared one is DELETE.
    assert orders["an undeclared method (DELETE /orders)"].expected.message == NO_OPERATION
    assert orders["%2E%2E segments in the path, no token"].call.path == "%2E%2E/orders/orders"
    assert orders["%2E%2E segments in the path, no token"].expected.label == "401/404"
    names = {s.name for s in matrix.scenarios}
    assert "inventory: a v1 token where only v2 is accepted" in names
    assert "orders: a v1 token where only v2 is accepted" not in names
    assert matrix.notes == ()


def test_without_entra_keys_or_acceptsv1tokens_those_scenarios_are_skipped_with_a_note(dev_plan):
    target = full_outputs(dev_plan, acceptsV1Tokens=None)
    matrix = refusal_scenarios(target, forgery(kid=None))
    names = {s.name for s in matrix.scenarios}
    assert not any("Entra's kid" in n or "v1 token" in n for n in names)
    assert "orders: the v1-token scenario skipped: the outputs lack acceptsV1Tokens" in matrix.notes
    assert (
        matrix.notes
        == (
            "orders: the v1-token scenario skipped: the outputs lack acceptsV1Tokens",
            "inventory: the v1-token scenario skipped: the outputs lack acceptsV1Tokens",
        )[::-1]
    )


def test_forged_tokens_are_well_shaped_and_signed_only_by_the_runs_own_key(dev_plan):
    matrix = refusal_scenarios(full_outputs(dev_plan), forgery())
    by = {s.name: s.call.token for s in matrix.scenarios}
    inventory = full_outputs(dev_plan).apis[0]
    shaped = by["inventory: signed by a key Entra never had (Entra's kid)"] or ""
    claims = jwt.decode(
        shaped,
        KEY.public_key(),
        algorithms=["RS256"],
        audience=inventory.client_id,
        options={"verify_exp": False},
    )
    assert (claims["iss"], claims["tid"], claims["ver"]) == (ISSUER, TENANT, "2.0")
    assert claims["roles"] == ["Inventory.Admin", "Inventory.Read"]
    assert jwt.get_unverified_header(shaped)["kid"] == "entra-kid"
    unknown = by["inventory: signed by a key Entra never had (unknown kid)"] or ""
    assert jwt.get_unverified_header(unknown)["kid"] == forge.UNKNOWN_KID
    unsigned = by["inventory: alg none (unsigned)"] or ""
    assert jwt.get_unverified_header(unsigned)["alg"] == "none" and unsigned.endswith(".")
    expired = forge.claims_of(by["inventory: an expired token"] or "")
    assert expired["exp"] < NOW
    v1 = forge.claims_of(by["inventory: a v1 token where only v2 is accepted"] or "")
    assert (v1["ver"], v1["iss"], v1["aud"]) == (
        "1.0",
        f"https://sts.windows.net/{TENANT}/",
        inventory.identifier_uri,
    )
    wrong = forge.claims_of(by["inventory: a wrong audience"] or "")
    assert wrong["aud"] == full_outputs(dev_plan).apis[1].client_id  # another API's ID


def _genuine(roles: list[str], aud: str = "aud") -> str:
    claims = forge.v2_claims(TENANT, ISSUER, aud, tuple(roles), NOW)
    return forge.sign(claims, KEY, "genuine")


def test_the_callers_roles_decide_which_calls_reach_the_backend(dev_plan):
    orders = full_outputs(dev_plan).apis[1]
    found = {s.name: s for s in caller_scenarios(orders, _genuine(["Orders.Read"]))}
    assert found["orders/list-orders with your token"].expected == BACKEND
    create = found["orders/create-order with your token"]
    assert (create.kind, create.expected) == ("forbidden", forbidden(("Orders.Write",)))
    edited = found["orders: your token with roles it lacks written in"]
    assert forge.claims_of(edited.call.token or "")["roles"] == ["Orders.Read", "Orders.Write"]
    assert edited.call.path == "/orders" and edited.call.method == "POST"  # the closed one


def test_a_token_with_no_role_of_the_api_expects_the_api_scope_401(dev_plan):
    orders = full_outputs(dev_plan).apis[1]
    found = caller_scenarios(orders, _genuine([]))
    calls = [s for s in found if "with your token" in s.name]
    assert {s.expected for s in calls} == {TOKEN_REFUSED}
    assert all(s.name.endswith("(no role of this API)") for s in calls)


def test_a_payload_edit_that_changes_nothing_is_refused_by_the_forger():
    with pytest.raises(ValueError, match="leaves the payload"):
        forge.with_claims(_genuine(["A"]), roles=["A"])


REFUSED = Expectation(frozenset({401}), UNAUTHORIZED_MESSAGE)


@pytest.mark.parametrize(
    ("expected", "outcome", "problem"),
    [
        (REFUSED, Outcome(401, UNAUTHORIZED_MESSAGE), None),
        (REFUSED, Outcome(200), "expected 401, got 200: the gateway let it through"),
        (REFUSED, Outcome(204), "the gateway let it through"),
        (
            REFUSED,
            Outcome(403, "Forbidden. This operation requires the app role X."),
            "expected 401, got 403",
        ),
        # A backend refusing what the gateway let through is not the gateway's refusal.
        (REFUSED, Outcome(401, "IDX10205: Issuer validation failed."), "(did the backend answer?)"),
        (REFUSED, Outcome(None, "connection refused"), "no answer: connection refused"),
        (forbidden(("Orders.Write",)), Outcome(403, forbidden_message(["Orders.Write"])), None),
        (forbidden(("Orders.Write",)), Outcome(403, "Forbidden"), "does not name"),
        (BACKEND, Outcome(200), None),
        (BACKEND, Outcome(404, "order not found"), None),  # the backend's own answer
        (BACKEND, Outcome(400, "body invalid"), None),
        (BACKEND, Outcome(403, forbidden_message(["Orders.Read"])), "the gateway refused it"),
        (BACKEND, Outcome(401, UNAUTHORIZED_MESSAGE), "the gateway refused it"),
        (BACKEND, Outcome(404, NO_OPERATION), "the gateway refused it"),
        (Expectation(frozenset({401, 404})), Outcome(404, "Resource not found"), None),
        (Expectation(frozenset({401, 403})), Outcome(200), "the gateway let it through"),
    ],
)
def test_each_answer_gets_the_right_verdict(expected, outcome, problem):
    problems = judge(expected, outcome)
    if problem is None:
        assert problems == ()
    else:
        (said,) = problems
        assert problem in said
