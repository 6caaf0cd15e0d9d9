"""The backend hop: the gateway's role on each API, its assignment, and the site the stack knows
accepting only the gateway's token (components/backend_hop.py, gateway_identity.py)."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pulumi
import pytest
from pulumi.runtime.mocks import MockMonitor

from components import naming
from components.gateway_policy import parse_api_policy
from components.protected_api import UNAUTHENTICATED_HOP
from sandbox.errors import SandboxError
from sandbox.program.mocks import StackMocks
from tests.fixture_stacks import plan_variant, run_fixture_program
from tests.plan_helpers import named, of_type

ROOT = Path(__file__).resolve().parents[2]
SITE = "app-contoso-inventory-dev"


def test_every_api_registration_has_the_gateway_role_for_applications_only(
    dev_plan: dict[str, Any],
) -> None:
    for api in ("orders", "inventory"):
        role = named(dev_plan, f"{api}-role-gateway-forward")["inputs"]
        assert role["value"] == naming.GATEWAY_ROLE
        assert role["allowedMemberTypes"] == ["Application"]
        # uuid5 from stack, API and role value: the same on every run, never random.
        assert role["roleId"] == naming.stable_id("dev", api, "app-role", naming.GATEWAY_ROLE)


def test_the_gateways_own_identity_is_assigned_the_role_on_each_api(
    dev_plan: dict[str, Any],
) -> None:
    service = named(dev_plan, "gateway-service")
    principal = service["outputs"]["identity"]["principalId"]
    for api in ("orders", "inventory"):
        assignment = named(dev_plan, f"{api}-backend-hop-gateway-role")
        values = assignment["inputs"]
        assert values["appRoleId"] == naming.gateway_role_id("dev", api)
        assert values["principalObjectId"] == principal
        assert service["urn"] in assignment["propertyDependencies"]["principalObjectId"]
        sp = named(dev_plan, f"{api}-service-principal")["outputs"]["objectId"]
        assert values["resourceObjectId"] == sp
    # Nobody else holds it: every assignment of a gateway role is the gateway's.
    gateway_roles = {naming.gateway_role_id("dev", api) for api in ("orders", "inventory")}
    holders = {
        a["inputs"]["principalObjectId"]
        for a in of_type(dev_plan, ":AppRoleAssignment")
        if a["inputs"]["appRoleId"] in gateway_roles
    }
    assert holders == {principal}
    assert dev_plan["outputs"]["gatewayIdentity"]["principalId"] == principal


def test_an_app_service_backend_takes_its_url_from_the_site(dev_plan: dict[str, Any]) -> None:
    url = f"https://{SITE}.azurewebsites.net"
    assert named(dev_plan, "inventory-gateway-backend")["inputs"]["url"] == url
    assert named(dev_plan, "inventory-gateway-api")["inputs"]["serviceUrl"] == url
    apis = dev_plan["outputs"]["apis"]
    assert apis["inventory"]["backendUrl"] == url
    assert apis["orders"]["backendUrl"] == "https://orders-backend.contoso.example/api"
    assert {a["backendAuth"] for a in apis.values()} == {"managedIdentity"}


def test_the_site_accepts_only_the_gateways_token_for_the_apis_registration(
    dev_plan: dict[str, Any],
) -> None:
    (settings,) = of_type(dev_plan, ":WebAppAuthSettingsV2")
    values = settings["inputs"]
    assert (values["name"], values["resourceGroupName"]) == (SITE, "rg-contoso-backends-dev")
    assert values["platform"] == {"enabled": True}
    assert values["globalValidation"] == {
        "requireAuthentication": True,
        "unauthenticatedClientAction": "Return401",
    }
    assert values["httpSettings"] == {"requireHttps": True}
    provider = values["identityProviders"]["azureActiveDirectory"]
    client_id = dev_plan["outputs"]["apis"]["inventory"]["clientId"]
    tenant = dev_plan["outputs"]["tenantId"]
    gateway = dev_plan["outputs"]["gatewayIdentity"]
    assert provider["enabled"] is True
    # No client secret: validating bearer tokens needs none.
    assert provider["registration"] == {
        "clientId": client_id,
        "openIdIssuer": f"https://login.microsoftonline.com/{tenant}/v2.0",  # a v2 registration
    }
    assert provider["validation"] == {
        "allowedAudiences": [client_id],
        "defaultAuthorizationPolicy": {
            "allowedApplications": [gateway["clientId"]],
            "allowedPrincipals": {"identities": [gateway["principalId"]]},
        },
    }
    hop = named(dev_plan, "inventory-backend-hop-gateway-role")["urn"]
    assert hop in settings["dependencies"]  # demanded only once the gateway can get a token


def test_a_v1_registration_gets_the_v1_issuer(tmp_path: Path) -> None:
    def v1(config: dict[str, Any]) -> None:
        config["secure-api-calls:apis"][1]["tokenVersion"] = 1

    plan = plan_variant(tmp_path, v1)
    (settings,) = of_type(plan, ":WebAppAuthSettingsV2")
    registration = settings["inputs"]["identityProviders"]["azureActiveDirectory"]["registration"]
    assert registration["openIdIssuer"] == f"https://sts.windows.net/{plan['outputs']['tenantId']}/"


class _RetainRecorder(MockMonitor):
    def __init__(self, mocks: StackMocks) -> None:
        super().__init__(mocks)
        self.retained: dict[str, bool] = {}

    def RegisterResource(self, request: Any) -> Any:
        self.retained[request.name] = bool(request.retainOnDelete)
        return super().RegisterResource(request)  # type: ignore[no-untyped-call]


def test_destroy_leaves_the_sites_authentication_in_place_so_the_backend_stays_closed() -> None:
    asyncio.set_event_loop(asyncio.new_event_loop())
    mocks = StackMocks("dev")
    monitor = _RetainRecorder(mocks)
    run_fixture_program(mocks, monitor=monitor)
    assert monitor.retained["inventory-backend-hop-authentication"] is True
    retained = {name for name, kept in monitor.retained.items() if kept}
    assert retained == {"inventory-backend-hop-authentication"}


def test_an_api_that_opts_out_has_no_gateway_role_no_hop_and_says_why(tmp_path: Path) -> None:
    reason = "legacy backend on a private network, migrating in Q3"

    def opt_out(config: dict[str, Any]) -> None:
        config["secure-api-calls:apis"][0]["backendAuth"] = {"mode": "none", "reason": reason}

    plan = plan_variant(tmp_path, opt_out)
    names = {r["name"] for r in plan["resources"]}
    assert "orders-role-gateway-forward" not in names
    assert "orders-backend-hop" not in names and "orders-backend-hop-gateway-role" not in names
    assert "inventory-backend-hop-gateway-role" in names
    spec = parse_api_policy(named(plan, "orders-gateway-policy")["inputs"]["value"])
    assert spec.hop_resource is None
    backend = named(plan, "orders-gateway-backend")["inputs"]
    assert backend["description"] == UNAUTHENTICATED_HOP + reason
    assert "description" not in named(plan, "inventory-gateway-backend")["inputs"]
    assert plan["outputs"]["apis"]["orders"]["backendAuth"] == "none"


def test_an_existing_gateways_identity_is_read_from_the_service(tmp_path: Path) -> None:
    def existing(config: dict[str, Any]) -> None:
        config["secure-api-calls:gateway"] = {
            "mode": "existing",
            "name": "apim-shared",
            "resourceGroup": "rg-shared",
        }

    plan = plan_variant(tmp_path, existing)
    assert not of_type(plan, ":ApiManagementService")
    principal = plan["outputs"]["gatewayIdentity"]["principalId"]
    assert principal
    for api in ("orders", "inventory"):
        assignment = named(plan, f"{api}-backend-hop-gateway-role")["inputs"]
        assert assignment["principalObjectId"] == principal


def test_an_existing_gateway_without_a_system_identity_is_one_line_with_the_fix(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    answer = StackMocks.call

    def without_identity(self: StackMocks, args: pulumi.runtime.MockCallArgs) -> dict[str, Any]:
        result = dict(answer(self, args))
        if args.token == "azure-native:apimanagement:getApiManagementService":
            result["identity"] = {"type": "UserAssigned", "principalId": ""}
        return result

    monkeypatch.setattr(StackMocks, "call", without_identity)

    def existing(config: dict[str, Any]) -> None:
        config["secure-api-calls:gateway"] = {
            "mode": "existing",
            "name": "apim-shared",
            "resourceGroup": "rg-shared",
        }

    with pytest.raises(SandboxError) as caught:
        plan_variant(tmp_path, existing)
    message = str(caught.value)
    assert "\n" not in message
    assert "'apim-shared' (resource group 'rg-shared') has no system-assigned" in message
    assert (
        "az apim update --name apim-shared --resource-group rg-shared --set "
        "identity.type='SystemAssigned, UserAssigned'" in message
    )
