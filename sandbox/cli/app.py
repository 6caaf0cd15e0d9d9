"""The Typer application, the options every command shares, and the error contract.

Every user error is a SandboxError: one `error: ...` line on stderr, exit code 2, never a
traceback. Help is plain click help (no rich panels): the same bytes in a terminal, a pipe and
a CI log, no colour codes (NO_COLOR is honoured by having none), and boolean flags shown as
flags.
"""

from __future__ import annotations

import enum
import os
import re
import sys
from importlib import metadata
from pathlib import Path
from typing import Annotated, Any

import typer
from typer.exceptions import TyperException

from sandbox.errors import SandboxError, not_utf8, reason
from sandbox.output import flush_stdout, stdout_refused

PROG = "secure-api-calls"
# The Pulumi packages whose behaviour the offline tools reproduce, shown by --version.
SDKS = ("pulumi", "pulumi-azure-native", "pulumi-azuread", "pulumi-random", "pulumi-policy")


def _version(value: bool) -> None:
    if not value:
        return
    parts = []
    for name in SDKS:
        try:
            parts.append(f"{name} {metadata.version(name)}")
        except metadata.PackageNotFoundError:
            continue
    try:
        own = metadata.version(PROG)
    except metadata.PackageNotFoundError:
        own = "(not installed; run `make venv`)"
    typer.echo(f"{PROG} {own} ({', '.join(parts)})")
    raise typer.Exit(0)


app = typer.Typer(
    name=PROG,
    add_completion=False,
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,
    context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100},
    help="Review, rehearse and verify the secure-api-calls stack: offline plan, policy check, "
    "diff, local rehearsal and token doctor need no Azure and no Pulumi CLI.",
)


@app.callback()
def _root(
    version: Annotated[
        bool,
        typer.Option(
            "--version", callback=_version, is_eager=True, help="Show the version and exit."
        ),
    ] = False,
) -> None:
    pass


# pulumi/pulumi sdk/go/common/tokens/stack_name.go `ParseStackName`: "a stack name may not be
# empty", "cannot exceed 100 characters", "may only contain alphanumeric, hyphens, underscores,
# or periods". The CLI also takes `org/project/stack`; offline there is no backend to qualify
# against, and the file is Pulumi.<stack>.yaml, so only the stack's own name is taken.
_STACK_NAME = re.compile(r"[A-Za-z0-9_.-]*")
_STACK_NAME_MAX = 100


def stack_name(value: str | None) -> str | None:
    """The --stack value, refused in the CLI's words when it is no stack name."""
    if value is None:
        return None
    if not value:
        raise SandboxError("--stack: a stack name may not be empty; e.g. --stack dev")
    if value.startswith("-"):
        # `--stack --project-dir .`: the next option was taken as the stack's value.
        raise SandboxError(f"--stack {value}: looks like an option; give the stack's name first")
    if len(value) > _STACK_NAME_MAX:
        raise SandboxError(
            f"--stack: a stack name cannot exceed {_STACK_NAME_MAX} characters "
            f"(this one has {len(value)})"
        )
    bad = _STACK_NAME.match(value)
    at = bad.end() if bad else 0
    if at != len(value):
        hint = " (give the stack's own name, e.g. dev)" if value[at] == "/" else ""
        raise SandboxError(
            f"--stack {value}: a stack name may only contain alphanumeric, hyphens, "
            f"underscores, or periods: invalid character {value[at]!r} at position {at}{hint}"
        )
    return value


def config_file_path(value: Path | None) -> Path | None:
    """--config-file, refused in one line when the system cannot even look at it (a name over
    255 bytes: ENAMETOOLONG); a missing file is reported where the config is read."""
    if value is None:
        return None
    try:
        os.stat(value)
    except FileNotFoundError:
        pass
    except OSError as error:
        raise SandboxError(f"--config-file {value}: cannot read it ({reason(error)})") from None
    return value


StackOption = Annotated[
    str,
    typer.Option(
        "--stack", "-s", help="Stack name: reads Pulumi.<stack>.yaml.", callback=stack_name
    ),
]
# `check` and `export-arm` plan a stack only without --plan, so theirs has no default.
MaybeStackOption = Annotated[
    str | None,
    typer.Option("--stack", "-s", help="Plan this stack.", callback=stack_name),
]
ProjectOption = Annotated[
    Path | None,
    typer.Option(
        "--project-dir",
        help="Pulumi project folder (Pulumi.yaml, __main__.py), e.g. bootstrap. "
        "Default: the current folder or the nearest parent with a Pulumi.yaml, as pulumi does.",
        file_okay=False,
    ),
]


ConfigFileOption = Annotated[
    Path | None,
    typer.Option(
        "--config-file",
        help="Use this stack config file instead of Pulumi.<stack>.yaml, as "
        "`pulumi --config-file` does.",
        dir_okay=False,
        callback=config_file_path,
    ),
]


class TextOrJson(enum.StrEnum):
    text = "text"
    json = "json"


class ReportFormat(enum.StrEnum):
    text = "text"
    json = "json"
    markdown = "markdown"


_FORMAT_HELP = "Output format."
TextJson = Annotated[TextOrJson, typer.Option("--format", "-f", help=_FORMAT_HELP)]
TextJsonMarkdown = Annotated[ReportFormat, typer.Option("--format", "-f", help=_FORMAT_HELP)]
# `--json` was the flag of doctor and rehearse before --format; kept so scripts keep working.
LegacyJson = Annotated[bool, typer.Option("--json", hidden=True)]


def say(text: str, *, err: bool = False, nl: bool = True) -> None:
    """Print to stdout (or stderr); a stdout that cannot be written (/dev/full) is one line."""
    if err:
        typer.echo(text, err=True, nl=nl)
        return
    try:
        typer.echo(text, nl=nl)
    except BrokenPipeError:
        raise
    except OSError as error:
        raise stdout_refused(error) from None


def warn(notes: tuple[str, ...]) -> None:
    for note in notes:
        typer.echo(f"warning: {note}", err=True)


def plan_stack(stack: str, folder: Path, config_file: Path | None = None) -> dict[str, Any]:
    """The stack's plan; the config's warnings (null values, secure:, ESC) go to stderr."""
    from sandbox.plan import model as plans

    result, notes = plans.plan_stack_with_notes(stack, folder, config_file=config_file)
    warn(notes)
    return result


def project_dir(given: Path | None) -> Path:
    """The project folder: as given, or found as the Pulumi CLI finds it (the current folder,
    then each parent, until one holds Pulumi.yaml; pulumi/pulumi sdk/go/common/workspace
    `DetectProjectPathFrom`)."""
    if given is not None:
        folder = given
        if not (folder / "Pulumi.yaml").is_file() or not (folder / "__main__.py").is_file():
            raise SandboxError(
                f"--project-dir {folder}: not a Pulumi Python project "
                "(needs Pulumi.yaml and __main__.py)"
            )
        return folder.resolve()
    here = Path.cwd().resolve()
    for folder in (here, *here.parents):
        if (folder / "Pulumi.yaml").is_file():
            return folder
    raise SandboxError(
        f"no Pulumi.yaml in {here} or any parent folder; run from the project folder "
        "or pass --project-dir"
    )


def _close_event_loop() -> None:
    """The Pulumi runtime leaves the main thread's event loop open; one collected at interpreter
    exit, after its sockets, prints "Exception ignored ... Invalid file descriptor". (The worker
    threads' loops are closed at exit by sandbox.program.runner.close_loops.)"""
    import asyncio

    try:
        loop = asyncio.get_event_loop_policy().get_event_loop()
    except RuntimeError:
        return
    if not loop.is_running() and not loop.is_closed():
        loop.close()


def run() -> None:
    """Run the app under the error contract and exit with the command's code."""
    try:
        _run()
    finally:
        _close_event_loop()


def _run() -> None:
    try:
        # Without standalone mode click returns a command's exit code instead of exiting.
        code = app(prog_name=PROG, standalone_mode=False)
        flush_stdout()  # a full disk shows here, not in "Exception ignored" at exit
        sys.exit(code if isinstance(code, int) else 0)
    except SandboxError as error:
        warn(error.notes)  # e.g. the CLI's null-value warning behind the refused value
        typer.echo(f"error: {error}", err=True)
        sys.exit(error.exit_code)
    except typer.Exit as done:
        sys.exit(done.exit_code)
    except (typer.Abort, KeyboardInterrupt):
        typer.echo("error: interrupted", err=True)
        sys.exit(130)
    except TyperException as error:
        # Usage errors from typer's bundled click: unknown option, missing argument, a value
        # outside the choices. Its messages carry pydantic-like "Value error, " noise.
        message = str(getattr(error, "format_message", error.__str__)())
        typer.echo(f"error: {message.replace('Value error, ', '')} (see --help)", err=True)
        sys.exit(2)
    except UnicodeDecodeError as error:
        # Last resort: every read site names its file (sandbox.errors.not_utf8); one that
        # does not still gets one line instead of a traceback.
        typer.echo(f"error: a file the command read {not_utf8(error)}", err=True)
        sys.exit(2)
    except OSError as error:
        # Last resort for the system refusing a read or write the command did not expect to
        # fail (programming errors are not OSErrors, and still show their traceback).
        where = f" ({error.filename})" if error.filename else ""
        typer.echo(f"error: {reason(error)}{where}", err=True)
        sys.exit(2)
