"""Rules 47-53 and 62 over the dev plan: the backend hop is authenticated, the gateway role is
the gateway's alone, the backend site accepts only the gateway, the caller's credentials stop
at the gateway; every insecure variant fails."""

from __future__ import annotations

import copy
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from components import caller_headers, naming, protected_api
from policies.secure_api_policies import backend_hop
from sandbox.check.runner import run_check
from tests.fixture_stacks import plan_variant
from tests.plan_helpers import named, of_type

Plan = dict[str, Any]
HOP_RULES = {
    "apim-backend-hop-authenticated",
    "apim-caller-headers-not-forgeable",
    "apim-caller-credentials-stop-at-gateway",
    "entra-gateway-role-only-gateway",
    "entra-gateway-role-assigned",
    "webapp-backend-accepts-only-the-gateway",
    "webapp-backend-issuer-matches-token-version",
}
HOP = '<authentication-managed-identity resource="{{orders-audience}}" />'


def findings(plan: Plan, level: str = "mandatory") -> dict[str, list[str]]:
    found: dict[str, list[str]] = {}
    for finding in run_check(plan, {}).findings:
        if finding.level == level:
            found.setdefault(finding.rule, []).append(finding.message)
    return found


def edit(plan: Plan, name: str, change: Callable[[dict[str, Any]], None]) -> Plan:
    changed = copy.deepcopy(plan)
    resource = named(changed, name)
    for side in ("inputs", "outputs"):
        change(resource[side])
    return changed


def edit_xml(plan: Plan, name: str, old: str, new: str) -> Plan:
    def replace(values: dict[str, Any]) -> None:
        assert old in values["value"]
        values["value"] = values["value"].replace(old, new, 1)

    return edit(plan, name, replace)


def without(plan: Plan, name: str) -> Plan:
    changed = copy.deepcopy(plan)
    changed["resources"] = [r for r in changed["resources"] if r["name"] != name]
    return changed


def test_the_packs_names_are_the_programs() -> None:
    assert backend_hop.GATEWAY_ROLE == naming.GATEWAY_ROLE
    assert backend_hop.UNAUTHENTICATED_HOP == protected_api.UNAUTHENTICATED_HOP
    assert backend_hop.SUBSCRIPTION_KEY_HEADER == caller_headers.SUBSCRIPTION_KEY_HEADER
    assert backend_hop.SUBSCRIPTION_KEY_QUERY == caller_headers.SUBSCRIPTION_KEY_QUERY
    assert backend_hop.CALLER_TOKEN_HEADER == caller_headers.CALLER_TOKEN_HEADER
    assert backend_hop.METHOD_OVERRIDE_HEADERS == caller_headers.METHOD_OVERRIDE_HEADERS


@pytest.mark.parametrize("stack", ["dev", "prod"])
def test_the_fixture_stacks_pass_every_backend_hop_rule(
    stack: str, request: pytest.FixtureRequest
) -> None:
    plan = request.getfixturevalue(f"{stack}_plan")
    assert not HOP_RULES & set(findings(plan))
    assert "apim-backend-hop-exception" not in findings(plan, "advisory")


# --- 47/48: the hop is authenticated, or the API says why not ------------------------------


def test_a_policy_forwarding_without_the_gateways_token_fails(dev_plan: Plan) -> None:
    broken = edit_xml(dev_plan, "orders-gateway-policy", HOP, "")
    (message,) = findings(broken)["apim-backend-hop-authenticated"]
    assert "ApiPolicy 'orders-gateway-policy' calls its backend without the gateway's own" in (
        message
    )


def test_a_hop_before_the_token_validation_does_not_count(dev_plan: Plan) -> None:
    moved = edit_xml(dev_plan, "orders-gateway-policy", HOP, "")
    moved = edit_xml(
        moved, "orders-gateway-policy", "<validate-azure-ad-token", HOP + "<validate-azure-ad-token"
    )
    (message,) = findings(moved)["apim-backend-hop-authenticated"]
    assert "only before validate-azure-ad-token" in message


def test_a_hop_that_ignores_token_errors_fails(dev_plan: Plan) -> None:
    lenient = edit_xml(
        dev_plan, "orders-gateway-policy", HOP, HOP.replace(" />", ' ignore-error="true" />')
    )
    (message,) = findings(lenient)["apim-backend-hop-authenticated"]
    assert 'ignore-error="true"' in message


def test_an_api_that_says_why_not_is_reported_with_its_reason_not_failed(tmp_path: Path) -> None:
    reason = "a mainframe gateway that cannot validate tokens; retired in Q3"

    def opt_out(config: dict[str, Any]) -> None:
        config["secure-api-calls:apis"][0]["backendAuth"] = {"mode": "none", "reason": reason}

    plan = plan_variant(tmp_path, opt_out)
    assert not HOP_RULES & set(findings(plan))
    (advisory,) = findings(plan, "advisory")["apim-backend-hop-exception"]
    assert advisory.startswith(
        f"Backend 'orders-gateway-backend' is called without the gateway's token ({reason})"
    )
    # A declaration without a reason is no declaration.
    bare = edit(
        plan,
        "orders-gateway-backend",
        lambda v: v.update(description=protected_api.UNAUTHENTICATED_HOP),
    )
    assert "apim-backend-hop-authenticated" in findings(bare)


# --- 49: caller headers cannot be forged ---------------------------------------------------


def test_a_derived_header_not_removed_first_fails(dev_plan: Plan) -> None:
    kept = edit_xml(
        dev_plan,
        "orders-gateway-policy",
        '<set-header name="X-Caller-Roles" exists-action="delete" />',
        "",
    )
    (message,) = findings(kept)["apim-caller-headers-not-forgeable"]
    assert 'header "X-Caller-Roles" the gateway derives for the backend is not removed' in message


def test_a_derived_header_set_with_skip_fails(dev_plan: Plan) -> None:
    skip = edit_xml(
        dev_plan,
        "orders-gateway-policy",
        'name="X-Caller-Object-Id" exists-action="override"',
        'name="X-Caller-Object-Id" exists-action="skip"',
    )
    (message,) = findings(skip)["apim-caller-headers-not-forgeable"]
    assert 'uses exists-action="skip", which keeps a forged value' in message


def test_a_derived_header_set_before_validation_fails(dev_plan: Plan) -> None:
    early = edit_xml(
        dev_plan,
        "orders-gateway-policy",
        "<base />\n        <validate-azure-ad-token",
        '<base />\n<set-header name="X-Tenant"><value>@(context.Request.IpAddress)</value>'
        "</set-header><validate-azure-ad-token",
    )
    (message,) = findings(early)["apim-caller-headers-not-forgeable"]
    assert "is set before the caller's token is validated" in message


# --- 62: the caller's credentials stop at the gateway ---------------------------------------

KEY_HEADER = '<set-header name="Ocp-Apim-Subscription-Key" exists-action="delete" />'
KEY_QUERY = '<set-query-parameter name="subscription-key" exists-action="delete" />'
OVERRIDE = '<set-header name="X-HTTP-Method" exists-action="delete" />'


@pytest.mark.parametrize("statement", [KEY_HEADER, KEY_QUERY, OVERRIDE])
def test_a_policy_forwarding_a_caller_credential_fails_naming_the_missing_statement(
    dev_plan: Plan, statement: str
) -> None:
    leaky = edit_xml(dev_plan, "orders-gateway-policy", statement, "")
    (message,) = findings(leaky)["apim-caller-credentials-stop-at-gateway"]
    assert message.startswith("ApiPolicy 'orders-gateway-policy' forwards to its backend")
    assert message.endswith(f"add after validate-azure-ad-token: {statement}")


def test_removing_the_key_before_validation_does_not_count(dev_plan: Plan) -> None:
    early = edit_xml(dev_plan, "orders-gateway-policy", KEY_HEADER, "")
    early = edit_xml(
        early,
        "orders-gateway-policy",
        "<validate-azure-ad-token",
        KEY_HEADER + "<validate-azure-ad-token",
    )
    assert "apim-caller-credentials-stop-at-gateway" in findings(early)


def test_without_a_hop_the_callers_token_must_be_removed(tmp_path: Path) -> None:
    def opt_out(config: dict[str, Any]) -> None:
        config["secure-api-calls:apis"][0]["backendAuth"] = {"mode": "none", "reason": "legacy"}

    plan = plan_variant(tmp_path, opt_out)
    assert "apim-caller-credentials-stop-at-gateway" not in findings(plan)
    token = '<set-header name="Authorization" exists-action="delete" />'
    kept = edit_xml(plan, "orders-gateway-policy", token, "")
    (message,) = findings(kept)["apim-caller-credentials-stop-at-gateway"]
    assert message.endswith(token)


def test_an_api_with_its_own_key_names_is_judged_by_them(dev_plan: Plan) -> None:
    renamed = edit(
        dev_plan,
        "orders-gateway-api",
        lambda v: v.update(subscriptionKeyParameterNames={"header": "X-Key", "query": "key"}),
    )
    (message,) = findings(renamed)["apim-caller-credentials-stop-at-gateway"]
    assert '<set-header name="X-Key" exists-action="delete" />' in message
    assert '<set-query-parameter name="key" exists-action="delete" />' in message


# --- 50/51: the gateway role --------------------------------------------------------------


def test_removing_the_gateways_assignment_fails(dev_plan: Plan) -> None:
    broken = without(dev_plan, "orders-backend-hop-gateway-role")
    (message,) = findings(broken)["entra-gateway-role-assigned"]
    assert "nothing assigns its Gateway.Forward role to the gateway" in message
    assert "AADSTS501051" in message


def test_a_registration_without_the_gateway_role_fails(dev_plan: Plan) -> None:
    broken = without(dev_plan, "orders-role-gateway-forward")
    messages = findings(broken)["entra-gateway-role-assigned"]
    assert any("defines no Gateway.Forward app role" in m for m in messages)


def test_a_hop_for_another_apis_registration_fails(dev_plan: Plan) -> None:
    other = edit_xml(dev_plan, "orders-gateway-policy", HOP, HOP.replace("orders", "inventory"))
    (message,) = findings(other)["entra-gateway-role-assigned"]
    assert 'asks Entra for "{{inventory-audience}}", which is none of the audiences' in message


def test_a_gateway_role_open_to_people_fails(dev_plan: Plan) -> None:
    people = edit(
        dev_plan,
        "orders-role-gateway-forward",
        lambda v: v.update(allowedMemberTypes=["Application", "User"]),
    )
    (message,) = findings(people)["entra-gateway-role-only-gateway"]
    assert "allows member types" in message


def _extra_holder(plan: Plan, principal: str, deps: list[str]) -> Plan:
    changed = copy.deepcopy(plan)
    template = copy.deepcopy(named(changed, "orders-backend-hop-gateway-role"))
    template["name"] = "orders-extra-gateway-role"
    template["urn"] = template["urn"].replace("orders-backend-hop-gateway-role", template["name"])
    for side in ("inputs", "outputs"):
        template[side]["principalObjectId"] = principal
    template["propertyDependencies"] = {
        **template["propertyDependencies"],
        "principalObjectId": deps,
    }
    changed["resources"].append(template)
    return changed


def test_the_gateway_role_granted_to_a_consumer_fails(dev_plan: Plan) -> None:
    site = named(dev_plan, "storefront-site")
    principal = site["outputs"]["identity"]["principalId"]
    broken = _extra_holder(dev_plan, principal, [site["urn"]])
    (message,) = findings(broken)["entra-gateway-role-only-gateway"]
    assert "grants Gateway.Forward to a consumer Web App's identity" in message


def test_the_gateway_role_granted_to_an_outside_principal_fails(dev_plan: Plan) -> None:
    broken = _extra_holder(dev_plan, "3b0d4e5f-6a7b-4c8d-9e0f-1a2b3c4d5e6f", [])
    (message,) = findings(broken)["entra-gateway-role-only-gateway"]
    assert "not the API Management service's identity" in message


def test_with_an_existing_gateway_the_role_must_stay_with_one_principal(tmp_path: Path) -> None:
    def existing(config: dict[str, Any]) -> None:
        config["secure-api-calls:gateway"] = {
            "mode": "existing",
            "name": "apim-shared",
            "resourceGroup": "rg-shared",
        }

    plan = plan_variant(tmp_path, existing)
    assert not HOP_RULES & set(findings(plan))
    broken = _extra_holder(plan, "3b0d4e5f-6a7b-4c8d-9e0f-1a2b3c4d5e6f", [])
    messages = findings(broken)["entra-gateway-role-only-gateway"]
    # The developers' group holds other roles; two different holders is one too many.
    assert any("holds other app roles too" in m for m in messages)


# --- 52/53: the backend site --------------------------------------------------------------

SETTINGS = "inventory-backend-hop-authentication"
ENTRA = ("identityProviders", "azureActiveDirectory")


def _site(plan: Plan, change: Callable[[dict[str, Any]], None]) -> str:
    (message,) = findings(edit(plan, SETTINGS, change))["webapp-backend-accepts-only-the-gateway"]
    assert message.startswith(f"WebAppAuthSettingsV2 '{SETTINGS}'")
    return message


def _policy(values: dict[str, Any]) -> dict[str, Any]:
    entra = values["identityProviders"]["azureActiveDirectory"]
    return entra["validation"]["defaultAuthorizationPolicy"]


@pytest.mark.parametrize(
    ("change", "fragment"),
    [
        (lambda v: v.update(platform={"enabled": False}), "platform.enabled is not true"),
        (
            lambda v: v["globalValidation"].update(requireAuthentication=False),
            "requireAuthentication is not true",
        ),
        (
            lambda v: v["globalValidation"].update(unauthenticatedClientAction="AllowAnonymous"),
            'unauthenticatedClientAction is "AllowAnonymous", not Return401',
        ),
        (
            lambda v: v["identityProviders"]["azureActiveDirectory"].update(enabled=False),
            "the Microsoft Entra provider is not enabled",
        ),
        (
            lambda v: _policy(v)["allowedApplications"].append(
                "04b07795-8ddb-461a-bbee-02f9e1bf7b46"
            ),
            "allowedApplications is",
        ),
        (
            lambda v: _policy(v).pop("allowedPrincipals"),
            "allowedPrincipals.identities is unset",
        ),
        (
            lambda v: _policy(v)["allowedPrincipals"].update(
                identities=["5d6e7f80-91a2-4b3c-8d4e-5f6a7b8c9d0e"]
            ),
            "does not hold the Gateway.Forward role",
        ),
        (
            lambda v: v["identityProviders"]["azureActiveDirectory"]["validation"][
                "allowedAudiences"
            ].append("api://someone-else"),
            'allowedAudiences also admits "api://someone-else"',
        ),
    ],
)
def test_a_backend_site_that_admits_more_than_the_gateway_fails(
    dev_plan: Plan, change: Callable[[dict[str, Any]], None], fragment: str
) -> None:
    assert fragment in _site(dev_plan, change)


def test_a_backend_site_trusting_the_other_token_versions_issuer_fails(dev_plan: Plan) -> None:
    tenant = dev_plan["outputs"]["tenantId"]

    def v1(values: dict[str, Any]) -> None:
        values["identityProviders"]["azureActiveDirectory"]["registration"]["openIdIssuer"] = (
            f"https://sts.windows.net/{tenant}/"
        )

    (message,) = findings(edit(dev_plan, SETTINGS, v1))[
        "webapp-backend-issuer-matches-token-version"
    ]
    assert "issues v2 tokens: set openIdIssuer to https://login.microsoftonline.com/" in message


def test_every_site_the_plan_configures_is_checked(dev_plan: Plan) -> None:
    assert [r["name"] for r in of_type(dev_plan, ":WebAppAuthSettingsV2")] == [SETTINGS]
