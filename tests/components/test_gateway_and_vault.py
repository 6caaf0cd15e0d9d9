"""The APIM service hardening and the Key Vault holding subscription keys."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from components.gateway import HARDENING
from tests.fixture_stacks import plan_variant
from tests.plan_helpers import named, of_type


def test_gateway_has_an_identity_and_old_protocols_off(dev_plan: dict[str, Any]) -> None:
    service = named(dev_plan, "gateway-service")["inputs"]
    assert service["identity"] == {"type": "SystemAssigned"}
    assert service["customProperties"] == HARDENING
    assert all(value == "false" for value in HARDENING.values())
    assert service["sku"] == {"name": "Developer", "capacity": 1}


def test_vault_uses_rbac_and_purge_protection_follows_the_stack(
    dev_plan: dict[str, Any], prod_plan: dict[str, Any]
) -> None:
    dev = named(dev_plan, "key-vault-vault")["inputs"]["properties"]
    prod = named(prod_plan, "key-vault-vault")["inputs"]["properties"]
    assert dev["enableRbacAuthorization"] is True
    assert "enablePurgeProtection" not in dev
    assert prod["enablePurgeProtection"] is True


def test_each_consumer_reads_only_its_own_secret(dev_plan: dict[str, Any]) -> None:
    readers = of_type(dev_plan, ":RoleAssignment")
    site = named(dev_plan, "reporting-site")["outputs"]["identity"]["principalId"]
    mine = [r for r in readers if r["inputs"]["principalId"] == site]
    assert len(mine) == 1
    assert mine[0]["inputs"]["scope"].endswith(
        "/vaults/kv-contoso-dev/secrets/apim-key-orders-reporting"
    )
    assert mine[0]["inputs"]["roleDefinitionId"].endswith("4633458b-17de-408a-b874-0445c86b69e6")


def test_subscription_keys_never_appear_in_the_plan(
    dev_plan: dict[str, Any], revealed_dev: Any
) -> None:
    import json

    text = json.dumps(dev_plan)
    for secret in of_type(dev_plan, ":Secret"):
        assert secret["inputs"]["properties"]["value"] == "[secret]"
    for generator in of_type(dev_plan, ":RandomPassword"):
        assert generator["outputs"]["result"] == "[secret]"
        key = revealed_dev.returned[generator["name"]]["result"]
        assert len(key) == 32 and key.isalnum()
        assert key not in text
    for subscription in of_type(dev_plan, ":Subscription"):
        assert subscription["inputs"]["primaryKey"] == "[secret]"
        assert subscription["outputs"]["secondaryKey"] == "[secret]"


def test_each_subscription_sets_its_own_keys_and_the_vault_holds_the_primary(
    dev_plan: dict[str, Any], revealed_dev: Any
) -> None:
    for sid, consumer, api in (
        ("orders-storefront", "storefront", "orders"),
        ("orders-reporting", "reporting", "orders"),
        ("inventory-storefront", "storefront", "inventory"),
    ):
        slot_a = revealed_dev.returned[f"{sid}-keys-slot-a"]["result"]
        slot_b = revealed_dev.returned[f"{sid}-keys-slot-b"]["result"]
        assert slot_a != slot_b
        sent = revealed_dev.sent[f"{api}-gateway-subscription-{consumer}"]
        assert (sent["sid"], sent["primaryKey"], sent["secondaryKey"]) == (sid, slot_a, slot_b)
        stored = revealed_dev.sent[f"key-vault-apim-key-{sid}"]["properties"]
        assert stored == {"value": slot_a, "contentType": "apim-subscription-key"}
        # The plan records where the value comes from: the generator, not APIM.
        generator = named(dev_plan, f"{sid}-keys-slot-a")["urn"]
        secret = named(dev_plan, f"key-vault-apim-key-{sid}")
        assert secret["propertyDependencies"]["properties"] == [generator]


def test_the_program_calls_no_function_that_reads_a_secret(dev_plan: dict[str, Any]) -> None:
    from pathlib import Path

    root = Path(__file__).resolve().parents[2]
    for folder in ("components", "sandbox"):
        for path in (root / folder).rglob("*.py"):
            text = path.read_text(encoding="utf-8")
            assert "listSubscriptionSecrets" not in text, path
            assert "list_subscription_secrets" not in text, path


def test_a_stack_without_consumers_creates_no_vault_and_no_app_service_plan(
    tmp_path: Path,
) -> None:
    # APIs only developers call: nothing would run on the plan or read from the vault.
    plan = plan_variant(tmp_path, lambda config: config.update({"secure-api-calls:consumers": []}))
    types = {r["type"] for r in plan["resources"]}
    assert "azure-native:keyvault:Vault" not in types
    assert "azure-native:web:AppServicePlan" not in types
    assert "azure-native:apimanagement:Api" in types  # the APIs themselves are still there
    assert plan["outputs"].get("keyVaultUri") is None
