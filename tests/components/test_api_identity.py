"""The API's Entra identity, as the engine would receive it (mocks, preview=False)."""

from __future__ import annotations

import uuid
from typing import Any

from components.config import DEVELOPER_TOOLS
from tests.fixture_stacks import DEV
from tests.plan_helpers import by_urn, named, of_type


def test_registration_is_single_tenant_without_implicit_grant(dev_plan: dict[str, Any]) -> None:
    registration = named(dev_plan, "orders-registration")["inputs"]
    assert registration["signInAudience"] == "AzureADMyOrg"
    assert registration["requestedAccessTokenVersion"] == 2
    assert registration["implicitAccessTokenIssuanceEnabled"] is False
    assert registration["implicitIdTokenIssuanceEnabled"] is False
    assert registration["displayName"] == "contoso-orders-dev"


def test_identifier_uri_is_api_scheme_plus_the_registrations_client_id(
    dev_plan: dict[str, Any],
) -> None:
    registration = named(dev_plan, "orders-registration")
    uri = named(dev_plan, "orders-identifier-uri")["inputs"]
    assert uri["identifierUri"] == "api://" + registration["outputs"]["clientId"]
    assert uri["applicationId"] == by_urn(dev_plan, registration["urn"])["outputs"].get(
        "id", uri["applicationId"]
    )


def test_service_principal_requires_assignment(dev_plan: dict[str, Any]) -> None:
    for principal in of_type(dev_plan, ":ServicePrincipal"):
        assert principal["inputs"]["appRoleAssignmentRequired"] is True


def test_role_ids_are_uuid5_stable_across_runs_and_different_across_stacks(
    dev_plan: dict[str, Any], prod_plan: dict[str, Any]
) -> None:
    from sandbox.plan.model import plan_stack

    again = plan_stack("dev", config_file=DEV)
    ids = {r["name"]: r["inputs"]["roleId"] for r in of_type(dev_plan, ":ApplicationAppRole")}
    assert ids == {r["name"]: r["inputs"]["roleId"] for r in of_type(again, ":ApplicationAppRole")}
    assert all(uuid.UUID(role_id).version == 5 for role_id in ids.values())
    prod = {r["name"]: r["inputs"]["roleId"] for r in of_type(prod_plan, ":ApplicationAppRole")}
    assert set(ids) == set(prod)
    assert all(ids[name] != prod[name] for name in ids)


def test_scope_carries_user_and_admin_consent_texts(dev_plan: dict[str, Any]) -> None:
    scope = named(dev_plan, "orders-scope")["inputs"]
    assert scope["value"] == "API.Access"
    assert scope["type"] == "User"
    for key in (
        "adminConsentDisplayName",
        "adminConsentDescription",
        "userConsentDisplayName",
        "userConsentDescription",
    ):
        assert scope[key]


def test_each_configured_developer_tool_is_pre_authorized_for_the_scope(
    dev_plan: dict[str, Any], prod_plan: dict[str, Any]
) -> None:
    scope_id = named(dev_plan, "orders-scope")["inputs"]["scopeId"]
    authorized = {
        r["inputs"]["authorizedClientId"]: r["inputs"]["permissionIds"]
        for r in of_type(dev_plan, ":ApplicationPreAuthorized")
        if r["name"].startswith("orders-")
    }
    assert set(authorized) == set(DEVELOPER_TOOLS.values())
    assert all(ids == [scope_id] for ids in authorized.values())
    prod_tools = {
        r["inputs"]["authorizedClientId"] for r in of_type(prod_plan, ":ApplicationPreAuthorized")
    }
    assert prod_tools == {DEVELOPER_TOOLS["azure-cli"]}


def test_developer_groups_get_their_roles_on_the_api_principal(dev_plan: dict[str, Any]) -> None:
    grant = named(dev_plan, "orders-group-orders-developers-orders-write")["inputs"]
    role = named(dev_plan, "orders-role-orders-write")["inputs"]
    principal = named(dev_plan, "orders-service-principal")["outputs"]
    assert grant["principalObjectId"] == "3b0d4e5f-6a7b-4c8d-9e0f-1a2b3c4d5e6f"
    assert grant["appRoleId"] == role["roleId"]
    assert grant["resourceObjectId"] == principal["objectId"]


def test_no_password_credentials_are_declared(dev_plan: dict[str, Any]) -> None:
    assert not of_type(dev_plan, ":ApplicationPassword")
    assert not of_type(dev_plan, ":ServicePrincipalPassword")
    assert not of_type(dev_plan, "index/application:Application")


def test_every_api_service_principal_lists_the_deploying_identity_among_its_owners(
    dev_plan: dict[str, Any], prod_plan: dict[str, Any]
) -> None:
    from sandbox.program.mocks import derived_id

    for stack, plan in (("dev", dev_plan), ("prod", prod_plan)):
        deployer = derived_id(stack, "deployer-object")  # getClientConfig's objectId
        principals = of_type(plan, ":ServicePrincipal")
        assert len(principals) == 2
        for principal in principals:
            assert principal["inputs"]["owners"] == [deployer]


def test_no_application_owner_resource_fights_the_owner_graph_already_set(
    dev_plan: dict[str, Any],
) -> None:
    # Graph makes the creating caller an owner; an ApplicationOwner for it would fail on create.
    assert of_type(dev_plan, ":ApplicationOwner") == []
