"""The address plan of a private stack network, as pure checks (no Pulumi, no pydantic).

config.py states what each subnet must hold (`SubnetNeed`); this module says whether the
address space and the subnets can hold it, each problem as (config key, message). Azure refuses
most of these only at deploy time, after the network already exists, or accepts them and fails
later when the service scales; so the stack refuses them before the program creates anything.

Sources, per fact:
- Azure reserves 5 addresses in every subnet (first four and last), and some ranges cannot be
  used in a virtual network at all: 224.0.0.0/4, 255.255.255.255/32, 127.0.0.0/8,
  169.254.0.0/16, 168.63.129.16/32 (learn.microsoft.com/azure/virtual-network/virtual-networks-faq,
  "Are there any restrictions on using IP addresses within these subnets?" and "What address
  ranges can I use in my VNets?"); the smallest IPv4 subnet is a /29.
- App Service regional VNet integration is IPv4 only ("The integration virtual network can't
  have IPv6 address spaces defined";
  learn.microsoft.com/azure/app-service/overview-vnet-integration).
- Subnet names: 1-80 characters, letters, digits, underscores, periods and hyphens, starting
  with a letter or digit and ending with a letter, digit or underscore
  (learn.microsoft.com/azure/azure-resource-manager/management/resource-name-rules,
  Microsoft.Network/virtualNetworks/subnets). A few names are reserved for gateways and
  firewalls that need a subnet of exactly that name.
"""

from __future__ import annotations

import ipaddress
import re
from dataclasses import dataclass

AZURE_RESERVED_PER_SUBNET = 5
SMALLEST_SUBNET = 29
_NOT_IN_A_VNET = tuple(
    ipaddress.IPv4Network(text)
    for text in (
        "224.0.0.0/4",
        "255.255.255.255/32",
        "127.0.0.0/8",
        "169.254.0.0/16",
        "168.63.129.16/32",
    )
)
SUBNET_NAME = re.compile(r"[A-Za-z0-9]([A-Za-z0-9._-]{0,78}[A-Za-z0-9_])?")
# Names Azure gives a special meaning: a VPN/ExpressRoute gateway, Azure Firewall, Bastion or
# Route Server must use exactly these, and nothing else should.
RESERVED_SUBNET_NAMES = frozenset(
    {
        "gatewaysubnet",
        "azurefirewallsubnet",
        "azurefirewallmanagementsubnet",
        "azurebastionsubnet",
        "routeserversubnet",
    }
)


@dataclass(frozen=True)
class SubnetNeed:
    """What one subnet of the stack must be able to hold."""

    key: str  # config key path, e.g. "network.subnets.webApps.prefix"
    name: str
    prefix: str
    min_prefix_length: int  # the largest prefix length (smallest subnet) the role allows
    addresses: int  # addresses the role uses at the configured scale
    why: str  # the role's rule in words, with its source


def parse_network(text: str) -> ipaddress.IPv4Network | str:
    """An IPv4 network in CIDR form with no host bits set, or the problem in words."""
    try:
        network = ipaddress.ip_network(text, strict=False)
    except ValueError:
        return f"'{text}' is not an address range in CIDR form (e.g. 10.20.0.0/16)"
    if not isinstance(network, ipaddress.IPv4Network):
        return f"'{text}' is IPv6; App Service VNet integration needs IPv4 ranges only"
    if "/" not in text:
        return f"'{text}' has no prefix length; write it as {network}"
    if str(network) != text.strip():
        return f"'{text}' has host bits set; the range starts at {network}"
    return network


def usable(network: ipaddress.IPv4Network) -> int:
    return max(network.num_addresses - AZURE_RESERVED_PER_SUBNET, 0)


def address_space_problem(text: str) -> str | None:
    parsed = parse_network(text)
    if isinstance(parsed, str):
        return parsed
    if parsed.prefixlen < 8 or parsed.prefixlen > SMALLEST_SUBNET:
        return f"'{text}' must be between /8 and /{SMALLEST_SUBNET}"
    for reserved in _NOT_IN_A_VNET:
        if parsed.overlaps(reserved):
            return f"'{text}' overlaps {reserved}, which Azure does not allow in a virtual network"
    return None


def subnet_name_problem(name: str) -> str | None:
    if not SUBNET_NAME.fullmatch(name):
        return (
            f"subnet name '{name}' must be 1-80 letters, digits, '_', '.' or '-', starting "
            "with a letter or digit and ending with a letter, digit or '_'"
        )
    if name.lower() in RESERVED_SUBNET_NAMES:
        return f"subnet name '{name}' is reserved by Azure for a gateway, firewall or Bastion"
    return None


def layout_problems(address_space: str, needs: tuple[SubnetNeed, ...]) -> list[tuple[str, str]]:
    """Every subnet inside the address space, none overlapping, each big enough for its role,
    names valid and distinct. The address space itself must be valid (address_space_problem)."""
    space = parse_network(address_space)
    if isinstance(space, str):
        return []
    problems: list[tuple[str, str]] = []
    placed: list[tuple[SubnetNeed, ipaddress.IPv4Network]] = []
    names: dict[str, str] = {}
    for need in needs:
        name_key = need.key.removesuffix(".prefix") + ".name"
        if problem := subnet_name_problem(need.name):
            problems.append((name_key, problem))
        elif need.name.lower() in names:
            problems.append(
                (name_key, f"subnet name '{need.name}' is also {names[need.name.lower()]}")
            )
        names.setdefault(need.name.lower(), need.key.removesuffix(".prefix"))
        subnet = parse_network(need.prefix)
        if isinstance(subnet, str):
            problems.append((need.key, subnet))
            continue
        if not subnet.subnet_of(space):
            problems.append((need.key, f"{subnet} is not inside the address space {space}"))
            continue
        for other, taken in placed:
            if subnet.overlaps(taken):
                problems.append(
                    (need.key, f"{subnet} overlaps {taken} ({other.key.removesuffix('.prefix')})")
                )
        placed.append((need, subnet))
        if subnet.prefixlen > need.min_prefix_length:
            problems.append(
                (
                    need.key,
                    f"{subnet} is too small: at least a /{need.min_prefix_length} ({need.why})",
                )
            )
        elif usable(subnet) < need.addresses:
            problems.append(
                (
                    need.key,
                    f"{subnet} has {usable(subnet)} usable addresses (Azure keeps "
                    f"{AZURE_RESERVED_PER_SUBNET}); {need.addresses} are needed ({need.why})",
                )
            )
    return problems
