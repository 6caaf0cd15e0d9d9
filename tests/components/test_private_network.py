"""What a private stack sends: the VNet, its subnets and NSGs, and each service joined to it.

Assertions run on the prod fixture's plan (network.mode private, preview=False) and on variants
of it planned from a copy of the fixture file.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml

from components.key_rotation import clock_pinned
from components.network import APIM_INJECTION_RULES, SITES_ZONE, VAULT_ZONE
from sandbox.plan.model import plan_stack
from tests.fixture_stacks import TODAY, stack_document
from tests.plan_helpers import named, of_type

Plan = dict[str, Any]
NS = "secure-api-calls:"


def prod_variant(
    folder: Path, edit: Callable[[dict[str, Any]], None], today: dt.date = TODAY
) -> Plan:
    """The prod fixture after `edit` changed its config (keys without the namespace)."""
    document = stack_document("prod")
    config = {key.removeprefix(NS): value for key, value in document["config"].items()}
    edit(config)
    document["config"] = {(key if ":" in key else NS + key): value for key, value in config.items()}
    path = folder / "Pulumi.prod.yaml"
    path.write_text(yaml.safe_dump(document), encoding="utf-8")
    with clock_pinned(today):
        return plan_stack("prod", config_file=path)


def subnets_of(plan: Plan) -> dict[str, dict[str, Any]]:
    vnet = named(plan, "network-vnet")["inputs"]
    return {subnet["name"]: subnet for subnet in vnet["subnets"]}


def test_the_vnet_has_a_subnet_per_role_each_with_its_own_nsg(prod_plan: Plan) -> None:
    vnet = named(prod_plan, "network-vnet")["inputs"]
    assert vnet["addressSpace"] == {"addressPrefixes": ["10.20.0.0/16"]}
    subnets = subnets_of(prod_plan)
    assert {name: s["addressPrefix"] for name, s in subnets.items()} == {
        "snet-gateway": "10.20.1.0/27",
        "snet-web-apps": "10.20.2.0/26",
        "snet-private-endpoints": "10.20.3.0/27",
    }
    groups = {
        r["inputs"]["networkSecurityGroupName"] for r in of_type(prod_plan, ":NetworkSecurityGroup")
    }
    attached = {s["networkSecurityGroup"]["id"].rsplit("/", 1)[-1] for s in subnets.values()}
    assert (
        attached
        == groups
        == {
            "nsg-contoso-prod-gateway",
            "nsg-contoso-prod-web-apps",
            "nsg-contoso-prod-private-endpoints",
        }
    )
    vnet = named(prod_plan, "network-vnet")
    assert {r["urn"] for r in of_type(prod_plan, ":NetworkSecurityGroup")} <= set(
        vnet["dependencies"]
    )


def test_injection_leaves_the_gateway_subnet_undelegated_and_the_web_app_subnet_delegated(
    prod_plan: Plan,
) -> None:
    subnets = subnets_of(prod_plan)
    assert "delegations" not in subnets["snet-gateway"]  # Premium: VNet injection
    assert subnets["snet-web-apps"]["delegations"] == [
        {"name": "Microsoft.Web/serverFarms", "serviceName": "Microsoft.Web/serverFarms"}
    ]
    assert "delegations" not in subnets["snet-private-endpoints"]


def test_the_gateway_nsg_carries_the_rules_microsoft_documents_for_external_mode(
    prod_plan: Plan,
) -> None:
    rules = named(prod_plan, "network-nsg-gateway")["inputs"]["securityRules"]
    inbound = {
        (r["sourceAddressPrefix"], r.get("destinationPortRange"))
        for r in rules
        if r["direction"] == "Inbound" and r["access"] == "Allow"
    }
    assert inbound == {
        ("Internet", "443"),
        ("ApiManagement", "3443"),
        ("AzureLoadBalancer", "6390"),
    }
    outbound = {r["destinationAddressPrefix"] for r in rules if r["direction"] == "Outbound"}
    assert {"Storage", "Sql", "AzureKeyVault", "AzureMonitor", "AzureActiveDirectory"} <= outbound
    priorities = [(r["direction"], r["priority"]) for r in rules]
    assert len(priorities) == len(set(priorities)) == len(APIM_INJECTION_RULES)
    for other in ("network-nsg-web-apps", "network-nsg-private-endpoints"):
        assert named(prod_plan, other)["inputs"]["securityRules"] == []


def test_the_gateway_is_injected_in_external_mode_with_a_standard_public_ip(
    prod_plan: Plan,
) -> None:
    service = named(prod_plan, "gateway-service")["inputs"]
    assert service["virtualNetworkType"] == "External"
    subnet_id = service["virtualNetworkConfiguration"]["subnetResourceId"]
    assert subnet_id.endswith("/virtualNetworks/vnet-contoso-prod/subnets/snet-gateway")
    ip = named(prod_plan, "network-gateway-ip")
    assert service["publicIpAddressId"].endswith("/publicIPAddresses/pip-contoso-prod-apim")
    assert ip["inputs"]["sku"]["name"] == "Standard"
    assert ip["inputs"]["publicIPAllocationMethod"] == "Static"
    assert ip["inputs"]["dnsSettings"] == {"domainNameLabel": "apim-contoso-prod"}
    assert ip["inputs"]["location"] == service["location"]  # same region, as required
    gateway_urn = named(prod_plan, "gateway-service")["urn"]
    vnet_urn = named(prod_plan, "network-vnet")["urn"]
    assert vnet_urn in named(prod_plan, "gateway-service")["dependencies"]
    assert gateway_urn not in named(prod_plan, "network-vnet")["dependencies"]


def test_v2_tiers_integrate_through_a_delegated_subnet_without_a_public_ip(
    tmp_path: Path,
) -> None:
    def standard_v2(config: dict[str, Any]) -> None:
        config["gateway"] = {**config["gateway"], "sku": "StandardV2", "capacity": 1}

    plan = prod_variant(tmp_path, standard_v2)
    assert of_type(plan, ":PublicIPAddress") == []
    service = named(plan, "gateway-service")["inputs"]
    assert service["virtualNetworkType"] == "External"
    assert "publicIpAddressId" not in service
    assert subnets_of(plan)["snet-gateway"]["delegations"][0]["serviceName"] == (
        "Microsoft.Web/serverFarms"
    )
    assert named(plan, "network-nsg-gateway")["inputs"]["securityRules"] == []


def test_web_apps_route_all_outbound_traffic_into_the_vnet_and_take_no_public_traffic(
    prod_plan: Plan,
) -> None:
    for site in of_type(prod_plan, ":WebApp"):
        inputs = site["inputs"]
        assert inputs["virtualNetworkSubnetId"].endswith("/subnets/snet-web-apps")
        assert inputs["siteConfig"]["vnetRouteAllEnabled"] is True
        assert inputs["publicNetworkAccess"] == "Disabled"
    endpoints = {
        r["inputs"]["privateLinkServiceConnections"][0]["privateLinkServiceId"].rsplit("/", 1)[-1]
        for r in of_type(prod_plan, ":PrivateEndpoint")
        if r["inputs"]["privateLinkServiceConnections"][0]["groupIds"] == ["sites"]
    }
    assert endpoints == {"app-contoso-storefront-prod", "app-contoso-reporting-prod"}


def test_access_restrictions_deny_by_default_and_hold_the_scm_site_to_the_same_rules(
    tmp_path: Path,
) -> None:
    def restricted(config: dict[str, Any]) -> None:
        config["network"]["inbound"] = {
            "mode": "accessRestrictions",
            "allow": ["203.0.113.0/24", "AzureFrontDoor.Backend"],
        }

    plan = prod_variant(tmp_path, restricted)
    for site in of_type(plan, ":WebApp"):
        config = site["inputs"]["siteConfig"]
        assert "publicNetworkAccess" not in site["inputs"]
        assert config["ipSecurityRestrictionsDefaultAction"] == "Deny"
        assert config["scmIpSecurityRestrictionsUseMain"] is True
        assert config["scmIpSecurityRestrictionsDefaultAction"] == "Deny"
        assert [
            (r["ipAddress"], r["tag"], r["action"]) for r in config["ipSecurityRestrictions"]
        ] == [
            ("203.0.113.0/24", "Default", "Allow"),
            ("AzureFrontDoor.Backend", "ServiceTag", "Allow"),
        ]
    groups = {
        r["inputs"]["privateLinkServiceConnections"][0]["groupIds"][0]
        for r in of_type(plan, ":PrivateEndpoint")
    }
    assert groups == {"vault"}
    assert {r["inputs"]["privateZoneName"] for r in of_type(plan, ":PrivateZone")} == {VAULT_ZONE}


def test_the_vault_has_no_public_endpoint_and_a_private_endpoint_registered_in_its_zone(
    prod_plan: Plan,
) -> None:
    vault = named(prod_plan, "key-vault-vault")
    properties = vault["inputs"]["properties"]
    assert properties["publicNetworkAccess"] == "Disabled"
    assert properties["networkAcls"] == {"defaultAction": "Deny", "bypass": "None"}
    endpoint_resource = named(prod_plan, "key-vault-endpoint")
    endpoint = endpoint_resource["inputs"]
    connection = endpoint["privateLinkServiceConnections"][0]
    assert connection["privateLinkServiceId"].endswith("/vaults/kv-contoso-prod")
    assert (
        vault["urn"] in endpoint_resource["propertyDependencies"]["privateLinkServiceConnections"]
    )
    assert connection["groupIds"] == ["vault"]
    assert endpoint["subnet"]["id"].endswith("/subnets/snet-private-endpoints")
    zone = next(r for r in of_type(prod_plan, ":PrivateZone") if r["name"].endswith("vaultcore"))
    assert zone["inputs"]["privateZoneName"] == "privatelink.vaultcore.azure.net"
    group = named(prod_plan, "key-vault-endpoint-dns")["inputs"]
    assert group["privateDnsZoneConfigs"][0]["privateDnsZoneId"].endswith(
        "/privateDnsZones/privatelink.vaultcore.azure.net"
    )
    assert zone["urn"] in named(prod_plan, "key-vault-endpoint-dns")["dependencies"]
    links = [
        r
        for r in of_type(prod_plan, ":VirtualNetworkLink")
        if r["inputs"]["privateZoneName"] in (VAULT_ZONE, SITES_ZONE)
    ]
    assert {r["inputs"]["privateZoneName"] for r in links} == {VAULT_ZONE, SITES_ZONE}
    assert all(
        r["inputs"]["virtualNetwork"]["id"].endswith("/virtualNetworks/vnet-contoso-prod")
        for r in links
    )
    assert all(r["inputs"]["registrationEnabled"] is False for r in links)


def test_a_private_stack_tags_its_resources_and_the_dev_stack_does_not(
    prod_plan: Plan, dev_plan: Plan
) -> None:
    assert named(prod_plan, "key-vault-vault")["inputs"]["tags"]["network"] == "private"
    assert "network" not in named(dev_plan, "key-vault-vault")["inputs"]["tags"]
    assert of_type(dev_plan, ":VirtualNetwork") == []
    assert "publicNetworkAccess" not in named(dev_plan, "storefront-site")["inputs"]


def test_each_key_secret_is_written_after_the_subscription_that_accepts_its_key(
    prod_plan: Plan,
) -> None:
    subscriptions = {
        r["name"].rsplit("-subscription-", 1)[0].removesuffix("-gateway")
        + "-"
        + r["name"].rsplit("-subscription-", 1)[1]: r["urn"]
        for r in of_type(prod_plan, ":Subscription")
    }
    secrets = of_type(prod_plan, ":Secret")
    assert len(secrets) == 3
    for secret in secrets:
        pair = secret["name"].removeprefix("key-vault-apim-key-")
        assert subscriptions[pair] in secret["dependencies"], secret["name"]


@pytest.mark.parametrize("stack", ["dev", "prod"])
def test_key_secrets_carry_a_content_type(stack: str, request: pytest.FixtureRequest) -> None:
    for secret in of_type(request.getfixturevalue(f"{stack}_plan"), ":Secret"):
        assert secret["inputs"]["properties"]["contentType"] == "apim-subscription-key"
