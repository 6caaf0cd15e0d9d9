"""The gateway side: API, operations, policies, named values and per-API subscriptions."""

from __future__ import annotations

from typing import Any

from components.gateway_policy import parse_api_policy, parse_operation_policy
from tests.plan_helpers import named, of_type


def test_apis_are_https_only_and_require_a_subscription(dev_plan: dict[str, Any]) -> None:
    for api in of_type(dev_plan, ":Api"):
        assert api["inputs"]["protocols"] == ["https"]
        assert api["inputs"]["subscriptionRequired"] is True
        assert api["inputs"]["serviceUrl"].startswith("https://")


def test_api_policy_is_xml_validating_tenant_audiences_and_roles(dev_plan: dict[str, Any]) -> None:
    policy = named(dev_plan, "orders-gateway-policy")["inputs"]
    assert policy["format"] == "xml"
    spec = parse_api_policy(policy["value"])
    assert spec.token.tenant == "{{tenant-id}}"
    assert spec.token.audiences == ("{{orders-audience}}", "{{orders-audience-v1}}")
    assert spec.token.roles == ("Orders.Read", "Orders.Write")
    assert spec.token.require_v2 is False
    assert spec.backend_id == "orders-backend"
    inventory = parse_api_policy(named(dev_plan, "inventory-gateway-policy")["inputs"]["value"])
    assert inventory.token.audiences == ("{{inventory-audience}}",)
    assert inventory.token.require_v2 is True


def test_every_api_policy_authenticates_the_backend_hop_for_its_own_registration(
    dev_plan: dict[str, Any],
) -> None:
    for api in ("orders", "inventory"):
        spec = parse_api_policy(named(dev_plan, f"{api}-gateway-policy")["inputs"]["value"])
        # The v2-form audience named value holds the registration's client ID.
        assert spec.hop_resource == "{{" + f"{api}-audience" + "}}"
        assert spec.hop_resource in spec.token.audiences


def test_each_operation_policy_requires_that_operations_roles(dev_plan: dict[str, Any]) -> None:
    policies = {
        p["inputs"]["operationId"]: parse_operation_policy(p["inputs"]["value"])
        for p in of_type(dev_plan, ":ApiOperationPolicy")
    }
    assert policies["create-order"].token.roles == ("Orders.Read", "Orders.Write")
    assert policies["create-order"].roles == ("Orders.Write",)
    assert policies["list-orders"].roles == ("Orders.Read",)
    assert policies["list-items"].roles == ("Inventory.Read", "Inventory.Admin")
    assert policies["adjust-stock"].roles == ("Inventory.Admin",)


def test_audience_named_values_hold_the_client_id_forms(dev_plan: dict[str, Any]) -> None:
    client_id = named(dev_plan, "orders-registration")["outputs"]["clientId"]
    assert named(dev_plan, "orders-gateway-audience")["inputs"]["value"] == client_id
    assert named(dev_plan, "orders-gateway-audience-v1")["inputs"]["value"] == f"api://{client_id}"
    tenant = named(dev_plan, "gateway-tenant-id")["inputs"]
    assert tenant["namedValueId"] == "tenant-id"
    assert tenant["value"] == dev_plan["outputs"]["tenantId"]
    assert all(v["inputs"]["secret"] is False for v in of_type(dev_plan, ":NamedValue"))


def test_subscriptions_are_scoped_to_one_api_per_consumer(dev_plan: dict[str, Any]) -> None:
    scopes = sorted(
        (s["inputs"]["sid"], s["inputs"]["scope"]) for s in of_type(dev_plan, ":Subscription")
    )
    assert scopes == [
        ("inventory-storefront", "/apis/inventory"),
        ("inventory-verification", "/apis/inventory"),
        ("orders-reporting", "/apis/orders"),
        ("orders-storefront", "/apis/orders"),
        ("orders-verification", "/apis/orders"),
    ]


def test_each_api_exports_its_operations_and_a_secret_key_for_verify(
    dev_plan: dict[str, Any],
) -> None:
    orders = dev_plan["outputs"]["apis"]["orders"]
    assert orders["operations"] == [
        {"id": "list-orders", "method": "GET", "urlTemplate": "/orders", "roles": ["Orders.Read"]},
        {
            "id": "get-order",
            "method": "GET",
            "urlTemplate": "/orders/{orderId}",
            "roles": ["Orders.Read"],
        },
        {
            "id": "create-order",
            "method": "POST",
            "urlTemplate": "/orders",
            "roles": ["Orders.Write"],
        },
    ]
    assert orders["acceptsV1Tokens"] is True
    assert dev_plan["outputs"]["apis"]["inventory"]["acceptsV1Tokens"] is False
    assert orders["verification"] == {"subscriptionKey": "[secret]"}


def test_backend_validates_the_certificate_of_an_https_url(dev_plan: dict[str, Any]) -> None:
    backend = named(dev_plan, "orders-gateway-backend")["inputs"]
    assert backend["url"] == "https://orders-backend.contoso.example/api"
    assert backend["tls"] == {"validateCertificateChain": True, "validateCertificateName": True}
    assert backend["backendId"] == "orders-backend"
