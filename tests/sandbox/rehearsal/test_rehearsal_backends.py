"""Each API's backend as the rehearsal reads it from the Plan (sandbox/rehearsal/backends.py):
App Service authentication exactly as configured, the external checklist, or an open backend."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from components import naming
from sandbox.errors import SandboxError
from sandbox.rehearsal.backends import backend_guards
from sandbox.rehearsal.tenant import tenant_from_plan
from tests.plan_helpers import of_type


def _guards(plan: dict[str, Any]) -> dict[str, Any]:
    return backend_guards(plan, tenant_from_plan(plan))


def _settings(plan: dict[str, Any]) -> dict[str, Any]:
    (settings,) = of_type(plan, ":WebAppAuthSettingsV2")
    return settings


def _edit_settings(plan: dict[str, Any], change: Any) -> dict[str, Any]:
    broken = copy.deepcopy(plan)
    settings = _settings(broken)
    for side in ("inputs", "outputs"):
        change(settings[side])
    return broken


def test_a_site_the_stack_configures_checks_what_its_settings_say(dev_plan):
    guard = _guards(dev_plan)["inventory"]
    outputs = dev_plan["outputs"]
    client = outputs["apis"]["inventory"]["clientId"]
    assert guard.source == "App Service authentication (inventory-backend-hop-authentication)"
    assert guard.issuer == f"https://login.microsoftonline.com/{outputs['tenantId']}/v2.0"
    assert guard.audiences == (client,)
    assert guard.allowed_applications == (outputs["gatewayIdentity"]["clientId"],)
    assert guard.allowed_identities == (outputs["gatewayIdentity"]["principalId"],)
    assert guard.required_role is None  # App Service authentication checks no role
    assert guard.unauthenticated_status == 401


def test_an_external_backend_of_an_authenticated_hop_follows_the_checklist(dev_plan):
    guard = _guards(dev_plan)["orders"]
    outputs = dev_plan["outputs"]
    assert guard.source.startswith("the external-backend checklist")
    assert guard.audiences == (outputs["apis"]["orders"]["clientId"],)
    assert guard.allowed_applications == (outputs["gatewayIdentity"]["clientId"],)
    assert guard.required_role == naming.GATEWAY_ROLE


def test_an_api_whose_hop_is_not_authenticated_has_an_open_backend(dev_plan):
    plan = copy.deepcopy(dev_plan)
    plan["outputs"]["apis"]["orders"]["backendAuth"] = "none"
    assert _guards(plan)["orders"] is None


def test_a_site_whose_authentication_is_off_answers_anyone(dev_plan):
    plan = _edit_settings(dev_plan, lambda v: v.update(platform={"enabled": False}))
    assert _guards(plan)["inventory"] is None


@pytest.mark.parametrize(
    ("change", "fragment"),
    [
        (
            lambda v: v["globalValidation"].update(
                unauthenticatedClientAction="RedirectToLoginPage"
            ),
            "action 'RedirectToLoginPage'",
        ),
        (lambda v: v["globalValidation"].update(excludedPaths=["/health"]), "excludedPaths"),
        (
            lambda v: v["identityProviders"].update(github={"enabled": True}),
            "an identity provider other than Microsoft Entra",
        ),
        (
            lambda v: v["identityProviders"]["azureActiveDirectory"]["validation"][
                "defaultAuthorizationPolicy"
            ]["allowedPrincipals"].update(groups=["g"]),
            "allowedPrincipals.groups",
        ),
    ],
)
def test_settings_the_backend_would_have_to_guess_about_refuse_to_start(
    dev_plan, change: Any, fragment: str
):
    with pytest.raises(SandboxError, match=fragment):
        _guards(_edit_settings(dev_plan, change))
