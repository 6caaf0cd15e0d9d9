"""`python -m sandbox`: the offline command line (plan, preview, check, diff, rehearse, doctor).

Every user error is a SandboxError: one line on stderr, exit code 2, never a traceback.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated

import typer

from sandbox.errors import SandboxError
from sandbox.program import PROJECT_DIR

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
    from sandbox import plan as plans
    from sandbox import render

    result = plans.plan_stack(stack, _project(project_dir))
    _say(f"Previewing stack '{stack}' offline (mocked engine, real program)\n")
    _say("\n".join(render.tree_lines(result)))
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
    from sandbox import plan as plans
    from sandbox import render

    result = plans.plan_stack(stack, _project(project_dir))
    if out is None:
        _say("\n".join(render.tree_lines(result)))
        _say("\n" + render.summary_line(result))
        return
    plans.write_plan(result, out)
    _say(f"wrote {out}: {render.summary_line(result)}")


def main() -> None:
    try:
        app(standalone_mode=False)
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
