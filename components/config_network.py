"""The stack config's `network` and `keyRotation` sections (docs/private-network.md,
docs/rotating-subscription-keys.md), and the checks a private network needs across sections.

Part of the one strict model in components/config.py, which holds these sections; kept apart so
each file stays readable. Same conventions: unknown keys refused, camelCase keys, every problem
one line naming the key.
"""

from __future__ import annotations

import datetime as dt
import re
from typing import Annotated, Literal, Protocol

from pydantic import BaseModel, ConfigDict, Field, model_validator
from pydantic.alias_generators import to_camel

from components import key_rotation, network_layout


class _Model(BaseModel):
    # As config.py's models: unknown keys are errors, keys are camelCase, values frozen.
    model_config = ConfigDict(
        extra="forbid", frozen=True, alias_generator=to_camel, populate_by_name=False
    )


class GatewaySettings(Protocol):
    """What the network checks read of the `gateway` section."""

    @property
    def mode(self) -> str: ...
    @property
    def sku(self) -> str: ...
    @property
    def capacity(self) -> int: ...


class PlanSettings(Protocol):
    """What the network checks read of the `appServicePlan` section."""

    @property
    def sku(self) -> str: ...
    @property
    def capacity(self) -> int: ...


# Which API Management tiers can sit in a virtual network, and how. Classic Developer/Premium:
# VNet injection in external mode (learn.microsoft.com/azure/api-management/
# api-management-using-with-vnet, "APPLIES TO: Developer | Premium"). Standard v2/Premium v2:
# outbound VNet integration (learn.microsoft.com/azure/api-management/integrate-vnet-outbound,
# "available only for API Management instances in the Standard v2 and Premium v2 tiers").
# Basic, Standard and Basic v2 have neither.
VNET_INJECTION_SKUS = ("Developer", "Premium")
VNET_INTEGRATION_SKUS = ("StandardV2", "PremiumV2")
SubnetNameText = Annotated[str, Field(min_length=1, max_length=80)]


class Subnet(_Model):
    name: SubnetNameText | None = None  # default: snet-<role>
    prefix: Annotated[str, Field(min_length=9, max_length=18)]


class Subnets(_Model):
    gateway: Subnet
    web_apps: Subnet
    private_endpoints: Subnet


class Inbound(_Model):
    # privateEndpoint: publicNetworkAccess Disabled and a private endpoint per Web App.
    # accessRestrictions: public endpoint kept, default Deny, only `allow` (CIDRs or service
    # tags), the SCM site under the same rules.
    mode: Literal["privateEndpoint", "accessRestrictions"] = "privateEndpoint"
    allow: tuple[Annotated[str, Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9./]{0,42}$")], ...] = ()

    @model_validator(mode="after")
    def _allow_fits_mode(self) -> Inbound:
        if self.mode == "privateEndpoint" and self.allow:
            raise ValueError("allow applies to mode 'accessRestrictions' only")
        if self.mode == "accessRestrictions" and not self.allow:
            raise ValueError(
                "mode 'accessRestrictions' needs at least one allow entry (a CIDR or a "
                "service tag); with none, use mode 'privateEndpoint'"
            )
        for entry in self.allow:
            if entry.lower() in ("any", "internet", "0.0.0.0/0", "*") or entry.endswith("/0"):
                raise ValueError(f"allow entry '{entry}' opens the app to everyone")
        return self


class Network(_Model):
    mode: Literal["public", "private"] = "public"
    address_space: Annotated[str, Field(min_length=9, max_length=18)] | None = None
    subnets: Subnets | None = None
    inbound: Inbound = Inbound()

    @model_validator(mode="after")
    def _mode_fields(self) -> Network:
        if self.mode == "private" and (self.address_space is None or self.subnets is None):
            raise ValueError(
                "mode 'private' needs addressSpace and subnets {gateway, webApps, "
                "privateEndpoints}, each {prefix, name?}"
            )
        if self.mode == "public" and (
            self.address_space is not None
            or self.subnets is not None
            or "inbound" in self.model_fields_set
        ):
            raise ValueError("addressSpace, subnets and inbound apply to mode 'private' only")
        return self

    @property
    def private(self) -> bool:
        return self.mode == "private"


class KeyRotation(_Model):
    # Rotate every `days` from `start` (docs/rotating-subscription-keys.md). At least 14 days:
    # the previous key stays valid for one period, which must outlast the weekly scheduled
    # deploy plus App Service's 24-hour Key Vault reference refresh, with room for a prod
    # approval that waits a few days (components/key_rotation.py).
    days: Annotated[int, Field(ge=14, le=365)] | None = None
    start: Annotated[str, Field(min_length=10, max_length=30)] | None = None

    @model_validator(mode="after")
    def _both_or_neither(self) -> KeyRotation:
        if (self.days is None) != (self.start is None):
            raise ValueError("set both days and start (a date, YYYY-MM-DD), or neither")
        if self.start is not None and key_rotation.parse_start(self.start) is None:
            raise ValueError(f"start '{self.start}' is not a date (YYYY-MM-DD)")
        return self

    @property
    def enabled(self) -> bool:
        return self.days is not None

    @property
    def start_date(self) -> dt.date | None:
        return key_rotation.parse_start(self.start) if self.start else None


# Web App plans that can use regional VNet integration: "Requires a supported Basic or
# Standard, Premium, Premium v2, Premium v3, or Elastic Premium App Service pricing tier"
# (learn.microsoft.com/azure/app-service/overview-vnet-integration); Free (F1) and Shared (D1)
# cannot. The plan SKU pattern above admits only B/S/P tiers today; this keeps the rule where
# the network needs it, should the pattern ever widen.
_PLANS_WITHOUT_VNET_INTEGRATION = re.compile(r"^(F\d|D\d|FREE|SHARED)", re.IGNORECASE)
_SUBNET_DEFAULT_NAMES = {
    "gateway": "snet-gateway",
    "webApps": "snet-web-apps",
    "privateEndpoints": "snet-private-endpoints",
}


def plan_supports_vnet_integration(sku: str) -> bool:
    return not _PLANS_WITHOUT_VNET_INTEGRATION.match(sku)


def subnet_name(network: Network, role: str) -> str:
    """The subnet's name: the configured one, else snet-<role>."""
    assert network.subnets is not None
    subnet: Subnet = getattr(network.subnets, _ROLE_FIELDS[role])
    return subnet.name or _SUBNET_DEFAULT_NAMES[role]


_ROLE_FIELDS = {
    "gateway": "gateway",
    "webApps": "web_apps",
    "privateEndpoints": "private_endpoints",
}


def network_problems(
    network: Network, gateway: GatewaySettings, plan: PlanSettings, *, consumer_count: int
) -> list[tuple[str, str]]:
    """A private network the gateway tier, the plan and the address plan can all live in;
    each problem (config key, message)."""
    if not network.private or network.subnets is None or network.address_space is None:
        return []
    if gateway.mode == "existing":
        return [
            (
                "gateway.mode",
                "network.mode 'private' needs gateway.mode 'create': the stack cannot move an "
                "existing API Management service into its network",
            )
        ]
    if gateway.sku not in VNET_INJECTION_SKUS + VNET_INTEGRATION_SKUS:
        return [
            (
                "gateway.sku",
                f"'{gateway.sku}' cannot join a virtual network (network.mode 'private'); SKUs "
                "that can: Developer, Premium (VNet injection), StandardV2, PremiumV2 "
                "(VNet integration)",
            )
        ]
    if not plan_supports_vnet_integration(plan.sku):
        return [
            (
                "appServicePlan.sku",
                f"'{plan.sku}' has no VNet integration (network.mode 'private'); use Basic "
                "(B1) or higher",
            )
        ]
    if problem := network_layout.address_space_problem(network.address_space):
        return [("network.addressSpace", problem)]
    injected = gateway.sku in VNET_INJECTION_SKUS
    per_unit = 1 if gateway.sku == "Developer" else 2
    endpoints = 1 + (consumer_count if network.inbound.mode == "privateEndpoint" else 0)
    needs = (
        network_layout.SubnetNeed(
            "network.subnets.gateway.prefix",
            subnet_name(network, "gateway"),
            network.subnets.gateway.prefix,
            # learn.microsoft.com/azure/api-management/virtual-network-injection-resources:
            # "/29" minimum, one address for Developer and two per Premium unit. integrate-vnet-
            # outbound: "Minimum: /27", a subnet for this one instance only.
            min_prefix_length=29 if injected else 27,
            addresses=per_unit * gateway.capacity if injected else 1,
            why=(
                f"API Management {gateway.sku} uses {per_unit} address(es) per unit"
                if injected
                else "API Management v2 VNet integration needs a /27"
            ),
        ),
        network_layout.SubnetNeed(
            "network.subnets.webApps.prefix",
            subnet_name(network, "webApps"),
            network.subnets.web_apps.prefix,
            # overview-vnet-integration: "an unused subnet that's an IPv4 /28 block or larger";
            # one address per plan instance, doubled for a while when the plan scales.
            min_prefix_length=28,
            addresses=2 * plan.capacity,
            why=f"one address per plan instance, doubled while scaling; capacity {plan.capacity}",
        ),
        network_layout.SubnetNeed(
            "network.subnets.privateEndpoints.prefix",
            subnet_name(network, "privateEndpoints"),
            network.subnets.private_endpoints.prefix,
            min_prefix_length=network_layout.SMALLEST_SUBNET,
            addresses=endpoints,
            why=f"one address per private endpoint; {endpoints} planned",
        ),
    )
    return network_layout.layout_problems(network.address_space, needs)
