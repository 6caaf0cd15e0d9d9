"""The make targets a person types first say what to do next when something is missing."""

from __future__ import annotations

import subprocess
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def make(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["make", "--no-print-directory", *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_diff_without_a_base_plan_names_base_plan_as_the_fix(tmp_path: Path) -> None:
    result = make("diff", f"BASE={tmp_path}/base-dev.json", f"HEAD={tmp_path}/dev.json")
    assert result.returncode != 0
    assert f"error: {tmp_path}/base-dev.json does not exist; run `make base-plan STACK=dev`" in (
        result.stderr
    )


def test_diff_without_the_head_plan_names_plan_as_the_fix(tmp_path: Path) -> None:
    base = tmp_path / "base-dev.json"
    base.write_text("{}")
    result = make("diff", f"BASE={base}", f"HEAD={tmp_path}/dev.json")
    assert result.returncode != 0
    assert f"error: {tmp_path}/dev.json does not exist; run `make plan STACK=dev`" in result.stderr


def test_help_lists_the_two_readme_commands_and_check_stacks() -> None:
    result = make("help")
    assert result.returncode == 0
    for target in ("make rehearse STACK=dev", "make test", "make check-stacks"):
        assert target in result.stdout


def test_an_empty_stack_or_project_dir_stops_before_anything_runs_naming_the_fix() -> None:
    empty_stack = make("plan", "STACK=")
    assert empty_stack.returncode == 2
    assert "STACK is empty: name a stack, e.g. make plan STACK=dev" in empty_stack.stderr
    assert empty_stack.stdout == ""
    empty_dir = make("check", "PROJECT_DIR=")
    assert empty_dir.returncode == 2
    assert "PROJECT_DIR is empty" in empty_dir.stderr


def test_check_stacks_with_no_stack_file_is_an_error_not_a_pass() -> None:
    # STACKS= stands in for a checkout without any Pulumi.<stack>.yaml (the user's stacks are
    # never touched by the suite).
    result = make("check-stacks", "STACKS=", "BOOTSTRAP_STACKS=")
    assert result.returncode != 0
    assert "error: no Pulumi.<stack>.yaml here to check" in result.stderr
    assert "every stack passed" not in result.stdout
