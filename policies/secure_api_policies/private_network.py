"""Rules 55-58: a stack that declares a private network keeps its services off the internet.

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
  with a subnet of that VNet; Checkov CKV_AZURE_107, Azure Policy ef619a2c).

Rule 61 (the injected gateway's NSG and public IP) is in apim_injection.py; 59 and 60 (secret
expiry and content type, every stack) in secret_lifetime.py.
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
PRIVATE_ENDPOINT = "azure-native:network:PrivateEndpoint"
ZONE_GROUP = "azure-native:network:PrivateDnsZoneGroup"
ZONE_LINK = "azure-native:privatedns:VirtualNetworkLink"
PRIVATE_ZONE = "azure-native:privatedns:PrivateZone"
VAULT = "azure-native:keyvault:Vault"
WEB_APP = "azure-native:web:WebApp"
SERVICE = "azure-native:apimanagement:ApiManagementService"
VAULT_ZONE = "privatelink.vaultcore.azure.net"
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


def vnet_in(resource_id: str) -> str | None:
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
    return vnet_in(subnet_id) in vnets


def _linked_to_stack(
    link: StackResource, vnets: set[str], resources: Sequence[StackResource]
) -> bool:
    vnet_id = get_path(link.props, "virtualNetwork", "id")
    if is_opaque(vnet_id):
        return True  # unknown at preview: the engine knows it is the stack's (dependency)
    if not isinstance(vnet_id, str):
        return False
    named = vnet_in(vnet_id)
    if named is not None:
        return named in vnets  # by value: the ID names the VNet
    # An ID that names no VNet (a harness's mock ID): by dependency on one of the stack's.
    stack_vnets = {v.urn for v in of_type(resources, VNET)}
    return bool(stack_vnets & set(link.property_dependencies.get("virtualNetwork", ())))


def equals(value: Any, expected: str) -> bool | None:
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
            if equals(value, expected) is None:
                found.append(Violation(unverifiable(vault.label, ".".join(path), fix), vault.urn))
            elif equals(value, expected) is False:
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


def _registers_in_vault_zone(group: StackResource, resources: Sequence[StackResource]) -> bool:
    """By value: a zone ID that names a private DNS zone decides. An ID that names none (a
    harness's mock ID) is judged by dependency: on the stack's own privatelink.vaultcore zone."""
    vault_zones = {
        zone.urn
        for zone in of_type(resources, PRIVATE_ZONE)
        if known(zone.props.get("privateZoneName")) == VAULT_ZONE
    }
    depends = bool(vault_zones & set(group.property_dependencies.get("privateDnsZoneConfigs", ())))
    for config in group.props.get("privateDnsZoneConfigs") or []:
        zone_id = config.get("privateDnsZoneId") if isinstance(config, dict) else None
        if is_opaque(zone_id):
            return True
        if not isinstance(zone_id, str):
            continue
        if "/privatednszones/" in zone_id.lower():
            if zone_id.lower().endswith(f"/privatednszones/{VAULT_ZONE}"):
                return True
        elif depends:
            return True
    return False


def vault_private_endpoint(resources: Sequence[StackResource]) -> list[Violation]:
    if not is_private(resources):
        return []
    vnets = _vnet_names(resources)
    linked = any(
        known(link.props.get("privateZoneName")) == VAULT_ZONE
        and _linked_to_stack(link, vnets, resources)
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
            _registers_in_vault_zone(group, resources)
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
        if equals(access, "Disabled") is None:
            found.append(
                Violation(
                    unverifiable(site.label, "publicNetworkAccess", 'set it to "Disabled"'),
                    site.urn,
                )
            )
            continue
        if not equals(access, "Disabled") and not _restricted(site.props.get("siteConfig")):
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


# --- 58: the gateway ----------------------------------------------------------------


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


def policies() -> list[StackValidationPolicy]:
    return [
        stack_policy("private-network-key-vault-closed", vault_closed),
        stack_policy("private-network-key-vault-endpoint", vault_private_endpoint),
        stack_policy("private-network-web-apps", web_apps_private),
        stack_policy("private-network-gateway", gateway_in_network),
    ]
