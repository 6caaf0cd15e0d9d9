"""`secure-api-calls rehearse`: the secured call, end to end, on 127.0.0.1.

From the Plan alone: an emulated Entra tenant (issuer + OpenID metadata), one App Service
managed-identity endpoint per consumer, the APIM gateway executing the deployed policy XML,
and an echo backend. The real consumer client (`consumer.ApiClient` over azure-identity's
`ManagedIdentityCredential`) then calls every operation it is meant to call, developers call
through their tools' client IDs, and a set of attacks tries to get past the gateway. The
expectations come from the config's intent (`sandbox.rehearsal.scenarios`).
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import sys
import tempfile
import threading
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any, TextIO

from components.config import PROJECT, ConfigError, StackConfig, decode_values, parse_config
from consumer.app_settings import setting_key
from sandbox.errors import SandboxError
from sandbox.plan.model import plan_stack, validate_plan
from sandbox.program.runner import PROJECT_DIR, read_stack_config
from sandbox.rehearsal.emulators.issuer import Clock
from sandbox.rehearsal.report import RehearsalReport, format_json, format_table
from sandbox.rehearsal.run import run_scenarios
from sandbox.rehearsal.scenarios import (
    build_scenarios,
    intended_operations,
    nothing_to_rehearse,
    unrehearsed,
)
from sandbox.rehearsal.servers import Rehearsal

__all__ = [
    "Rehearsal",
    "RehearsalReport",
    "format_json",
    "format_table",
    "load_intent",
    "run_rehearsal",
    "serve",
    "serve_forever",
    "stack_outputs",
]


def load_intent(
    stack: str, config_file: Path | None = None, project_dir: Path = PROJECT_DIR
) -> StackConfig:
    """The stack's config as the CLI would hand it over, parsed by the program's strict model."""
    prefix = f"{PROJECT}:"
    raw = read_stack_config(stack, project_dir, config_file=config_file)
    values = {key[len(prefix) :]: value for key, value in raw.items() if key.startswith(prefix)}
    try:
        return parse_config(decode_values(values), stack, project_dir)
    except ConfigError as error:
        raise SandboxError(str(error)) from None


def _plan_for(
    stack: str, plan: Mapping[str, Any] | None, config_file: Path | None, project_dir: Path
) -> Mapping[str, Any]:
    if plan is None:
        return plan_stack(stack, project_dir, config_file=config_file)
    validate_plan(plan, "the plan", "create one with `secure-api-calls plan --stack STACK`")
    if plan["stack"] != stack:
        raise SandboxError(f"the plan is of stack '{plan['stack']}', not '{stack}'")
    return plan


def run_rehearsal(
    stack: str,
    plan: Mapping[str, Any] | None = None,
    *,
    serve: bool = False,
    clock: Clock | None = None,
    out: TextIO | None = None,
    stop: threading.Event | None = None,
    config_file: Path | None = None,
    project_dir: Path = PROJECT_DIR,
) -> RehearsalReport:
    """Rehearse the stack; with `serve`, keep the servers up afterwards (see serve_forever).
    `config_file` stands in for Pulumi.<stack>.yaml, as `pulumi --config-file` does."""
    intent = load_intent(stack, config_file, project_dir)
    plan = _plan_for(stack, plan, config_file, project_dir)
    started = time.monotonic()
    with Rehearsal(plan, clock) as rehearsal:
        scenarios = build_scenarios(intent, rehearsal.tenant, project_dir)
        if not scenarios:
            raise SandboxError(nothing_to_rehearse(stack, intent))
        results = run_scenarios(rehearsal, intent, scenarios, project_dir)
        seconds = time.monotonic() - started
        notes = unrehearsed(intent, scenarios)
        report = RehearsalReport(stack, tuple(results), seconds, notes)
        if serve:
            stream = out or sys.stdout
            stream.write(f"# rehearsal: {report.summary()}\n")
            serve_forever(
                rehearsal, intent, plan["outputs"], out=stream, stop=stop, project_dir=project_dir
            )
    return report


def serve(
    stack: str,
    plan: Mapping[str, Any] | None = None,
    *,
    out: TextIO | None = None,
    stop: threading.Event | None = None,
    config_file: Path | None = None,
    project_dir: Path = PROJECT_DIR,
) -> None:
    """Start the emulators for `stack` and keep them up (no scenarios are run)."""
    # A broken config is reported before any server starts.
    intent = load_intent(stack, config_file, project_dir)
    plan = _plan_for(stack, plan, config_file, project_dir)
    with Rehearsal(plan) as rehearsal:
        serve_forever(
            rehearsal,
            intent,
            plan["outputs"],
            out=out or sys.stdout,
            stop=stop,
            project_dir=project_dir,
        )


def stack_outputs(
    rehearsal: Rehearsal,
    intent: StackConfig,
    plan_outputs: Mapping[str, Any],
    project_dir: Path = PROJECT_DIR,
) -> dict[str, Any]:
    """The stack outputs `verify` reads (docs/verify.md), pointed at this rehearsal: the
    emulated gateway and Entra metadata, a key the emulated gateway accepts for each API, and
    what the lead's stack exports from the config (operations, acceptsV1Tokens) taken from
    the same intent where the plan does not export them yet. Only the contract's keys:
    nothing that points off the machine."""
    local = rehearsal.gateway.url
    by_path = {api.path: api.api_id for api in rehearsal.model.apis}
    copied = ("clientId", "identifierUri", "appScope", "developerScope", "path", "roles")
    apis: dict[str, Any] = {}
    for name, facts in sorted((plan_outputs.get("apis") or {}).items()):
        api = intent.api(name)
        path = str(facts.get("path", api.path)).strip("/")
        entry: dict[str, Any] = {key: facts[key] for key in copied if key in facts}
        entry |= {"gatewayUrl": local, "url": f"{local}/{path}"}
        entry["acceptsV1Tokens"] = facts.get("acceptsV1Tokens", api.accepts_v1)
        entry["operations"] = facts.get("operations") or [
            {"id": o.id, "method": o.method, "urlTemplate": o.url_template, "roles": list(o.roles)}
            for o in intended_operations(api, project_dir)
        ]
        api_id = by_path.get(path)
        sid = next(
            (
                s.sid
                for s in sorted(rehearsal.model.subscriptions, key=lambda s: s.sid)
                if api_id is not None and s.opens(api_id) and s.sid in rehearsal.keys_by_sid
            ),
            None,
        )
        if sid is not None:
            entry["verification"] = {"subscriptionKey": rehearsal.keys_by_sid[sid]}
        if facts.get("backendUrl") and name in rehearsal.backend_urls:
            # The API's own echo backend stands in for it, checking tokens as the real one
            # would, so verify's "backend called directly" check meets a real refusal.
            entry["backendUrl"] = rehearsal.backend_urls[name]
        apis[name] = entry
    return {
        "tenantId": rehearsal.tenant.directory.tenant_id,
        "gatewayUrl": local,
        "openidConfigurationUrl": rehearsal.openid_configuration(2),
        "apis": apis,
    }


def _write_outputs(outputs: Mapping[str, Any]) -> Path:
    # mkstemp: a new file readable only by this user (it holds subscription keys).
    handle, name = tempfile.mkstemp(prefix="secure-api-calls-rehearsal-", suffix=".json")
    with os.fdopen(handle, "w", encoding="utf-8") as stream:
        json.dump(outputs, stream, indent=2, sort_keys=True)
        stream.write("\n")
    return Path(name)


def serve_forever(
    rehearsal: Rehearsal,
    intent: StackConfig,
    plan_outputs: Mapping[str, Any],
    *,
    out: TextIO,
    stop: threading.Event | None = None,
    project_dir: Path = PROJECT_DIR,
) -> None:
    """Print the environment as NAME=value lines (comments start with #), then READY, and
    block until Ctrl+C, SIGTERM or `stop` is set. OUTPUTS_FILE names a stack-outputs file
    for `secure-api-calls verify --outputs`, removed when serving stops."""
    outputs_file = _write_outputs(stack_outputs(rehearsal, intent, plan_outputs, project_dir))
    try:
        _announce_and_wait(rehearsal, outputs_file, out, stop or threading.Event())
    finally:
        with contextlib.suppress(FileNotFoundError):
            outputs_file.unlink()


def _announce_and_wait(
    rehearsal: Rehearsal, outputs_file: Path, out: TextIO, stop: threading.Event
) -> None:
    lines = [
        f"GATEWAY_URL={rehearsal.gateway.url}",
        f"OPENID_CONFIGURATION_V1={rehearsal.openid_configuration(1)}",
        f"OPENID_CONFIGURATION_V2={rehearsal.openid_configuration(2)}",
        f"OUTPUTS_FILE={outputs_file}",
    ]
    # Each API's backend, for trying the bypass by hand: without the gateway's token it refuses.
    lines += [
        f"BACKEND_URL_{setting_key(api)}={url}"
        for api, url in sorted(rehearsal.backend_urls.items())
    ]
    for consumer in rehearsal.tenant.consumers:
        lines += ["", f"# consumer {consumer.name}"]
        lines += [f"{k}={v}" for k, v in rehearsal.consumer_environment(consumer.name).items()]
    out.write("\n".join([*lines, "", "READY"]) + "\n")
    out.flush()
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
