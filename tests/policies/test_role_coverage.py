"""Rule 34: roles required by gateway policies and granted to consumers exist on the API's
own registration, followed through named values, client IDs and object IDs."""

from __future__ import annotations

from typing import Any

import pytest

from policies.secure_api_policies import SECRET, UNKNOWN, StackResource
from policies.secure_api_policies.role_coverage import required_roles_defined


def test_the_compliant_graph_passes(kit: Any) -> None:
    assert required_roles_defined(kit.stack) == []


def test_a_role_required_by_the_api_policy_but_not_defined_is_reported(kit: Any) -> None:
    xml = kit.API_POLICY_XML.replace("Orders.Write", "Orders.Delete")
    stack = kit.replace(kit.stack, "orders-policy", lambda r: kit.with_props(r, value=xml))
    [violation] = required_roles_defined(stack)
    assert violation.urn == kit.urn("api_policy", "orders-policy")
    assert 'role "Orders.Delete"' in violation.message
    assert "ApplicationRegistration 'orders-api'" in violation.message


def test_an_operation_policy_uses_its_api_policys_audience(kit: Any) -> None:
    xml = kit.OPERATION_POLICY_XML.replace("Orders.Read", "Orders.Raed")
    stack = kit.replace(kit.stack, "orders-get-policy", lambda r: kit.with_props(r, value=xml))
    [violation] = required_roles_defined(stack)
    assert violation.urn == kit.urn("op_policy", "orders-get-policy")
    assert "Orders.Raed" in violation.message


@pytest.mark.parametrize("form", ["{client}", "api://{client}", "api://{client}/"])
def test_literal_audiences_resolve_to_the_registration(kit: Any, form: str) -> None:
    audience = form.format(client=kit.CLIENT_ID)
    xml = kit.API_POLICY_XML.replace("{{orders-audience}}", audience).replace(
        "Orders.Write", "Orders.Delete"
    )
    stack = kit.replace(kit.stack, "orders-policy", lambda r: kit.with_props(r, value=xml))
    assert "Orders.Delete" in required_roles_defined(stack)[0].message


def test_a_named_value_holding_api_uri_resolves_to_the_registration(kit: Any) -> None:
    stack = kit.replace(
        kit.stack,
        "orders-audience",
        lambda r: kit.with_props(r, value=f"api://{kit.CLIENT_ID}"),
    )
    xml = kit.API_POLICY_XML.replace("Orders.Write", "Orders.Delete")
    stack = kit.replace(stack, "orders-policy", lambda r: kit.with_props(r, value=xml))
    assert required_roles_defined(stack)


def test_a_named_value_found_by_named_value_id_resolves_too(kit: Any) -> None:
    stack = kit.replace(
        kit.stack,
        "orders-audience",
        lambda r: kit.with_props(r, displayName="Orders audience", namedValueId="orders-audience"),
    )
    xml = kit.API_POLICY_XML.replace("Orders.Write", "Orders.Delete")
    stack = kit.replace(stack, "orders-policy", lambda r: kit.with_props(r, value=xml))
    assert required_roles_defined(stack)


def test_an_audience_matching_no_registration_is_reported(kit: Any) -> None:
    stranger = "11111111-2222-4333-8444-555555555555"
    stack = kit.replace(kit.stack, "orders-audience", lambda r: kit.with_props(r, value=stranger))
    found = required_roles_defined(stack)
    assert found
    assert all("matches no app registration" in v.message for v in found)


def test_unknown_client_ids_at_preview_are_skipped(kit: Any) -> None:
    stack = kit.replace(kit.stack, "orders-api", lambda r: kit.with_props(r, clientId=UNKNOWN))
    stack = kit.replace(stack, "orders-audience", lambda r: kit.with_props(r, value=UNKNOWN))
    xml = kit.API_POLICY_XML.replace("Orders.Write", "Orders.Delete")
    stack = kit.replace(stack, "orders-policy", lambda r: kit.with_props(r, value=xml))
    assert required_roles_defined(stack) == []


def test_a_masked_named_value_links_through_its_dependency(kit: Any) -> None:
    reg = kit.urn("reg", "orders-api")
    stack = kit.replace(
        kit.stack,
        "orders-audience",
        lambda r: StackResource(
            r.type, r.name, r.urn, {**r.props, "value": SECRET}, None, {"value": (reg,)}
        ),
    )
    xml = kit.API_POLICY_XML.replace("Orders.Write", "Orders.Delete")
    stack = kit.replace(stack, "orders-policy", lambda r: kit.with_props(r, value=xml))
    assert "Orders.Delete" in required_roles_defined(stack)[0].message


def test_roles_linked_by_dependency_when_application_id_is_unknown(kit: Any) -> None:
    reg = kit.urn("reg", "orders-api")

    def unknown_app(r: StackResource) -> StackResource:
        return StackResource(
            r.type,
            r.name,
            r.urn,
            {**r.props, "applicationId": UNKNOWN},
            None,
            {"applicationId": (reg,)},
        )

    stack = kit.replace(kit.stack, "orders-api-read", unknown_app)
    stack = kit.replace(stack, "orders-api-write", unknown_app)
    assert required_roles_defined(stack) == []


def test_a_grant_of_a_role_the_registration_does_not_define_is_reported(kit: Any) -> None:
    stray = "00000000-0000-0000-0000-000000000000"
    stack = kit.replace(
        kit.stack, "orders-client-read", lambda r: kit.with_props(r, appRoleId=stray)
    )
    [violation] = required_roles_defined(stack)
    assert violation.urn == kit.urn("assignment", "orders-client-read")
    assert stray in violation.message


def test_a_grant_on_a_service_principal_outside_the_stack_is_not_judged(kit: Any) -> None:
    stack = kit.replace(
        kit.stack,
        "orders-client-read",
        lambda r: kit.with_props(r, appRoleId="x", resourceObjectId="graph-sp-object-id"),
    )
    assert required_roles_defined(stack) == []


def test_a_grant_whose_app_role_id_is_unknown_is_skipped(kit: Any) -> None:
    stack = kit.replace(
        kit.stack, "orders-client-read", lambda r: kit.with_props(r, appRoleId=UNKNOWN)
    )
    assert required_roles_defined(stack) == []


def test_unknown_client_ids_still_link_through_the_named_values_dependency(kit: Any) -> None:
    reg = kit.urn("reg", "orders-api")
    stack = kit.replace(kit.stack, "orders-api", lambda r: kit.with_props(r, clientId=UNKNOWN))
    stack = kit.replace(
        stack,
        "orders-audience",
        lambda r: StackResource(r.type, r.name, r.urn, r.props, None, {"value": (reg,)}),
    )
    xml = kit.API_POLICY_XML.replace("Orders.Write", "Orders.Delete")
    stack = kit.replace(stack, "orders-policy", lambda r: kit.with_props(r, value=xml))
    assert "Orders.Delete" in required_roles_defined(stack)[0].message


def test_deployed_operation_policies_find_their_api_policys_audience_by_dependency(
    kit: Any,
) -> None:
    api = kit.urn("api", "orders")
    params = ("apiId", "serviceName", "resourceGroupName", "operationId")

    def deployed(r: StackResource, **changes: Any) -> StackResource:
        kept = {k: v for k, v in r.props.items() if k not in params}
        return StackResource(r.type, r.name, r.urn, {**kept, **changes}, None, {}, (api,))

    xml = kit.OPERATION_POLICY_XML.replace("Orders.Read", "Orders.Raed")
    stack = kit.replace(kit.stack, "orders-policy", deployed)
    stack = kit.replace(stack, "orders-get-policy", lambda r: deployed(r, value=xml))
    [violation] = required_roles_defined(stack)
    assert "Orders.Raed" in violation.message
