"""Wires the components into one stack and returns what the stack exports.

`__main__.py` stays thin: it loads the config and calls `build`; everything else is here.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pulumi
import pulumi_azuread as azuread
from pulumi.runtime.config import CONFIG, get_config_env
from pulumi_azure_native import apimanagement, authorization, resources

from components import naming
from components.api_identity import ApiIdentity, ApiIdentityArgs, GroupGrant
from components.config import PROJECT, StackConfig, decode_values, parse_config
from components.consumer_app import ApiCallSettings, ConsumerApp, ConsumerAppArgs
from components.gateway import Gateway, GatewayArgs
from components.hosting import Hosting, HostingArgs
from components.key_vault import KeyVaultArgs, StoredKey, SubscriptionKeyVault
from components.observability import Observability, ObservabilityArgs
from components.protected_api import ProtectedApi, ProtectedApiArgs
from components.role_grants import Grant, RoleGrants, RoleGrantsArgs


def load_stack_config(stack: str, base_dir: Path) -> StackConfig:
    """Every `secure-api-calls:*` key the engine handed over, parsed by the strict model."""
    everything = {**get_config_env(), **CONFIG.get()}
    prefix = f"{PROJECT}:"
    raw = {key[len(prefix) :]: value for key, value in everything.items() if key.startswith(prefix)}
    return parse_config(decode_values(raw), stack, base_dir)


def _groups_for(config: StackConfig, api: str) -> tuple[GroupGrant, ...]:
    return tuple(
        GroupGrant(group.name, group.object_id, group.roles[api])
        for group in config.developers.groups
        if api in group.roles
    )


def build(config: StackConfig, stack: str, base_dir: Path) -> dict[str, Any]:
    names = naming.Names(config.name_prefix, stack)
    tags = {"project": PROJECT, "stack": stack, **config.tags}
    tenant_id = azuread.get_client_config_output().tenant_id
    subscription_id = authorization.get_client_config_output().subscription_id

    rg_name = config.resource_group.name or names.resource_group
    placed_after: tuple[pulumi.Resource, ...] = ()
    if not config.resource_group.existing:
        group = resources.ResourceGroup(
            "resource-group", resource_group_name=rg_name, location=config.location, tags=tags
        )
        placed_after = (group,)

    gateway = Gateway(
        "gateway",
        GatewayArgs(
            config=config.gateway,
            default_name=names.api_management,
            resource_group_name=rg_name,
            location=config.location,
            tenant_id=tenant_id,
            tags=tags,
            depends_on=placed_after,
        ),
    )

    observability = None
    if config.observability.enabled:
        observability = Observability(
            "observability",
            ObservabilityArgs(
                workspace_name=names.log_workspace,
                insights_name=names.app_insights,
                resource_group_name=rg_name,
                location=config.location,
                retention_days=config.observability.retention_days,
                service_name=gateway.service_name,
                service_resource_id=gateway.service_id,
                tags=tags,
                depends_on=(*placed_after, *gateway.dependencies),
            ),
        )

    identities: dict[str, ApiIdentity] = {}
    apis: dict[str, ProtectedApi] = {}
    for api in config.apis:
        identities[api.name] = ApiIdentity(
            api.name,
            ApiIdentityArgs(
                api=api,
                stack=stack,
                display_name=names.app_registration(api.name),
                developer_tools=config.developers.tools,
                groups=_groups_for(config, api.name),
            ),
        )
        apis[api.name] = ProtectedApi(
            f"{api.name}-gateway",
            ProtectedApiArgs(
                api=api,
                service_name=gateway.service_name,
                resource_group_name=gateway.resource_group_name,
                client_id=identities[api.name].client_id,
                consumers=tuple(c.name for c in config.consumers if _calls(c, api.name)),
                base_dir=base_dir,
                logger_id=observability.logger_id if observability else None,
                depends_on=(*gateway.dependencies, gateway.tenant_named_value),
            ),
        )

    hosting = Hosting(
        "hosting",
        HostingArgs(
            config=config.app_service_plan,
            plan_name=names.app_service_plan,
            resource_group_name=rg_name,
            location=config.location,
            tags=tags,
            depends_on=placed_after,
        ),
    )

    stored: list[StoredKey] = []
    consumer_exports: dict[str, Any] = {}
    for consumer in config.consumers:
        calls = tuple(
            ApiCallSettings(
                api=call.api,
                base_url=pulumi.Output.concat(gateway.gateway_url, "/", apis[call.api].path),
                scope=pulumi.Output.concat(identities[call.api].identifier_uri, "/.default"),
                key_vault_name=names.key_vault,
                secret_name=naming.key_secret_name(call.api, consumer.name),
            )
            for call in consumer.calls
        )
        app = ConsumerApp(
            consumer.name,
            ConsumerAppArgs(
                site_name=names.web_app(consumer.name),
                plan_id=hosting.plan_id,
                resource_group_name=rg_name,
                location=config.location,
                runtime=consumer.runtime,
                health_check_path=consumer.health_check_path,
                calls=calls,
                insights_connection_string=(
                    observability.connection_string if observability else None
                ),
                tags=tags,
            ),
        )
        grants = tuple(
            Grant(
                api=call.api,
                role=role,
                role_id=identities[call.api].role_ids[role],
                resource_object_id=identities[call.api].service_principal_object_id,
            )
            for call in consumer.calls
            for role in call.roles
        )
        RoleGrants(
            f"{consumer.name}-grants",
            RoleGrantsArgs(
                principal_id=app.principal_id,
                grants=grants,
                depends_on=tuple(r for call in consumer.calls for r in identities[call.api].roles),
            ),
        )
        for call in consumer.calls:
            key = apimanagement.list_subscription_secrets_output(
                resource_group_name=gateway.resource_group_name,
                service_name=gateway.service_name,
                sid=apis[call.api].subscriptions[consumer.name].name,
            ).primary_key
            stored.append(
                StoredKey(
                    secret_name=naming.key_secret_name(call.api, consumer.name),
                    value=key.apply(lambda value: value or ""),
                    reader_principal_id=app.principal_id,
                )
            )
        consumer_exports[consumer.name] = {
            "hostName": app.host_name,
            "principalId": app.principal_id,
            "grantedRoles": {call.api: list(call.roles) for call in consumer.calls},
        }

    vault = SubscriptionKeyVault(
        "key-vault",
        KeyVaultArgs(
            config=config.key_vault,
            vault_name=names.key_vault,
            resource_group_name=rg_name,
            location=config.location,
            tenant_id=tenant_id,
            subscription_id=subscription_id,
            stack=stack,
            keys=tuple(stored),
            tags=tags,
            depends_on=placed_after,
        ),
    )

    api_exports = {
        api.name: {
            "clientId": identities[api.name].client_id,
            "identifierUri": identities[api.name].identifier_uri,
            "appScope": pulumi.Output.concat(identities[api.name].identifier_uri, "/.default"),
            "developerScope": pulumi.Output.concat(
                identities[api.name].identifier_uri, "/", api.scope.value
            ),
            "gatewayUrl": gateway.gateway_url,
            "path": api.path,
            "url": pulumi.Output.concat(gateway.gateway_url, "/", api.path),
            "roles": identities[api.name].role_ids,
        }
        for api in config.apis
    }
    return {
        "tenantId": tenant_id,
        "resourceGroupName": rg_name,
        "gatewayServiceName": gateway.service_name,
        "gatewayUrl": gateway.gateway_url,
        "keyVaultUri": vault.vault_uri,
        "apis": api_exports,
        "consumers": consumer_exports,
    }


def _calls(consumer: Any, api: str) -> bool:
    return any(call.api == api for call in consumer.calls)
