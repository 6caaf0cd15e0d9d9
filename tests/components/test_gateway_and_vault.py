"""The APIM service hardening and the Key Vault holding subscription keys."""

from __future__ import annotations

from typing import Any

from components.gateway import HARDENING
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


def test_subscription_keys_never_appear_in_the_plan(dev_plan: dict[str, Any]) -> None:
    import json

    from sandbox.program.mocks import StackMocks

    text = json.dumps(dev_plan)
    for secret in of_type(dev_plan, ":Secret"):
        assert secret["inputs"]["properties"] == "[secret]"
    mocks = StackMocks("dev")
    import pulumi

    for sid in ("orders-storefront", "orders-reporting", "inventory-storefront"):
        keys = mocks.call(
            pulumi.runtime.MockCallArgs(
                "azure-native:apimanagement:listSubscriptionSecrets",
                {"serviceName": "apim-contoso-dev", "sid": sid},
                "",
            )
        )
        assert isinstance(keys, dict)
        assert keys["primaryKey"] not in text
    assert dev_plan["masked"]
