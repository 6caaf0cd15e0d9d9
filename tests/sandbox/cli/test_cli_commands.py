"""`python -m sandbox check|doctor|rehearse` as a person runs them: exit codes and messages."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from tests.fixture_stacks import config_file_args

ROOT = Path(__file__).resolve().parents[3]


def sandbox(*args: str, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "sandbox", *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        input=stdin,
        timeout=120,
    )


def tampered(plan: dict[str, Any], name: str, edit: Any, tmp_path: Path) -> Path:
    copy = json.loads(json.dumps(plan))
    edit(next(r for r in copy["resources"] if r["name"] == name))
    path = tmp_path / "tampered.json"
    path.write_text(json.dumps(copy))
    return path


@pytest.mark.parametrize(
    ("name", "edit", "rule"),
    [
        ("storefront-site", lambda r: r["inputs"].update(httpsOnly=False), "webapp-https-only"),
        (
            "reporting-site",
            lambda r: r["inputs"]["siteConfig"].update(minTlsVersion="1.0"),
            "webapp-min-tls-1-2",
        ),
        (
            "orders-gateway-api",
            lambda r: r["inputs"].update(protocols=["http", "https"]),
            "apim-api-https-only",
        ),
        (
            "orders-service-principal",
            lambda r: r["inputs"].update(appRoleAssignmentRequired=False),
            "entra-assignment-required",
        ),
        (
            "orders-gateway-subscription-reporting",
            lambda r: r["inputs"].update(scope="/apis"),
            "apim-subscription-not-all-apis",
        ),
    ],
    ids=["https off", "tls 1.0", "http protocol", "assignment not required", "all-APIs key"],
)
def test_check_catches_a_hand_edited_defect_with_the_right_rule(
    dev_plan: dict[str, Any], tmp_path: Path, name: str, edit: Any, rule: str
) -> None:
    result = sandbox("check", "--plan", str(tampered(dev_plan, name, edit, tmp_path)))
    assert result.returncode == 1
    assert rule in result.stdout
    assert "MANDATORY" in result.stdout


def test_check_passes_the_dev_stack_and_refuses_a_garbage_plan(tmp_path: Path) -> None:
    assert sandbox("check", *config_file_args("dev")).returncode == 0
    garbage = tmp_path / "plan.json"
    garbage.write_text("{not json")
    result = sandbox("check", "--plan", str(garbage))
    assert result.returncode == 2
    assert result.stderr.startswith(f"error: {garbage}: not JSON")
    assert result.stderr.count("\n") == 1
    both = sandbox("check", "--stack", "dev", "--plan", str(garbage))
    assert both.returncode == 2 and "not both" in both.stderr


def test_doctor_refuses_garbage_in_one_line() -> None:
    result = sandbox("doctor", *config_file_args("dev"), "-", stdin="hello")
    assert result.returncode == 2
    assert result.stderr.startswith("error: not a JWT")
    assert result.stderr.count("\n") == 1


def test_rehearse_runs_every_scenario_as_expected_and_reports_json() -> None:
    result = sandbox("rehearse", *config_file_args("dev"), "--json")
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr
    document = json.loads(result.stdout)
    assert document["check"]["mandatoryFailed"] is False
    assert "plan:" in result.stderr and "check:" in result.stderr
    text = json.dumps(document["rehearsal"])
    assert "as expected" in text or "true" in text
