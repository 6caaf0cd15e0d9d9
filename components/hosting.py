"""The one App Service plan (Linux) that every consumer Web App of a stack runs on.

In a private network its apps use regional VNet integration, which the plan's tier must offer
(Basic and up; not Free or Shared: learn.microsoft.com/azure/app-service/overview-vnet-integration).
The integration subnet serves this one plan ("The integration subnet can be used by only one App
Service plan"), so a stack keeps a single plan.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import pulumi
from pulumi_azure_native import web

from components.config import AppServicePlan as PlanConfig
from components.config_network import plan_supports_vnet_integration


@dataclass(frozen=True)
class HostingArgs:
    config: PlanConfig
    plan_name: str
    resource_group_name: str
    location: str
    vnet_integration: bool = False  # its apps join the stack's private network
    tags: dict[str, str] = field(default_factory=dict)
    depends_on: tuple[pulumi.Resource, ...] = ()

    def __post_init__(self) -> None:
        if self.config.zone_redundant and self.config.capacity < 2:
            raise ValueError("a zone-redundant plan needs capacity >= 2")
        if self.vnet_integration and not plan_supports_vnet_integration(self.config.sku):
            raise ValueError(f"plan SKU {self.config.sku} has no VNet integration")


class Hosting(pulumi.ComponentResource):
    plan_id: pulumi.Output[str]

    def __init__(
        self, name: str, args: HostingArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__("secure-api-calls:consumer:Hosting", name, None, opts)
        plan = web.AppServicePlan(
            f"{name}-plan",
            name=args.plan_name,
            resource_group_name=args.resource_group_name,
            location=args.location,
            kind="linux",
            reserved=True,  # reserved=True is what makes a plan Linux
            sku=web.SkuDescriptionArgs(name=args.config.sku, capacity=args.config.capacity),
            zone_redundant=args.config.zone_redundant,
            tags=args.tags,
            opts=pulumi.ResourceOptions(parent=self, depends_on=list(args.depends_on)),
        )
        self.plan_id = plan.id
        self.register_outputs({"planId": self.plan_id})
