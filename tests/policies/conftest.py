"""A small, compliant resource graph that the stack-rule tests mutate one link at a time."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from policies.secure_api_policies import StackResource
from tests.policy_fixtures import (
    APP_OBJECT_ID,
    CLIENT_ID,
    PRINCIPAL_ID,
    READ_ID,
    SP_OBJECT_ID,
    TENANT,
    WRITE_ID,
)

API_POLICY_XML = (
    "<policies><inbound><base />"
    '<validate-azure-ad-token tenant-id="{{tenant-id}}" failed-validation-httpcode="401">'
    "<client-application-ids><application-id>{{client-orders-client}}</application-id>"
    "</client-application-ids>"
    "<audiences><audience>{{orders-audience}}</audience></audiences>"
    '<required-claims><claim name="roles" match="any"><value>Orders.Read</value>'
    "<value>Orders.Write</value></claim></required-claims></validate-azure-ad-token>"
    '<set-backend-service backend-id="orders-backend" /></inbound>'
    "<backend><base /></backend><outbound><base /></outbound><on-error><base /></on-error>"
    "</policies>"
)
OPERATION_POLICY_XML = (
    "<policies><inbound><base />"
    '<validate-azure-ad-token tenant-id="{{tenant-id}}" failed-validation-httpcode="403">'
    '<required-claims><claim name="roles" match="any"><value>Orders.Read</value></claim>'
    "</required-claims></validate-azure-ad-token></inbound>"
    "<backend><base /></backend><outbound><base /></outbound><on-error><base /></on-error>"
    "</policies>"
)

T = {
    "web": "azure-native:web:WebApp",
    "ftp": "azure-native:web:WebAppFtpAllowed",
    "scm": "azure-native:web:WebAppScmAllowed",
    "api": "azure-native:apimanagement:Api",
    "api_policy": "azure-native:apimanagement:ApiPolicy",
    "op_policy": "azure-native:apimanagement:ApiOperationPolicy",
    "named_value": "azure-native:apimanagement:NamedValue",
    "reg": "azuread:index/applicationRegistration:ApplicationRegistration",
    "uri": "azuread:index/applicationIdentifierUri:ApplicationIdentifierUri",
    "role": "azuread:index/applicationAppRole:ApplicationAppRole",
    "sp": "azuread:index/servicePrincipal:ServicePrincipal",
    "assignment": "azuread:index/appRoleAssignment:AppRoleAssignment",
}


def urn(kind: str, name: str) -> str:
    return f"urn:pulumi:dev::secure-api-calls::{T[kind]}::{name}"


def res(
    kind: str, name: str, props: dict[str, Any], deps: dict[str, str] | None = None
) -> StackResource:
    """A resource; `deps` maps a property to the URN it was computed from."""
    return StackResource(
        type=T[kind],
        name=name,
        urn=urn(kind, name),
        props=props,
        property_dependencies={k: (v,) for k, v in (deps or {}).items()},
    )


def orders_stack() -> list[StackResource]:
    service = {"serviceName": "apim-dev", "resourceGroupName": "rg-dev"}
    return [
        res(
            "web",
            "orders-client",
            {
                "name": "orders-client-app",
                "resourceGroupName": "rg-dev",
                "identity": {"type": "SystemAssigned", "principalId": PRINCIPAL_ID},
            },
        ),
        res(
            "ftp",
            "orders-client-ftp",
            {"name": "orders-client-app", "resourceGroupName": "rg-dev", "allow": False},
        ),
        res(
            "scm",
            "orders-client-scm",
            {"name": "orders-client-app", "resourceGroupName": "rg-dev", "allow": False},
        ),
        res("api", "orders", {"apiId": "orders", "name": "orders", **service}),
        res(
            "api_policy",
            "orders-policy",
            {"apiId": "orders", "format": "xml", "value": API_POLICY_XML, **service},
        ),
        res(
            "op_policy",
            "orders-get-policy",
            {
                "apiId": "orders",
                "operationId": "get-order",
                "format": "xml",
                "value": OPERATION_POLICY_XML,
                **service,
            },
        ),
        res("named_value", "tenant-id", {"displayName": "tenant-id", "value": TENANT, **service}),
        res(
            "named_value",
            "orders-audience",
            {"displayName": "orders-audience", "value": CLIENT_ID, **service},
        ),
        res(
            "reg",
            "orders-api",
            {
                "displayName": "orders-api",
                "clientId": CLIENT_ID,
                "objectId": APP_OBJECT_ID,
                "id": f"/applications/{APP_OBJECT_ID}",
            },
        ),
        res(
            "uri",
            "orders-api-uri",
            {
                "applicationId": f"/applications/{APP_OBJECT_ID}",
                "identifierUri": f"api://{CLIENT_ID}",
            },
        ),
        res(
            "role",
            "orders-api-read",
            {
                "applicationId": f"/applications/{APP_OBJECT_ID}",
                "roleId": READ_ID,
                "value": "Orders.Read",
            },
        ),
        res(
            "role",
            "orders-api-write",
            {
                "applicationId": f"/applications/{APP_OBJECT_ID}",
                "roleId": WRITE_ID,
                "value": "Orders.Write",
            },
        ),
        res(
            "sp",
            "orders-api-sp",
            {"clientId": CLIENT_ID, "objectId": SP_OBJECT_ID, "appRoleAssignmentRequired": True},
        ),
        res(
            "assignment",
            "orders-client-read",
            {
                "appRoleId": READ_ID,
                "principalObjectId": PRINCIPAL_ID,
                "resourceObjectId": SP_OBJECT_ID,
            },
        ),
    ]


def replace(
    stack: list[StackResource], name: str, update: Callable[[StackResource], StackResource | None]
) -> list[StackResource]:
    """The stack with the resource called `name` replaced (or dropped when update gives None)."""
    out = []
    for r in stack:
        if r.name == name:
            new = update(r)
            if new is not None:
                out.append(new)
        else:
            out.append(r)
    return out


def with_props(r: StackResource, **changes: Any) -> StackResource:
    return StackResource(
        r.type, r.name, r.urn, {**r.props, **changes}, r.parent, r.property_dependencies
    )


class Kit:
    """What stack-rule tests need, handed over as a fixture (tests cannot import conftest)."""

    TENANT = TENANT
    CLIENT_ID = CLIENT_ID
    APP_OBJECT_ID = APP_OBJECT_ID
    SP_OBJECT_ID = SP_OBJECT_ID
    PRINCIPAL_ID = PRINCIPAL_ID
    READ_ID = READ_ID
    WRITE_ID = WRITE_ID
    API_POLICY_XML = API_POLICY_XML
    OPERATION_POLICY_XML = OPERATION_POLICY_XML
    res = staticmethod(res)
    urn = staticmethod(urn)
    replace = staticmethod(replace)
    with_props = staticmethod(with_props)

    def __init__(self) -> None:
        self.stack = orders_stack()


@pytest.fixture
def kit() -> Kit:
    return Kit()
