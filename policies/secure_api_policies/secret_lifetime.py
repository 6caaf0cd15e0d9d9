"""Rules 59 and 60: Key Vault secrets say when they stop being valid and what they hold.

Every stack. 59 mirrors Checkov CKV_AZURE_41 ("Ensure that the expiration date is set on all
secrets", which reads ARM's `properties.attributes.exp`; the SDK calls it `expires`) and Azure
Policy 98728c90; 60 mirrors CKV_AZURE_114 and Azure Policy 75262d3e. Both advisory by default:
a stack without keyRotation has keys that never expire on purpose (policies/config.prod.json
makes 59 mandatory for prod, which rotates).
"""

from __future__ import annotations

from collections.abc import Sequence

from pulumi_policy import StackValidationPolicy

from ._common import StackResource, Violation, get_path, stack_policy
from ._links import of_type

SECRET = "azure-native:keyvault:Secret"


def secrets_expire(resources: Sequence[StackResource]) -> list[Violation]:
    found = []
    for secret in of_type(resources, SECRET):
        expires = get_path(secret.props, "properties", "attributes", "expires")
        if expires is None:
            found.append(
                Violation(
                    f"{secret.label} has no expiry (properties.attributes.expires): rotate its "
                    "value on a schedule and set the expiry after the grace period "
                    "(keyRotation, docs/rotating-subscription-keys.md)",
                    secret.urn,
                )
            )
    return found


def secrets_have_content_type(resources: Sequence[StackResource]) -> list[Violation]:
    return [
        Violation(f"{s.label} has no properties.contentType: say what the value is", s.urn)
        for s in of_type(resources, SECRET)
        if get_path(s.props, "properties", "contentType") in (None, "")
    ]


def policies() -> list[StackValidationPolicy]:
    return [
        stack_policy("key-vault-secret-expiry", secrets_expire),
        stack_policy("key-vault-secret-content-type", secrets_have_content_type),
    ]
