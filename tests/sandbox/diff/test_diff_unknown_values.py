"""The diff reads any JSON value a plan may hold: `"<unknown>"` (hand-made plans, as
docs/plan-format.md allows), masked values and wrong types are "cannot tell", never a crash."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pytest

from sandbox.diff.compare import diff_plans, exit_code, format_json, format_markdown, format_text
from sandbox.diff.model import Change, PlanDiff
from sandbox.diff.render import summary
from sandbox.errors import SandboxError
from sandbox.plan.model import load_plan
from tests.plan_helpers import of_type

Plan = dict[str, Any]
ODD_VALUES: list[Any] = ["<unknown>", "[secret]", [1], {"a": None}, 5, None, True, 1.5, [], {}]
# Every value a diff rule reads to name things or to judge a change (found by a fuzz over
# every input and output key of every resource type of the dev plan).
READ_PATHS = [
    ("RandomPassword", ("inputs", "keepers")),
    ("RandomPassword", ("inputs", "keepers", "slot")),
    ("RoleAssignment", ("inputs", "principalId")),
    ("AppRoleAssignment", ("inputs", "resourceObjectId")),
    ("AppRoleAssignment", ("inputs", "appRoleId")),
    ("AppRoleAssignment", ("inputs", "principalObjectId")),
    ("ApplicationAppRole", ("inputs", "roleId")),
    ("ApplicationAppRole", ("inputs", "value")),
    ("ApplicationAppRole", ("inputs", "allowedMemberTypes")),
    ("ApiManagementService", ("outputs", "identity", "principalId")),
    ("WebApp", ("outputs", "identity", "principalId")),
    ("ServicePrincipal", ("outputs", "objectId")),
]


def with_value(plan: Plan, suffix: str, path: tuple[str, ...], value: Any) -> Plan:
    changed = copy.deepcopy(plan)
    for res in of_type(changed, suffix):
        holder = res
        for key in path[:-1]:
            holder = holder.setdefault(key, {})
        holder[path[-1]] = value
    return changed


def rendered(base: Plan, head: Plan) -> int:
    result = diff_plans(base, head)
    for render in (format_text, format_markdown, format_json):
        assert render(result)
    return exit_code(result)


@pytest.mark.parametrize("value", ODD_VALUES, ids=repr)
@pytest.mark.parametrize(("suffix", "path"), READ_PATHS, ids=lambda p: str(p))
def test_a_diff_with_an_odd_value_where_a_rule_reads_is_reported_not_a_crash(
    dev_plan: Plan, suffix: str, path: tuple[str, ...], value: Any
) -> None:
    head = with_value(dev_plan, suffix, path, value)
    # The diff compares inputs (as the engine does); an output alone changes nothing.
    codes = (1, 3) if path[0] == "inputs" else (0,)
    assert rendered(dev_plan, head) in codes
    assert rendered(head, dev_plan) in codes


def test_unknown_keepers_of_a_subscription_key_are_flagged_as_a_critical_cannot_tell(
    dev_plan: Plan,
) -> None:
    head = with_value(dev_plan, "RandomPassword", ("inputs", "keepers"), "<unknown>")
    result = diff_plans(dev_plan, head)
    said = [c for c in result.critical if "does not say which slot" in c.message]
    assert len(said) == len(of_type(dev_plan, "RandomPassword"))
    assert exit_code(result) == 3


@pytest.mark.parametrize("masked", [None, [1], "x", {"a": "b"}], ids=repr)
def test_a_plan_whose_masked_is_not_a_list_of_strings_is_refused_in_one_line(
    dev_plan: Plan, tmp_path: Path, masked: Any
) -> None:
    path = tmp_path / "plan.json"
    path.write_text(json.dumps({**dev_plan, "masked": masked}), encoding="utf-8")
    with pytest.raises(SandboxError, match=r"'masked' is not a list of strings") as raised:
        load_plan(path)
    assert "\n" not in str(raised.value)


def test_the_summary_of_changes_without_consequences_is_two_capitalised_sentences() -> None:
    change = Change("update", "urn:x", "azure-native:web:WebApp", "site", True)
    line = summary(PlanDiff("dev", "dev", changes=(change,)))
    assert line.endswith("0 unchanged. Nothing identity-critical.")
