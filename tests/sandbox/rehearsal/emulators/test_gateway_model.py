"""The gateway's configuration read from a Plan (gateway_model.py): what it takes, and every
thing it refuses to start with rather than emulate wrongly."""

from __future__ import annotations

import json

import pytest

from components.gateway_policy import (
    AuthenticationManagedIdentity,
    SetBackendService,
    ValidateAzureAdToken,
)
from sandbox.rehearsal.emulators.gateway_model import GatewayConfigError, model_from_plan
from tests.sandbox.rehearsal.emulators.gateway_helpers import (
    ORDERS,
    TENANT,
    api_policy,
    edit,
    plan,
    with_resource,
)


def test_the_dev_plan_gives_both_apis_their_operations_backends_and_subscriptions(dev_plan):
    model = model_from_plan(dev_plan)
    assert [api.api_id for api in model.apis] == ["inventory", "orders"]
    orders = model.api("orders")
    assert orders.path == "orders" and orders.subscription_required
    assert (orders.key_header, orders.key_query) == (
        "Ocp-Apim-Subscription-Key",
        "subscription-key",
    )
    assert {(op.method, op.url_template) for op in orders.operations} == {
        ("GET", "/orders"),
        ("GET", "/orders/{orderId}"),
        ("POST", "/orders"),
    }
    assert all(op.policy is not None for op in orders.operations)
    assert model.backends["orders-backend"] == "https://orders-backend.contoso.example/api"
    assert {s.sid for s in model.subscriptions} == {
        "orders-storefront",
        "orders-reporting",
        "inventory-storefront",
        "orders-verification",
        "inventory-verification",
    }
    validate, hop, backend = orders.policy.inbound[1], *orders.policy.inbound[-2:]
    assert isinstance(validate, ValidateAzureAdToken) and isinstance(backend, SetBackendService)
    assert isinstance(hop, AuthenticationManagedIdentity)
    client = dev_plan["outputs"]["apis"]["orders"]["clientId"]
    assert hop.resource == client  # the named value resolved: the registration's client ID
    assert validate.tenant_id == dev_plan["outputs"]["tenantId"]
    client_id = dev_plan["outputs"]["apis"]["orders"]["clientId"]
    assert validate.audiences == (client_id, f"api://{client_id}")


def _refuses(world, *fragments: str) -> None:
    with pytest.raises(GatewayConfigError) as error:
        model_from_plan(world)
    for fragment in fragments:
        assert fragment in str(error.value)


def test_an_unknown_policy_element_refuses_to_start_and_names_the_resource():
    xml = api_policy().replace(
        "<base />", '<base /><rate-limit calls="5" renewal-period="60" />', 1
    )
    _refuses(plan(api=xml), "ApiPolicy::orders-policy", "rate-limit", "unsupported")


def test_a_policy_expression_refuses_to_start():
    xml = api_policy().replace('header-name="Authorization"', 'header-name="@(&quot;x&quot;)"')
    _refuses(plan(api=xml), "policy expressions are not supported")


def test_an_unknown_named_value_refuses_to_start():
    _refuses(
        plan(api=api_policy(tenant="{{tenant-idd}}")),
        "unknown named value {{tenant-idd}}",
        "tenant-id",
    )


@pytest.mark.parametrize(
    "changes",
    [{"value": "[secret]", "secret": True}, {"keyVault": {"secretIdentifier": "https://kv/x"}}],
)
def test_a_masked_or_key_vault_named_value_refuses_to_start(changes):
    _refuses(edit(plan(), "tenant", **changes), "{{tenant-id}}", "masks it")


@pytest.mark.parametrize("value", ['@(context.Variables["t"])', "{{other}}"])
def test_a_named_value_holding_an_expression_or_a_reference_refuses_to_start(value):
    _refuses(edit(plan(), "tenant", value=value), "does not evaluate")


def test_named_values_resolve_by_display_name():
    world = edit(plan(), "tenant", namedValueId="tid", displayName="tenant-id")
    assert model_from_plan(world).api("orders").policy.inbound[1].tenant_id == TENANT


@pytest.mark.parametrize(
    ("kind", "inputs", "fragment"),
    [
        ("Product", {"productId": "starter"}, "Product is not emulated"),
        ("ProductPolicy", {"productId": "starter", "value": "<policies/>"}, "ProductPolicy"),
        ("PolicyFragment", {"value": "<fragment/>"}, "PolicyFragment"),
        (
            "Subscription",
            {"sid": "p", "scope": "/products/starter", "state": "active"},
            "scope '/products/starter' not emulated",
        ),
    ],
)
def test_features_that_change_request_handling_but_are_not_emulated_refuse(kind, inputs, fragment):
    _refuses(with_resource(plan(), kind, "extra", **inputs), fragment)


@pytest.mark.parametrize(
    ("name", "changes", "fragment"),
    [
        ("orders", {"apiVersion": "v2"}, "apiVersion is not emulated"),
        ("orders", {"apiRevision": "3"}, "apiRevision is not emulated"),
        ("orders", {"apiType": "soap"}, "only http APIs"),
        ("backend", {"credentials": {"header": {"x": ["y"]}}}, "credentials is not emulated"),
        ("orders-policy", {"format": "xml-link"}, "format 'xml-link'"),
        ("list-orders", {"urlTemplate": "/orders/{*rest}"}, "not emulated"),
        ("list-orders", {"urlTemplate": "/orders?state={s}"}, "not emulated"),
    ],
)
def test_resource_properties_the_emulator_cannot_honour_refuse(name, changes, fragment):
    _refuses(edit(plan(), name, **changes), fragment)


@pytest.mark.parametrize(
    ("old", "new", "fragment"),
    [
        ('tenant-id="{{tenant-id}}"', 'tenant-id="common"', "multi-tenant"),
        (
            "<base />\n        <validate",
            "<base />\n        <base />\n        <validate",
            "<base /> twice",
        ),
    ],
)
def test_policies_the_emulator_would_have_to_guess_about_refuse(old, new, fragment):
    _refuses(plan(api=api_policy().replace(old, new, 1)), fragment)


def test_a_validation_without_audiences_refuses():
    xml = api_policy().replace(
        "<audiences>\n                <audience>{{orders-audience}}</audience>\n"
        "            </audiences>\n",
        "",
    )
    assert "<audiences>" not in xml
    _refuses(plan(api=xml), "without <audiences>")


def test_several_gateways_in_one_plan_refuse():
    world = edit(plan(), "other", serviceName="apim-second")
    _refuses(world, "several gateways")


def test_operations_imported_from_openapi_are_routed():
    document = {
        "openapi": "3.0.1",
        "paths": {
            "/items/{id}": {
                "get": {"operationId": "get-item"},
                "parameters": [],
            }
        },
    }
    world = edit(plan(), "other", format="openapi+json", value=json.dumps(document))
    (operation,) = model_from_plan(world).api("other").operations
    assert (operation.operation_id, operation.method, operation.url_template) == (
        "get-item",
        "GET",
        "/items/{id}",
    )


def test_inert_resources_are_ignored_and_subscriptions_default_to_submitted():
    world = with_resource(plan(), "Logger", "log", loggerId="x")
    world = with_resource(world, "Subscription", "new", sid="new", scope="/apis/orders")
    model = model_from_plan(world)
    assert next(s for s in model.subscriptions if s.sid == "new").state == "submitted"
    assert ORDERS in model.api("orders").policy.inbound[1].audiences
