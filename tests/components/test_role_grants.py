"""Role grants wire each consumer identity straight to the API's principal and role."""

from __future__ import annotations

from typing import Any

from tests.plan_helpers import named, of_type


def test_a_grant_wires_web_app_identity_to_api_principal_and_role(
    dev_plan: dict[str, Any],
) -> None:
    grant = named(dev_plan, "storefront-grants-orders-orders-write")["inputs"]
    site = named(dev_plan, "storefront-site")["outputs"]
    principal = named(dev_plan, "orders-service-principal")["outputs"]
    role = named(dev_plan, "orders-role-orders-write")["inputs"]
    assert grant["principalObjectId"] == site["identity"]["principalId"]
    assert grant["resourceObjectId"] == principal["objectId"]
    assert grant["appRoleId"] == role["roleId"]


def test_each_consumer_gets_exactly_the_roles_its_config_grants(dev_plan: dict[str, Any]) -> None:
    roles = {
        r["inputs"]["roleId"]: r["inputs"]["value"]
        for r in of_type(dev_plan, ":ApplicationAppRole")
    }
    principals = {
        r["outputs"]["identity"]["principalId"]: r["inputs"]["name"]
        for r in of_type(dev_plan, ":WebApp")
    }
    granted = sorted(
        (principals[g["inputs"]["principalObjectId"]], roles[g["inputs"]["appRoleId"]])
        for g in of_type(dev_plan, ":AppRoleAssignment")
        if g["inputs"]["principalObjectId"] in principals
    )
    assert granted == [
        ("app-contoso-reporting-dev", "Orders.Read"),
        ("app-contoso-storefront-dev", "Inventory.Read"),
        ("app-contoso-storefront-dev", "Orders.Read"),
        ("app-contoso-storefront-dev", "Orders.Write"),
    ]


def test_grants_depend_on_the_web_app_identity(dev_plan: dict[str, Any]) -> None:
    grant = named(dev_plan, "reporting-grants-orders-orders-read")
    site = named(dev_plan, "reporting-site")
    assert grant["propertyDependencies"]["principalObjectId"] == [site["urn"]]
