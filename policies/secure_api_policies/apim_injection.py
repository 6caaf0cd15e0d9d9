"""Rule 61 (deployability): a VNet-injected classic gateway can be reached and managed.

API Management's internal load balancer "is secure by default and rejects all inbound traffic",
so the subnet needs an NSG that admits ApiManagement to 3443 (management), AzureLoadBalancer to
6390 (infrastructure load balancer) and, in external mode, the clients on 443 (the "Required
ports" table, learn.microsoft.com/azure/api-management/virtual-network-reference). A public IP
given to the service must be a Standard IP "in the same region and subscription"
(learn.microsoft.com/azure/api-management/virtual-network-injection-resources). v2 tiers are
not injected this way (their subnet NSG needs "No specific rules").
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from pulumi_policy import StackValidationPolicy

from ._common import StackResource, Violation, get_path, is_opaque, show, stack_policy
from ._links import known, of_type
from .private_network import SERVICE, VNET, equals, vnet_in

NSG = "azure-native:network:NetworkSecurityGroup"
PUBLIC_IP = "azure-native:network:PublicIPAddress"
_INJECTED_SKUS = ("developer", "premium")
# (source service tag, port) an injected gateway must admit; the clients in external mode only.
_APIM_INBOUND = (("ApiManagement", "3443"), ("AzureLoadBalancer", "6390"))
_CLIENTS = ("Internet", "443")


def _allows(rules: Any, source: str, port: str) -> bool:
    for rule in rules if isinstance(rules, list) else []:
        if not isinstance(rule, dict) or rule.get("direction") != "Inbound":
            continue
        if rule.get("access") != "Allow" or rule.get("sourceAddressPrefix") not in (source, "*"):
            continue
        ports = [rule.get("destinationPortRange"), *(rule.get("destinationPortRanges") or [])]
        if port in ports or "*" in ports:
            return True
    return False


def _subnet_nsg(subnet_id: str, resources: Sequence[StackResource]) -> StackResource | str | None:
    """The NSG on the subnet an ID names; None: no NSG; 'unknown': cannot be told."""
    lowered = subnet_id.lower().split("/")
    vnet_name = vnet_in(subnet_id)
    if vnet_name is None or "subnets" not in lowered or lowered[-2] != "subnets":
        return "unknown"
    subnet_name = lowered[-1]
    for vnet in of_type(resources, VNET):
        if (known(vnet.props.get("virtualNetworkName")) or "").lower() != vnet_name:
            continue
        for subnet in vnet.props.get("subnets") or []:
            if not isinstance(subnet, dict) or str(subnet.get("name", "")).lower() != subnet_name:
                continue
            nsg_id = get_path(subnet, "networkSecurityGroup", "id")
            if nsg_id is None:
                return None
            if not isinstance(nsg_id, str) or is_opaque(nsg_id):
                return "unknown"
            nsg_name = nsg_id.rsplit("/", 1)[-1].lower()
            return next(
                (
                    nsg
                    for nsg in of_type(resources, NSG)
                    if (known(nsg.props.get("networkSecurityGroupName")) or "").lower() == nsg_name
                ),
                "unknown",
            )
    return "unknown"


def injected_gateway_reachable(resources: Sequence[StackResource]) -> list[Violation]:
    found = []
    for service in of_type(resources, SERVICE):
        sku = str(get_path(service.props, "sku", "name") or "").lower()
        kind = service.props.get("virtualNetworkType")
        subnet = get_path(service.props, "virtualNetworkConfiguration", "subnetResourceId")
        if sku not in _INJECTED_SKUS or kind not in ("External", "Internal"):
            continue
        if isinstance(subnet, str) and not is_opaque(subnet):
            nsg = _subnet_nsg(subnet, resources)
            if nsg is None:
                found.append(
                    Violation(
                        f"{service.label} is injected into a subnet without a network security "
                        "group; API Management's load balancer rejects all inbound traffic "
                        "until an NSG allows it",
                        service.urn,
                    )
                )
            elif isinstance(nsg, StackResource):
                rules = nsg.props.get("securityRules")
                needed = [*_APIM_INBOUND, *([_CLIENTS] if kind == "External" else [])]
                missing = [f"{s}:{p}" for s, p in needed if not _allows(rules, s, p)]
                if missing and not is_opaque(rules):
                    found.append(
                        Violation(
                            f"{service.label}'s subnet NSG {nsg.label} does not allow inbound "
                            f"{', '.join(missing)} (source tag:port), which API Management in "
                            "a VNet requires",
                            nsg.urn,
                        )
                    )
        found.extend(_public_ip_problems(service, resources))
    return found


def _public_ip_problems(
    service: StackResource, resources: Sequence[StackResource]
) -> list[Violation]:
    address_id = known(service.props.get("publicIpAddressId"))
    if address_id is None:
        return []
    name = address_id.rsplit("/", 1)[-1].lower()
    for address in of_type(resources, PUBLIC_IP):
        if (known(address.props.get("publicIpAddressName")) or "").lower() != name:
            continue
        problems = []
        sku = get_path(address.props, "sku", "name")
        if equals(sku, "Standard") is False:
            problems.append(f"SKU {show(sku)} (Standard is required)")
        where, there = address.props.get("location"), service.props.get("location")
        if known(where) and known(there) and str(where).lower() != str(there).lower():
            problems.append(f"region {show(where)}, not the gateway's {show(there)}")
        return [
            Violation(f"{service.label}'s public IP {address.label} has {p}", address.urn)
            for p in problems
        ]
    return []


def policies() -> list[StackValidationPolicy]:
    return [stack_policy("preflight-apim-injection-network", injected_gateway_reachable)]
