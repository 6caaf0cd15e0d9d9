"""Wires the CI identities from the config and returns what the bootstrap stack exports.

One deploying identity per GitHub environment (dev, prod, ...), each trusted only for
`repo:ORG/REPO:environment:<env>` and holding roles only on that environment's scope, so a
dev deployment can never touch prod, and the prod approval gate cannot be bypassed through the
dev identity. One separate read-only identity for pull-request previews.
"""

from __future__ import annotations

from typing import Any

import pulumi
import pulumi_azuread as azuread
from pulumi.runtime.config import CONFIG, get_config_env
from pulumi_azure_native import authorization

from bootstrap.ci_identity import (
    CONTRIBUTOR,
    GRAPH_PERMISSIONS,
    ONLY_KEY_VAULT_SECRETS_USER_FOR_SERVICE_PRINCIPALS,
    RBAC_ADMINISTRATOR,
    READER,
    CiIdentity,
    CiIdentityArgs,
    RoleGrant,
    stable_id,
)
from bootstrap.config import PROJECT, BootstrapConfig, decode_values, parse_config, subscription_of

# `pulumi preview` of a deployed stack reads each consumer's APIM subscription key (the main
# program calls listSubscriptionSecrets); Reader does not include this action.
LIST_SUBSCRIPTION_SECRETS = "Microsoft.ApiManagement/service/subscriptions/listSecrets/action"


def load_config() -> BootstrapConfig:
    """Every `secure-api-calls-bootstrap:*` key the engine handed over, parsed strictly."""
    everything = {**get_config_env(), **CONFIG.get()}
    prefix = f"{PROJECT}:"
    raw = {key[len(prefix) :]: value for key, value in everything.items() if key.startswith(prefix)}
    return parse_config(decode_values(raw))


def _key_reader_role(config: BootstrapConfig, role_guid: str) -> authorization.RoleDefinition:
    return authorization.RoleDefinition(
        "preview-subscription-key-reader",
        role_definition_id=role_guid,
        scope=config.all_scopes[0],
        role_name=f"APIM subscription key reader ({config.github_repository} previews)",
        description="Lets pull-request previews read APIM subscription keys, nothing else.",
        role_type="CustomRole",
        permissions=[authorization.PermissionArgs(actions=[LIST_SUBSCRIPTION_SECRETS])],
        assignable_scopes=list(config.all_scopes),
    )


def _preview_grants(config: BootstrapConfig, key_reader_guid: str | None) -> tuple[RoleGrant, ...]:
    grants: list[RoleGrant] = []
    seen: set[str] = set()
    for env in config.environments:
        scope = config.scope_of(env)
        if scope in seen:
            continue  # a scope shared by several environments is granted once
        seen.add(scope)
        grants.append(RoleGrant(f"reader-{env}", READER, scope))
        if key_reader_guid is not None:
            grants.append(RoleGrant(f"key-reader-{env}", key_reader_guid, scope))
    return tuple(grants)


def build(config: BootstrapConfig) -> dict[str, Any]:
    repo = config.github_repository
    slug = repo.replace("/", "-").lower()
    tenant_id = azuread.get_client_config_output().tenant_id

    deploy: dict[str, CiIdentity] = {}
    for env in config.environments:
        scope = config.scope_of(env)
        deploy[env] = CiIdentity(
            f"deploy-{env}",
            CiIdentityArgs(
                display_name=f"github-{slug}-deploy-{env}",
                subject=f"repo:{repo}:environment:{env}",
                grants=(
                    RoleGrant("contributor", CONTRIBUTOR, scope),
                    RoleGrant(
                        "rbac-admin",
                        RBAC_ADMINISTRATOR,
                        scope,
                        ONLY_KEY_VAULT_SECRETS_USER_FOR_SERVICE_PRINCIPALS,
                    ),
                ),
                graph_permissions=GRAPH_PERMISSIONS if config.grant_graph_permissions else (),
                description=f"Deploys the '{env}' stack of {repo} from GitHub Actions.",
            ),
        )

    key_reader_guid = stable_id(repo, "role", "preview-subscription-key-reader")
    key_reader = (
        _key_reader_role(config, key_reader_guid)
        if config.preview_reads_subscription_keys
        else None
    )
    preview = CiIdentity(
        "preview",
        CiIdentityArgs(
            display_name=f"github-{slug}-preview",
            subject=f"repo:{repo}:pull_request",
            grants=_preview_grants(config, key_reader_guid if key_reader is not None else None),
            description=f"Read-only `pulumi preview` of {repo} pull requests.",
            depends_on=(key_reader,) if key_reader is not None else (),
        ),
    )
    return _outputs(config, tenant_id, deploy, preview)


def _outputs(
    config: BootstrapConfig,
    tenant_id: pulumi.Output[str],
    deploy: dict[str, CiIdentity],
    preview: CiIdentity,
) -> dict[str, Any]:
    repo = config.github_repository
    first = subscription_of(config.scope_of(config.environments[0]))
    repository_vars: dict[str, pulumi.Input[str]] = {
        "AZURE_TENANT_ID": tenant_id,
        "AZURE_CLIENT_ID": preview.client_id,
        "AZURE_SUBSCRIPTION_ID": first,
    }
    environment_vars: dict[str, dict[str, pulumi.Input[str]]] = {
        env: {
            "AZURE_CLIENT_ID": identity.client_id,
            "AZURE_SUBSCRIPTION_ID": subscription_of(config.scope_of(env)),
        }
        for env, identity in deploy.items()
    }
    commands = [
        pulumi.Output.concat("gh variable set ", name, " --repo ", repo, " --body ", value)
        for name, value in repository_vars.items()
    ] + [
        pulumi.Output.concat(
            "gh variable set ", name, " --repo ", repo, " --env ", env, " --body ", value
        )
        for env, variables in environment_vars.items()
        for name, value in variables.items()
    ]
    return {
        "tenantId": tenant_id,
        "previewClientId": preview.client_id,
        "deployClientIds": {env: identity.client_id for env, identity in deploy.items()},
        "federatedSubjects": {
            **{env: f"repo:{repo}:environment:{env}" for env in deploy},
            "preview": f"repo:{repo}:pull_request",
        },
        "githubVariables": {"repository": repository_vars, "environments": environment_vars},
        "githubCommands": commands,
    }
