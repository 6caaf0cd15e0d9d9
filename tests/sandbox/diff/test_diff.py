"""Plan diff: what a reviewer learns from comparing the base branch's plan with a PR's plan.

Head plans come from running the real program on an edited copy of the dev config, so the
diff is tested against what the components really produce, not against hand-made plans.
"""

from __future__ import annotations

import copy
import json
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

from sandbox.diff.compare import (
    diff_plans,
    exit_code,
    field_changes,
    format_json,
    format_markdown,
    format_text,
)
from sandbox.plan.model import build_plan, dumps
from sandbox.program.runner import PROJECT_DIR, run_program
from tests.fixture_stacks import stack_document

Plan = dict[str, Any]
NS = "secure-api-calls:"


def plan_with(tmp_path: Path, edit: Callable[[dict[str, Any]], None]) -> Plan:
    """The dev plan after `edit` changed the dev config (keys without the namespace)."""
    document = stack_document("dev")
    config = {key.removeprefix(NS): value for key, value in document["config"].items()}
    edit(config)
    document["config"] = {(key if ":" in key else NS + key): value for key, value in config.items()}
    (tmp_path / "Pulumi.dev.yaml").write_text(yaml.safe_dump(document), encoding="utf-8")
    shutil.copy(PROJECT_DIR / "__main__.py", tmp_path / "__main__.py")
    shutil.copy(PROJECT_DIR / "Pulumi.yaml", tmp_path / "Pulumi.yaml")
    # Through the file form, as `sandbox diff` would read it.
    result: Plan = json.loads(dumps(build_plan(run_program("dev", tmp_path))))
    return result


@pytest.fixture(scope="module")
def base(tmp_path_factory: pytest.TempPathFactory) -> Plan:
    return plan_with(tmp_path_factory.mktemp("base"), lambda config: None)


@pytest.fixture(scope="module")
def renamed(tmp_path_factory: pytest.TempPathFactory) -> Plan:
    return plan_with(tmp_path_factory.mktemp("renamed"), rename_orders_to_purchases)


def every_format(diff: Any) -> str:
    return format_text(diff) + format_markdown(diff) + format_json(diff)


def rename_orders_to_purchases(config: dict[str, Any]) -> None:
    config["apis"][0]["name"] = "purchases"
    for consumer in config["consumers"]:
        for call in consumer["calls"]:
            if call["api"] == "orders":
                call["api"] = "purchases"
    groups = config["developers"]["groups"][0]["roles"]
    groups["purchases"] = groups.pop("orders")


def test_identical_plans_show_no_changes_and_exit_0(base: Plan) -> None:
    diff = diff_plans(base, copy.deepcopy(base))
    assert not diff.has_changes and not diff.consequences
    assert diff.unchanged == len(base["resources"])
    assert exit_code(diff) == 0
    assert "no changes" in format_text(diff)
    assert json.loads(format_json(diff))["exitCode"] == 0


def test_renaming_an_api_flags_the_registration_replacement_with_its_new_client_id(
    base: Plan, renamed: Plan
) -> None:
    head = renamed
    diff = diff_plans(base, head)
    registration = next(
        c
        for c in diff.changes
        if c.type.endswith(":ApplicationRegistration") and c.name == "purchases-registration"
    )
    assert registration.kind == "replace" and registration.renamed
    assert registration.old_name == "orders-registration"
    old_id = base["outputs"]["apis"]["orders"]["clientId"]
    new_id = head["outputs"]["apis"]["purchases"]["clientId"]
    message = next(c.message for c in diff.critical if "new client ID" in c.message)
    assert old_id in message and new_id in message
    assert f"`api://{old_id}/.default`" in message and "(`aud`)" in message
    assert exit_code(diff) == 3
    text = format_text(diff)
    assert "replace (renamed)" in text and "orders-registration → purchases-registration" in text


def test_renaming_an_api_pairs_every_child_instead_of_deleting_and_creating(
    base: Plan, renamed: Plan
) -> None:
    diff = diff_plans(base, renamed)
    assert {c.kind for c in diff.changes} <= {"replace", "update"}
    assert all(c.old_name and "orders" in c.old_name for c in diff.changes if c.kind == "replace")


def test_removing_a_consumers_role_says_it_loses_access(base: Plan, tmp_path: Path) -> None:
    def drop_write(config: dict[str, Any]) -> None:
        storefront = next(c for c in config["consumers"] if c["name"] == "storefront")
        storefront["calls"][0]["roles"] = ["Orders.Read"]

    diff = diff_plans(base, plan_with(tmp_path, drop_write))
    deleted = [c for c in diff.changes if c.kind == "delete"]
    assert [c.name for c in deleted] == ["storefront-grants-orders-orders-write"]
    assert [c.message for c in diff.critical] == [
        "consumer storefront loses role Orders.Write on orders: its calls get 401/403."
    ]
    assert exit_code(diff) == 3


def test_changing_an_operations_roles_names_the_callers_that_now_get_403(
    base: Plan, tmp_path: Path
) -> None:
    def list_needs_write(config: dict[str, Any]) -> None:
        orders = next(api for api in config["apis"] if api["name"] == "orders")
        next(op for op in orders["operations"] if op["id"] == "list-orders")["roles"] = [
            "Orders.Write"
        ]

    diff = diff_plans(base, plan_with(tmp_path, list_needs_write))
    messages = [c.message for c in diff.critical]
    assert any(
        m.startswith(
            "operation orders/list-orders now requires Orders.Write instead of "
            "Orders.Read: callers with only Orders.Read now get 403"
        )
        and "consumer reporting" in m
        and "consumer storefront" not in m
        for m in messages
    ), messages
    policy = next(c for c in diff.changes if c.name == "orders-gateway-op-list-orders-policy")
    assert policy.kind == "update"
    assert "-                    <value>Orders.Read</value>" in format_text(diff)
    assert exit_code(diff) == 3


def test_a_changed_secret_never_reveals_a_value_in_any_format(base: Plan) -> None:
    head = copy.deepcopy(base)
    old_base = copy.deepcopy(base)
    named = next(r for r in old_base["resources"] if r["name"] == "gateway-tenant-id")
    named["inputs"]["value"] = "plain-before-it-became-secret"
    named_head = next(r for r in head["resources"] if r["name"] == "gateway-tenant-id")
    named_head["inputs"]["value"] = "[secret]"
    secret = next(r for r in old_base["resources"] if r["type"] == "azure-native:keyvault:Secret")
    secret["inputs"]["properties"] = {"value": "hunter2-subscription-key"}
    diff = diff_plans(old_base, head)
    rendered = every_format(diff)
    assert "plain-before-it-became-secret" not in rendered
    assert "hunter2-subscription-key" not in rendered
    assert "[secret]" in rendered
    # Two masked values cannot be compared, so they are not reported as a change.
    assert diff_plans(base, copy.deepcopy(base)).changes == ()


@settings(max_examples=50, deadline=None)
@given(value=st.text(min_size=4).filter(lambda s: s.strip() and s != "[secret]"))
def test_a_value_masked_on_either_side_is_never_shown(value: str) -> None:
    for before, after in (
        ({"key": {"v": value}}, {"key": "[secret]"}),
        ({"key": "[secret]"}, {"key": value}),
    ):
        changes = field_changes(before, after)
        assert changes and all(value not in (c.old, c.new) for c in changes)


def test_markdown_renders_a_summary_critical_section_and_a_table(base: Plan, renamed: Plan) -> None:
    markdown = format_markdown(diff_plans(base, renamed))
    lines = markdown.splitlines()
    assert lines[0].startswith("**Plan diff (dev):") and "identity-critical" in lines[0]
    assert lines.index("### ⚠ Identity-critical") < lines.index("### Changes")
    header = lines.index("| Change | Resource | Type | Changed inputs |")
    assert lines[header + 1] == "|---|---|---|---|"
    assert all(
        line.count("|") - line.count("\\|") == 5
        for line in lines[header + 2 :]
        if line.startswith("| ")
    )
    assert "<details><summary>Changed inputs" in markdown and "```diff" in markdown


def test_json_lists_changes_consequences_and_the_exit_code(base: Plan, renamed: Plan) -> None:
    document = json.loads(format_json(diff_plans(base, renamed)))
    assert document["exitCode"] == 3
    assert document["summary"]["critical"] == sum(c["critical"] for c in document["consequences"])
    assert any(c["oldName"] == "orders-registration" for c in document["changes"])


def test_an_update_without_identity_consequences_exits_1(base: Plan, tmp_path: Path) -> None:
    def new_backend(config: dict[str, Any]) -> None:
        config["apis"][0]["backendUrl"] = "https://orders-v2.contoso.example/api"

    diff = diff_plans(base, plan_with(tmp_path, new_backend))
    assert {c.kind for c in diff.changes} == {"update"} and not diff.critical
    assert exit_code(diff) == 1


def test_hand_made_plans_without_optional_keys_still_diff() -> None:
    def plan(roles: list[str]) -> Plan:
        role = {
            "urn": "urn:pulumi:dev::secure-api-calls::azuread:index/appRoleAssignment:"
            "AppRoleAssignment::grant",
            "type": "azuread:index/appRoleAssignment:AppRoleAssignment",
            "name": "grant",
            "inputs": {"appRoleId": roles[0], "principalObjectId": "p", "resourceObjectId": "r"},
        }
        return {
            "format": "secure-api-calls-plan",
            "version": 1,
            "project": "secure-api-calls",
            "stack": "dev",
            "resources": [role],
        }

    diff = diff_plans(plan(["role-a"]), plan(["role-b"]))
    assert [c.kind for c in diff.changes] == ["replace"]
    assert exit_code(diff) == 3 and "principal p loses role role ID role-a" in format_text(diff)
