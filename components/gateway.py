"""The API Management gateway: a new service, or an existing one looked up by name.

Either way the stack adds the `tenant-id` named value that every API policy references, so
the policy XML is identical across environments.

In a private network (`GatewayNetwork`) a created gateway joins the stack's VNet the way its
tier allows. Developer/Premium: VNet injection in external mode, with the stack's Standard
public IP (virtualNetworkType External, virtualNetworkConfiguration.subnetResourceId,
publicIpAddressId; learn.microsoft.com/azure/api-management/api-management-using-with-vnet):
the gateway endpoint stays reachable from the internet for its callers, and its calls to
backends leave from inside the network. Standard v2/Premium v2: outbound VNet integration,
the same two properties on a delegated subnet (learn.microsoft.com/azure/api-management/
integrate-vnet-outbound); "the gateway and developer portal endpoints remain publicly
accessible". Which tiers can do which is decided in config.py (VNET_*_SKUS).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import pulumi
from pulumi_azure_native import apimanagement

from components import naming, sdk_defaults
from components.config import Gateway as GatewayConfig
from components.config_network import VNET_INJECTION_SKUS
from components.outputs import text

_SECURITY = "Microsoft.WindowsAzure.ApiManagement.Gateway.Security"
# Old protocols and 3DES off on the client and the backend side. Only the classic tiers take
# these settings; v2 tiers have them off by platform design.
HARDENING = {
    f"{_SECURITY}.{side}Protocols.{protocol}": "false"
    for side in ("", "Backend.")
    for protocol in ("Ssl30", "Tls10", "Tls11")
} | {f"{_SECURITY}.Ciphers.TripleDes168": "false"}
CLASSIC_SKUS = ("Developer", "Basic", "Standard", "Premium")


@dataclass(frozen=True)
class GatewayNetwork:
    """The subnet the gateway joins and, for VNet injection, its public IP."""

    subnet_id: pulumi.Input[str]
    public_ip_id: pulumi.Input[str] | None  # classic injection only
    depends_on: tuple[pulumi.Resource, ...] = ()  # the VNet (subnet and NSG) first


@dataclass(frozen=True)
class GatewayArgs:
    config: GatewayConfig
    default_name: str
    resource_group_name: str
    location: str
    tenant_id: pulumi.Input[str]
    network: GatewayNetwork | None = None  # set: join the stack's private network
    tags: dict[str, str] = field(default_factory=dict)
    depends_on: tuple[pulumi.Resource, ...] = ()

    def __post_init__(self) -> None:
        if self.config.mode == "existing" and not self.config.resource_group:
            raise ValueError("an existing gateway needs its resource group")
        if self.network is not None and self.config.mode != "create":
            raise ValueError("only a gateway the stack creates can join its network")
        injected = self.config.sku in VNET_INJECTION_SKUS
        if self.network is not None and injected != (self.network.public_ip_id is not None):
            raise ValueError("a public IP goes with VNet injection (Developer/Premium) only")


class Gateway(pulumi.ComponentResource):
    """An APIM service (created or existing) and its tenant named value."""

    service_name: str
    resource_group_name: str
    gateway_url: pulumi.Output[str]
    service_id: pulumi.Output[str] | None  # None for an existing gateway
    # The created service's system identity (components/gateway_identity.py reads an
    # existing service's); None for an existing gateway.
    principal_id: pulumi.Output[str] | None
    tenant_named_value: apimanagement.NamedValue

    def __init__(
        self, name: str, args: GatewayArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__("secure-api-calls:gateway:Gateway", name, None, opts)
        config = args.config
        self.service_name = config.name or args.default_name
        depends: list[pulumi.Resource] = list(args.depends_on)

        if config.mode == "create":
            self.resource_group_name = args.resource_group_name
            joined = args.network
            if joined is not None:
                depends += list(joined.depends_on)
            service = apimanagement.ApiManagementService(
                f"{name}-service",
                service_name=self.service_name,
                resource_group_name=self.resource_group_name,
                location=args.location,
                publisher_name=config.publisher_name or "",
                publisher_email=config.publisher_email or "",
                sku=apimanagement.ApiManagementServiceSkuPropertiesArgs(
                    name=config.sku, capacity=config.capacity
                ),
                identity=apimanagement.ApiManagementServiceIdentityArgs(type="SystemAssigned"),
                custom_properties=HARDENING if config.sku in CLASSIC_SKUS else None,
                # Undeletes a soft-deleted service of this name (kept 48 h after a delete, and
                # its name blocked meanwhile); "all other properties will be ignored" then
                # (SDK docstring), so it is set for one `up` only (README, gateway.restore).
                restore=True if config.restore else None,
                # External for both injection and v2 integration: the endpoint stays public
                # (its callers need it), the gateway's own calls go through the subnet.
                virtual_network_type=apimanagement.VirtualNetworkType.EXTERNAL
                if joined is not None
                else None,
                virtual_network_configuration=apimanagement.VirtualNetworkConfigurationArgs(
                    subnet_resource_id=joined.subnet_id
                )
                if joined is not None
                else None,
                public_ip_address_id=joined.public_ip_id if joined is not None else None,
                tags=args.tags,
                opts=pulumi.ResourceOptions(
                    parent=self,
                    depends_on=depends,
                    # What the SDK would add on its own and ARM refuses (sdk_defaults.py).
                    transformations=[
                        sdk_defaults.without_refused_defaults(sdk_defaults.APIM_SERVICE, config.sku)
                    ],
                ),
            )
            self.gateway_url = text(service.gateway_url)
            self.service_id = service.id
            self.principal_id = text(service.identity.apply(lambda i: i.principal_id if i else ""))
            depends = [service]
        else:
            self.resource_group_name = config.resource_group or ""
            existing = apimanagement.get_api_management_service_output(
                resource_group_name=self.resource_group_name,
                service_name=self.service_name,
                opts=pulumi.InvokeOutputOptions(parent=self),
            )
            self.gateway_url = text(existing.gateway_url)
            self.service_id = None
            self.principal_id = None

        self.dependencies = depends
        self.tenant_named_value = apimanagement.NamedValue(
            f"{name}-tenant-id",
            named_value_id=naming.TENANT_NAMED_VALUE,
            display_name=naming.TENANT_NAMED_VALUE,
            value=args.tenant_id,
            secret=False,
            resource_group_name=self.resource_group_name,
            service_name=self.service_name,
            opts=pulumi.ResourceOptions(parent=self, depends_on=depends),
        )
        self.register_outputs({"serviceName": self.service_name, "gatewayUrl": self.gateway_url})
