"""A private endpoint for one Azure resource, registered in its private DNS zone.

Used by the components that own the target (the Key Vault, each Web App), so the endpoint's
URN sits next to what it exposes. The zone group makes Azure write the endpoint's A record into
the zone (learn.microsoft.com/azure/private-link/private-endpoint-dns-integration), so every
resource in the linked VNet resolves the service's usual host name to the private address.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import pulumi
from pulumi_azure_native import network


@dataclass(frozen=True)
class EndpointArgs:
    """Where the endpoint goes and what it reaches."""

    endpoint_name: str  # pe-<target name>
    target_id: pulumi.Input[str]  # the resource's ARM ID
    group_id: str  # the target's sub-resource: "vault", "sites"
    subnet_id: pulumi.Input[str]
    zone_name: str
    zone_id: pulumi.Input[str]
    resource_group_name: str
    location: str
    tags: dict[str, str] = field(default_factory=dict)
    depends_on: tuple[pulumi.Resource, ...] = ()


def private_endpoint(
    name: str, args: EndpointArgs, parent: pulumi.Resource
) -> network.PrivateEndpoint:
    """A PrivateEndpoint and its DNS zone group, both children of `parent`."""
    endpoint = network.PrivateEndpoint(
        name,
        private_endpoint_name=args.endpoint_name,
        resource_group_name=args.resource_group_name,
        location=args.location,
        subnet=network.SubnetArgs(id=args.subnet_id),
        private_link_service_connections=[
            network.PrivateLinkServiceConnectionArgs(
                name=args.endpoint_name,
                private_link_service_id=args.target_id,
                group_ids=[args.group_id],
            )
        ],
        tags=args.tags,
        opts=pulumi.ResourceOptions(parent=parent, depends_on=list(args.depends_on)),
    )
    network.PrivateDnsZoneGroup(
        f"{name}-dns",
        private_dns_zone_group_name="default",
        private_endpoint_name=args.endpoint_name,
        resource_group_name=args.resource_group_name,
        private_dns_zone_configs=[
            network.PrivateDnsZoneConfigArgs(
                name=args.zone_name.replace(".", "-"), private_dns_zone_id=args.zone_id
            )
        ],
        opts=pulumi.ResourceOptions(parent=parent, depends_on=[endpoint]),
    )
    return endpoint
