"""The API Management gateway: a new service, or an existing one looked up by name.

Either way the stack adds the `tenant-id` named value that every API policy references, so
the policy XML is identical across environments.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import pulumi
from pulumi_azure_native import apimanagement

from components import naming, sdk_defaults
from components.config import Gateway as GatewayConfig
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
class GatewayArgs:
    config: GatewayConfig
    default_name: str
    resource_group_name: str
    location: str
    tenant_id: pulumi.Input[str]
    tags: dict[str, str] = field(default_factory=dict)
    depends_on: tuple[pulumi.Resource, ...] = ()

    def __post_init__(self) -> None:
        if self.config.mode == "existing" and not self.config.resource_group:
            raise ValueError("an existing gateway needs its resource group")


class Gateway(pulumi.ComponentResource):
    """An APIM service (created or existing) and its tenant named value."""

    service_name: str
    resource_group_name: str
    gateway_url: pulumi.Output[str]
    service_id: pulumi.Output[str] | None  # None for an existing gateway
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
