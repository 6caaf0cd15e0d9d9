"""`export-arm`: the plan as an ARM template a scanner reads, without Checkov in the test run."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from sandbox.errors import SandboxError
from sandbox.export.arm_types import TYPES
from sandbox.export.sdk_versions import api_version, version_in
from sandbox.export.template import to_template
from sandbox.plan.model import write_plan

ROOT = Path(__file__).resolve().parents[3]
Plan = dict[str, Any]


def fixed(token: str) -> str:
    return "2000-01-01"


def resource(template: dict[str, Any], arm_type: str, name: str) -> dict[str, Any]:
    [found] = [r for r in template["resources"] if r["type"] == arm_type and r["name"] == name]
    return found


def test_the_vault_keeps_its_properties_with_the_network_settings_checkov_reads(
    prod_plan: Plan,
) -> None:
    vault = resource(to_template(prod_plan, fixed), "Microsoft.KeyVault/vaults", "kv-contoso-prod")
    assert vault["apiVersion"] == "2000-01-01"
    assert vault["location"] == "westeurope"
    assert vault["properties"]["publicNetworkAccess"] == "Disabled"
    assert vault["properties"]["networkAcls"]["defaultAction"] == "Deny"
    assert vault["properties"]["softDeleteRetentionInDays"] == 90  # an int, not 90.0
    assert "vaultName" not in vault["properties"] and "resourceGroupName" not in vault


def test_a_secret_is_a_child_named_vault_slash_secret_with_arms_exp_attribute(
    prod_plan: Plan,
) -> None:
    name = "kv-contoso-prod/apim-key-orders-storefront"
    secret = resource(to_template(prod_plan, fixed), "Microsoft.KeyVault/vaults/secrets", name)
    assert secret["properties"]["contentType"] == "apim-subscription-key"
    assert secret["properties"]["value"] == "[secret]"
    assert isinstance(secret["properties"]["attributes"]["exp"], int)
    assert "expires" not in secret["properties"]["attributes"]


def test_flattened_inputs_go_back_under_properties_and_the_envelope_stays_on_top(
    prod_plan: Plan,
) -> None:
    template = to_template(prod_plan, fixed)
    service = resource(template, "Microsoft.ApiManagement/service", "apim-contoso-prod")
    assert service["sku"] == {"name": "Premium", "capacity": 2}
    assert service["identity"] == {"type": "SystemAssigned"}
    assert service["properties"]["virtualNetworkType"] == "External"
    assert "subnetResourceId" in service["properties"]["virtualNetworkConfiguration"]
    site = resource(template, "Microsoft.Web/sites", "app-contoso-storefront-prod")
    assert site["kind"] == "app,linux"
    assert site["properties"]["publicNetworkAccess"] == "Disabled"
    assert site["properties"]["siteConfig"]["vnetRouteAllEnabled"] is True
    switch = resource(
        template,
        "Microsoft.Web/sites/basicPublishingCredentialsPolicies",
        "app-contoso-storefront-prod/ftp",
    )
    assert switch["properties"] == {"allow": False}


def test_network_sub_resources_are_nested_as_arm_has_them(prod_plan: Plan) -> None:
    template = to_template(prod_plan, fixed)
    vnet = resource(template, "Microsoft.Network/virtualNetworks", "vnet-contoso-prod")
    apps = next(s for s in vnet["properties"]["subnets"] if s["name"] == "snet-web-apps")
    assert apps["properties"]["addressPrefix"] == "10.20.2.0/26"
    assert apps["properties"]["delegations"] == [
        {
            "name": "Microsoft.Web/serverFarms",
            "properties": {"serviceName": "Microsoft.Web/serverFarms"},
        }
    ]
    nsg = resource(template, "Microsoft.Network/networkSecurityGroups", "nsg-contoso-prod-gateway")
    rule = nsg["properties"]["securityRules"][0]
    assert set(rule) == {"name", "properties"} and rule["properties"]["access"] == "Allow"
    endpoint = resource(template, "Microsoft.Network/privateEndpoints", "pe-kv-contoso-prod")
    [connection] = endpoint["properties"]["privateLinkServiceConnections"]
    assert connection["properties"]["groupIds"] == ["vault"]


@pytest.mark.parametrize("stack", ["dev", "prod"])
def test_every_azure_resource_of_the_plans_is_exported_and_only_entra_and_random_left_out(
    stack: str, request: pytest.FixtureRequest
) -> None:
    plan = request.getfixturevalue(f"{stack}_plan")
    template = to_template(plan, fixed)
    left = {entry.split(" ", 1)[0] for entry in template["metadata"]["leftOut"]}
    assert all(t.startswith(("azuread:", "random:", "azure-native:resources:")) for t in left), left
    azure = [r for r in plan["resources"] if r["custom"] and r["type"].startswith("azure-native:")]
    assert len(template["resources"]) == len(
        [r for r in azure if r["type"] != "azure-native:resources:ResourceGroup"]
    )


def test_api_versions_come_from_the_installed_sdk() -> None:
    assert version_in("... Uses Azure REST API version 2024-11-01. In version 2.x ...") == (
        "2024-11-01"
    )
    assert api_version("azure-native:keyvault:Secret") == "2024-11-01"
    assert api_version("azure-native:web:WebApp") == "2025-05-01"
    for token in TYPES:
        assert version_in(f"Uses Azure REST API version {api_version('azure-native:' + token)}.")
    with pytest.raises(SandboxError, match="has no azure-native:keyvault:Nothing"):
        api_version("azure-native:keyvault:Nothing")


def test_the_command_writes_the_template_of_a_plan_file(prod_plan: Plan, tmp_path: Path) -> None:
    plan_file = tmp_path / "prod.json"
    write_plan(prod_plan, plan_file)
    out = tmp_path / "arm" / "template.json"
    out.parent.mkdir()
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "sandbox",
            "export-arm",
            "--plan",
            str(plan_file),
            "--out",
            str(out),
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    assert "ARM resources of stack prod" in result.stderr
    document = json.loads(out.read_text())
    assert document["$schema"].endswith("deploymentTemplate.json#")
    assert {r["apiVersion"] for r in document["resources"]} >= {"2024-11-01", "2024-05-01"}


def test_a_stack_and_a_plan_file_together_are_a_one_line_error(tmp_path: Path) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "sandbox", "export-arm", "--stack", "prod", "--plan", "x.json"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 2
    assert result.stderr.strip() == "error: give either --stack or --plan, not both"
