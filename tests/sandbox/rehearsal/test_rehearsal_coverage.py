"""A rehearsal never passes on what it did not try: an API no consumer calls is rehearsed
through its developers (with the verification subscription's key) and named in a note, and a
stack that gives no scenario at all is a one-line error, not `0 scenarios — all as expected`."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml

from sandbox.errors import SandboxError
from sandbox.rehearsal.session import format_json, format_table, run_rehearsal
from tests.fixture_stacks import stack_document

ROOT = Path(__file__).resolve().parents[3]
CONSUMERS = "secure-api-calls:consumers"
DEVELOPERS = "secure-api-calls:developers"
VERIFICATION_SUBSCRIPTION = "inventory-gateway-subscription-verification"


def _stack(tmp_path: Path, edit: Callable[[dict[str, Any]], None]) -> Path:
    """The dev fixture stack with `edit` applied to its config, as a config file."""
    document = stack_document("dev")
    edit(document["config"])
    path = tmp_path / "Pulumi.dev.yaml"
    path.write_text(yaml.safe_dump(document), encoding="utf-8")
    return path


def _without_consumers(config: dict[str, Any]) -> None:
    del config[CONSUMERS]


def _nobody_calls(config: dict[str, Any]) -> None:
    del config[CONSUMERS]
    config[DEVELOPERS]["groups"] = []


def _inventory_for_developers_only(config: dict[str, Any]) -> None:
    for consumer in config[CONSUMERS]:
        consumer["calls"] = [call for call in consumer["calls"] if call["api"] != "inventory"]


def test_a_stack_nobody_calls_is_a_one_line_error_saying_why_and_the_fix(tmp_path: Path) -> None:
    with pytest.raises(SandboxError) as raised:
        run_rehearsal("dev", config_file=_stack(tmp_path, _nobody_calls))
    message = str(raised.value)
    assert message.startswith("stack 'dev': nothing to rehearse: no consumer calls any API")
    assert "(orders, inventory)" in message
    assert "add a consumer whose calls name an API (secure-api-calls:consumers" in message


def test_the_command_line_exits_2_on_a_stack_nobody_calls(tmp_path: Path) -> None:
    result = subprocess.run(
        [
            *(sys.executable, "-m", "sandbox", "rehearse", "--stack", "dev"),
            *("--config-file", str(_stack(tmp_path, _nobody_calls))),
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 2, result.stdout + result.stderr
    errors = [line for line in result.stderr.splitlines() if line.startswith("error:")]
    assert errors == [result.stderr.splitlines()[-1]]
    assert "nothing to rehearse" in errors[0]
    assert "Traceback" not in result.stderr
    assert "all as expected" not in result.stdout


def test_without_verification_a_stack_no_consumer_calls_is_an_error_naming_the_setting(
    tmp_path: Path,
) -> None:
    def edit(config: dict[str, Any]) -> None:
        _without_consumers(config)
        config["secure-api-calls:verification"] = {"enabled": False}

    with pytest.raises(SandboxError, match=r"verification\.enabled is false"):
        run_rehearsal("dev", config_file=_stack(tmp_path, edit))


def test_an_api_only_developers_call_is_rehearsed_through_them_and_named_in_a_note(
    tmp_path: Path,
) -> None:
    report = run_rehearsal("dev", config_file=_stack(tmp_path, _inventory_for_developers_only))
    assert report.ok, format_table(report)
    inventory = [r for r in report.results if r.scenario.api == "inventory"]
    assert {r.scenario.kind for r in inventory} == {"developer"}
    # The group holds Inventory.Read: list-items allowed, adjust-stock refused, per tool.
    verdicts = {(r.scenario.operation, r.actual) for r in inventory}
    assert verdicts == {("list-items", 200), ("adjust-stock", 403)}
    assert report.notes == (
        "API 'inventory': only developers' calls rehearsed; its attacks and backend checks "
        "need a consumer that calls it (secure-api-calls:consumers)",
    )
    table = format_table(report).splitlines()
    assert table[-2] == f"note: {report.notes[0]}"
    assert json.loads(format_json(report))["notes"] == list(report.notes)


def test_a_stack_without_consumers_still_rehearses_its_developers_and_says_what_it_left_out(
    tmp_path: Path,
) -> None:
    report = run_rehearsal("dev", config_file=_stack(tmp_path, _without_consumers))
    assert report.ok, format_table(report)
    assert report.results and {r.scenario.kind for r in report.results} == {"developer"}
    assert report.attacks == 0
    assert [note.split(":")[0] for note in report.notes] == ["API 'orders'", "API 'inventory'"]


def test_a_developer_without_a_consumers_key_is_refused_without_a_valid_one(
    tmp_path: Path,
) -> None:
    """The verification key is what lets the developer in: the call carries it, and without a
    verification subscription in the plan the scenario is a mismatch, not a pass."""
    from sandbox.plan.model import plan_stack

    path = _stack(tmp_path, _inventory_for_developers_only)
    plan = plan_stack("dev", config_file=path)
    plan["resources"] = [
        r
        for r in plan["resources"]
        if not (r["type"].endswith(":Subscription") and r["name"] == VERIFICATION_SUBSCRIPTION)
    ]
    report = run_rehearsal("dev", plan, config_file=path)
    failing = {r.scenario.name for r in report.mismatches}
    assert failing and all(name.endswith(("list-items", "adjust-stock")) for name in failing)
    assert all(r.scenario.api == "inventory" for r in report.mismatches)


def test_the_dev_fixture_leaves_no_api_unrehearsed(dev_plan: dict[str, Any]) -> None:
    from tests.fixture_stacks import DEV

    report = run_rehearsal("dev", dev_plan, config_file=DEV)
    assert report.notes == ()
    assert json.loads(format_json(report))["notes"] == []
