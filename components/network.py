"""The stack's own virtual network for `network.mode: private` (docs/private-network.md).

One VNet with three subnets, each with its own network security group (NSG):
- gateway: API Management. Classic Developer/Premium are injected in external mode: no
  delegation, an NSG with the rules Microsoft documents, and a Standard public IP with a DNS
  label (learn.microsoft.com/azure/api-management/virtual-network-injection-resources;
  includes/api-management-virtual-network-prerequisites: "ensure you assign a DNS name label
  to it"). Standard v2/Premium v2 are integrated for outbound calls: the subnet is delegated to
  Microsoft.Web/serverFarms and needs an NSG with "No specific rules"
  (learn.microsoft.com/azure/api-management/integrate-vnet-outbound).
- webApps: App Service regional VNet integration, delegated to Microsoft.Web/serverFarms, one
  App Service plan only (learn.microsoft.com/azure/app-service/overview-vnet-integration). NSG
  inbound rules do not apply to it; the NSG filters the apps' outbound traffic.
- privateEndpoints: the Key Vault's private endpoint (and the Web Apps' when inbound is
  privateEndpoint).

The private DNS zones the endpoints register in are created here and linked to the VNet:
with no custom DNS server, an app integrated with the VNet resolves through Azure DNS and the
linked zones (overview-vnet-integration, "Azure DNS private zones"). Zone names per service:
learn.microsoft.com/azure/private-link/private-endpoint-dns (Key Vault `vault`:
privatelink.vaultcore.azure.net; Web Apps `sites`: privatelink.azurewebsites.net).

Subnet IDs are composed from literal names (the subscription comes from an invoke, known at
preview) so the policy pack sees where each resource joins the network at `pulumi preview`.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import pulumi
from pulumi_azure_native import network, privatedns

from components.config_network import VNET_INJECTION_SKUS, subnet_name
from components.config_network import Network as NetworkConfig
from components.outputs import text

VAULT_ZONE = "privatelink.vaultcore.azure.net"
SITES_ZONE = "privatelink.azurewebsites.net"
SERVER_FARMS = "Microsoft.Web/serverFarms"
ROLES = ("gateway", "webApps", "privateEndpoints")
_SLUG = {"gateway": "gateway", "webApps": "web-apps", "privateEndpoints": "private-endpoints"}


@dataclass(frozen=True)
class NsgRule:
    """One security rule as the APIM virtual network reference lists it."""

    name: str
    priority: int
    direction: str  # Inbound | Outbound
    source: str  # service tag
    destination: str  # service tag
    ports: tuple[str, ...]
    why: str


# learn.microsoft.com/azure/api-management/virtual-network-reference, "Required ports", the
# rows marked required for external mode, plus Microsoft Entra ID: every API policy here runs
# validate-azure-ad-token, which fetches the tenant's signing keys (the table lists Entra as
# "optional" only because not every instance validates Entra tokens). TCP throughout.
APIM_INJECTION_RULES: tuple[NsgRule, ...] = (
    NsgRule("allow-clients-https", 100, "Inbound", "Internet", "VirtualNetwork", ("443",),
            "Client communication to API Management (external mode)"),
    NsgRule("allow-apim-management", 110, "Inbound", "ApiManagement", "VirtualNetwork",
            ("3443",), "Management endpoint for Azure portal and PowerShell"),
    NsgRule("allow-load-balancer", 120, "Inbound", "AzureLoadBalancer", "VirtualNetwork",
            ("6390",), "Azure Infrastructure Load Balancer"),
    NsgRule("allow-certificate-validation", 100, "Outbound", "VirtualNetwork", "Internet",
            ("80",), "Validation and management of certificates"),
    NsgRule("allow-storage", 110, "Outbound", "VirtualNetwork", "Storage", ("443",),
            "Dependency on Azure Storage"),
    NsgRule("allow-sql", 120, "Outbound", "VirtualNetwork", "Sql", ("1433",),
            "Access to Azure SQL endpoints"),
    NsgRule("allow-key-vault", 130, "Outbound", "VirtualNetwork", "AzureKeyVault", ("443",),
            "Access to Azure Key Vault"),
    NsgRule("allow-monitor", 140, "Outbound", "VirtualNetwork", "AzureMonitor",
            ("1886", "443"), "Diagnostics logs, metrics, Resource Health and App Insights"),
    NsgRule("allow-entra-id", 150, "Outbound", "VirtualNetwork", "AzureActiveDirectory",
            ("443",), "Microsoft Entra ID: token validation keys"),
)  # fmt: skip


@dataclass(frozen=True)
class PrivateNetworkArgs:
    config: NetworkConfig
    gateway_sku: str
    base_name: str  # <prefix>-<stack>: vnet-<base>, nsg-<base>-<role>, pip-<base>-apim
    gateway_dns_label: str  # the APIM service name, for the public IP's DNS label
    resource_group_name: str
    location: str
    subscription_id: pulumi.Input[str]
    web_app_endpoints: bool  # inbound privateEndpoint: the sites zone too
    tags: dict[str, str] = field(default_factory=dict)
    depends_on: tuple[pulumi.Resource, ...] = ()

    def __post_init__(self) -> None:
        if not self.config.private or self.config.subnets is None:
            raise ValueError("a PrivateNetwork is only built for network.mode 'private'")

    @property
    def injected(self) -> bool:
        return self.gateway_sku in VNET_INJECTION_SKUS


class PrivateNetwork(pulumi.ComponentResource):
    """VNet, subnets with NSGs, the gateway's public IP (injection) and private DNS zones."""

    vnet: network.VirtualNetwork
    vnet_name: str
    subnet_ids: dict[str, pulumi.Output[str]]  # by role
    zone_ids: dict[str, pulumi.Output[str]]  # by zone name
    public_ip_id: pulumi.Output[str] | None

    def __init__(
        self, name: str, args: PrivateNetworkArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__("secure-api-calls:network:PrivateNetwork", name, None, opts)
        config = args.config
        assert config.subnets is not None and config.address_space is not None
        after = pulumi.ResourceOptions(parent=self, depends_on=list(args.depends_on))
        self.vnet_name = f"vnet-{args.base_name}"
        prefixes = {
            "gateway": config.subnets.gateway.prefix,
            "webApps": config.subnets.web_apps.prefix,
            "privateEndpoints": config.subnets.private_endpoints.prefix,
        }
        delegated = {"webApps"} | (set() if args.injected else {"gateway"})
        groups = {
            role: network.NetworkSecurityGroup(
                f"{name}-nsg-{_SLUG[role]}",
                network_security_group_name=f"nsg-{args.base_name}-{_SLUG[role]}",
                resource_group_name=args.resource_group_name,
                location=args.location,
                security_rules=_rules(APIM_INJECTION_RULES)
                if role == "gateway" and args.injected
                else [],
                tags=args.tags,
                opts=after,
            )
            for role in ROLES
        }
        self.vnet = network.VirtualNetwork(
            f"{name}-vnet",
            virtual_network_name=self.vnet_name,
            resource_group_name=args.resource_group_name,
            location=args.location,
            address_space=network.AddressSpaceArgs(address_prefixes=[config.address_space]),
            # Subnets inline: a VirtualNetwork update that does not list its subnets would
            # remove separately declared ones (pulumi/pulumi-azure-native#611).
            subnets=[
                network.SubnetArgs(
                    name=subnet_name(config, role),
                    address_prefix=prefixes[role],
                    network_security_group=network.NetworkSecurityGroupArgs(id=groups[role].id),
                    delegations=[
                        network.DelegationArgs(name=SERVER_FARMS, service_name=SERVER_FARMS)
                    ]
                    if role in delegated
                    else None,
                )
                for role in ROLES
            ],
            tags=args.tags,
            opts=pulumi.ResourceOptions(parent=self, depends_on=list(groups.values())),
        )
        self.subnet_ids = {
            role: pulumi.Output.concat(
                "/subscriptions/",
                text(args.subscription_id),
                f"/resourceGroups/{args.resource_group_name}/providers/Microsoft.Network/"
                f"virtualNetworks/{self.vnet_name}/subnets/{subnet_name(config, role)}",
            )
            for role in ROLES
        }
        self.public_ip_id = None
        if args.injected:
            public_ip = network.PublicIPAddress(
                f"{name}-gateway-ip",
                public_ip_address_name=f"pip-{args.base_name}-apim",
                resource_group_name=args.resource_group_name,
                location=args.location,
                sku=network.PublicIPAddressSkuArgs(name="Standard", tier="Regional"),
                public_ip_allocation_method="Static",
                public_ip_address_version="IPv4",
                dns_settings=network.PublicIPAddressDnsSettingsArgs(
                    domain_name_label=args.gateway_dns_label
                ),
                tags=args.tags,
                opts=after,
            )
            self.public_ip_id = public_ip.id
        zones = [VAULT_ZONE, *([SITES_ZONE] if args.web_app_endpoints else [])]
        self.zone_ids = {zone: self._zone(name, zone, args) for zone in zones}
        self.register_outputs({"vnetName": self.vnet_name, "subnetIds": self.subnet_ids})

    def _zone(self, name: str, zone: str, args: PrivateNetworkArgs) -> pulumi.Output[str]:
        short = zone.split(".")[1]  # vaultcore | azurewebsites
        private_zone = privatedns.PrivateZone(
            f"{name}-zone-{short}",
            private_zone_name=zone,
            resource_group_name=args.resource_group_name,
            location="Global",  # private DNS zones are global resources
            tags=args.tags,
            opts=pulumi.ResourceOptions(parent=self, depends_on=list(args.depends_on)),
        )
        privatedns.VirtualNetworkLink(
            f"{name}-zone-{short}-link",
            virtual_network_link_name=f"{self.vnet_name}-link",
            private_zone_name=zone,
            resource_group_name=args.resource_group_name,
            location="Global",
            virtual_network=privatedns.SubResourceArgs(id=self.vnet.id),
            # Records come from the endpoints' zone groups, not from VM auto-registration.
            registration_enabled=False,
            tags=args.tags,
            opts=pulumi.ResourceOptions(parent=self, depends_on=[private_zone, self.vnet]),
        )
        return private_zone.id


def _rules(rules: tuple[NsgRule, ...]) -> list[network.SecurityRuleArgs]:
    return [
        network.SecurityRuleArgs(
            name=rule.name,
            priority=rule.priority,
            direction=rule.direction,
            access="Allow",
            protocol="Tcp",
            source_address_prefix=rule.source,
            source_port_range="*",
            destination_address_prefix=rule.destination,
            destination_port_range=rule.ports[0] if len(rule.ports) == 1 else None,
            destination_port_ranges=list(rule.ports) if len(rule.ports) > 1 else None,
            description=rule.why,
        )
        for rule in rules
    ]
