"""`python -m sandbox rehearse`: the secured call, end to end, on 127.0.0.1.

From the Plan alone: an emulated Entra tenant (issuer + OpenID metadata), one App Service
managed-identity endpoint per consumer, the APIM gateway executing the deployed policy XML,
and an echo backend. The real consumer client (`consumer.ApiClient` over azure-identity's
`ManagedIdentityCredential`) then calls every operation it is meant to call, developers call
through their tools' client IDs, and a set of attacks tries to get past the gateway. The
expectations come from the config's intent (`sandbox.rehearsal.scenarios`).
"""

from __future__ import annotations

import signal
import sys
import threading
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any, TextIO

from components.config import PROJECT, ConfigError, StackConfig, decode_values, parse_config
from sandbox.errors import SandboxError
from sandbox.plan.model import plan_stack, validate_plan
from sandbox.program.runner import PROJECT_DIR, read_stack_config
from sandbox.rehearsal.emulators.issuer import Clock
from sandbox.rehearsal.report import RehearsalReport, format_json, format_table
from sandbox.rehearsal.run import run_scenarios
from sandbox.rehearsal.scenarios import build_scenarios
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
]


def load_intent(stack: str, config_file: Path | None = None) -> StackConfig:
    """The stack's config as the CLI would hand it over, parsed by the program's strict model."""
    prefix = f"{PROJECT}:"
    raw = read_stack_config(stack, PROJECT_DIR, config_file=config_file)
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
