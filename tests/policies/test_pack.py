"""The pack as CrossGuard sees it: names, metadata, levels, configs and the engine's proxy."""

from __future__ import annotations

import ast
import json
import re
from pathlib import Path
from typing import Any

import pytest
from pulumi_policy import (
    EnforcementLevel,
    PolicyCustomTimeouts,
    PolicyResource,
    PolicyResourceOptions,
    ResourceValidationArgs,
    ResourceValidationPolicy,
    Severity,
    StackValidationArgs,
    StackValidationPolicy,
)
from pulumi_policy.proxy import UNKNOWN_BOOLEAN_VALUE, unknown_checking_proxy

from policies.secure_api_policies import RULES, all_policies

PACK = Path(__file__).resolve().parents[2] / "policies"
OPTS = PolicyResourceOptions(False, [], None, [], PolicyCustomTimeouts(0, 0, 0), [], None)


def by_name(name: str) -> Any:
    return next(p for p in all_policies() if p.name == name)


def run_resource(name: str, type_: str, props: dict[str, Any]) -> list[str]:
    reported: list[str] = []
    args = ResourceValidationArgs(
        type_, unknown_checking_proxy(props), f"urn:x::{type_}::r", "r", OPTS, None
    )
    by_name(name).validate(args, lambda msg, urn=None: reported.append(msg))
    return reported


def test_every_row_of_the_rule_table_has_a_policy() -> None:
    # 1-53, then the private-network and secret-lifetime block 55-61 (private_network.py);
    # 47-53 and 62 are the backend hop (backend_hop.py).
    numbers = {info.number for info in RULES.values()}
    assert numbers == set(range(1, 54)) | set(range(55, 63))
    assert sorted(p.name for p in all_policies()) == sorted(RULES)


def test_the_packs_readme_lists_every_rule_with_its_number_and_level() -> None:
    readme = (PACK / "README.md").read_text(encoding="utf-8")
    for name, info in RULES.items():
        assert f"| {info.number} | `{name}` | {info.level}" in readme, name


def test_names_are_stable_kebab_case() -> None:
    assert all(re.fullmatch(r"[a-z0-9]+(-[a-z0-9]+)*", name) for name in RULES)


def test_each_policy_carries_its_number_mirrors_level_and_severity() -> None:
    for policy in all_policies():
        info = RULES[policy.name]
        assert info.mirrors in policy.description
        assert f"rule {info.number}" in policy.description
        assert isinstance(policy.severity, Severity)
        expected = EnforcementLevel(info.level)
        assert policy.enforcement_level is expected


@pytest.mark.parametrize(
    ("name", "level"),
    [
        ("webapp-https-only", "mandatory"),
        ("webapp-http2-enabled", "advisory"),
        ("webapp-no-public-network-access", "advisory"),
        ("entra-v2-access-tokens", "advisory"),
    ],
)
def test_levels_follow_the_table(name: str, level: str) -> None:
    assert RULES[name].level == level


def test_stack_rules_are_stack_policies() -> None:
    stack_rules = {
        "webapp-ftp-basic-auth-disabled",
        "webapp-scm-basic-auth-disabled",
        "apim-api-validates-entra-token",
        "entra-app-role-values-unique",
        "entra-consumer-identity-has-direct-role",
        "entra-required-roles-defined",
        "preflight-key-vault-reference-resolves",
        "preflight-apim-operation-unique",
        "preflight-app-role-group-licence",
        "preflight-role-assignment-principal-type",
        "pipeline-preview-identity-read-only",
        "pipeline-permission-granting-only-protected",
        "private-network-key-vault-closed",
        "private-network-key-vault-endpoint",
        "private-network-web-apps",
        "private-network-gateway",
        "key-vault-secret-expiry",
        "key-vault-secret-content-type",
        "preflight-apim-injection-network",
        "apim-backend-hop-authenticated",
        "apim-backend-hop-exception",
        "apim-caller-headers-not-forgeable",
        "apim-caller-credentials-stop-at-gateway",
        "entra-gateway-role-only-gateway",
        "entra-gateway-role-assigned",
        "webapp-backend-accepts-only-the-gateway",
        "webapp-backend-issuer-matches-token-version",
    }
    for policy in all_policies():
        expected = StackValidationPolicy if policy.name in stack_rules else ResourceValidationPolicy
        assert isinstance(policy, expected), policy.name


def test_a_resource_policy_reads_through_the_engine_proxy() -> None:
    messages = run_resource("webapp-https-only", "azure-native:web:WebApp", {"httpsOnly": False})
    assert messages == [
        "WebApp 'r' has httpsOnly=false: set https_only=True so plain HTTP is refused"
    ]


def test_an_engine_unknown_becomes_a_cannot_be_verified_violation_not_an_exception() -> None:
    props = {"httpsOnly": UNKNOWN_BOOLEAN_VALUE}
    [message] = run_resource("webapp-https-only", "azure-native:web:WebApp", props)
    assert "cannot be verified" in message


def test_a_resource_policy_ignores_other_types() -> None:
    assert run_resource("webapp-https-only", "azure-native:web:AppServicePlan", {}) == []


def test_pack_config_options_reach_the_rule() -> None:
    props = {
        "issuer": "https://gitlab.com",
        "subject": "project_path:contoso/app:ref_type:branch:ref:main",
        "audiences": ["api://AzureADTokenExchange"],
    }
    type_ = (
        "azuread:index/applicationFederatedIdentityCredential:"
        "ApplicationFederatedIdentityCredential"
    )
    policy = by_name("entra-federated-credential-scoped")
    reported: list[str] = []
    args = ResourceValidationArgs(
        type_,
        unknown_checking_proxy(props),
        "urn",
        "ci",
        OPTS,
        None,
        {"allowedIssuers": ["https://gitlab.com"]},
    )
    policy.validate(args, lambda msg, urn=None: reported.append(msg))
    assert reported == []
    assert policy.config_schema is not None
    assert "allowedIssuers" in policy.config_schema.properties


def test_a_stack_policy_reports_against_the_offending_urn() -> None:
    web = PolicyResource(
        "azure-native:web:WebApp",
        unknown_checking_proxy({"name": "app", "resourceGroupName": "rg"}),
        "urn:web",
        "web",
        OPTS,
        None,
        None,
        [],
        {},
    )
    reported: list[tuple[str, str | None]] = []
    by_name("webapp-ftp-basic-auth-disabled").validate(
        StackValidationArgs([web]), lambda msg, urn=None: reported.append((msg, urn))
    )
    [(message, urn)] = reported
    assert urn == "urn:web"
    assert "WebAppFtpAllowed" in message


def test_main_only_assembles_the_pack() -> None:
    tree = ast.parse((PACK / "__main__.py").read_text())
    statements = [
        node for node in tree.body if not isinstance(node, ast.Expr | ast.Import | ast.ImportFrom)
    ]
    assert statements == []
    calls = [n for n in tree.body if isinstance(n, ast.Expr) and isinstance(n.value, ast.Call)]
    [call] = calls
    assert isinstance(call.value, ast.Call) and getattr(call.value.func, "id", "") == "PolicyPack"


def test_policy_pack_project_file_declares_the_python_runtime() -> None:
    text = (PACK / "PulumiPolicy.yaml").read_text()
    assert "name: python" in text
    assert "toolchain: pip" in text
    assert "virtualenv: venv" in text
    assert "description:" in text


@pytest.mark.parametrize("stack", ["dev", "prod"])
def test_pack_configs_name_only_real_policies_and_levels(stack: str) -> None:
    config = json.loads((PACK / f"config.{stack}.json").read_text())
    for name, entry in config.items():
        assert name in RULES
        assert entry["enforcementLevel"] in ("mandatory", "advisory", "disabled")


def test_prod_raises_the_agreed_advisory_rules_and_keeps_network_design_ones_advisory() -> None:
    prod = json.loads((PACK / "config.prod.json").read_text())
    raised = {n for n, e in prod.items() if e["enforcementLevel"] == "mandatory"}
    numbers = {RULES[n].number for n in raised if RULES[n].level == "advisory"}
    # 59: prod rotates its keys, so each key secret carries an expiry (keyRotation).
    assert numbers == {9, 10, 14, 15, 29, 59}
    for number in (11, 12, 16):
        [name] = [n for n, info in RULES.items() if info.number == number]
        assert prod[name]["enforcementLevel"] == "advisory"
