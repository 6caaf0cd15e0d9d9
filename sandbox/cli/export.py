"""`secure-api-calls export-arm`: a stack's plan as an ARM template, for ARM-reading scanners.

`make scan` runs Checkov's ARM checks over it (`checkov -d <dir> --framework arm`) from a
virtual environment of its own, so Checkov's dependencies never reach the project's venv.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer

from sandbox.cli.app import (
    ConfigFileOption,
    MaybeStackOption,
    ProjectOption,
    app,
    plan_stack,
    project_dir,
    say,
)
from sandbox.errors import SandboxError
from sandbox.output import write_text


@app.command("export-arm")
def export_arm(
    stack: MaybeStackOption = None,
    plan_file: Annotated[
        Path | None, typer.Option("--plan", help="Export this plan file instead.")
    ] = None,
    out: Annotated[
        str,
        typer.Option(
            "--out", "-o", metavar="FILE|-", help="Write the template here; '-' for stdout."
        ),
    ] = "-",
    project: ProjectOption = None,
    config_file: ConfigFileOption = None,
) -> None:
    """Write the plan's Azure resources as an ARM template (API versions of the installed
    SDK). Not for deploying: it is what a scanner such as Checkov reads."""
    from sandbox.export.sdk_versions import api_version
    from sandbox.export.template import to_template
    from sandbox.plan import model as plans

    if stack is not None and plan_file is not None:
        raise SandboxError("give either --stack or --plan, not both")
    if plan_file is not None:
        plan_data = plans.load_plan(plan_file)
    else:
        plan_data = plan_stack(stack or "dev", project_dir(project), config_file)
    template = to_template(plan_data, api_version)
    text = json.dumps(template, indent=2, sort_keys=False, ensure_ascii=False) + "\n"
    where = write_text(out, text)
    left = len(template["metadata"]["leftOut"])
    say(
        f"wrote {where}: {len(template['resources'])} ARM resources of stack "
        f"{plan_data.get('stack')}; {left} non-ARM resources left out (metadata.leftOut)",
        err=True,
    )
