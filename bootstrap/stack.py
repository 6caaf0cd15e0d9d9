"""Wires the CI identities from the config and returns what the bootstrap stack exports.

One resource group and one deploying identity per GitHub environment (dev, prod, ...): the
bootstrap creates the group, the identity is trusted only for `repo:ORG/REPO:environment:<env>`
and holds roles only on that group, so a dev deployment can never touch prod and the prod
approval gate cannot be bypassed through the dev identity. The main stack then uses the group
as it is (`resourceGroup: {name: ..., existing: true}`): a group-scoped Contributor cannot
create groups, and azure-native refuses to create one that exists. One separate identity for
pull-request previews holds Reader, and only on the groups whose stacks are previewed.
"""

from __future__ import annotations

import json
from typing import Any

import pulumi
import pulumi_azure_native as azure_native
import pulumi_azuread as azuread
from pulumi.runtime.config import CONFIG, get_config_env
from pulumi_azure_native import resources

from bootstrap.ci_identity import (
    CONTRIBUTOR,
    ONLY_KEY_VAULT_SECRETS_USER_FOR_SERVICE_PRINCIPALS,
    RBAC_ADMINISTRATOR,
    READER,
    CiIdentity,
    CiIdentityArgs,
    RoleGrant,
)
from bootstrap.config import (
    PROJECT,
    READ_ONLY_GRAPH_PERMISSIONS,
    BootstrapConfig,
    decode_values,
    parse_config,
)


def load_config() -> BootstrapConfig:
    """Every `secure-api-calls-bootstrap:*` key the engine handed over, parsed strictly."""
    everything = {**get_config_env(), **CONFIG.get()}
    prefix = f"{PROJECT}:"
    raw = {key[len(prefix) :]: value for key, value in everything.items() if key.startswith(prefix)}
    return parse_config(decode_values(raw))


def _resource_groups(config: BootstrapConfig) -> dict[str, resources.ResourceGroup]:
    """Each environment's group, created in its own subscription.

    An explicit provider per subscription: the default provider would create the group in
    whatever subscription the person running this happens to be signed in to, while the role
    assignments name the configured one. `protect`: deleting the bootstrap stack, or an
    environment from its config, must never delete a group with a deployed stack in it.
    """
    providers: dict[str, azure_native.Provider] = {}
    groups: dict[str, resources.ResourceGroup] = {}
    for env in config.environments:
        sub = env.subscription_id
        if sub not in providers:
            providers[sub] = azure_native.Provider(f"subscription-{sub}", subscription_id=sub)
        groups[env.name] = resources.ResourceGroup(
            f"rg-{env.name}",
            resource_group_name=env.resource_group_name,
            location=config.location,
            tags={"managed-by": PROJECT, "environment": env.name},
            opts=pulumi.ResourceOptions(provider=providers[sub], protect=True),
        )
    return groups


def build(config: BootstrapConfig) -> dict[str, Any]:
    repo = config.github_repository
    slug = repo.replace("/", "-").lower()
    tenant_id = azuread.get_client_config_output().tenant_id
    groups = _resource_groups(config)

    deploy: dict[str, CiIdentity] = {}
    for env in config.environments:
        deploy[env.name] = CiIdentity(
            f"deploy-{env.name}",
            CiIdentityArgs(
                display_name=f"github-{slug}-deploy-{env.name}",
                subject=f"repo:{repo}:environment:{env.name}",
                grants=(
                    RoleGrant("contributor", CONTRIBUTOR, env.resource_group),
                    RoleGrant(
                        "rbac-admin",
                        RBAC_ADMINISTRATOR,
                        env.resource_group,
                        ONLY_KEY_VAULT_SECRETS_USER_FOR_SERVICE_PRINCIPALS,
                    ),
                ),
                graph_permissions=env.graph_permissions,
                protected=env.protected,
                description=f"Deploys the '{env.name}' stack of {repo} from GitHub Actions.",
                depends_on=(groups[env.name],),
            ),
        )

    # Reads, and nothing else: `pulumi preview` (no refresh) calls only the providers' Check
    # and Diff, which read nothing, and the program's invokes: the deployed gateway at most
    # (*/read) and each Web App's service principal in Graph (Application.Read.All). Reader
    # holds no data action and none of the list actions that return secrets
    # (learn.microsoft.com/azure/role-based-access-control/built-in-roles/general: "*/read
    # Read resources of all types, except secrets").
    preview = CiIdentity(
        "preview",
        CiIdentityArgs(
            display_name=f"github-{slug}-preview",
            subject=f"repo:{repo}:pull_request",
            grants=tuple(
                RoleGrant(f"reader-{env.name}", READER, env.resource_group)
                for env in config.previewed
            ),
            graph_permissions=READ_ONLY_GRAPH_PERMISSIONS if config.previewed else (),
            description=f"Read-only `pulumi preview` of {repo} pull requests.",
            depends_on=tuple(groups[env.name] for env in config.previewed),
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
    previewed = [env.name for env in config.previewed]
    first = (config.previewed or config.environments)[0]
    repository_vars: dict[str, pulumi.Input[str]] = {
        "AZURE_TENANT_ID": tenant_id,
        "AZURE_CLIENT_ID": preview.client_id,
        "AZURE_SUBSCRIPTION_ID": first.subscription_id,
        # The stacks preview.yml previews (its matrix), so the workflow follows this config.
        "PREVIEW_STACKS": json.dumps(previewed, separators=(",", ":")),
    }
    environment_vars: dict[str, dict[str, pulumi.Input[str]]] = {
        env.name: {
            "AZURE_CLIENT_ID": deploy[env.name].client_id,
            "AZURE_SUBSCRIPTION_ID": env.subscription_id,
        }
        for env in config.environments
    }
    commands = [
        pulumi.Output.concat("gh variable set ", name, " --repo ", repo, " --body '", value, "'")
        for name, value in repository_vars.items()
    ] + [
        pulumi.Output.concat(
            "gh variable set ", name, " --repo ", repo, " --env ", env, " --body '", value, "'"
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
        "environments": {
            env.name: {
                "resourceGroup": env.resource_group,
                "protected": env.protected,
                "preview": env.preview,
                "graphPermissions": list(env.graph_permissions),
            }
            for env in config.environments
        },
        "githubVariables": {"repository": repository_vars, "environments": environment_vars},
        "githubCommands": commands,
    }
