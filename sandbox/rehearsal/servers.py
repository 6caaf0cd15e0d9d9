"""The servers of one rehearsal, started from a Plan: Entra issuer, managed-identity endpoints,
the APIM gateway executing the deployed policy XML with its own managed identity, and one echo
backend per API that checks the token as that API's real backend would (backends.py)."""

from __future__ import annotations

import secrets
import time
from collections.abc import Mapping
from contextlib import ExitStack
from typing import Any
from urllib.parse import urlsplit

from components.gateway_policy import SetBackendService
from sandbox.errors import SandboxError
from sandbox.rehearsal.backends import backend_guards
from sandbox.rehearsal.emulators.backend_auth import BackendGuard
from sandbox.rehearsal.emulators.forge import claims_of
from sandbox.rehearsal.emulators.gateway import (
    Gateway,
    GatewayConfigError,
    HttpxSender,
    OpenIdKeys,
    gateway_app,
)
from sandbox.rehearsal.emulators.gateway_model import GatewayModel, model_from_plan
from sandbox.rehearsal.emulators.gateway_statements import IdentityTokenError
from sandbox.rehearsal.emulators.http_apps import echo_app, entra_app, managed_identity_app
from sandbox.rehearsal.emulators.issuer import Clock, EntraIssuer, SigningKey, TokenRefusedError
from sandbox.rehearsal.emulators.server import RunningServer
from sandbox.rehearsal.tenant import Tenant, tenant_from_plan


class GatewayIdentityTokens:
    """The gateway's managed identity asking the emulated Entra for a token, as APIM does for
    authentication-managed-identity: assignment required applies (no Gateway.Forward
    assignment, no token), and a token is reused until it expires ("API Management caches the
    token until it expires", authentication-managed-identity-policy)."""

    def __init__(self, issuer: EntraIssuer, principal_id: str, clock: Clock) -> None:
        self.issuer = issuer
        self.principal_id = principal_id
        self.clock = clock
        self._cache: dict[str, tuple[float, str]] = {}
        self.issued = 0

    def token(self, resource: str) -> str:
        cached = self._cache.get(resource)
        if cached is not None and self.clock() < cached[0]:
            return cached[1]
        try:
            token = self.issuer.issue_app_token(self.principal_id, resource)
        except TokenRefusedError as refused:
            raise IdentityTokenError(str(refused)) from None
        self.issued += 1
        self._cache[resource] = (float(claims_of(token)["exp"]), token)
        return token


class Rehearsal:
    """Every server of one rehearsal, started from a Plan; a context manager."""

    def __init__(self, plan: Mapping[str, Any], clock: Clock | None = None) -> None:
        self.clock: Clock = clock or time.time
        try:
            self.tenant: Tenant = tenant_from_plan(plan)
            self.model: GatewayModel = model_from_plan(plan)
            self.guards: dict[str, BackendGuard | None] = backend_guards(plan, self.tenant)
        except GatewayConfigError as error:
            raise SandboxError(f"the rehearsal gateway cannot run this plan: {error}") from None
        except (KeyError, TypeError, AttributeError) as error:
            # validate_plan checks the envelope; a resource missing a property lands here.
            raise SandboxError(
                f"the plan lacks {error} on a resource the rehearsal reads; re-create it with "
                "`secure-api-calls plan`"
            ) from None
        self.issuer = EntraIssuer(self.tenant.directory, SigningKey.generate(), clock=self.clock)
        # Minted here: the Plan masks subscription keys, and these never leave the machine.
        self.keys_by_sid = {s.sid: secrets.token_hex(16) for s in self.model.subscriptions}
        self.identity_headers = {c.name: secrets.token_urlsafe(24) for c in self.tenant.consumers}
        self._stack = ExitStack()
        self.identity_urls: dict[str, str] = {}
        self._environments: dict[str, dict[str, str]] = {}
        self.backends: dict[str, RunningServer] = {}  # API name -> its echo backend
        self.backend_urls: dict[str, str] = {}  # API name -> where the gateway forwards
        exported = {n: str(f.get("backendUrl") or "") for n, f in _apis(plan).items()}
        self._backend_paths = {n: urlsplit(url).path.rstrip("/") for n, url in exported.items()}
        gateway = self.tenant.gateway_identity
        self.gateway_tokens = (
            GatewayIdentityTokens(self.issuer, gateway.object_id, self.clock) if gateway else None
        )

    def __enter__(self) -> Rehearsal:
        try:
            self._start()
        except BaseException:
            self._stack.close()
            raise
        return self

    def __exit__(self, *exc_info: object) -> None:
        self._stack.close()

    def _serve(self, app: Any) -> RunningServer:
        return self._stack.enter_context(RunningServer(app))

    def _start(self) -> None:
        self.entra = self._serve(entra_app(self.issuer))
        keys = OpenIdKeys(self.entra.url)
        self._stack.callback(keys.close)
        # An open echo: for a Backend no API of the Plan forwards to, and the baseline that
        # benchmarks/rehearsal_timing.py calls directly (it checks no token).
        self.echo = spare = self._serve(echo_app())
        for api in self.model.apis:
            guard = self.guards.get(api.api_id)
            server = self._serve(echo_app(guard, keys, self.clock) if guard else echo_app())
            self.backends[api.api_id] = server
            self.backend_urls[api.api_id] = server.url + self._backend_paths.get(api.api_id, "")
        owner = _backend_owners(self.model)
        local = {
            bid: self.backends.get(owner.get(bid, ""), spare).url + urlsplit(url).path
            for bid, url in self.model.backends.items()
        }
        services = {
            api.api_id: self.backends[api.api_id].url + urlsplit(api.service_url).path
            for api in self.model.apis
            if api.service_url
        }
        try:
            gateway = Gateway(
                self.model,
                self.keys_by_sid,
                keys,
                clock=self.clock,
                backend_overrides=local,
                service_url_overrides=services,
                identity=self.gateway_tokens,
            )
        except GatewayConfigError as error:
            raise SandboxError(f"the rehearsal gateway cannot run this plan: {error}") from None
        sender = HttpxSender()
        self._stack.callback(sender.close)  # after the gateway stops (ExitStack unwinds LIFO)
        self.gateway = self._serve(gateway_app(gateway, sender))
        for consumer in self.tenant.consumers:
            app = managed_identity_app(
                self.issuer, consumer.principal_id, self.identity_headers[consumer.name]
            )
            self.identity_urls[consumer.name] = self._serve(app).url + "/msi/token"
        # Resolved now, so a setting that points off the machine stops the run before any call.
        self._environments = {c.name: self._environment(c.name) for c in self.tenant.consumers}

    def openid_configuration(self, version: int) -> str:
        middle = "/v2.0" if version == 2 else ""
        tenant = self.tenant.directory.tenant_id
        return f"{self.entra.url}/{tenant}{middle}/.well-known/openid-configuration"

    def consumer_environment(self, name: str) -> dict[str, str]:
        """What App Service would give the consumer's process, pointed at this rehearsal:
        IDENTITY_ENDPOINT / IDENTITY_HEADER and its API_* settings, keys resolved."""
        return dict(self._environments[name])

    def _environment(self, name: str) -> dict[str, str]:
        facts = self.tenant.consumer(name)
        environ = {
            "IDENTITY_ENDPOINT": self.identity_urls[name],
            "IDENTITY_HEADER": self.identity_headers[name],
        }
        deployed = self.tenant.gateway_url.rstrip("/")
        for setting, value in facts.app_settings.items():
            if not setting.startswith("API_"):
                continue
            if setting in facts.subscription_by_setting:
                value = self.keys_by_sid[facts.subscription_by_setting[setting]]
            elif setting.endswith("_BASE_URL"):
                if not deployed or not value.startswith(deployed):
                    # Never let a rehearsal token travel to a real host.
                    raise SandboxError(
                        f"consumer '{name}': {setting}={value} does not point at the stack's "
                        f"gateway {deployed or '(no gatewayUrl output)'}"
                    )
                value = self.gateway.url + value[len(deployed) :]
            environ[setting] = value
        return environ


def _apis(plan: Mapping[str, Any]) -> dict[str, Any]:
    return dict((plan.get("outputs") or {}).get("apis") or {})


def _backend_owners(model: GatewayModel) -> dict[str, str]:
    """backendId -> the API whose policy forwards to it (set-backend-service)."""
    owners: dict[str, str] = {}
    for api in model.apis:
        documents = [api.policy, *(op.policy for op in api.operations)]
        for document in documents:
            for statement in (document.inbound + document.backend) if document else ():
                if isinstance(statement, SetBackendService):
                    owners.setdefault(statement.backend_id, api.api_id)
    return owners
