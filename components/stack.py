"""Wires the components into one stack and returns what the stack exports.

`__main__.py` stays thin: it loads the config and calls `build`; everything else is here.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pulumi
import pulumi_azuread as azuread
from pulumi.runtime.config import CONFIG, get_config_env
from pulumi_azure_native import authorization, resources

from components import gateway_clients, key_rotation, naming
from components.api_identity import ApiIdentity, ApiIdentityArgs, GroupGrant
from components.backend_hop import BackendHop, BackendHopArgs, app_service_url
from components.config import DEVELOPER_TOOLS, PROJECT, StackConfig, decode_values, parse_config
from components.consumer_app import (
    ApiCallSettings,
    AppNetwork,
    ConsumerApp,
    ConsumerAppArgs,
    KeyAccess,
)
from components.gateway import Gateway, GatewayArgs, GatewayNetwork
from components.gateway_clients import Caller, GatewayClients, GatewayClientsArgs
from components.gateway_identity import GatewayIdentity, gateway_identity
from components.hosting import Hosting, HostingArgs
from components.key_vault import KeyVaultArgs, StoredKey, SubscriptionKeyVault, VaultEndpoint
from components.later import Later, settle_open
from components.network import SITES_ZONE, VAULT_ZONE, PrivateNetwork, PrivateNetworkArgs
from components.observability import Observability, ObservabilityArgs
from components.operations import routes
from components.protected_api import ProtectedApi, ProtectedApiArgs
from components.role_grants import Grant, RoleGrants, RoleGrantsArgs
from components.subscription_keys import SubscriptionKeys, SubscriptionKeysArgs


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


def allowed_callers(config: StackConfig, api: str) -> tuple[str, ...]:
    """What the API's policy lists in <client-application-ids>: each consumer granted a role
    on it (by named value) and the pre-authorized developer tools (first-party client IDs,
    the same in every tenant, so literal)."""
    consumers = tuple(gateway_clients.reference(c.name) for c in config.consumers if _calls(c, api))
    tools = tuple(DEVELOPER_TOOLS[tool] for tool in config.developers.tools)
    return consumers + tools


def key_schedule(config: StackConfig) -> tuple[int, int | None]:
    """(rotation generation, Key Vault expiry of the newest key) for today; (0, None) when the
    stack does not rotate. The one place the program reads the clock (key_rotation.today)."""
    rotation = config.key_rotation
    start = rotation.start_date
    if rotation.days is None or start is None:
        return 0, None
    generation = key_rotation.generation(start, rotation.days, key_rotation.today())
    return generation, key_rotation.key_expires(start, rotation.days, generation)


def _app_network(config: StackConfig, net: PrivateNetwork | None) -> AppNetwork | None:
    if net is None:
        return None
    inbound = config.network.inbound
    endpoints = inbound.mode == "privateEndpoint"
    return AppNetwork(
        integration_subnet_id=net.subnet_ids["webApps"],
        inbound=inbound.mode,
        allow=inbound.allow,
        endpoint_subnet_id=net.subnet_ids["privateEndpoints"] if endpoints else None,
        zone_name=SITES_ZONE if endpoints else "",
        zone_id=net.zone_ids[SITES_ZONE] if endpoints else None,
        depends_on=(net.vnet,),
    )


def build(config: StackConfig, stack: str, base_dir: Path) -> dict[str, Any]:
    """Declare the stack; every depends_on promise is settled even if declaring fails."""
    try:
        return _declare(config, stack, base_dir)
    finally:
        settle_open()


def _declare(config: StackConfig, stack: str, base_dir: Path) -> dict[str, Any]:
    names = naming.Names(config.name_prefix, stack)
    # A private stack says so on every taggable resource: inventory, and the policy pack's
    # cue that network rules 55-58 apply (with the VNet itself).
    private = {"network": "private"} if config.network.private else {}
    tags = {"project": PROJECT, "stack": stack, **private, **config.tags}
    client = azuread.get_client_config_output()
    tenant_id = client.tenant_id
    subscription_id = authorization.get_client_config_output().subscription_id

    rg_name = config.resource_group.name or names.resource_group
    placed_after: tuple[pulumi.Resource, ...] = ()
    if not config.resource_group.existing:
        group = resources.ResourceGroup(
            "resource-group", resource_group_name=rg_name, location=config.location, tags=tags
        )
        placed_after = (group,)

    net = None
    if config.network.private:
        net = PrivateNetwork(
            "network",
            PrivateNetworkArgs(
                config=config.network,
                gateway_sku=config.gateway.sku,
                base_name=f"{config.name_prefix}-{stack}",
                gateway_dns_label=config.gateway.name or names.api_management,
                resource_group_name=rg_name,
                location=config.location,
                subscription_id=subscription_id,
                web_app_endpoints=config.network.inbound.mode == "privateEndpoint",
                tags=tags,
                depends_on=placed_after,
            ),
        )

    gateway = Gateway(
        "gateway",
        GatewayArgs(
            config=config.gateway,
            default_name=names.api_management,
            resource_group_name=rg_name,
            location=config.location,
            tenant_id=tenant_id,
            network=GatewayNetwork(net.subnet_ids["gateway"], net.public_ip_id, (net.vnet,))
            if net
            else None,
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

    # Read (existing gateway) or taken from the service (created) only when some API's
    # backend hop needs it: a service without an identity is then a one-line error.
    hop: GatewayIdentity | None = None
    if any(api.hop_authenticated for api in config.apis):
        hop = gateway_identity(config.gateway, gateway.principal_id)

    identities = {
        api.name: ApiIdentity(
            api.name,
            ApiIdentityArgs(
                api=api,
                stack=stack,
                display_name=names.app_registration(api.name),
                deployer_object_id=client.object_id,
                developer_tools=config.developers.tools,
                groups=_groups_for(config, api.name),
            ),
        )
        for api in config.apis
    }

    backend_urls: dict[str, pulumi.Input[str]] = {}
    for api in config.apis:
        site = api.app_service
        backend_urls[api.name] = app_service_url(site) if site else (api.backend_url or "")
        gateway_role = identities[api.name].gateway_role
        if hop is not None and gateway_role is not None:
            BackendHop(
                f"{api.name}-backend-hop",
                BackendHopArgs(
                    api=api,
                    tenant_id=tenant_id,
                    api_client_id=identities[api.name].client_id,
                    api_service_principal_id=identities[api.name].service_principal_object_id,
                    gateway_role=gateway_role,
                    gateway_role_id=naming.gateway_role_id(stack, api.name),
                    gateway=hop,
                ),
            )

    # Generated by the stack as secrets, regenerated one slot per rotation (keyRotation):
    # nothing reads a key back from APIM.
    generation, expires = key_schedule(config)
    keys = {
        (call.api, consumer.name): SubscriptionKeys(
            f"{call.api}-{consumer.name}-keys",
            SubscriptionKeysArgs(
                sid=naming.subscription_id(call.api, consumer.name), generation=generation
            ),
        )
        for consumer in config.consumers
        for call in consumer.calls
    }
    verification_keys = {
        api.name: SubscriptionKeys(
            f"{api.name}-{naming.VERIFICATION}-keys",
            SubscriptionKeysArgs(
                sid=naming.subscription_id(api.name, naming.VERIFICATION), generation=generation
            ),
        )
        for api in config.apis
        if config.verification.enabled
    }
    # Each key secret waits for the subscription that accepts its key (created further down).
    accepted = {pair: Later() for pair in keys}
    # The vault and the plan exist for the consumers: a stack without any (APIs only developers
    # call) creates neither, so it pays for no idle App Service plan.
    vault = (
        None
        if not config.consumers
        else SubscriptionKeyVault(
            "key-vault",
            KeyVaultArgs(
                config=config.key_vault,
                vault_name=names.key_vault,
                resource_group_name=rg_name,
                location=config.location,
                tenant_id=tenant_id,
                subscription_id=subscription_id,
                keys=tuple(
                    StoredKey(
                        naming.key_secret_name(api, consumer),
                        pair.primary,
                        expires=expires,
                        after=accepted[(api, consumer)].resources,
                    )
                    for (api, consumer), pair in keys.items()
                ),
                endpoint=VaultEndpoint(
                    net.subnet_ids["privateEndpoints"],
                    VAULT_ZONE,
                    net.zone_ids[VAULT_ZONE],
                    (net.vnet,),
                )
                if net
                else None,
                tags=tags,
                depends_on=placed_after,
            ),
        )
    )

    hosting = (
        None
        if not config.consumers
        else Hosting(
            "hosting",
            HostingArgs(
                config=config.app_service_plan,
                plan_name=names.app_service_plan,
                resource_group_name=rg_name,
                location=config.location,
                vnet_integration=net is not None,
                tags=tags,
                depends_on=placed_after,
            ),
        )
    )

    apps: dict[str, ConsumerApp] = {}
    consumer_exports: dict[str, Any] = {}
    for consumer in config.consumers:
        assert vault is not None and hosting is not None  # created whenever there are consumers
        calls = tuple(
            ApiCallSettings(
                api=call.api,
                base_url=pulumi.Output.concat(gateway.gateway_url, "/", config.api(call.api).path),
                scope=pulumi.Output.concat(identities[call.api].identifier_uri, "/.default"),
                key_vault_name=names.key_vault,
                secret_name=naming.key_secret_name(call.api, consumer.name),
            )
            for call in consumer.calls
        )
        secret_names = {call.secret_name for call in calls}
        app = apps[consumer.name] = ConsumerApp(
            consumer.name,
            ConsumerAppArgs(
                site_name=names.web_app(consumer.name),
                stack=stack,
                plan_id=hosting.plan_id,
                resource_group_name=rg_name,
                location=config.location,
                runtime=consumer.runtime,
                health_check_path=consumer.health_check_path,
                calls=calls,
                keys=KeyAccess(
                    vault=vault.vault,
                    secrets={n: s for n, s in vault.secrets.items() if n in secret_names},
                    reader_role_id=vault.secrets_user_role_id,
                    previous_owner=vault,
                ),
                insights_connection_string=(
                    observability.connection_string if observability else None
                ),
                network=_app_network(config, net),
                tags=tags,
            ),
        )
        RoleGrants(
            f"{consumer.name}-grants",
            RoleGrantsArgs(
                principal_id=app.principal_id,
                grants=tuple(
                    Grant(
                        api=call.api,
                        role=role,
                        role_id=identities[call.api].role_ids[role],
                        resource_object_id=identities[call.api].service_principal_object_id,
                    )
                    for call in consumer.calls
                    for role in call.roles
                ),
                depends_on=tuple(r for call in consumer.calls for r in identities[call.api].roles),
            ),
        )
        consumer_exports[consumer.name] = {
            "hostName": app.host_name,
            "principalId": app.principal_id,
            "clientId": app.client_id,
            "grantedRoles": {call.api: list(call.roles) for call in consumer.calls},
            # What the site's settings say (no secret among them): for `pulumi stack output`,
            # which the consumer library points to for a local run.
        }

    clients = GatewayClients(
        "gateway-clients",
        GatewayClientsArgs(
            service_name=gateway.service_name,
            resource_group_name=gateway.resource_group_name,
            callers=tuple(Caller(name, app.client_id) for name, app in apps.items()),
            depends_on=tuple(gateway.dependencies),
        ),
    )

    for api in config.apis:
        callers = [c.name for c in config.consumers if _calls(c, api.name)]
        protected = ProtectedApi(
            f"{api.name}-gateway",
            ProtectedApiArgs(
                api=api,
                service_name=gateway.service_name,
                resource_group_name=gateway.resource_group_name,
                client_id=identities[api.name].client_id,
                backend_url=backend_urls[api.name],
                client_application_ids=allowed_callers(config, api.name),
                client_named_values=tuple(clients.named_values[c] for c in callers),
                keys={c: keys[(api.name, c)] for c in callers},
                verification_keys=verification_keys.get(api.name),
                base_dir=base_dir,
                logger_id=observability.logger_id if observability else None,
                depends_on=(*gateway.dependencies, gateway.tenant_named_value),
            ),
        )
        for consumer_name in callers:
            accepted[(api.name, consumer_name)].resolve([protected.subscriptions[consumer_name]])

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
            "acceptsV1Tokens": api.accepts_v1,
            # Where the gateway forwards to, for verify's "backend called directly" check.
            "backendUrl": backend_urls[api.name],
            "backendAuth": api.backend_auth.mode,
            "operations": [route.export() for route in routes(api, base_dir)],
            # For `secure-api-calls verify` (docs/verify.md); `pulumi stack output` shows it
            # only with --show-secrets.
            **(
                {"verification": {"subscriptionKey": verification_keys[api.name].primary}}
                if api.name in verification_keys
                else {}
            ),
        }
        for api in config.apis
    }
    hop_exports = (
        {"gatewayIdentity": {"principalId": hop.principal_id, "clientId": hop.client_id}}
        if hop is not None
        else {}
    )
    return {
        **hop_exports,
        "tenantId": tenant_id,
        "resourceGroupName": rg_name,
        "gatewayServiceName": gateway.service_name,
        "gatewayUrl": gateway.gateway_url,
        "keyVaultUri": vault.vault_uri if vault else None,
        "apis": api_exports,
        "consumers": consumer_exports,
    }


def _calls(consumer: Any, api: str) -> bool:
    return any(call.api == api for call in consumer.calls)
