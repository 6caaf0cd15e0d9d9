"""Rule 40: a Key Vault's deletion protection can only be switched on, never sent as off.

- `enablePurgeProtection: false` -> ARM BadRequest `The property "enablePurgeProtection" cannot
  be set to false. Enabling the purge protection for a vault is an irreversible action.`
  (Azure/azure-rest-api-specs#18106; azure-cli#28732, #29115). Leaving it unset keeps it off.
- `enableSoftDelete: false`: "Once set to true, it cannot be reverted to false" (the
  Microsoft.KeyVault API reference), and since February 2025 soft delete cannot be turned off
  on any vault (learn.microsoft.com/azure/key-vault/general/soft-delete-change). The SDK sends
  `enableSoftDelete: true` by default (keyvault/_inputs.py, VaultPropertiesArgs), so only a
  program that writes False trips this.
"""

from __future__ import annotations

from .._common import Props, get_path

VAULT = "azure-native:keyvault:Vault"


def deletion_protection(props: Props, who: str) -> list[str]:
    problems = []
    if get_path(props, "properties", "enableSoftDelete") is False:
        problems.append(
            f"{who} sends properties.enableSoftDelete=false: soft delete cannot be turned off "
            "(once on it cannot be reverted, and since February 2025 it is on for every vault); "
            "remove enable_soft_delete (the SDK sends true). A deleted vault stays soft-deleted "
            'and keeps its name: recreate it with create_mode="recover" or purge it first'
        )
    if get_path(props, "properties", "enablePurgeProtection") is False:
        problems.append(
            f"{who} sends properties.enablePurgeProtection=false: ARM answers BadRequest "
            "(The property 'enablePurgeProtection' cannot be set to false); remove "
            "enable_purge_protection to leave it off (turning it on is irreversible)"
        )
    return problems
