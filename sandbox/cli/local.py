"""Commands that run something on this machine: the rehearsal and the token doctor."""

from __future__ import annotations

import json
import sys
import time
from typing import Annotated

import typer

from sandbox.cli.app import (
    ConfigFileOption,
    LegacyJson,
    ProjectOption,
    StackOption,
    TextJson,
    TextOrJson,
    app,
    plan_stack,
    project_dir,
    say,
)


def _wants_json(output: TextOrJson, legacy_json: bool) -> bool:
    return legacy_json or output == TextOrJson.json


@app.command()
def rehearse(
    stack: StackOption = "dev",
    output: TextJson = TextOrJson.text,
    serve: Annotated[
        bool,
        typer.Option("--serve", help="Keep the emulators running and print their environment."),
    ] = False,
    config_file: ConfigFileOption = None,
    legacy_json: LegacyJson = False,
    project: ProjectOption = None,
) -> None:
    """Plan, check, then rehearse every secured call locally with the real client.

    Exit 0 when every scenario is as expected and no mandatory policy rule fails, else 1.
    """
    from sandbox.check import runner as checks
    from sandbox.rehearsal import session as rehearsal

    as_json = _wants_json(output, legacy_json)

    def progress(text: str) -> None:
        # With --serve or JSON, stdout carries only the machine-readable part.
        say(text, err=serve or as_json)

    folder = project_dir(project)
    started = time.monotonic()
    plan_data = plan_stack(stack, folder, config_file)
    progress(f"plan:  {len(plan_data['resources'])} resources ({time.monotonic() - started:.1f} s)")
    config = folder / "policies" / f"config.{stack}.json"
    report = checks.run_check(
        plan_data, checks.load_pack_config(config if config.is_file() else None)
    )
    progress(f"check: {checks.format_text(report).splitlines()[-1]}")
    progress(_network_note(plan_data))
    if serve:
        rehearsal.run_rehearsal(
            stack, plan_data, serve=True, config_file=config_file, project_dir=folder
        )
        return
    result = rehearsal.run_rehearsal(stack, plan_data, config_file=config_file, project_dir=folder)
    if as_json:
        document = {
            "check": checks.report_to_dict(report),
            "rehearsal": json.loads(rehearsal.format_json(result)),
        }
        say(json.dumps(document, indent=2, sort_keys=True))
    else:
        say(rehearsal.format_table(result))
    if report.mandatory_failed:
        progress("error: the plan fails a mandatory policy rule; see `make check`")
    raise typer.Exit(1 if report.mandatory_failed or not result.ok else 0)


def _network_note(plan_data: dict[str, object]) -> str:
    """The rehearsal runs every call on 127.0.0.1: no VNet, NSG, private endpoint, private DNS
    or access restriction takes part, so it says so (docs/private-network.md)."""
    resources = plan_data.get("resources")
    types = (
        [str(r.get("type")) for r in resources if isinstance(r, dict)]
        if isinstance(resources, list)
        else []
    )
    endpoints = sum(t.endswith(":PrivateEndpoint") for t in types)
    if any(t.endswith(":VirtualNetwork") for t in types):
        return (
            f"network: not emulated: the plan's private network (VNet, {endpoints} private "
            "endpoint(s), NSGs) is judged by `check`; calls here go straight to local emulators"
        )
    return "network: not emulated: calls go straight to local emulators"


@app.command()
def doctor(
    token: Annotated[str, typer.Argument(help="The JWT, '-' to read stdin, or @FILE.")],
    stack: StackOption = "dev",
    output: TextJson = TextOrJson.text,
    project: ProjectOption = None,
    config_file: ConfigFileOption = None,
    legacy_json: LegacyJson = False,
) -> None:
    """Explain whether the gateway would accept TOKEN, per API and operation, and how to fix it.

    Exit 0 when the API the token is for accepts it for at least one operation, 1 otherwise.
    The signature is not verified: the doctor explains claims.
    """
    from sandbox.doctor import diagnose as doctors
    from sandbox.doctor import render as doctor_render

    decoded = doctors.decode_unverified(doctors.read_token_argument(token, sys.stdin))
    # The checkout the caller stands in (or names), as plan/check/preview find it: the doctor
    # must judge the config that is deployed, not the one the venv was installed from.
    folder = project_dir(project)
    diagnosis = doctors.diagnose(
        decoded,
        plan_stack(stack, folder, config_file),
        doctors.load_config(stack, folder, config_file=config_file),
        time.time(),
    )
    as_json = _wants_json(output, legacy_json)
    say(doctor_render.format_json(diagnosis) if as_json else doctor_render.format_text(diagnosis))
    raise typer.Exit(doctors.exit_code(diagnosis))
