"""Rules 55-61 over the prod plan (network private, keys rotating) and insecure variants of it.

Each variant changes the plan the way a program change or a hand edit would (inputs and the
outputs the mocks echo), and the check must fail it with the rule that names the problem.
"""

from __future__ import annotations

import copy
from collections.abc import Callable
from typing import Any

import pytest

from policies.secure_api_policies import RULES
from sandbox.check.runner import run_check

Plan = dict[str, Any]
Edit = Callable[[dict[str, Any]], None]
NETWORK_RULES = {name for name, info in RULES.items() if 55 <= info.number <= 61}


def edited(plan: Plan, edits: dict[str, Edit]) -> Plan:
    """A copy of `plan` with edits[name] applied to that resource's inputs and outputs."""
    copied = copy.deepcopy(plan)
    for resource in copied["resources"]:
        if resource["name"] in edits:
            for side in ("inputs", "outputs"):
                edits[resource["name"]](resource[side])
    return copied


def without(plan: Plan, *names: str) -> Plan:
    copied = copy.deepcopy(plan)
    copied["resources"] = [r for r in copied["resources"] if r["name"] not in names]
    return copied


def findings(plan: Plan, config: dict[str, Any] | None = None) -> dict[str, list[str]]:
    report = run_check(plan, config or {})
    found: dict[str, list[str]] = {}
    for finding in report.findings:
        found.setdefault(finding.rule, []).append(f"{finding.level}: {finding.message}")
    return found


def mandatory(plan: Plan) -> dict[str, list[str]]:
    return {
        rule: [m for m in messages if m.startswith("mandatory")]
        for rule, messages in findings(plan).items()
        if any(m.startswith("mandatory") for m in messages)
    }


def test_the_prod_plan_passes_every_network_and_secret_rule(prod_plan: Plan) -> None:
    assert not set(findings(prod_plan)) & NETWORK_RULES


def test_the_dev_plan_is_public_so_only_the_secret_expiry_is_reported(dev_plan: Plan) -> None:
    found = findings(dev_plan)
    assert set(found) & NETWORK_RULES == {"key-vault-secret-expiry"}
    assert all(m.startswith("advisory") for m in found["key-vault-secret-expiry"])
    assert len(found["key-vault-secret-expiry"]) == 3  # one per key secret


def _vault_public(props: dict[str, Any]) -> None:
    props["properties"]["publicNetworkAccess"] = "enabled"


def _vault_open(props: dict[str, Any]) -> None:
    props["properties"]["networkAcls"] = {"defaultAction": "Allow", "bypass": "AzureServices"}


def _site_public(props: dict[str, Any]) -> None:
    props.pop("publicNetworkAccess")


def _site_outside(props: dict[str, Any]) -> None:
    props.pop("virtualNetworkSubnetId")


def _site_private_traffic_only(props: dict[str, Any]) -> None:
    props["siteConfig"]["vnetRouteAllEnabled"] = False


def _site_restricted_but_scm_open(props: dict[str, Any]) -> None:
    props.pop("publicNetworkAccess")
    props["siteConfig"]["ipSecurityRestrictionsDefaultAction"] = "Deny"
    props["siteConfig"]["ipSecurityRestrictions"] = [
        {"ipAddress": "203.0.113.0/24", "action": "Allow", "priority": 100}
    ]


def _gateway_outside(props: dict[str, Any]) -> None:
    props["virtualNetworkType"] = "None"
    props.pop("virtualNetworkConfiguration")


def _gateway_in_another_vnet(props: dict[str, Any]) -> None:
    props["virtualNetworkConfiguration"]["subnetResourceId"] = props["virtualNetworkConfiguration"][
        "subnetResourceId"
    ].replace("vnet-contoso-prod", "vnet-shared-hub")


def _nsg_without_management(props: dict[str, Any]) -> None:
    props["securityRules"] = [
        r for r in props["securityRules"] if r["sourceAddressPrefix"] != "ApiManagement"
    ]


def _subnet_without_nsg(props: dict[str, Any]) -> None:
    for subnet in props["subnets"]:
        if subnet["name"] == "snet-gateway":
            subnet.pop("networkSecurityGroup")


def _basic_ip(props: dict[str, Any]) -> None:
    props["sku"] = {"name": "Basic"}


def _endpoint_elsewhere(props: dict[str, Any]) -> None:
    props["privateDnsZoneConfigs"][0]["privateDnsZoneId"] = "/x/privateDnsZones/contoso.internal"


def _zone_unlinked(props: dict[str, Any]) -> None:
    props["virtualNetwork"]["id"] = props["virtualNetwork"]["id"].replace(
        "vnet-contoso-prod", "vnet-elsewhere"
    )


def _no_expiry(props: dict[str, Any]) -> None:
    props["properties"].pop("attributes")


def _no_content_type(props: dict[str, Any]) -> None:
    props["properties"].pop("contentType")


VARIANTS: list[tuple[str, dict[str, Edit], str, str]] = [
    ("vault-public", {"key-vault-vault": _vault_public}, "private-network-key-vault-closed",
     'properties.publicNetworkAccess="enabled"'),
    ("vault-firewall-open", {"key-vault-vault": _vault_open}, "private-network-key-vault-closed",
     'properties.networkAcls.defaultAction="Allow"'),
    ("site-public", {"storefront-site": _site_public}, "private-network-web-apps",
     "publicNetworkAccess=unset and no deny-by-default access restrictions"),
    ("site-not-integrated", {"reporting-site": _site_outside}, "private-network-web-apps",
     "virtualNetworkSubnetId=unset"),
    ("site-routes-private-only", {"reporting-site": _site_private_traffic_only},
     "private-network-web-apps", "routes only private traffic"),
    ("site-scm-open", {"storefront-site": _site_restricted_but_scm_open},
     "private-network-web-apps", "no deny-by-default access restrictions"),
    ("gateway-public", {"gateway-service": _gateway_outside}, "private-network-gateway",
     'virtualNetworkType="None"'),
    ("gateway-other-vnet", {"gateway-service": _gateway_in_another_vnet},
     "private-network-gateway", "vnet-shared-hub"),
    ("nsg-without-3443", {"network-nsg-gateway": _nsg_without_management},
     "preflight-apim-injection-network", "ApiManagement:3443"),
    ("subnet-without-nsg", {"network-vnet": _subnet_without_nsg},
     "preflight-apim-injection-network", "without a network security group"),
    ("basic-public-ip", {"network-gateway-ip": _basic_ip}, "preflight-apim-injection-network",
     'SKU "Basic" (Standard is required)'),
    ("endpoint-wrong-zone", {"key-vault-endpoint-dns": _endpoint_elsewhere},
     "private-network-key-vault-endpoint", "no DNS zone group in privatelink.vaultcore.azure.net"),
    ("zone-not-linked", {"network-zone-vaultcore-link": _zone_unlinked},
     "private-network-key-vault-endpoint", "is not linked to the stack's VNet"),
]  # fmt: skip


@pytest.mark.parametrize(
    ("edits", "rule", "expected"),
    [(edits, rule, expected) for _, edits, rule, expected in VARIANTS],
    ids=[name for name, *_ in VARIANTS],
)
def test_an_insecure_variant_of_the_prod_plan_fails_the_rule_that_names_it(
    prod_plan: Plan, edits: dict[str, Edit], rule: str, expected: str
) -> None:
    found = mandatory(edited(prod_plan, edits))
    assert rule in found, found
    assert any(expected in message for message in found[rule]), found[rule]


def test_a_vault_without_its_private_endpoint_fails(prod_plan: Plan) -> None:
    found = mandatory(without(prod_plan, "key-vault-endpoint", "key-vault-endpoint-dns"))
    assert any(
        "has no private endpoint (group 'vault')" in m
        for m in found["private-network-key-vault-endpoint"]
    )


def test_a_plan_that_lost_its_vnet_is_still_private_by_its_tags(prod_plan: Plan) -> None:
    plan = edited(without(prod_plan, "network-vnet"), {"key-vault-vault": _vault_public})
    assert "private-network-key-vault-closed" in mandatory(plan)


def test_the_same_settings_in_a_public_stack_are_not_network_violations(dev_plan: Plan) -> None:
    plan = edited(dev_plan, {"key-vault-vault": _vault_open})
    assert not set(mandatory(plan)) & NETWORK_RULES


def test_a_secret_without_expiry_or_content_type_is_reported_and_prod_makes_expiry_mandatory(
    prod_plan: Plan,
) -> None:
    plan = edited(
        prod_plan,
        {
            "key-vault-apim-key-orders-storefront": _no_expiry,
            "key-vault-apim-key-orders-reporting": _no_content_type,
        },
    )
    found = findings(plan)
    assert found["key-vault-secret-expiry"] == [
        "advisory: Secret 'key-vault-apim-key-orders-storefront' has no expiry "
        "(properties.attributes.expires): rotate its value on a schedule and set the expiry "
        "after the grace period (keyRotation, docs/rotating-subscription-keys.md)"
    ]
    assert len(found["key-vault-secret-content-type"]) == 1
    prod_config = {"key-vault-secret-expiry": {"enforcementLevel": "mandatory"}}
    assert "key-vault-secret-expiry" in {
        f.rule for f in run_check(plan, prod_config).findings if f.level == "mandatory"
    }


def test_a_value_unknown_at_preview_is_reported_as_unverifiable(prod_plan: Plan) -> None:
    def unknown(props: dict[str, Any]) -> None:
        props["publicNetworkAccess"] = "<unknown>"

    found = mandatory(edited(prod_plan, {"storefront-site": unknown}))
    assert any("cannot be verified" in m for m in found["private-network-web-apps"])


def _mock_zone_id(props: dict[str, Any]) -> None:
    props["privateDnsZoneConfigs"][0]["privateDnsZoneId"] = "network-zone-vaultcore_id"


def _mock_vnet_id(props: dict[str, Any]) -> None:
    props["virtualNetwork"]["id"] = "network-vnet_id"


def _no_dependencies(plan: Plan, name: str) -> Plan:
    copied = copy.deepcopy(plan)
    for resource in copied["resources"]:
        if resource["name"] == name:
            resource["propertyDependencies"] = {}
            resource["dependencies"] = []
    return copied


@pytest.mark.parametrize(
    ("name", "edit", "expected"),
    [
        ("key-vault-endpoint-dns", _mock_zone_id, "no DNS zone group"),
        ("network-zone-vaultcore-link", _mock_vnet_id, "is not linked to the stack's VNet"),
    ],
)
def test_an_id_that_names_no_zone_or_vnet_is_judged_by_its_dependency(
    prod_plan: Plan, name: str, edit: Edit, expected: str
) -> None:
    # A harness's mocks give IDs such as "<name>_id": the link to the stack's own zone or VNet
    # is then the dependency the engine records, not the ID's shape.
    mocked = edited(prod_plan, {name: edit})
    assert "private-network-key-vault-endpoint" not in mandatory(mocked)
    (message,) = mandatory(_no_dependencies(mocked, name))["private-network-key-vault-endpoint"]
    assert expected in message
