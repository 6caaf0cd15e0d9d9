"""Bad input to the command line as a person or CI gives it: one `error:` line, exit 2, no
traceback (stack names, over-long paths, a full disk on stdout, files that are not text)."""

from __future__ import annotations

import base64
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

from sandbox.program.runner import run_program
from tests.fixture_stacks import DEV, config_file_args, stack_document

ROOT = Path(__file__).resolve().parents[3]


def sandbox(
    *args: str, stdout: Any = subprocess.PIPE, cwd: Path = ROOT
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "sandbox", *args],
        cwd=cwd,
        stdout=stdout,
        stderr=subprocess.PIPE,
        text=True,
        timeout=120,
    )


def one_error_line(done: subprocess.CompletedProcess[str], *expected: str) -> str:
    assert done.returncode == 2, done.stderr
    assert "Traceback" not in done.stderr
    (line,) = done.stderr.strip().splitlines()[-1:]
    assert line.startswith("error: ")
    for text in expected:
        assert text in line
    return line


@pytest.mark.parametrize(
    ("stack", "expected"),
    [
        ("a" * 300, "a stack name cannot exceed 100 characters (this one has 300)"),
        ("../x", "may only contain alphanumeric, hyphens, underscores, or periods"),
        ("org/proj/dev", "invalid character '/' at position 3"),
        ("", "a stack name may not be empty"),
        ("--project-dir", "looks like an option"),
    ],
    ids=["too long", "a path", "qualified", "empty", "an option"],
)
def test_a_stack_name_the_pulumi_cli_would_refuse_is_refused_in_its_words(
    stack: str, expected: str
) -> None:
    done = sandbox("plan", "--stack", stack)
    one_error_line(done, expected)
    assert sandbox("check", "--stack", stack).returncode == 2


def test_a_config_file_name_over_255_bytes_is_one_line_not_enametoolong() -> None:
    done = sandbox("plan", "--stack", "dev", "--config-file", "/tmp/" + "a" * 300 + ".yaml")
    one_error_line(done, "--config-file /tmp/aaa", "cannot read it (File name too long)")


@pytest.mark.parametrize(
    "args",
    [
        ["plan", *config_file_args(), "--out", "-"],
        ["check", *config_file_args()],
        ["preview", *config_file_args()],
    ],
    ids=["plan --out -", "check", "preview"],
)
def test_a_standard_output_that_refuses_writes_is_one_line(args: list[str]) -> None:
    with open("/dev/full", "w", encoding="utf-8") as full:
        done = sandbox(*args, stdout=full)
    one_error_line(done, "cannot write to standard output (No space left on device)")


def test_a_diff_to_a_full_standard_output_is_one_line(dev_plan: dict[str, Any], tmp_path: Path):
    plan = tmp_path / "dev.json"
    plan.write_text(json.dumps(dev_plan), encoding="utf-8")
    with open("/dev/full", "w", encoding="utf-8") as full:
        done = sandbox("diff", str(plan), str(plan), stdout=full)
    one_error_line(done, "cannot write to standard output")


def test_an_openapi_file_that_is_not_utf8_is_one_line(tmp_path: Path) -> None:
    (tmp_path / "binary.json").write_bytes(b"\x00\x01\xff\xfe")
    document = stack_document("dev")
    api = document["config"]["secure-api-calls:apis"][0]
    api.pop("operations", None)
    api["openapi"] = {"file": str(tmp_path / "binary.json"), "operationRoles": {}}
    stack = tmp_path / "Pulumi.dev.yaml"
    stack.write_text(yaml.safe_dump(document), encoding="utf-8")
    done = sandbox("plan", "--stack", "dev", "--config-file", str(stack))
    one_error_line(done, "binary.json' is not UTF-8 text; save it as UTF-8")


@pytest.mark.parametrize("inherited", ["{bad", "[]", '"x"'])
def test_an_inherited_pulumi_config_is_replaced_by_the_stacks_as_the_language_host_does(
    monkeypatch: pytest.MonkeyPatch, inherited: str
) -> None:
    monkeypatch.setenv("PULUMI_CONFIG", inherited)
    run = run_program("dev", config_file=DEV)
    assert run.resources
    assert os.environ["PULUMI_CONFIG"] == inherited  # restored after the run


def unsigned_token(**claims: Any) -> str:
    def part(value: dict[str, Any]) -> str:
        return base64.urlsafe_b64encode(json.dumps(value).encode()).rstrip(b"=").decode()

    return f"{part({'alg': 'RS256'})}.{part(claims)}.sig"


def test_the_doctor_finds_the_project_from_the_current_folder_as_plan_does(tmp_path: Path):
    token = unsigned_token(aud="x", exp=4102444800)
    done = sandbox("doctor", "--stack", "qa", token, cwd=tmp_path)
    one_error_line(done, f"no Pulumi.yaml in {tmp_path.resolve()}", "pass --project-dir")


def test_the_doctor_reads_the_stack_of_the_project_dir_it_is_given(tmp_path: Path):
    for name in ("Pulumi.yaml", "__main__.py"):
        shutil.copy(ROOT / name, tmp_path / name)
    only_here = tmp_path / "Pulumi.onlyhere.yaml"
    only_here.write_text(yaml.safe_dump(stack_document("dev")), encoding="utf-8")
    token = unsigned_token(aud="x", exp=4102444800)
    done = sandbox("doctor", "--stack", "onlyhere", "--project-dir", str(tmp_path), token)
    assert done.returncode == 1, done.stderr  # read the stack, and judged the token
    assert "Token doctor, stack 'onlyhere'" in done.stdout


def test_rehearse_reads_the_stack_of_the_project_dir_it_is_given(tmp_path: Path):
    for name in ("Pulumi.yaml", "__main__.py"):
        shutil.copy(ROOT / name, tmp_path / name)
    only_here = tmp_path / "Pulumi.onlyhere.yaml"
    only_here.write_text(yaml.safe_dump(stack_document("dev")), encoding="utf-8")
    done = sandbox("rehearse", "--stack", "onlyhere", "--project-dir", str(tmp_path))
    assert done.returncode == 0, done.stderr
    assert "all as expected" in done.stdout
    elsewhere = sandbox("rehearse", "--stack", "onlyhere", cwd=tmp_path.parent)
    one_error_line(elsewhere, f"no Pulumi.yaml in {tmp_path.parent.resolve()}")
