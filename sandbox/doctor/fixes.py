"""The doctor's fixes: who should get which role, which scope to request, what to change.

Kept apart from the checks so the wording (what a person reads at 2 a.m.) is in one place.
Config paths are written as `secure-api-calls:<key path>`, the form config errors use too.
"""

from __future__ import annotations

from dataclasses import dataclass

from components.config import PROJECT, Api, StackConfig

MI_CACHE_NOTE = (
    "a managed identity's token is cached by the platform for up to ~24 h, so a role granted "
    "recently may not appear in `roles` until that cached token expires (a restart does not "
    "refresh it; wait, or test the grant from a developer account first); "
    "roles granted through a group never reach a managed identity's token, assign it directly"
)
NEW_TOKEN = (
    "Entra access tokens live 60-90 minutes: get a new token (azure-identity renews 5 minutes "
    "before expiry; a token copied from a log or a variable goes stale)"
)
GATEWAY_TOKEN = (
    "nothing to grant: this is the gateway's own token, which it sends to backends; a caller "
    "calls the gateway with its own token (a consumer's managed identity or a developer tool)"
)
CLOCK = (
    "the gateway allows no clock skew: sync the clock of the machine that made or checks the "
    "token (NTP), then retry"
)


@dataclass(frozen=True)
class Caller:
    client_id: str | None  # `azp` (v2) or `appid` (v1)
    object_id: str | None
    kind: str  # "consumer" | "developer-tool" | "gateway" | "unknown"
    name: str | None  # consumer or tool name
    delegated: bool  # `scp` present: a signed-in person, not an app

    @property
    def client_text(self) -> str:
        return self.client_id or "(no azp or appid claim)"

    @property
    def object_text(self) -> str:
        return self.object_id or "(no oid claim)"


def scopes(api: Api, client_id: str) -> str:
    return (
        f"`api://{client_id}/.default` for apps, "
        f"`api://{client_id}/{api.scope.value}` for developers"
    )


def tenant(expected: str) -> str:
    return (
        f"get the token from tenant {expected}: developers `az login --tenant {expected}` (or "
        "AZURE_TENANT_ID for DefaultAzureCredential); a managed identity only gets tokens from "
        "its own tenant"
    )


def version(index: int, requested_v2: bool) -> str:
    at = f"`{PROJECT}:apis[{index}]"
    fix = (
        "the API's registration decides the version: make it issue v2 tokens "
        f"(requestedAccessTokenVersion 2, {at}.tokenVersion: 2`) or accept v1 at the gateway "
        f"with {at}.acceptV1Tokens: true`"
    )
    return fix + (
        "; its registration already requests v2, so get a new token" if requested_v2 else ""
    )


def grant(
    caller: Caller,
    config: StackConfig,
    index: int,
    api: Api,
    client_id: str,
    needed: tuple[str, ...],
) -> str:
    """Which role to give to which principal, and where the stack configures that."""
    want = needed[0] if len(needed) == 1 else f"one of {', '.join(needed)}"
    if caller.kind == "gateway":
        return GATEWAY_TOKEN
    if caller.kind == "consumer":
        i = next(i for i, c in enumerate(config.consumers) if c.name == caller.name)
        calls = config.consumers[i].calls
        j = next((j for j, call in enumerate(calls) if call.api == api.name), None)
        path = f"`{PROJECT}:consumers[{i}].calls"
        held = [r for r in calls[j].roles if r in needed] if j is not None else []
        if held:  # configured, so the assignment exists after `pulumi up`: the token is stale
            return (
                f"the config already grants {caller.name} {', '.join(held)} "
                f"({path}[{j}].roles`); after `pulumi up`: {MI_CACHE_NOTE}"
            )
        where = (
            f"add {want} to {path}[{j}].roles`"
            if j is not None
            else f"add `{{api: {api.name}, roles: [{needed[0]}]}}` to {path}`"
        )
        return (
            f"{where} (assigns it to {caller.name}'s managed identity) and run `pulumi up`; "
            f"then {MI_CACHE_NOTE}"
        )
    if caller.delegated:
        app_only = [
            r.value for r in api.roles if r.value in needed and "User" not in r.allowed_member_types
        ]
        if len(app_only) == len(needed):
            return (
                f"{' and '.join(app_only)}: applications only "
                f"(`{PROJECT}:apis[{index}].roles[].allowedMemberTypes`), a person cannot be "
                f"assigned; call as the app (scope `api://{client_id}/.default`) or add User"
            )
        groups = [
            f"{g.name} (`{PROJECT}:developers.groups[{k}].roles.{api.name}`)"
            for k, g in enumerate(config.developers.groups)
            if set(g.roles.get(api.name, ())) & set(needed)
        ]
        via = f"; groups granting it: {', '.join(groups)}" if groups else ""
        return (
            f"assign the user {caller.object_text} (or a group they belong to) the app role {want} "
            f"of {api.name}{via}; then get a new token with scope "
            f"`api://{client_id}/{api.scope.value}`; or call as the app (a consumer's managed "
            f"identity, scope `api://{client_id}/.default`)"
        )
    return (
        f"assign the app role {want} of {api.name} directly to the calling app's service "
        f"principal (client ID {caller.client_text}, object ID {caller.object_text}) with Graph "
        f"`appRoleAssignedTo` or `azuread.AppRoleAssignment`; if it is a managed identity: "
        f"{MI_CACHE_NOTE}"
    )


def allow_client(caller: Caller, config: StackConfig, api: Api) -> str:
    """How a caller gets into an API's <client-application-ids>, which the stack derives from
    the config: every consumer that calls the API, and every pre-authorized developer tool."""
    if caller.kind == "consumer":
        i = next(i for i, c in enumerate(config.consumers) if c.name == caller.name)
        return (
            f"the policy lists {caller.name} only if it calls {api.name}: add "
            f"`{{api: {api.name}, roles: [...]}}` to `{PROJECT}:consumers[{i}].calls` and run "
            f"`pulumi up` (the client ID comes from its managed identity, `{{{{client-"
            f"{caller.name}}}}}`)"
        )
    if caller.kind == "developer-tool":
        return f"add {caller.name} to `{PROJECT}:developers.tools` and run `pulumi up`"
    if caller.kind == "gateway":
        return GATEWAY_TOKEN
    return (
        f"client {caller.client_text} is no caller this stack knows: call through a consumer Web "
        f"App's managed identity (declare it under `{PROJECT}:consumers` with a call to "
        f"{api.name}), or from a pre-authorized developer tool (`{PROJECT}:developers.tools`)"
    )
