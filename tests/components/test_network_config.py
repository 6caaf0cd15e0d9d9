"""`network` in the config model: a private network the tiers and the address plan can hold,
every refusal one line naming the key."""

from __future__ import annotations

import copy
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

from components import network_layout
from components.config import ConfigError, parse_config
from components.config_network import plan_supports_vnet_integration
from tests.fixture_stacks import stack_document

ROOT = Path(__file__).resolve().parents[2]


def prod_raw() -> dict[str, Any]:
    document = stack_document("prod")
    prefix = "secure-api-calls:"
    return {k[len(prefix) :]: v for k, v in document["config"].items() if k.startswith(prefix)}


def error_for(mutate: Any) -> str:
    raw = copy.deepcopy(prod_raw())
    mutate(raw)
    with pytest.raises(ConfigError) as caught:
        parse_config(raw, "prod", ROOT)
    message = str(caught.value)
    assert "\n" not in message
    return message


def subnets(raw: dict[str, Any]) -> dict[str, Any]:
    result: dict[str, Any] = raw["network"]["subnets"]
    return result


def test_the_prod_fixture_is_a_private_network_with_three_sized_subnets() -> None:
    config = parse_config(prod_raw(), "prod", ROOT)
    assert config.network.private
    assert config.network.address_space == "10.20.0.0/16"
    assert config.network.inbound.mode == "privateEndpoint"


def test_the_dev_fixture_stays_public_and_names_no_network() -> None:
    document = stack_document("dev")
    assert "secure-api-calls:network" not in document["config"]


@pytest.mark.parametrize("sku", ["Basic", "Standard", "BasicV2"])
def test_a_private_network_with_a_tier_that_cannot_join_one_names_the_key_and_the_tiers(
    sku: str,
) -> None:
    def mutate(raw: dict[str, Any]) -> None:
        raw["gateway"]["sku"] = sku
        raw["gateway"]["capacity"] = 1

    message = error_for(mutate)
    assert message.startswith("config secure-api-calls:gateway.sku: ")
    assert f"'{sku}' cannot join a virtual network" in message
    assert (
        "Developer, Premium (VNet injection), StandardV2, PremiumV2 (VNet integration)" in message
    )


@pytest.mark.parametrize("sku", ["Developer", "StandardV2", "PremiumV2"])
def test_every_tier_that_can_join_a_network_parses(sku: str) -> None:
    raw = prod_raw()
    raw["gateway"]["sku"] = sku
    raw["gateway"]["capacity"] = 1
    assert parse_config(raw, "prod", ROOT).gateway.sku == sku


def test_an_existing_gateway_cannot_be_moved_into_the_network() -> None:
    def mutate(raw: dict[str, Any]) -> None:
        raw["gateway"] = {"mode": "existing", "name": "apim-shared", "resourceGroup": "rg-shared"}

    assert "gateway.mode: network.mode 'private' needs gateway.mode 'create'" in error_for(mutate)


def test_a_free_or_shared_plan_has_no_vnet_integration_and_basic_has() -> None:
    assert not plan_supports_vnet_integration("F1")
    assert not plan_supports_vnet_integration("D1")
    assert plan_supports_vnet_integration("B1")
    assert plan_supports_vnet_integration("P1v3")


@pytest.mark.parametrize(
    ("role", "prefix", "expected"),
    [
        ("webApps", "10.21.2.0/26", "10.21.2.0/26 is not inside the address space 10.20.0.0/16"),
        ("webApps", "10.20.1.0/26", "overlaps 10.20.1.0/27 (network.subnets.gateway)"),
        ("webApps", "10.20.2.0/29", "too small: at least a /28"),
        ("webApps", "10.20.2.1/26", "has host bits set; the range starts at 10.20.2.0/26"),
        ("webApps", "fd00::/64", "is IPv6"),
        ("webApps", "10.20.2.0", "has no prefix length"),
        ("privateEndpoints", "ten.0.0.0/8", "is not an address range in CIDR form"),
    ],
)
def test_a_subnet_outside_overlapping_too_small_or_malformed_is_refused_by_key(
    role: str, prefix: str, expected: str
) -> None:
    def mutate(raw: dict[str, Any]) -> None:
        subnets(raw)[role]["prefix"] = prefix

    message = error_for(mutate)
    assert message.startswith(f"config secure-api-calls:network.subnets.{role}.prefix: ")
    assert expected in message


def test_premium_units_need_two_addresses_each_in_the_gateway_subnet() -> None:
    def mutate(raw: dict[str, Any]) -> None:
        raw["gateway"]["capacity"] = 4  # 8 addresses; a /29 has 3 usable
        subnets(raw)["gateway"]["prefix"] = "10.20.1.0/29"

    message = error_for(mutate)
    assert "network.subnets.gateway.prefix: 10.20.1.0/29 has 3 usable addresses" in message
    assert "8 are needed" in message


def test_v2_integration_needs_a_slash_27() -> None:
    def mutate(raw: dict[str, Any]) -> None:
        raw["gateway"]["sku"] = "StandardV2"
        raw["gateway"]["capacity"] = 1
        subnets(raw)["gateway"]["prefix"] = "10.20.1.0/28"

    assert "gateway.prefix: 10.20.1.0/28 is too small: at least a /27" in error_for(mutate)


def test_the_plan_needs_two_addresses_per_instance_while_it_scales() -> None:
    def mutate(raw: dict[str, Any]) -> None:
        raw["appServicePlan"]["capacity"] = 8  # 16 addresses; a /28 has 11
        subnets(raw)["webApps"]["prefix"] = "10.20.2.0/28"

    assert "webApps.prefix: 10.20.2.0/28 has 11 usable addresses" in error_for(mutate)


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("GatewaySubnet", "reserved by Azure"),
        ("-snet", "must be 1-80 letters"),
        ("snet.", "must be 1-80 letters"),
    ],
)
def test_subnet_names_follow_azures_rules(name: str, expected: str) -> None:
    def mutate(raw: dict[str, Any]) -> None:
        subnets(raw)["gateway"]["name"] = name

    message = error_for(mutate)
    assert message.startswith("config secure-api-calls:network.subnets.gateway.name: ")
    assert expected in message


def test_two_subnets_of_one_name_are_refused() -> None:
    def mutate(raw: dict[str, Any]) -> None:
        subnets(raw)["gateway"]["name"] = "snet-shared"
        subnets(raw)["webApps"]["name"] = "SNET-shared"

    assert "webApps.name: subnet name 'SNET-shared' is also network.subnets.gateway" in (
        error_for(mutate)
    )


@pytest.mark.parametrize(
    ("space", "expected"),
    [
        ("169.254.0.0/16", "overlaps 169.254.0.0/16"),
        ("10.0.0.0/30", "between /8 and /29"),
        ("10.21.0.0/15", "has host bits set"),
    ],
)
def test_the_address_space_must_be_usable_in_a_vnet(space: str, expected: str) -> None:
    def mutate(raw: dict[str, Any]) -> None:
        raw["network"]["addressSpace"] = space

    message = error_for(mutate)
    assert message.startswith("config secure-api-calls:network.addressSpace: ")
    assert expected in message


def test_private_without_an_address_plan_and_public_with_one_are_refused() -> None:
    def without(raw: dict[str, Any]) -> None:
        raw["network"] = {"mode": "private"}

    def public_with(raw: dict[str, Any]) -> None:
        raw["network"]["mode"] = "public"

    assert "network: mode 'private' needs addressSpace and subnets" in error_for(without)
    assert "network: addressSpace, subnets and inbound apply to mode 'private' only" in (
        error_for(public_with)
    )


def test_a_typo_in_the_network_block_is_an_unknown_key() -> None:
    def mutate(raw: dict[str, Any]) -> None:
        subnets(raw)["webapps"] = subnets(raw).pop("webApps")

    assert "network.subnets.webapps: unknown key 'webapps' (did you mean 'webApps'?)" in (
        error_for(mutate)
    )


@pytest.mark.parametrize(
    ("inbound", "expected"),
    [
        ({"mode": "accessRestrictions"}, "needs at least one allow entry"),
        ({"mode": "accessRestrictions", "allow": ["0.0.0.0/0"]}, "opens the app to everyone"),
        ({"mode": "accessRestrictions", "allow": ["Internet"]}, "opens the app to everyone"),
        ({"mode": "privateEndpoint", "allow": ["10.0.0.0/8"]}, "allow applies to mode"),
    ],
)
def test_inbound_access_restrictions_must_name_who_may_call(
    inbound: dict[str, Any], expected: str
) -> None:
    def mutate(raw: dict[str, Any]) -> None:
        raw["network"]["inbound"] = inbound

    message = error_for(mutate)
    assert message.startswith("config secure-api-calls:network.inbound: ")
    assert expected in message


def test_access_restrictions_need_no_private_endpoint_addresses_for_the_apps() -> None:
    raw = prod_raw()
    raw["network"]["inbound"] = {"mode": "accessRestrictions", "allow": ["AzureCloud"]}
    subnets(raw)["privateEndpoints"]["prefix"] = "10.20.3.0/29"  # 3 usable: the vault's is 1
    assert parse_config(raw, "prod", ROOT).network.inbound.allow == ("AzureCloud",)


def test_the_layout_checker_reports_nothing_for_a_valid_plan() -> None:
    need = network_layout.SubnetNeed("k.prefix", "snet-a", "10.0.0.0/28", 28, 4, "why")
    assert network_layout.layout_problems("10.0.0.0/24", (need,)) == []


def test_the_command_line_refuses_such_a_stack_in_one_line_with_exit_code_2(
    tmp_path: Path,
) -> None:
    document = stack_document("prod")
    document["config"]["secure-api-calls:gateway"]["sku"] = "Basic"
    path = tmp_path / "Pulumi.prod.yaml"
    path.write_text(yaml.safe_dump(document), encoding="utf-8")
    result = subprocess.run(
        [sys.executable, "-m", "sandbox", "plan", "--stack", "prod", "--config-file", str(path)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 2
    assert result.stderr.strip().splitlines() == [
        "error: config secure-api-calls:gateway.sku: 'Basic' cannot join a virtual network "
        "(network.mode 'private'); SKUs that can: Developer, Premium (VNet injection), "
        "StandardV2, PremiumV2 (VNet integration)"
    ]
