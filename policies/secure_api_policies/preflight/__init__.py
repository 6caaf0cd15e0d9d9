"""Deployability ("preflight") rules 36-43: what Resource Manager or Microsoft Graph refuse at
deploy time, read from what the plan sends (SDK defaults included).

The security rules (1-35) ask "is this safe?"; these ask "will Azure take it?". Each one names
its source (an issue thread or a documentation page) in its description and in every message,
because the offline path cannot ask Azure. A value unknown at preview is never reported: the
engine runs the rules again with real values during `pulumi up`, before the request is sent.
"""

from __future__ import annotations

from pulumi_policy import Policy

from .._common import resource_policy, stack_policy
from . import apim, key_vault, names, principals, references


def policies() -> list[Policy]:
    return [
        resource_policy(
            "preflight-apim-client-certificate", {apim.SERVICE: apim.client_certificate_flag}
        ),
        stack_policy(
            "preflight-key-vault-reference-resolves", references.key_vault_references_resolve
        ),
        stack_policy("preflight-apim-operation-unique", apim.operations_unique),
        resource_policy(
            "preflight-apim-v2-cipher-settings", {apim.SERVICE: apim.v2_cipher_settings}
        ),
        resource_policy(
            "preflight-key-vault-deletion-protection",
            {key_vault.VAULT: key_vault.deletion_protection},
        ),
        stack_policy("preflight-app-role-group-licence", principals.app_role_group_licence),
        resource_policy("preflight-azure-name-limits", names.checks()),
        stack_policy(
            "preflight-role-assignment-principal-type", principals.role_assignment_principal_type
        ),
    ]
