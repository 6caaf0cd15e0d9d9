"""The command line's conventions, as a person or a script meets them: help, version, one
--format flag, flags without values, plain output, one-line usage errors."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.fixture_stacks import BOOTSTRAP, config_file_args

ROOT = Path(__file__).resolve().parents[3]
CONSOLE_SCRIPT = Path(sys.executable).parent / "secure-api-calls"
COMMANDS = ("preview", "plan", "check", "diff", "rehearse", "doctor")


def run(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "sandbox", *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, **(env or {})},
    )


def test_the_console_script_is_installed_in_the_venv_and_reports_its_version() -> None:
    result = subprocess.run(
        [str(CONSOLE_SCRIPT), "--version"], capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("secure-api-calls 0.")
    assert "pulumi-azure-native 3." in result.stdout


@pytest.mark.parametrize("flag", ["-h", "--help"])
def test_every_command_answers_help_with_both_spellings(flag: str) -> None:
    for command in COMMANDS:
        result = run(command, flag)
        assert result.returncode == 0, (command, result.stderr)
        assert result.stdout.startswith(f"Usage: secure-api-calls {command}"), command


def test_help_shows_flags_as_flags_and_carries_no_colour_codes() -> None:
    result = run("rehearse", "--help", env={"NO_COLOR": "1", "FORCE_COLOR": "1"})
    assert "\x1b[" not in result.stdout
    serve = next(line for line in result.stdout.splitlines() if "--serve" in line)
    assert "<bool>" not in serve and "BOOLEAN" not in serve


def test_a_flag_given_a_value_is_a_one_line_usage_error() -> None:
    result = run("rehearse", "--serve=yes")
    assert result.returncode == 2
    assert result.stderr == "error: Option '--serve' does not take a value. (see --help)\n"


def test_every_reporting_command_takes_format_and_refuses_an_unknown_one() -> None:
    for command in ("preview", "plan", "check", "rehearse", "doctor"):
        result = run(command, "--format", "yaml", "-")
        assert result.returncode == 2, command
        assert result.stderr.startswith("error: Invalid value for '--format'"), command
        assert "'yaml' is not one of" in result.stderr
        assert result.stderr.count("\n") == 1


def test_preview_as_json_is_the_plan_document() -> None:
    result = run("preview", *config_file_args("dev"), "--format", "json")
    assert result.returncode == 0, result.stderr
    document = json.loads(result.stdout)
    assert document["format"] == "secure-api-calls-plan"
    assert document["stack"] == "dev"


def test_an_unknown_command_and_a_missing_argument_are_one_line_errors() -> None:
    unknown = run("plna")
    assert unknown.returncode == 2 and unknown.stderr.startswith("error: No such command")
    missing = run("diff")
    assert missing.returncode == 2 and missing.stderr.startswith("error: Missing argument")
    assert missing.stderr.count("\n") == 1


def test_outside_a_project_the_tool_says_where_it_looked(tmp_path: Path) -> None:
    result = subprocess.run(
        [str(CONSOLE_SCRIPT), "plan"], cwd=tmp_path, capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 2
    assert result.stderr == (
        f"error: no Pulumi.yaml in {tmp_path.resolve()} or any parent folder; "
        "run from the project folder or pass --project-dir\n"
    )


def test_a_project_folder_is_found_from_a_subfolder_as_pulumi_finds_it() -> None:
    result = subprocess.run(
        [str(CONSOLE_SCRIPT), "plan", *config_file_args("ci", BOOTSTRAP)],
        cwd=ROOT / "bootstrap",
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    assert "Resources:" in result.stdout


def test_the_command_line_closes_the_runtimes_event_loop_before_the_interpreter_exits() -> None:
    # An event loop left open is collected at exit after its sockets, and Python then prints
    # "Exception ignored ... Invalid file descriptor" under a finished command.
    import asyncio

    from sandbox.cli.app import _close_event_loop

    # The runtime's futures stay bound to the loop they were made on: a later in-process plan
    # must find that loop again, so the test's own loop is swapped out and back.
    previous = asyncio.get_event_loop_policy().get_event_loop()
    loop = asyncio.new_event_loop()
    asyncio.set_event_loop(loop)
    try:
        _close_event_loop()
        assert loop.is_closed()
    finally:
        asyncio.set_event_loop(previous)


def test_a_plan_leaves_nothing_on_stderr_but_its_summary(tmp_path: Path) -> None:
    result = run("plan", *config_file_args("ci", BOOTSTRAP), "--project-dir", "bootstrap")
    assert result.returncode == 0
    assert "Traceback" not in result.stderr and "Exception ignored" not in result.stderr
