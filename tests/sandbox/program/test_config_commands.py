"""Every offline command refuses config the CLI refuses, with the CLI's words, in one line.

`rehearse` and `doctor` plan the project the sandbox package sits in, so these tests run a copy
of the product in a temporary folder, with stack files written here (never the repo's own).
"""

from __future__ import annotations

import base64
import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.sandbox.program.config_projects import MINIMAL_STACK

ROOT = Path(__file__).resolve().parents[3]
NO_GATEWAY = "\n".join(
    line for line in MINIMAL_STACK.splitlines() if "gateway" not in line and "publisher" not in line
)


def _token() -> str:
    def part(data: dict[str, str]) -> str:
        return base64.urlsafe_b64encode(json.dumps(data).encode()).decode().rstrip("=")

    return f"{part({'alg': 'RS256', 'typ': 'JWT'})}.{part({'aud': 'api://x'})}.c2ln"


@pytest.fixture(scope="module")
def product(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The program, its Pulumi.yaml, the sandbox and what it imports; stack files by test."""
    copy = tmp_path_factory.mktemp("product")
    for folder in ("sandbox", "components", "consumer", "policies"):
        shutil.copytree(ROOT / folder, copy / folder, ignore=shutil.ignore_patterns("__pycache__"))
    for name in ("Pulumi.yaml", "__main__.py"):
        shutil.copy(ROOT / name, copy / name)
    (copy / "Pulumi.nogw.yaml").write_text(NO_GATEWAY)
    (copy / "Pulumi.noprefix.yaml").write_text(
        MINIMAL_STACK.replace("namePrefix: demo", "namePrefix:")
    )
    (copy / "Pulumi.demo.yaml").write_text(MINIMAL_STACK)
    return copy


def sandbox(product: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "sandbox", *args],
        cwd=product,
        capture_output=True,
        text=True,
        timeout=180,
    )


@pytest.mark.parametrize(
    "command",
    [
        ["plan", "--stack", "nogw"],
        ["preview", "--stack", "nogw"],
        ["check", "--stack", "nogw"],
        ["rehearse", "--stack", "nogw"],
        ["doctor", _token(), "--stack", "nogw"],
    ],
    ids=["plan", "preview", "check", "rehearse", "doctor"],
)
def test_a_required_key_the_stack_omits_stops_every_command_with_the_clis_message(
    product: Path, command: list[str]
) -> None:
    result = sandbox(product, *command)
    assert result.returncode == 2, result.stderr
    assert result.stderr == (
        "error: validating stack config: Stack 'nogw' is missing configuration value 'gateway'\n"
    )
    assert result.stdout == ""


def test_a_null_value_is_one_warning_line_before_the_programs_refusal(product: Path) -> None:
    result = sandbox(product, "plan", "--stack", "noprefix")
    assert result.returncode == 2
    warning, error = result.stderr.splitlines()
    assert warning == (
        'warning: No value for configuration key "secure-api-calls:namePrefix". This is '
        'currently treated as an empty string `""`, but will be treated as `null` in a future '
        'version of pulumi. Set the value to `""` to avoid this warning.'
    )
    assert error == (
        "error: config secure-api-calls:namePrefix: has no value; give it one (an empty YAML "
        "value is read as an empty string)"
    )


def test_the_smallest_stack_plans_with_the_projects_structured_defaults(
    product: Path, tmp_path: Path
) -> None:
    out = tmp_path / "plan.json"
    result = sandbox(product, "plan", "--stack", "demo", "--out", str(out))
    assert result.returncode == 0, result.stderr
    assert "warning" not in result.stderr
    plan = json.loads(out.read_text())
    groups = [r for r in plan["resources"] if r["type"] == "azure-native:resources:ResourceGroup"]
    assert [g["inputs"]["resourceGroupName"] for g in groups] == ["rg-demo-demo"]
    assert groups[0]["inputs"]["tags"] == {"project": "secure-api-calls", "stack": "demo"}
