"""The gateway pipeline (sandbox/rehearsal/emulators/gateway_core.py): routing, the
subscription gate, policy scopes with <base />, named values and forwarding, with a fake backend."""

from __future__ import annotations

import json

import pytest

from components.gateway_policy import PolicyDocument, parse_policy
from sandbox.apim_answers import INVALID_KEY, MISSING_KEY, NO_OPERATION
from sandbox.rehearsal.emulators.gateway_core import (
    REASON_HEADER,
    Forward,
    Gateway,
    _compose,
)
from sandbox.rehearsal.emulators.gateway_model import GatewayConfigError, model_from_plan
from tests.sandbox.rehearsal.emulators.gateway_helpers import (
    GATEWAY_URL,
    KEY,
    OTHER_KEY,
    WRITER,
    Backend,
    api_policy,
    edit,
    gateway,
    message,
    operation_policy,
    plan,
    request,
    token,
    with_resource,
)


def test_an_unknown_api_path_is_answered_404_in_apims_exact_shape():
    answer = gateway().handle(request(path="/nothing/here"), Backend())
    assert answer.status == 404
    assert answer.body == (
        b'{ "statusCode": 404, "message": "Unable to match incoming request to an operation." }'
    )
    assert answer.header("content-type") == "application/json"


def test_a_known_api_without_a_matching_operation_is_404_once_the_key_is_valid():
    assert message(gateway().handle(request(path="/orders/nope"), Backend())) == NO_OPERATION
    answer = gateway().handle(request("DELETE", bearer=token()), Backend())
    assert (answer.status, message(answer)) == (404, NO_OPERATION)


def test_the_subscription_gate_runs_before_operation_matching_and_any_policy():
    answer = gateway().handle(request(path="/orders/nope", key=None), Backend())
    assert (answer.status, message(answer)) == (401, MISSING_KEY)


def test_a_missing_key_gets_the_exact_body_and_the_key_challenge():
    answer = gateway().handle(request(key=None, bearer=token()), Backend())
    assert answer.status == 401
    assert answer.body == (
        b'{ "statusCode": 401, "message": "Access denied due to missing subscription key. '
        b'Make sure to include subscription key when making requests to an API." }'
    )
    assert answer.header("www-authenticate") == (
        f'AzureApiManagementKey realm="{GATEWAY_URL}/orders",'
        'name="Ocp-Apim-Subscription-Key",type="header"'
    )


@pytest.mark.parametrize("key", ["wrong", OTHER_KEY, KEY.upper()])
def test_a_wrong_key_or_another_apis_key_is_invalid(key):
    answer = gateway().handle(request(key=key, bearer=token()), Backend())
    assert (answer.status, message(answer)) == (401, INVALID_KEY)
    assert answer.header("www-authenticate") is None


def test_a_key_scoped_to_all_apis_opens_every_api():
    world = with_resource(
        plan(), "Subscription", "all", sid="all-apis", scope="/apis", state="active"
    )
    keys = {"orders-app1": KEY, "all-apis": "a" * 32}
    answer = gateway(world, keys=keys).handle(request(key="a" * 32, bearer=token()), Backend())
    assert answer.status == 200


@pytest.mark.parametrize("state", ["suspended", "submitted", "cancelled", "expired"])
def test_only_an_active_subscription_opens_the_gate(state):
    world = edit(plan(), "s1", state=state)
    answer = gateway(world).handle(request(bearer=token()), Backend())
    assert (answer.status, message(answer)) == (401, INVALID_KEY)


def test_the_header_wins_over_the_query_which_is_read_only_without_a_header():
    handle = gateway().handle
    ok = request(key=None, bearer=token(), query=f"subscription-key={KEY}")
    assert handle(ok, Backend()).status == 200
    header_wrong = request(key="wrong", bearer=token(), query=f"subscription-key={KEY}")
    assert message(handle(header_wrong, Backend())) == INVALID_KEY
    query_wrong = request(bearer=token(), query="subscription-key=wrong")
    assert handle(query_wrong, Backend()).status == 200


def test_custom_key_parameter_names_are_honoured_in_the_gate_and_the_challenge():
    names = {"header": "X-Api-Key", "query": "api-key"}
    world = edit(plan(), "orders", subscriptionKeyParameterNames=names)
    handle = gateway(world).handle
    assert (
        handle(request(key=None, bearer=token(), headers=(("x-api-key", KEY),)), Backend()).status
        == 200
    )
    assert (
        handle(request(key=None, bearer=token(), query=f"api-key={KEY}"), Backend()).status == 200
    )
    default_header = handle(request(bearer=token()), Backend())
    assert message(default_header) == MISSING_KEY
    assert 'name="X-Api-Key"' in (default_header.header("www-authenticate") or "")


def test_an_api_without_required_subscription_needs_no_key():
    world = edit(plan(), "orders", subscriptionRequired=False)
    assert gateway(world).handle(request(key=None, bearer=token()), Backend()).status == 200


# --- scopes ---------------------------------------------------------------------------------


def test_the_api_scope_answers_401_before_the_operation_scope_can_answer_403():
    answer = gateway().handle(request("POST"), Backend())
    assert answer.status == 401
    assert answer.header(REASON_HEADER) == "JWT not present."


def test_a_valid_token_without_the_operations_role_gets_the_operations_403():
    answer = gateway().handle(request("POST", bearer=token()), Backend())
    assert answer.status == 403
    assert message(answer) == "Forbidden. This operation requires the app role Orders.Write."
    assert gateway().handle(request("POST", bearer=token(WRITER)), Backend()).status == 200


def test_compose_puts_the_enclosing_scope_where_base_stands():
    outer = parse_policy(api_policy())
    inner = parse_policy(operation_policy(("Orders.Write",)))
    inbound = _compose("inbound", (inner, outer, PolicyDocument((), (), (), ())))
    kinds = [type(s).__name__ for s in inbound]
    # The operation's checks first (the caller's token, before any hop replaces it), then
    # the API scope where the operation's <base /> stands.
    assert kinds == [
        "ValidateAzureAdToken",
        "ValidateAzureAdToken",
        "ValidateAzureAdToken",
        *["SetHeader"] * 5,  # the caller's key, method overrides and (no hop) token
        "SetQueryParameter",
        *["SetHeader"] * 8,
        "SetBackendService",
    ]
    assert inbound[0].failed_validation_httpcode == 401  # the API's check, repeated first
    assert inbound[1].failed_validation_httpcode == 403
    assert inbound[2].output_token_variable_name == "caller-token"  # the API scope
    assert _compose("inbound", (None, outer)) == _compose("inbound", (outer,))


def test_an_operation_policy_without_base_skips_the_api_scope_entirely():
    xml = operation_policy(("Orders.Write",)).replace("<base />", "", 1)
    backend = Backend()
    answer = gateway(plan(**{"create-order": xml})).handle(request("POST"), backend)
    assert answer.status == 401  # the operation's own checks still run
    reader = gateway(plan(**{"create-order": xml})).handle(request("POST", bearer=token()), backend)
    assert reader.status == 403
    gateway(plan(**{"create-order": xml})).handle(request("POST", bearer=token(WRITER)), backend)
    # The API scope never ran: no caller headers were set.
    assert not [k for k, _ in backend.forwarded[-1].headers if k.lower().startswith("x-caller")]
    # No set-backend-service ran either, so the API's service URL was used.
    assert backend.forwarded[-1].url == "https://orders-service.contoso.example/svc/orders"


def test_the_global_scope_runs_where_the_api_policy_has_base_and_not_where_it_has_none():
    global_xml = api_policy(roles=("Orders.Write",), require_v2=False)
    world = with_resource(plan(), "Policy", "global", format="xml", value=global_xml)
    reader_list = request(bearer=token())
    assert gateway(world).handle(reader_list, Backend()).status == 401  # global wants Write
    no_base = api_policy().replace("<base />", "", 1)
    world = with_resource(plan(api=no_base), "Policy", "global", format="xml", value=global_xml)
    assert gateway(world).handle(reader_list, Backend()).status == 200


def test_an_operation_without_a_policy_runs_the_api_scope_alone():
    answer = gateway(plan(**{"create-order": ""})).handle(
        request("POST", bearer=token()), Backend()
    )
    assert answer.status == 200


def test_named_values_are_substituted_into_the_policy():
    model = model_from_plan(plan())
    validate = model.api("orders").policy.inbound[1]
    assert validate.tenant_id != "{{tenant-id}}" and "{{" not in validate.audiences[0]
    world = edit(plan(), "aud", value="api://somebody-else")
    assert gateway(world).handle(request(bearer=token()), Backend()).status == 401


def test_an_unknown_backend_id_refuses_to_start():
    with pytest.raises(GatewayConfigError, match="unknown backend-id 'nowhere'"):
        gateway(plan(api=api_policy(backend_id="nowhere")))


def test_keys_for_subscriptions_the_plan_does_not_have_refuse_to_start():
    with pytest.raises(GatewayConfigError, match="unknown subscriptions"):
        gateway(keys={"ghost": KEY})


# --- routing and forwarding ------------------------------------------------------------------


def _forward_post(world: Gateway) -> Forward:
    backend = Backend()
    sent = request(
        "POST",
        bearer=token(WRITER),
        query="a=1&subscription-key=leaked&b=two",
        body=b'{"x":1}',
        headers=(
            ("x-custom", "yes"),
            ("host", "gw"),
            ("connection", "close"),
            ("X-HTTP-Method-Override", "DELETE"),
        ),
    )
    assert world.handle(sent, backend).status == 200
    return backend.forwarded[0]


def test_forwarding_keeps_suffix_query_method_body_and_headers_but_the_callers_credentials():
    forward = _forward_post(gateway())
    assert forward.url == "https://orders.contoso.example/api/orders?a=1&b=two"
    assert (forward.method, forward.body) == ("POST", b'{"x":1}')
    names = {name.lower() for name, _ in forward.headers}
    assert "x-custom" in names
    assert not names & {"host", "connection"}  # hop-by-hop
    # The stack's policy removes them (no hop here, so the caller's token goes too).
    assert not names & {"authorization", "ocp-apim-subscription-key", "x-http-method-override"}


def test_forwarding_keeps_the_key_and_token_when_no_policy_removes_them():
    # APIM forwards what the caller sent unless a policy says otherwise; so does the emulator.
    xml = api_policy()
    for statement in (
        '<set-header name="Ocp-Apim-Subscription-Key" exists-action="delete" />',
        '<set-header name="Authorization" exists-action="delete" />',
        '<set-query-parameter name="subscription-key" exists-action="delete" />',
    ):
        assert statement in xml
        xml = xml.replace(statement, "")
    forward = _forward_post(gateway(plan(api=xml)))
    assert forward.url.endswith("?a=1&subscription-key=leaked&b=two")
    names = {name.lower() for name, _ in forward.headers}
    assert {"authorization", "ocp-apim-subscription-key"} <= names


def test_backend_overrides_replace_the_backend_url_by_id():
    backend = Backend()
    world = gateway(backend_overrides={"orders-backend": "http://127.0.0.1:1/api"})
    world.handle(request(path="/orders/orders/42", bearer=token()), backend)
    assert backend.forwarded[0].url == "http://127.0.0.1:1/api/orders/42"


def test_the_backends_answer_is_returned_unchanged():
    answer = gateway().handle(request(bearer=token()), Backend(status=418))
    assert answer.status == 418
    assert json.loads(answer.body)["method"] == "GET"


@pytest.mark.parametrize(
    ("method", "path", "status"),
    [
        ("GET", "/orders/orders/42", 200),
        ("GET", "/orders/orders/42/", 404),  # no trailing-slash leniency
        ("GET", "/orders/orders/", 404),
        ("GET", "/orders/Orders", 404),  # case-sensitive
        ("PUT", "/orders/orders", 404),
        ("GET", "/ordersx/orders", 404),  # whole segments only
    ],
)
def test_operations_match_by_method_and_whole_template(method, path, status):
    assert gateway().handle(request(method, path, bearer=token()), Backend()).status == status


@pytest.mark.parametrize(
    "path",
    [
        "//orders/orders",
        "/orders//orders",
        "/orders/orders/..",
        "/orders/orders/.",
        "/orders/orders/%2e%2e",
        "/orders/orders/%2E%2E/x",
        "/orders/orders/..%2f..%2fadmin",
        "/orders/orders/a%2Fb",
        "/orders/orders/a%5Cb",
    ],
)
def test_a_path_a_server_could_read_two_ways_matches_no_operation(path):
    # Otherwise `{orderId}` takes `..`, and the forwarder (httpx removes dot segments) calls
    # a backend route no operation declares.
    backend = Backend()
    answer = gateway().handle(request("GET", path, bearer=token()), backend)
    assert (answer.status, message(answer)) == (404, NO_OPERATION)
    assert answer.header(REASON_HEADER) == "empty, dot or encoded-slash path segment"
    assert backend.forwarded == []


def test_a_segment_with_dots_inside_is_an_ordinary_value():
    answer = gateway().handle(request("GET", "/orders/orders/v1.2..3", bearer=token()), Backend())
    assert answer.status == 200


def test_the_most_literal_template_and_the_longest_api_path_win():
    world = with_resource(
        plan(),
        "ApiOperation",
        "special",
        apiId="orders",
        operationId="special",
        method="GET",
        urlTemplate="/orders/special",
    )
    world = with_resource(
        world,
        "ApiOperationPolicy",
        "special-policy",
        apiId="orders",
        operationId="special",
        format="xml",
        value=operation_policy(("Orders.Write",)),
    )
    world = with_resource(
        world, "Api", "v2", apiId="orders-v2", path="orders/v2", subscriptionRequired=False
    )
    world = with_resource(
        world,
        "ApiOperation",
        "v2-list",
        apiId="orders-v2",
        operationId="v2-list",
        method="GET",
        urlTemplate="/orders",
    )
    backend = Backend()
    special = gateway(world).handle(request(path="/orders/orders/special", bearer=token()), backend)
    assert special.status == 403  # the literal template's policy, not get-order's
    v2 = gateway(world).handle(request(path="/orders/v2/orders", key=None), backend)
    assert v2.status == 500  # the v2 API: no policy, no service URL: nothing to forward to
    assert message(v2) == "No backend service URL."
