"""Commands that reach a deployed stack: `verify`."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Annotated

import typer

from sandbox.cli.app import ProjectOption, ReportFormat, TextJsonMarkdown, app, project_dir, say
from sandbox.errors import SandboxError


@app.command()
def verify(
    stack: Annotated[
        str | None,
        typer.Option(
            "--stack",
            "-s",
            help="Read this stack's outputs with `pulumi stack output` (default: dev).",
        ),
    ] = None,
    outputs_file: Annotated[
        Path | None,
        typer.Option(
            "--outputs",
            metavar="FILE",
            help="Read the outputs from FILE instead (`pulumi stack output --json "
            "--show-secrets`, or the OUTPUTS_FILE of `rehearse --serve`).",
            dir_okay=False,
        ),
    ] = None,
    apis: Annotated[
        list[str] | None,
        typer.Option("--api", metavar="NAME", help="Verify only this API (repeatable)."),
    ] = None,
    output: TextJsonMarkdown = ReportFormat.text,
    timeout: Annotated[
        float,
        typer.Option("--timeout", min=1.0, max=120.0, help="Seconds per request (connect, read)."),
    ] = 10.0,
    skip_allowed: Annotated[
        bool,
        typer.Option(
            "--skip-allowed",
            help="Only the refusals: no token of yours is requested (no az/azd sign-in needed).",
        ),
    ] = False,
    project: ProjectOption = None,
) -> None:
    """Call the deployed gateway as an attacker and as yourself: every forged or keyless call
    must be refused with APIM's status, your own token must open exactly the operations its
    roles allow, and a backend the outputs name must refuse a direct call.

    Exit 0 when every call is as expected, 1 when any is not (named), 2 on bad input or a
    gateway that does not answer at all. Every request is sent once, with --timeout.
    """
    from sandbox.verify import outputs as stack_outputs
    from sandbox.verify import report as reports
    from sandbox.verify.run import Options, run_verify

    if stack is not None and outputs_file is not None:
        raise SandboxError("give either --stack or --outputs, not both")
    if outputs_file is not None:
        target = stack_outputs.load_outputs_file(outputs_file)
    else:
        target = stack_outputs.read_stack_outputs(stack or "dev", project_dir(project))
    target = target.select(apis or [])
    credential = None
    if not skip_allowed:
        # azure-identity logs its whole credential chain as WARNINGs; the report says in one
        # line what was skipped (as `python -m consumer probe` does).
        logging.getLogger("azure").addHandler(logging.NullHandler())
        from consumer import default_credential

        credential = default_credential()
    try:
        report = run_verify(target, credential, Options(timeout=timeout))
    finally:
        close = getattr(credential, "close", None)
        if callable(close):
            close()
    render = {
        ReportFormat.text: reports.format_text,
        ReportFormat.json: reports.format_json,
        ReportFormat.markdown: reports.format_markdown,
    }[output]
    say(render(report).rstrip("\n"))
    raise typer.Exit(0 if report.ok else 1)
