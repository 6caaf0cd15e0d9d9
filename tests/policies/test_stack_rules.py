"""Stack rules 4, 5, 23, 32 (uniqueness) and 33 over small hand-built resource graphs."""

from __future__ import annotations

from typing import Any

from policies.secure_api_policies import UNKNOWN, StackResource
from policies.secure_api_policies import stack_rules as rules


def messages(violations: list[Any]) -> list[str]:
    return [v.message for v in violations]


def test_the_compliant_graph_passes_every_stack_rule(kit: Any) -> None:
    for check in (
        rules.ftp_basic_auth_disabled,
        rules.scm_basic_auth_disabled,
        rules.api_validates_entra_token,
        rules.app_role_values_unique,
        rules.consumer_identity_has_direct_role,
    ):
        assert check(kit.stack) == [], check.__name__


def test_a_web_app_without_ftp_switch_is_reported_on_the_web_app(kit: Any) -> None:
    stack = kit.replace(kit.stack, "orders-client-ftp", lambda r: None)
    [violation] = rules.ftp_basic_auth_disabled(stack)
    assert violation.urn == kit.urn("web", "orders-client")
    assert "WebAppFtpAllowed" in violation.message
    assert "allow=False" in violation.message


def test_a_scm_switch_left_on_is_reported_on_the_switch(kit: Any) -> None:
    stack = kit.replace(kit.stack, "orders-client-scm", lambda r: kit.with_props(r, allow=True))
    [violation] = rules.scm_basic_auth_disabled(stack)
    assert violation.urn == kit.urn("scm", "orders-client-scm")
    assert "allow=true" in violation.message


def test_a_switch_for_another_web_app_does_not_count(kit: Any) -> None:
    stack = kit.replace(kit.stack, "orders-client-ftp", lambda r: kit.with_props(r, name="other"))
    assert rules.ftp_basic_auth_disabled(stack)


def test_a_switch_in_another_resource_group_does_not_count(kit: Any) -> None:
    stack = kit.replace(
        kit.stack, "orders-client-ftp", lambda r: kit.with_props(r, resourceGroupName="rg-prod")
    )
    assert rules.ftp_basic_auth_disabled(stack)


def test_switch_allow_unknown_cannot_be_verified(kit: Any) -> None:
    stack = kit.replace(kit.stack, "orders-client-ftp", lambda r: kit.with_props(r, allow=UNKNOWN))
    assert "cannot be verified" in messages(rules.ftp_basic_auth_disabled(stack))[0]


def test_names_unknown_at_preview_link_through_property_dependencies(kit: Any) -> None:
    web = kit.res("web", "a", {"name": UNKNOWN, "identity": {"type": "SystemAssigned"}})
    ftp = kit.res("ftp", "a-ftp", {"name": UNKNOWN, "allow": False}, {"name": web.urn})
    assert rules.ftp_basic_auth_disabled([web, ftp]) == []
    # With no switch in the stack at all, the app certainly has none, name known or not.
    assert rules.ftp_basic_auth_disabled([web])


def deployed_switch(kit: Any, name: str, **props: Any) -> StackResource:
    """A switch as the engine reports it after deployment: `name` is the ARM child name."""
    return kit.res(
        "ftp", name, {"name": "ftp", "resourceGroupName": "rg-dev", "allow": False, **props}
    )


def test_deployed_switches_link_by_the_program_dependency_on_their_web_app(kit: Any) -> None:
    web = kit.res("web", "a", {"name": "app-a", "resourceGroupName": "rg-dev"})
    other = kit.res("web", "b", {"name": "app-b", "resourceGroupName": "rg-dev"})
    base = deployed_switch(kit, "a-ftp")
    switch = StackResource(base.type, base.name, base.urn, base.props, dependencies=(web.urn,))
    [violation] = rules.ftp_basic_auth_disabled([web, other, switch])
    assert violation.urn == other.urn


def test_deployed_switches_link_by_the_site_in_their_id(kit: Any) -> None:
    web = kit.res("web", "a", {"name": "app-a", "resourceGroupName": "rg-dev"})
    site = "/subscriptions/s/resourceGroups/rg-dev/providers/Microsoft.Web/sites/app-a"
    switch = deployed_switch(kit, "a-ftp", id=f"{site}/basicPublishingCredentialsPolicies/ftp")
    assert rules.ftp_basic_auth_disabled([web, switch]) == []
    elsewhere = deployed_switch(
        kit, "a-ftp", id=f"{site.replace('app-a', 'app-z')}/basicPublishingCredentialsPolicies/ftp"
    )
    assert rules.ftp_basic_auth_disabled([web, elsewhere])


def test_a_switch_whose_target_cannot_be_told_is_not_guessed(kit: Any) -> None:
    web = kit.res("web", "a", {"name": "app-a", "resourceGroupName": "rg-dev"})
    assert rules.ftp_basic_auth_disabled([web, deployed_switch(kit, "mystery")]) == []


def test_an_api_without_any_policy_is_reported(kit: Any) -> None:
    stack = kit.replace(kit.stack, "orders-policy", lambda r: None)
    [violation] = rules.api_validates_entra_token(stack)
    assert violation.urn == kit.urn("api", "orders")
    assert "has no ApiPolicy" in violation.message


def test_a_policy_on_another_api_does_not_count(kit: Any) -> None:
    stack = kit.replace(kit.stack, "orders-policy", lambda r: kit.with_props(r, apiId="billing"))
    assert rules.api_validates_entra_token(stack)


def test_a_policy_on_the_same_api_id_in_another_service_does_not_count(kit: Any) -> None:
    stack = kit.replace(
        kit.stack, "orders-policy", lambda r: kit.with_props(r, serviceName="apim-other")
    )
    assert rules.api_validates_entra_token(stack)


def test_a_policy_without_token_validation_is_reported(kit: Any) -> None:
    bare = (
        "<policies><inbound><base /></inbound><backend><base /></backend>"
        "<outbound><base /></outbound><on-error><base /></on-error></policies>"
    )
    stack = kit.replace(kit.stack, "orders-policy", lambda r: kit.with_props(r, value=bare))
    [message] = messages(rules.api_validates_entra_token(stack))
    assert "no validate-azure-ad-token" in message


def test_a_validation_without_roles_claim_or_audience_names_what_is_missing(kit: Any) -> None:
    xml = kit.API_POLICY_XML.replace(
        "<audiences><audience>{{orders-audience}}</audience></audiences>", ""
    ).replace('name="roles"', 'name="scp"')
    stack = kit.replace(kit.stack, "orders-policy", lambda r: kit.with_props(r, value=xml))
    [message] = messages(rules.api_validates_entra_token(stack))
    assert "<audiences>" in message
    assert 'claim name="roles"' in message


def test_an_empty_tenant_is_reported(kit: Any) -> None:
    xml = kit.API_POLICY_XML.replace('tenant-id="{{tenant-id}}"', 'tenant-id=""')
    stack = kit.replace(kit.stack, "orders-policy", lambda r: kit.with_props(r, value=xml))
    assert "tenant-id" in messages(rules.api_validates_entra_token(stack))[0]


def test_a_policy_whose_api_id_is_unknown_links_by_dependency_or_is_skipped(kit: Any) -> None:
    api = kit.urn("api", "orders")
    linked = kit.replace(
        kit.stack,
        "orders-policy",
        lambda r: StackResource(
            r.type, r.name, r.urn, {**r.props, "apiId": UNKNOWN}, None, {"apiId": (api,)}
        ),
    )
    assert rules.api_validates_entra_token(linked) == []
    unlinked = kit.replace(kit.stack, "orders-policy", lambda r: kit.with_props(r, apiId=UNKNOWN))
    assert rules.api_validates_entra_token(unlinked) == []


def test_duplicate_role_values_on_one_registration_are_reported(kit: Any) -> None:
    stack = kit.replace(
        kit.stack, "orders-api-write", lambda r: kit.with_props(r, value="Orders.Read")
    )
    [violation] = rules.app_role_values_unique(stack)
    assert violation.urn == kit.urn("role", "orders-api-write")
    assert 'value="Orders.Read"' in violation.message


def test_the_same_role_value_on_two_registrations_is_fine(kit: Any) -> None:
    other = kit.res(
        "role",
        "billing-read",
        {"applicationId": "/applications/other", "roleId": kit.WRITE_ID, "value": "Orders.Read"},
    )
    assert rules.app_role_values_unique([*kit.stack, other]) == []


def test_a_consumer_identity_without_assignment_is_reported(kit: Any) -> None:
    stack = kit.replace(kit.stack, "orders-client-read", lambda r: None)
    [violation] = rules.consumer_identity_has_direct_role(stack)
    assert violation.urn == kit.urn("web", "orders-client")
    assert "principal_object_id" in violation.message


def test_a_consumer_principal_unknown_at_preview_is_skipped_or_linked_by_dependency(
    kit: Any,
) -> None:
    web = kit.res("web", "a", {"identity": {"type": "SystemAssigned", "principalId": UNKNOWN}})
    assert rules.consumer_identity_has_direct_role([web]) == []
    known = kit.res("web", "b", {"identity": {"type": "SystemAssigned", "principalId": "p-1"}})
    grant = kit.res(
        "assignment", "b-read", {"principalObjectId": UNKNOWN}, {"principalObjectId": known.urn}
    )
    assert rules.consumer_identity_has_direct_role([known, grant]) == []
    assert rules.consumer_identity_has_direct_role([known])


def deployed(r: StackResource, drop: tuple[str, ...], **props: Any) -> StackResource:
    """The resource as azure-native reports it after deployment: path parameters are not
    outputs, only the ARM ID (when given) and the program's dependencies remain."""
    kept = {k: v for k, v in r.props.items() if k not in drop}
    deps = tuple(props.pop("dependencies", ()))
    return StackResource(r.type, r.name, r.urn, {**kept, **props}, None, {}, deps)


PATH_PARAMS = ("apiId", "serviceName", "resourceGroupName", "operationId")
SERVICE_ID = (
    "/subscriptions/s/resourceGroups/rg-dev/providers/Microsoft.ApiManagement/service/apim-dev"
)


def test_a_deployed_policy_links_to_its_api_by_arm_id(kit: Any) -> None:
    own = f"{SERVICE_ID}/apis/orders/policies/policy"
    stack = kit.replace(kit.stack, "orders-policy", lambda r: deployed(r, PATH_PARAMS, id=own))
    assert rules.api_validates_entra_token(stack) == []
    other = f"{SERVICE_ID}/apis/billing/policies/policy"
    stack = kit.replace(kit.stack, "orders-policy", lambda r: deployed(r, PATH_PARAMS, id=other))
    assert "has no ApiPolicy" in messages(rules.api_validates_entra_token(stack))[0]


def test_a_deployed_policy_without_id_links_by_its_dependency_on_the_api(kit: Any) -> None:
    api = kit.urn("api", "orders")
    billing = kit.res("api", "billing", {"name": "billing"})
    stack = kit.replace(
        kit.stack, "orders-policy", lambda r: deployed(r, PATH_PARAMS, dependencies=(api,))
    )
    [violation] = rules.api_validates_entra_token([*stack, billing])
    assert violation.urn == billing.urn


def test_a_validation_without_allowed_client_application_ids_is_reported(kit: Any) -> None:
    start = kit.API_POLICY_XML.index("<client-application-ids>")
    end = kit.API_POLICY_XML.index("</client-application-ids>") + len("</client-application-ids>")
    xml = kit.API_POLICY_XML[:start] + kit.API_POLICY_XML[end:]
    stack = kit.replace(kit.stack, "orders-policy", lambda r: kit.with_props(r, value=xml))
    [message] = messages(rules.api_validates_entra_token(stack))
    assert "<client-application-ids><application-id>" in message


def test_an_empty_client_application_ids_list_is_reported(kit: Any) -> None:
    xml = kit.API_POLICY_XML.replace(
        "<application-id>{{client-orders-client}}</application-id>",
        "<application-id> </application-id>",
    )
    stack = kit.replace(kit.stack, "orders-policy", lambda r: kit.with_props(r, value=xml))
    assert "client-application-ids" in messages(rules.api_validates_entra_token(stack))[0]
