"""Commands that review a stack without running anything: preview, plan, check, diff."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer

from sandbox.cli.app import (
    ConfigFileOption,
    MaybeStackOption,
    ProjectOption,
    ReportFormat,
    StackOption,
    TextJson,
    TextJsonMarkdown,
    TextOrJson,
    app,
    plan_stack,
    project_dir,
    say,
)
from sandbox.errors import SandboxError
from sandbox.program.runner import PROJECT_DIR


@app.command()
def preview(
    stack: StackOption = "dev",
    project: ProjectOption = None,
    config_file: ConfigFileOption = None,
    output: TextJson = TextOrJson.text,
) -> None:
    """Run the program under mocks; show the resource tree and stack outputs, as
    `pulumi preview` would if every output were known. JSON: the Plan itself."""
    from sandbox.plan import model as plans
    from sandbox.plan import render

    result = plan_stack(stack, project_dir(project), config_file)
    if output == "json":
        say(plans.dumps(result), nl=False)
        return
    say(f"Previewing stack '{stack}' offline (mocked engine, real program)\n")
    say("\n".join(render.tree_lines(result)))
    say("\n" + "\n".join(render.masked_lines(result)))
    say("\nOutputs:")
    say("    " + render.outputs_text(result).replace("\n", "\n    "))
    say("\n" + render.summary_line(result))


@app.command()
def plan(
    stack: StackOption = "dev",
    out: Annotated[
        str | None,
        typer.Option(
            "--out", "-o", metavar="FILE|-", help="Write the Plan JSON here; '-' for stdout."
        ),
    ] = None,
    project: ProjectOption = None,
    config_file: ConfigFileOption = None,
    output: TextJson = TextOrJson.text,
) -> None:
    """Write the Plan (--out FILE, or - for stdout), or show it: a tree, or JSON with
    --format json. A device or FIFO given as --out is written in place, never replaced."""
    from sandbox.plan import model as plans
    from sandbox.plan import render

    result = plan_stack(stack, project_dir(project), config_file)
    if out is not None:
        where = plans.write_plan(result, out)
        # The progress line goes to stderr: with `--out -` or `--out /dev/stdout`, stdout
        # carries only the JSON.
        say(f"wrote {where}: {render.summary_line(result)}", err=True)
    elif output == "json":
        say(plans.dumps(result), nl=False)
    else:
        say("\n".join([*render.tree_lines(result), "", *render.masked_lines(result)]))
        say("\n" + render.summary_line(result))


def _plan_for(
    stack: str | None, plan_file: Path | None, project: Path | None, config_file: Path | None
) -> dict[str, Any]:
    from sandbox.plan import model as plans

    if plan_file is not None:
        return plans.load_plan(plan_file)
    return plan_stack(stack or "dev", project_dir(project), config_file)


@app.command()
def check(
    stack: MaybeStackOption = None,
    plan_file: Annotated[
        Path | None, typer.Option("--plan", help="Check this plan file instead.")
    ] = None,
    pack_config: Annotated[
        Path | None,
        typer.Option(
            "--config",
            help="Policy pack config (default: policies/config.<stack>.json when it exists).",
        ),
    ] = None,
    output: TextJsonMarkdown = ReportFormat.text,
    project: ProjectOption = None,
    config_file: ConfigFileOption = None,
) -> None:
    """Run the policy pack over a plan, with the verdicts of `pulumi preview --policy-pack`.
    Exit 1 on any mandatory violation."""
    from sandbox.check import runner as checks

    if stack is not None and plan_file is not None:
        raise SandboxError("give either --stack or --plan, not both")
    if plan_file is not None and config_file is not None:
        raise SandboxError("give either --plan or --config-file, not both")
    plan_data = _plan_for(stack, plan_file, project, config_file)
    if pack_config is None:
        default = PROJECT_DIR / "policies" / f"config.{plan_data['stack']}.json"
        pack_config = default if default.is_file() else None
    report = checks.run_check(plan_data, checks.load_pack_config(pack_config))
    render = {
        "text": checks.format_text,
        "json": checks.format_json,
        "markdown": checks.format_markdown,
    }[output.value]
    say(render(report))
    raise typer.Exit(1 if report.mandatory_failed else 0)


@app.command()
def diff(
    base: Annotated[Path, typer.Argument(help="The plan of the base branch.")],
    head: Annotated[Path, typer.Argument(help="The plan of the change.")],
    output: TextJsonMarkdown = ReportFormat.text,
) -> None:
    """Compare two plans: created, deleted, updated, replaced, and what breaks for callers.

    Exit 0: no change; 1: changes, none identity-critical; 3: identity-critical changes
    (a replaced or deleted identity resource, changed required roles or audiences, weaker token
    issuance); 2: usage error.
    """
    from sandbox.diff import compare as diffs
    from sandbox.plan.model import load_plan

    result = diffs.diff_plans(load_plan(base), load_plan(head))
    render = {
        "text": diffs.format_text,
        "json": diffs.format_json,
        "markdown": diffs.format_markdown,
    }[output.value]
    if output != "text":
        for warning in result.warnings:
            say(f"warning: {warning}", err=True)
    say(render(result), nl=False)
    raise typer.Exit(diffs.exit_code(result))
