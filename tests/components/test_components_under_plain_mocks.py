"""Components under Pulumi's own mock monitor (not the sandbox's recorder), preview=False."""

from __future__ import annotations

from typing import Any

import pulumi


class EchoMocks(pulumi.runtime.Mocks):
    def __init__(self) -> None:
        self.created: list[pulumi.runtime.MockResourceArgs] = []

    def new_resource(self, args: pulumi.runtime.MockResourceArgs) -> tuple[str, dict[str, Any]]:
        self.created.append(args)
        outputs = dict(args.inputs)
        if args.typ.endswith(":ApplicationRegistration"):
            outputs["clientId"] = "11111111-2222-3333-4444-555555555555"
        if args.typ.endswith(":ServicePrincipal"):
            outputs["objectId"] = "66666666-7777-8888-9999-000000000000"
        return f"{args.name}-id", outputs

    def call(self, args: pulumi.runtime.MockCallArgs) -> dict[str, Any]:
        return {}


def test_api_identity_outputs_the_identifier_uri_and_requires_assignment() -> None:
    mocks = EchoMocks()
    pulumi.runtime.set_mocks(mocks, project="secure-api-calls", stack="unit", preview=False)
    from components.api_identity import ApiIdentity, ApiIdentityArgs
    from components.config import Api

    api = Api.model_validate(
        {
            "name": "orders",
            "displayName": "Orders",
            "path": "orders",
            "backendUrl": "https://orders.example",
            "roles": [{"value": "Orders.Read"}],
            "operations": [
                {"id": "list", "method": "GET", "urlTemplate": "/o", "roles": ["Orders.Read"]}
            ],
        }
    )
    identity = ApiIdentity(
        "orders",
        ApiIdentityArgs(
            api=api,
            stack="unit",
            display_name="o",
            deployer_object_id="deployer",
            developer_tools=("azure-cli",),
        ),
    )

    @pulumi.runtime.test
    def check() -> pulumi.Output[None]:
        def verify(values: list[str]) -> None:
            uri, principal = values
            assert uri == "api://11111111-2222-3333-4444-555555555555"
            assert principal == "66666666-7777-8888-9999-000000000000"
            sp = next(a for a in mocks.created if a.typ.endswith(":ServicePrincipal"))
            assert sp.inputs["appRoleAssignmentRequired"] is True

        return pulumi.Output.all(
            identity.identifier_uri, identity.service_principal_object_id
        ).apply(verify)

    check()
    # After the run every registration has reached the monitor.
    kinds = sorted(a.typ.rsplit(":", 1)[-1] for a in mocks.created if a.custom)
    assert kinds == [
        "ApplicationAppRole",  # Orders.Read
        "ApplicationAppRole",  # Gateway.Forward, for the backend hop
        "ApplicationIdentifierUri",
        "ApplicationPermissionScope",
        "ApplicationPreAuthorized",
        "ApplicationRegistration",
        "ServicePrincipal",
    ]


def test_component_args_refuse_inconsistent_input() -> None:
    import pytest

    from components.role_grants import Grant, RoleGrantsArgs

    grant = Grant(api="orders", role="Orders.Read", role_id="x", resource_object_id="y")
    with pytest.raises(ValueError, match="granted twice"):
        RoleGrantsArgs(principal_id="p", grants=(grant, grant))
