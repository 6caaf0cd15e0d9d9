"""Rules 55-61: a stack that declares a private network keeps its services off the internet,
and its Key Vault secrets expire.

A stack is private when it has a virtual network, or when any resource carries the tag
`network: private` (the program tags every taggable resource of a private stack): so a plan
that lost its VNet, or one resource that lost its tag, still counts as private. In such a stack:

- 55: each Key Vault has publicNetworkAccess Disabled and its firewall's default action Deny
  (Checkov CKV_AZURE_189/CKV_AZURE_109, Azure Policy 405c5871 and 55615ac9);
- 56: each Key Vault is reached through a private endpoint (group `vault`) whose DNS zone group
  registers it in privatelink.vaultcore.azure.net, a zone linked to the stack's VNet: without
  it, App Service cannot resolve its Key Vault references (Azure Policy a6abeaec;
  learn.microsoft.com/azure/private-link/private-endpoint-dns);
- 57: each Web App is integrated with the VNet, routes all outbound traffic into it
  (vnetRouteAllEnabled or outboundVnetRouting) and takes no public traffic: publicNetworkAccess
  Disabled, or access restrictions that deny by default, the SCM site included (Checkov
  CKV_AZURE_222, Azure Policy 72d04c29, a691eacb, 1b5ef780);
- 58: each created gateway sits in the stack's VNet (virtualNetworkType External or Internal
  with a subnet of that VNet; Checkov CKV_AZURE_107, Azure Policy ef619a2c);
- 61 (deployability): a VNet-injected classic gateway's subnet has an NSG that admits what
  Microsoft requires (ApiManagement to 3443, AzureLoadBalancer to 6390, and the clients' 443
  in external mode), and its public IP, if any, is a Standard IP in the gateway's region
  (learn.microsoft.com/azure/api-management/virtual-network-reference,
  virtual-network-injection-resources).

In every stack: 59, each Key Vault secret has an expiry (CKV_AZURE_41, Azure Policy 98728c90),
and 60, a content type (CKV_AZURE_114, Azure Policy 75262d3e); both advisory by default.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from pulumi_policy import StackValidationPolicy

from ._common import (
    StackResource,
    Violation,
    get_path,
    is_opaque,
    show,
    stack_policy,
    unverifiable,
)
from ._links import known, of_type

VNET = "azure-native:network:VirtualNetwork"
NSG = "azure-native:network:NetworkSecurityGroup"
PUBLIC_IP = "azure-native:network:PublicIPAddress"
PRIVATE_ENDPOINT = "azure-native:network:PrivateEndpoint"
ZONE_GROUP = "azure-native:network:PrivateDnsZoneGroup"
ZONE_LINK = "azure-native:privatedns:VirtualNetworkLink"
VAULT = "azure-native:keyvault:Vault"
SECRET = "azure-native:keyvault:Secret"
WEB_APP = "azure-native:web:WebApp"
SERVICE = "azure-native:apimanagement:ApiManagementService"
VAULT_ZONE = "privatelink.vaultcore.azure.net"
_INJECTED_SKUS = ("developer", "premium")
# (source service tag, port, needed in external mode only) an injected gateway must admit.
_APIM_INBOUND = (("ApiManagement", "3443", False), ("AzureLoadBalancer", "6390", False))
_CLIENTS = ("Internet", "443", True)
_ANYONE = ("*", "any", "internet", "0.0.0.0/0", "::/0")


def is_private(resources: Sequence[StackResource]) -> bool:
    tagged = any(
        isinstance(r.props.get("tags"), dict) and r.props["tags"].get("network") == "private"
        for r in resources
    )
    return tagged or bool(of_type(resources, VNET))


def _vnet_names(resources: Sequence[StackResource]) -> set[str]:
    names = {
        known(r.props.get("virtualNetworkName")) or known(r.props.get("name"))
        for r in of_type(resources, VNET)
    }
    return {n.lower() for n in names if n}


def _vnet_in(resource_id: str) -> str | None:
    """The VNet name in an ARM ID under Microsoft.Network/virtualNetworks/<name>."""
    parts = resource_id.lower().split("/")
    if "virtualnetworks" not in parts or parts.index("virtualnetworks") + 1 >= len(parts):
        return None
    return parts[parts.index("virtualnetworks") + 1]


def _in_stack_vnet(subnet_id: Any, vnets: set[str]) -> bool | None:
    """Whether a subnet ID names a subnet of one of the stack's VNets; None if unknown."""
    if is_opaque(subnet_id):
        return None
    if not isinstance(subnet_id, str) or "/subnets/" not in subnet_id.lower():
        return False
    return _vnet_in(subnet_id) in vnets


def _linked_to_stack(link: StackResource, vnets: set[str]) -> bool:
    vnet_id = get_path(link.props, "virtualNetwork", "id")
    if is_opaque(vnet_id):
        return True  # unknown at preview: the engine knows it is the stack's (dependency)
    return isinstance(vnet_id, str) and _vnet_in(vnet_id) in vnets


def _equals(value: Any, expected: str) -> bool | None:
    if is_opaque(value):
        return None
    return isinstance(value, str) and value.lower() == expected.lower()


# --- 55 and 56: the vault ------------------------------------------------------------------


def vault_closed(resources: Sequence[StackResource]) -> list[Violation]:
    if not is_private(resources):
        return []
    found = []
    for vault in of_type(resources, VAULT):
        for path, expected, fix in (
            (("properties", "publicNetworkAccess"), "Disabled", 'public_network_access="Disabled"'),
            (
                ("properties", "networkAcls", "defaultAction"),
                "Deny",
                'network_acls=NetworkRuleSetArgs(default_action="Deny")',
            ),
        ):
            value = get_path(vault.props, *path)
            if _equals(value, expected) is None:
                found.append(Violation(unverifiable(vault.label, ".".join(path), fix), vault.urn))
            elif _equals(value, expected) is False:
                found.append(
                    Violation(
                        f"{vault.label} in a private network has {'.'.join(path)}="
                        f"{show(value)}: set {fix}",
                        vault.urn,
                    )
                )
    return found


def _vault_name(vault: StackResource) -> str | None:
    return known(vault.props.get("vaultName")) or known(vault.props.get("name"))


def _targets(endpoint: StackResource, vault: StackResource) -> bool:
    if endpoint.depends_on("privateLinkServiceConnections", vault.urn):
        return True
    name = _vault_name(vault)
    for connection in endpoint.props.get("privateLinkServiceConnections") or []:
        target = (
            known(connection.get("privateLinkServiceId")) if isinstance(connection, dict) else None
        )
        if name and target and target.lower().endswith(f"/vaults/{name.lower()}"):
            return True
    return False


def _zone_groups_of(endpoint: StackResource, resources: Sequence[StackResource]) -> list[Any]:
    name = known(endpoint.props.get("privateEndpointName"))
    return [
        group
        for group in of_type(resources, ZONE_GROUP)
        if (name and known(group.props.get("privateEndpointName")) == name)
        or endpoint.urn in group.dependencies
    ]


def _registers_in_vault_zone(group: StackResource) -> bool:
    for config in group.props.get("privateDnsZoneConfigs") or []:
        zone_id = config.get("privateDnsZoneId") if isinstance(config, dict) else None
        if is_opaque(zone_id) or (
            isinstance(zone_id, str) and zone_id.lower().endswith(f"/privatednszones/{VAULT_ZONE}")
        ):
            return True
    return False


def vault_private_endpoint(resources: Sequence[StackResource]) -> list[Violation]:
    if not is_private(resources):
        return []
    vnets = _vnet_names(resources)
    linked = any(
        known(link.props.get("privateZoneName")) == VAULT_ZONE and _linked_to_stack(link, vnets)
        for link in of_type(resources, ZONE_LINK)
    )
    found = []
    for vault in of_type(resources, VAULT):
        endpoints = [
            e
            for e in of_type(resources, PRIVATE_ENDPOINT)
            if _targets(e, vault)
            and any(
                "vault" in (c.get("groupIds") or [])
                for c in e.props.get("privateLinkServiceConnections") or []
                if isinstance(c, dict)
            )
        ]
        if not endpoints:
            found.append(
                Violation(
                    f"{vault.label} in a private network has no private endpoint (group "
                    "'vault'): the Web Apps cannot reach it once public access is off",
                    vault.urn,
                )
            )
            continue
        registered = any(
            _registers_in_vault_zone(group)
            for endpoint in endpoints
            for group in _zone_groups_of(endpoint, resources)
        )
        if not registered:
            found.append(
                Violation(
                    f"{vault.label}'s private endpoint has no DNS zone group in {VAULT_ZONE}: "
                    "its host name keeps resolving to the public address",
                    vault.urn,
                )
            )
        elif not linked:
            found.append(
                Violation(
                    f"{vault.label}: the zone {VAULT_ZONE} is not linked to the stack's VNet, "
                    "so apps in it do not resolve the private endpoint",
                    vault.urn,
                )
            )
    return found


# --- 57: the Web Apps ----------------------------------------------------------------------


def _routes_all(site: StackResource) -> bool | None:
    route_all = get_path(site.props, "siteConfig", "vnetRouteAllEnabled")
    routing = site.props.get("outboundVnetRouting")
    newer = isinstance(routing, dict) and (
        routing.get("allTraffic") is True or routing.get("applicationTraffic") is True
    )
    if route_all is True or newer:
        return True
    return None if is_opaque(route_all) else False


def _restricted(config: Any) -> bool:
    """Access restrictions that admit only listed sources, on the app and its SCM site."""
    if not isinstance(config, dict) or config.get("ipSecurityRestrictionsDefaultAction") != "Deny":
        return False
    scm = config.get("scmIpSecurityRestrictionsUseMain") is True or (
        config.get("scmIpSecurityRestrictionsDefaultAction") == "Deny"
    )
    rules = config.get("ipSecurityRestrictions") or []
    open_rule = any(
        isinstance(r, dict)
        and r.get("action", "Allow") == "Allow"
        and str(r.get("ipAddress", "")).lower() in _ANYONE
        for r in rules
    )
    return scm and not open_rule


def web_apps_private(resources: Sequence[StackResource]) -> list[Violation]:
    if not is_private(resources):
        return []
    vnets = _vnet_names(resources)
    found = []
    for site in of_type(resources, WEB_APP):
        subnet = site.props.get("virtualNetworkSubnetId")
        if subnet is None or _in_stack_vnet(subnet, vnets) is False:
            found.append(
                Violation(
                    f"{site.label} in a private network has virtualNetworkSubnetId={show(subnet)}: "
                    "integrate it with the stack's web app subnet",
                    site.urn,
                )
            )
        if _routes_all(site) is None:
            found.append(
                Violation(
                    unverifiable(site.label, "siteConfig.vnetRouteAllEnabled", "set it to True"),
                    site.urn,
                )
            )
        elif _routes_all(site) is False:
            found.append(
                Violation(
                    f"{site.label} routes only private traffic into the VNet: set "
                    "site_config.vnet_route_all_enabled=True (Linux apps need it to resolve Key "
                    "Vault references over a private endpoint)",
                    site.urn,
                )
            )
        access = site.props.get("publicNetworkAccess")
        if _equals(access, "Disabled") is None:
            found.append(
                Violation(
                    unverifiable(site.label, "publicNetworkAccess", 'set it to "Disabled"'),
                    site.urn,
                )
            )
            continue
        if not _equals(access, "Disabled") and not _restricted(site.props.get("siteConfig")):
            found.append(
                Violation(
                    f"{site.label} in a private network has publicNetworkAccess={show(access)} "
                    "and no deny-by-default access restrictions: set "
                    'public_network_access="Disabled" (private endpoint) or restrict it '
                    "(ip_security_restrictions_default_action and the SCM site's to Deny)",
                    site.urn,
                )
            )
    return found


# --- 58 and 61: the gateway ----------------------------------------------------------------


def gateway_in_network(resources: Sequence[StackResource]) -> list[Violation]:
    if not is_private(resources):
        return []
    vnets = _vnet_names(resources)
    found = []
    for service in of_type(resources, SERVICE):
        kind = service.props.get("virtualNetworkType")
        subnet = get_path(service.props, "virtualNetworkConfiguration", "subnetResourceId")
        if is_opaque(kind):
            found.append(
                Violation(
                    unverifiable(service.label, "virtualNetworkType", 'set it to "External"'),
                    service.urn,
                )
            )
            continue
        if kind not in ("External", "Internal") or _in_stack_vnet(subnet, vnets) is False:
            found.append(
                Violation(
                    f"{service.label} in a private network has virtualNetworkType={show(kind)} "
                    f"and subnet {show(subnet)}: join it to the stack's gateway subnet "
                    "(injection on Developer/Premium, integration on StandardV2/PremiumV2)",
                    service.urn,
                )
            )
    return found


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
    vnet_name = _vnet_in(subnet_id)
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
                missing = [f"{s}:{p}" for s, p, _ in needed if not _allows(rules, s, p)]
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
        if _equals(sku, "Standard") is False:
            problems.append(f"SKU {show(sku)} (Standard is required)")
        where, there = address.props.get("location"), service.props.get("location")
        if known(where) and known(there) and str(where).lower() != str(there).lower():
            problems.append(f"region {show(where)}, not the gateway's {show(there)}")
        return [
            Violation(f"{service.label}'s public IP {address.label} has {p}", address.urn)
            for p in problems
        ]
    return []


# --- 59 and 60: secrets --------------------------------------------------------------------


def secrets_expire(resources: Sequence[StackResource]) -> list[Violation]:
    found = []
    for secret in of_type(resources, SECRET):
        expires = get_path(secret.props, "properties", "attributes", "expires")
        if expires is None:
            found.append(
                Violation(
                    f"{secret.label} has no expiry (properties.attributes.expires): rotate its "
                    "value on a schedule and set the expiry after the grace period "
                    "(keyRotation, docs/rotating-subscription-keys.md)",
                    secret.urn,
                )
            )
    return found


def secrets_have_content_type(resources: Sequence[StackResource]) -> list[Violation]:
    return [
        Violation(f"{s.label} has no properties.contentType: say what the value is", s.urn)
        for s in of_type(resources, SECRET)
        if get_path(s.props, "properties", "contentType") in (None, "")
    ]


def policies() -> list[StackValidationPolicy]:
    return [
        stack_policy("private-network-key-vault-closed", vault_closed),
        stack_policy("private-network-key-vault-endpoint", vault_private_endpoint),
        stack_policy("private-network-web-apps", web_apps_private),
        stack_policy("private-network-gateway", gateway_in_network),
        stack_policy("key-vault-secret-expiry", secrets_expire),
        stack_policy("key-vault-secret-content-type", secrets_have_content_type),
        stack_policy("preflight-apim-injection-network", injected_gateway_reachable),
    ]
