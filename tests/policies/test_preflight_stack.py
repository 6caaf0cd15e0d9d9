"""Deployability stack rules 38 (operation signatures), 41 (app roles on principals outside
the stack) and 43 (role-assignment principal type), over small hand-built graphs that each test
changes in one place. Rule 37 (Key Vault references) is in `test_preflight_references.py`."""

from __future__ import annotations

from typing import Any

import pytest

from policies.secure_api_policies import UNKNOWN, StackResource
from policies.secure_api_policies.preflight import apim, principals
from tests.preflight_graph import SECRETS_USER, SITE, SITE_PRINCIPAL, messages, res

# --- rule 38: one method + URL template per API --------------------------------------------

SERVICE = {"serviceName": "apim-dev", "resourceGroupName": "rg-dev"}


def op(
    name: str, method: str, template: str, api_id: str = "orders", **props: Any
) -> StackResource:
    inputs = {"apiId": api_id, "operationId": name, "method": method, "urlTemplate": template}
    return res("op", name, {**inputs, **SERVICE, **props})


def test_templates_differing_only_in_parameter_names_collide() -> None:
    first, second = (
        op("get-order", "GET", "/orders/{orderId}"),
        op("get-one", "get", "/orders/{id}"),
    )
    [violation] = apim.operations_unique([first, second])
    assert violation.urn == second.urn
    assert "Operation 'get-order'" in violation.message
    assert "same method and URL template" in violation.message


@pytest.mark.parametrize(
    "other",
    [
        op("create", "POST", "/orders/{id}"),
        op("items", "GET", "/orders/{id}/items"),
        op("get-elsewhere", "GET", "/orders/{id}", api_id="billing"),
        op("get-other-service", "GET", "/orders/{id}", serviceName="apim-prod"),
        op("get-unknown", "GET", UNKNOWN),
        op("get-unknown-method", UNKNOWN, "/orders/{id}"),
    ],
    ids=[
        "other-method",
        "other-path",
        "other-api",
        "other-service",
        "template-unknown",
        "method-unknown",
    ],
)
def test_operations_that_differ_or_cannot_be_told_pass(other: StackResource) -> None:
    assert apim.operations_unique([op("get-order", "GET", "/orders/{orderId}"), other]) == []


def test_operations_with_unknown_api_ids_are_grouped_by_their_api_dependency() -> None:
    api = res("api", "orders", {"apiId": "orders", **SERVICE})
    a = res("op", "a", {**op("a", "GET", "/x/{a}").props, "apiId": UNKNOWN}, {"apiId": [api.urn]})
    b = res("op", "b", {**op("b", "GET", "/x/{b}").props, "apiId": UNKNOWN}, {"apiId": [api.urn]})
    assert apim.operations_unique([api, a, b])
    other_api = res("api", "billing", {"apiId": "billing", **SERVICE})
    c = res("op", "b", b.props, {"apiId": [other_api.urn]})
    assert apim.operations_unique([api, other_api, a, c]) == []


def test_template_signatures_drop_parameter_names_only() -> None:
    assert apim.template_signature("/a/{x}/b/{y}?q={z}") == "/a/{}/b/{}?q={}"
    assert apim.template_signature("/a/b") == "/a/b"


# --- rules 41 and 43: principals -----------------------------------------------------------

SP_OBJECT_ID = "9a1c2b3d-4e5f-4a6b-8c7d-0e1f2a3b4c5d"
GROUP_ID = "3b0d4e5f-6a7b-4c8d-9e0f-1a2b3c4d5e6f"
API_SP = res("sp", "api-sp", {"objectId": SP_OBJECT_ID})


def app_role(principal: str, deps: list[str] | None = None) -> StackResource:
    props = {"principalObjectId": principal, "resourceObjectId": SP_OBJECT_ID, "appRoleId": "r"}
    return res("app_role", "grant", props, {"principalObjectId": deps} if deps else None)


@pytest.mark.parametrize(
    "assignment",
    [
        app_role(SITE_PRINCIPAL, [SITE.urn]),
        app_role(SITE_PRINCIPAL),
        app_role(SP_OBJECT_ID),
        app_role(UNKNOWN),
    ],
    ids=["identity-by-dependency", "identity-by-value", "service-principal", "unknown"],
)
def test_app_roles_on_stack_identities_or_unknown_principals_pass(
    assignment: StackResource,
) -> None:
    assert principals.app_role_group_licence([SITE, API_SP, assignment]) == []


def test_an_app_role_on_a_literal_object_id_is_advised_about_the_licence() -> None:
    [message] = messages(principals.app_role_group_licence([SITE, API_SP, app_role(GROUP_ID)]))
    assert f'"{GROUP_ID}"' in message
    assert "P1 or P2" in message
    assert "literal object ID" in message


def test_an_app_role_on_a_group_of_the_stack_is_advised_as_certain() -> None:
    group = res("group", "devs", {"objectId": GROUP_ID, "securityEnabled": True})
    for assignment in (app_role(UNKNOWN, [group.urn]), app_role(GROUP_ID)):
        [message] = messages(principals.app_role_group_licence([group, assignment]))
        assert "a group of this stack" in message


def role_grant(
    principal_type: Any, principal: str = SITE_PRINCIPAL, deps: list[str] | None = None
) -> StackResource:
    props = {
        "principalId": principal,
        "principalType": principal_type,
        "roleDefinitionId": SECRETS_USER,
    }
    return res("grant", "reader", props, {"principalId": deps} if deps else None)


@pytest.mark.parametrize(
    "assignment",
    [role_grant("User", deps=[SITE.urn]), role_grant("User"), role_grant("Group", SP_OBJECT_ID)],
    ids=["sdk-default-by-dependency", "sdk-default-by-value", "service-principal-as-group"],
)
def test_a_principal_type_other_than_service_principal_for_an_identity_is_refused(
    assignment: StackResource,
) -> None:
    [message] = messages(principals.role_assignment_principal_type([SITE, API_SP, assignment]))
    assert "UnmatchedPrincipalType" in message
    assert 'principal_type="ServicePrincipal"' in message


@pytest.mark.parametrize(
    "assignment",
    [
        role_grant("ServicePrincipal", deps=[SITE.urn]),
        role_grant("User", principal="0f0e0d0c-0b0a-4909-8807-060504030201"),
        role_grant(None, deps=[SITE.urn]),
        role_grant(UNKNOWN, deps=[SITE.urn]),
        role_grant("User", principal=UNKNOWN),
    ],
    ids=["service-principal", "outside-literal", "absent", "type-unknown", "principal-unknown"],
)
def test_matching_absent_or_untellable_principal_types_pass(assignment: StackResource) -> None:
    assert principals.role_assignment_principal_type([SITE, API_SP, assignment]) == []


def test_a_group_of_the_stack_must_be_sent_as_group() -> None:
    group = res("group", "devs", {"objectId": GROUP_ID})
    [message] = messages(
        principals.role_assignment_principal_type(
            [group, role_grant("User", GROUP_ID, [group.urn])]
        )
    )
    assert 'principal_type="Group"' in message
