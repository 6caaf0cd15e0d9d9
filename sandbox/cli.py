"""`python -m sandbox`: the offline command line (plan, preview, check, diff, rehearse, doctor).

Every user error is a SandboxError: one line on stderr, exit code 2, never a traceback.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated

import typer

from sandbox.errors import SandboxError
from sandbox.program.runner import PROJECT_DIR

app = typer.Typer(
    add_completion=False,
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    help="Review and rehearse the secure-api-calls stack offline: no Azure, no Pulumi CLI.",
)

StackOption = Annotated[
    str, typer.Option("--stack", "-s", help="Stack name (Pulumi.<stack>.yaml).")
]
ProjectOption = Annotated[
    Path,
    typer.Option(
        "--project-dir",
        help="Pulumi project folder (Pulumi.yaml, __main__.py); e.g. bootstrap/.",
        file_okay=False,
    ),
]


def _say(text: str) -> None:
    typer.echo(text)


def _project(path: Path) -> Path:
    if not (path / "Pulumi.yaml").is_file() or not (path / "__main__.py").is_file():
        raise SandboxError(
            f"--project-dir {path}: not a Pulumi Python project (needs Pulumi.yaml and __main__.py)"
        )
    return path.resolve()


@app.command()
def preview(stack: StackOption = "dev", project_dir: ProjectOption = PROJECT_DIR) -> None:
    """Run the program under mocks and show the resource tree and stack outputs."""
    from sandbox.plan import model as plans
    from sandbox.plan import render

    result = plans.plan_stack(stack, _project(project_dir))
    _say(f"Previewing stack '{stack}' offline (mocked engine, real program)\n")
    _say("\n".join(render.tree_lines(result)))
    _say("\n" + "\n".join(render.masked_lines(result)))
    _say("\nOutputs:")
    _say("    " + render.outputs_text(result).replace("\n", "\n    "))
    _say("\n" + render.summary_line(result))


@app.command()
def plan(
    stack: StackOption = "dev",
    out: Annotated[Path | None, typer.Option(help="Write the plan JSON here.")] = None,
    project_dir: ProjectOption = PROJECT_DIR,
) -> None:
    """Write the Plan as JSON (--out), or show it as a tree."""
    from sandbox.plan import model as plans
    from sandbox.plan import render

    result = plans.plan_stack(stack, _project(project_dir))
    if out is None:
        _say("\n".join([*render.tree_lines(result), "", *render.masked_lines(result)]))
        _say("\n" + render.summary_line(result))
        return
    plans.write_plan(result, out)
    _say(f"wrote {out}: {render.summary_line(result)}")


FormatOption = Annotated[
    str, typer.Option("--format", "-f", help="Output: text, json or markdown.")
]


def _pick_format(value: str, allowed: tuple[str, ...]) -> str:
    if value not in allowed:
        raise SandboxError(f"--format {value!r}: choose one of {', '.join(allowed)}")
    return value


def _plan_for(stack: str | None, plan_file: Path | None, project_dir: Path) -> dict[str, object]:
    from sandbox.plan import model as plans

    if plan_file is not None:
        return plans.load_plan(plan_file)
    return plans.plan_stack(stack or "dev", _project(project_dir))


@app.command()
def check(
    stack: Annotated[str | None, typer.Option("--stack", "-s", help="Plan this stack.")] = None,
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
    output: FormatOption = "text",
    project_dir: ProjectOption = PROJECT_DIR,
) -> None:
    """Run the policy pack over a plan. Exit 1 on any mandatory violation."""
    from sandbox.check import runner as checks

    fmt = _pick_format(output, ("text", "json", "markdown"))
    if stack is not None and plan_file is not None:
        raise SandboxError("give either --stack or --plan, not both")
    plan_data = _plan_for(stack, plan_file, project_dir)
    if pack_config is None:
        default = PROJECT_DIR / "policies" / f"config.{plan_data['stack']}.json"
        pack_config = default if default.is_file() else None
    report = checks.run_check(plan_data, checks.load_pack_config(pack_config))
    render = {
        "text": checks.format_text,
        "json": checks.format_json,
        "markdown": checks.format_markdown,
    }[fmt]
    _say(render(report))
    raise typer.Exit(1 if report.mandatory_failed else 0)


@app.command()
def doctor(
    token: Annotated[str, typer.Argument(help="The JWT, '-' to read stdin, or @FILE.")],
    stack: StackOption = "dev",
    as_json: Annotated[bool, typer.Option("--json", help="Machine-readable output.")] = False,
) -> None:
    """Explain whether the gateway would accept TOKEN, per API and operation, and how to fix it.

    Exit 0 when the API the token is for accepts it for at least one operation, 1 otherwise.
    The signature is not verified: the doctor explains claims.
    """
    import time

    from sandbox.doctor import diagnose as doctors
    from sandbox.doctor import render as doctor_render
    from sandbox.plan import model as plans

    decoded = doctors.decode_unverified(doctors.read_token_argument(token, sys.stdin))
    diagnosis = doctors.diagnose(
        decoded, plans.plan_stack(stack), doctors.load_config(stack), time.time()
    )
    _say(doctor_render.format_json(diagnosis) if as_json else doctor_render.format_text(diagnosis))
    raise typer.Exit(doctors.exit_code(diagnosis))


@app.command()
def diff(
    base: Annotated[Path, typer.Argument(help="The plan of the base branch.")],
    head: Annotated[Path, typer.Argument(help="The plan of the change.")],
    output: FormatOption = "text",
) -> None:
    """Compare two plans: created, deleted, updated, replaced, and what breaks for callers.

    Exit 0: no change; 1: changes, none identity-critical; 3: identity-critical changes
    (a replaced or deleted identity resource, changed required roles or audiences, weaker token
    issuance); 2: usage error.
    """
    from sandbox.diff import compare as diffs
    from sandbox.plan.model import load_plan

    fmt = _pick_format(output, ("text", "json", "markdown"))
    result = diffs.diff_plans(load_plan(base), load_plan(head))
    render = {
        "text": diffs.format_text,
        "json": diffs.format_json,
        "markdown": diffs.format_markdown,
    }[fmt]
    typer.echo(render(result), nl=False)
    raise typer.Exit(diffs.exit_code(result))


@app.command()
def rehearse(
    stack: StackOption = "dev",
    as_json: Annotated[bool, typer.Option("--json", help="Machine-readable output.")] = False,
    serve: Annotated[
        bool,
        typer.Option("--serve", help="Keep the emulators running and print their environment."),
    ] = False,
) -> None:
    """Plan, check, then rehearse every secured call locally with the real client.

    Exit 0 when every scenario is as expected and no mandatory policy rule fails, else 1.
    """
    import json
    import time

    from sandbox.check import runner as checks
    from sandbox.plan import model as plans
    from sandbox.rehearsal import session as rehearsal

    def progress(text: str) -> None:
        # With --serve or --json, stdout carries only the machine-readable part.
        typer.echo(text, err=serve or as_json)

    started = time.monotonic()
    plan_data = plans.plan_stack(stack)
    progress(f"plan:  {len(plan_data['resources'])} resources ({time.monotonic() - started:.1f} s)")
    config = PROJECT_DIR / "policies" / f"config.{stack}.json"
    report = checks.run_check(
        plan_data, checks.load_pack_config(config if config.is_file() else None)
    )
    progress(f"check: {checks.format_text(report).splitlines()[-1]}")
    if serve:
        rehearsal.run_rehearsal(stack, plan_data, serve=True)
        return
    result = rehearsal.run_rehearsal(stack, plan_data)
    if as_json:
        document = {
            "check": checks.report_to_dict(report),
            "rehearsal": json.loads(rehearsal.format_json(result)),
        }
        _say(json.dumps(document, indent=2, sort_keys=True))
    else:
        _say(rehearsal.format_table(result))
    failed = report.mandatory_failed or not result.ok
    if report.mandatory_failed:
        progress("error: the plan fails a mandatory policy rule; see `make check`")
    raise typer.Exit(1 if failed else 0)


def main() -> None:
    try:
        # Without standalone mode click returns a command's exit code instead of exiting.
        code = app(standalone_mode=False)
        sys.exit(code if isinstance(code, int) else 0)
    except SandboxError as error:
        typer.echo(f"error: {error}", err=True)
        sys.exit(error.exit_code)
    except typer.Exit as done:
        sys.exit(done.exit_code)
    except typer.Abort:
        typer.echo("error: aborted", err=True)
        sys.exit(130)
    except KeyboardInterrupt:
        sys.exit(130)
    except Exception as error:
        # Usage errors (unknown option, bad value) come from typer's bundled click; they carry
        # a message and an exit code. Anything else is a bug and keeps its traceback.
        if hasattr(error, "format_message") and hasattr(error, "exit_code"):
            typer.echo(f"error: {error.format_message()} (see --help)", err=True)
            sys.exit(2)
        raise
