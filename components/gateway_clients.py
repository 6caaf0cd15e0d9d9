"""The callers the gateway knows by client ID: one named value per consumer identity.

Each API policy lists its allowed callers in `<client-application-ids>`. The consumers' client
IDs differ per environment, so the policy names them as `{{client-<consumer>}}` and the XML
stays identical across stacks; each named value is created once here, at the gateway level,
and shared by every API the consumer calls.
"""

from __future__ import annotations

from dataclasses import dataclass

import pulumi
from pulumi_azure_native import apimanagement

from components import naming


@dataclass(frozen=True)
class Caller:
    consumer: str
    client_id: pulumi.Input[str]  # the consumer's managed identity (Graph servicePrincipal.appId)


@dataclass(frozen=True)
class GatewayClientsArgs:
    service_name: str
    resource_group_name: str
    callers: tuple[Caller, ...]
    depends_on: tuple[pulumi.Resource, ...] = ()

    def __post_init__(self) -> None:
        names = [caller.consumer for caller in self.callers]
        if len(names) != len(set(names)):
            raise ValueError("a consumer is listed twice among the gateway's callers")


def reference(consumer: str) -> str:
    """How a policy names the consumer's client ID: `{{client-<consumer>}}`."""
    return "{{" + naming.client_named_value(consumer) + "}}"


class GatewayClients(pulumi.ComponentResource):
    named_values: dict[str, apimanagement.NamedValue]  # by consumer

    def __init__(
        self, name: str, args: GatewayClientsArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__("secure-api-calls:gateway:GatewayClients", name, None, opts)
        self.named_values = {
            caller.consumer: apimanagement.NamedValue(
                f"{name}-{caller.consumer}",
                named_value_id=naming.client_named_value(caller.consumer),
                display_name=naming.client_named_value(caller.consumer),
                value=caller.client_id,
                secret=False,  # a client ID is an identifier, and reviewers need to read it
                resource_group_name=args.resource_group_name,
                service_name=args.service_name,
                opts=pulumi.ResourceOptions(parent=self, depends_on=list(args.depends_on)),
            )
            for caller in args.callers
        }
        self.register_outputs({"callers": sorted(self.named_values)})
