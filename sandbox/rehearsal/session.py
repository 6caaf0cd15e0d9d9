"""`python -m sandbox rehearse`: the secured call, end to end, on 127.0.0.1.

From the Plan alone: an emulated Entra tenant (issuer + OpenID metadata), one App Service
managed-identity endpoint per consumer, the APIM gateway executing the deployed policy XML,
and an echo backend. The real consumer client (`consumer.ApiClient` over azure-identity's
`ManagedIdentityCredential`) then calls every operation it is meant to call, developers call
through their tools' client IDs, and a set of attacks tries to get past the gateway. The
expectations come from the config's intent (`sandbox.rehearsal.scenarios`).
"""

from __future__ import annotations

import secrets
import signal
import sys
import threading
import time
from collections.abc import Mapping
from contextlib import ExitStack
from typing import Any, TextIO
from urllib.parse import urlsplit

from components.config import PROJECT, ConfigError, StackConfig, decode_values, parse_config
from sandbox.errors import SandboxError
from sandbox.plan.model import plan_stack, validate_plan
from sandbox.program.runner import PROJECT_DIR, read_stack_config
from sandbox.rehearsal.emulators.gateway import (
    Gateway,
    GatewayConfigError,
    HttpxSender,
    OpenIdKeys,
    gateway_app,
)
from sandbox.rehearsal.emulators.gateway_model import GatewayModel, model_from_plan
from sandbox.rehearsal.emulators.http_apps import echo_app, entra_app, managed_identity_app
from sandbox.rehearsal.emulators.issuer import Clock, EntraIssuer, SigningKey
from sandbox.rehearsal.emulators.server import RunningServer
from sandbox.rehearsal.report import RehearsalReport, format_json, format_table
from sandbox.rehearsal.run import run_scenarios
from sandbox.rehearsal.scenarios import build_scenarios
from sandbox.rehearsal.tenant import Tenant, tenant_from_plan

__all__ = [
    "Rehearsal",
    "RehearsalReport",
    "format_json",
    "format_table",
    "load_intent",
    "run_rehearsal",
    "serve",
    "serve_forever",
]


def load_intent(stack: str) -> StackConfig:
    """The stack's config, parsed by the program's own strict model."""
    prefix = f"{PROJECT}:"
    raw = read_stack_config(stack, PROJECT_DIR)
    values = {key[len(prefix) :]: value for key, value in raw.items() if key.startswith(prefix)}
    try:
        return parse_config(decode_values(values), stack, PROJECT_DIR)
    except ConfigError as error:
        raise SandboxError(str(error)) from None


def _plan_for(stack: str, plan: Mapping[str, Any] | None) -> Mapping[str, Any]:
    if plan is None:
        return plan_stack(stack)
    validate_plan(plan, "the plan", "create one with `python -m sandbox plan --stack STACK`")
    if plan["stack"] != stack:
        raise SandboxError(f"the plan is of stack '{plan['stack']}', not '{stack}'")
    return plan


class Rehearsal:
    """Every server of one rehearsal, started from a Plan; a context manager."""

    def __init__(self, plan: Mapping[str, Any], clock: Clock | None = None) -> None:
        self.clock: Clock = clock or time.time
        try:
            self.tenant: Tenant = tenant_from_plan(plan)
            self.model: GatewayModel = model_from_plan(plan)
        except GatewayConfigError as error:
            raise SandboxError(f"the rehearsal gateway cannot run this plan: {error}") from None
        except (KeyError, TypeError, AttributeError) as error:
            # validate_plan checks the envelope; a resource missing a property lands here.
            raise SandboxError(
                f"the plan lacks {error} on a resource the rehearsal reads; re-create it with "
                "`python -m sandbox plan`"
            ) from None
        self.issuer = EntraIssuer(self.tenant.directory, SigningKey.generate(), clock=self.clock)
        # Minted here: the Plan masks subscription keys, and these never leave the machine.
        self.keys_by_sid = {s.sid: secrets.token_hex(16) for s in self.model.subscriptions}
        self.identity_headers = {c.name: secrets.token_urlsafe(24) for c in self.tenant.consumers}
        self._stack = ExitStack()
        self.identity_urls: dict[str, str] = {}
        self._environments: dict[str, dict[str, str]] = {}

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
        self.echo = self._serve(echo_app())
        keys = OpenIdKeys(self.entra.url)
        self._stack.callback(keys.close)
        local = {
            bid: self.echo.url + urlsplit(url).path for bid, url in self.model.backends.items()
        }
        services = {
            api.api_id: self.echo.url + urlsplit(api.service_url).path
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


def run_rehearsal(
    stack: str,
    plan: Mapping[str, Any] | None = None,
    *,
    serve: bool = False,
    clock: Clock | None = None,
    out: TextIO | None = None,
    stop: threading.Event | None = None,
) -> RehearsalReport:
    """Rehearse the stack; with `serve`, keep the servers up afterwards (see serve_forever)."""
    intent = load_intent(stack)
    plan = _plan_for(stack, plan)
    started = time.monotonic()
    with Rehearsal(plan, clock) as rehearsal:
        scenarios = build_scenarios(intent, rehearsal.tenant, PROJECT_DIR)
        results = run_scenarios(rehearsal, intent, scenarios)
        report = RehearsalReport(stack, tuple(results), time.monotonic() - started)
        if serve:
            stream = out or sys.stdout
            stream.write(f"# rehearsal: {report.summary()}\n")
            serve_forever(rehearsal, out=stream, stop=stop)
    return report


def serve(
    stack: str,
    plan: Mapping[str, Any] | None = None,
    *,
    out: TextIO | None = None,
    stop: threading.Event | None = None,
) -> None:
    """Start the emulators for `stack` and keep them up (no scenarios are run)."""
    load_intent(stack)  # a broken config is reported before any server starts
    with Rehearsal(_plan_for(stack, plan)) as rehearsal:
        serve_forever(rehearsal, out=out or sys.stdout, stop=stop)


def serve_forever(
    rehearsal: Rehearsal, *, out: TextIO, stop: threading.Event | None = None
) -> None:
    """Print the environment as NAME=value lines (comments start with #), then READY, and
    block until Ctrl+C, SIGTERM or `stop` is set."""
    lines = [
        f"GATEWAY_URL={rehearsal.gateway.url}",
        f"OPENID_CONFIGURATION_V1={rehearsal.openid_configuration(1)}",
        f"OPENID_CONFIGURATION_V2={rehearsal.openid_configuration(2)}",
    ]
    for consumer in rehearsal.tenant.consumers:
        lines += ["", f"# consumer {consumer.name}"]
        lines += [f"{k}={v}" for k, v in rehearsal.consumer_environment(consumer.name).items()]
    out.write("\n".join([*lines, "", "READY"]) + "\n")
    out.flush()
    stop = stop or threading.Event()
    # Signal handlers can only be installed from the main thread (tests serve from others).
    in_main = threading.current_thread() is threading.main_thread()
    previous = signal.signal(signal.SIGTERM, lambda *_: stop.set()) if in_main else None
    try:
        while not stop.wait(0.2):  # a timed wait lets Ctrl+C through on every platform
            pass
    except KeyboardInterrupt:
        pass
    finally:
        if in_main:
            signal.signal(signal.SIGTERM, previous or signal.SIG_DFL)
