"""`sandbox check` over the real dev plan brought back to each deploy-time refusal.

The plan is the one the program makes under mocks (session fixture `dev_plan`), which sends no
`enableClientCertificate` and keeps the Key Vault references in a `WebAppApplicationSettings`
that depends on the reader grants. Each test puts one deploy-time refusal back, and `check`
must fail naming the preflight rule and its source.
"""

from __future__ import annotations

import copy
from collections.abc import Callable
from typing import Any

import pytest

from policies.secure_api_policies import RULES
from sandbox.check.runner import CheckReport, format_text, run_check

Plan = dict[str, Any]
KV_PREFIX = "@Microsoft.KeyVault("


def resources_of(plan: Plan, type_suffix: str) -> list[dict[str, Any]]:
    return [r for r in plan["resources"] if r["type"].endswith(type_suffix)]


def one(plan: Plan, name: str) -> dict[str, Any]:
    [res] = [r for r in plan["resources"] if r["name"] == name]
    return res


def edit(plan: Plan, name: str, change: Callable[[dict[str, Any]], None]) -> Plan:
    """The plan with `change` applied to the inputs and outputs of resource `name`."""
    plan = copy.deepcopy(plan)
    res = one(plan, name)
    change(res["inputs"])
    change(res["outputs"])
    return plan


def deployable(plan: Plan) -> Plan:
    """The dev plan as the program makes it, which must already be deployable: no
    `enableClientCertificate`, and no Key Vault reference in a site's own `siteConfig`."""
    plan = copy.deepcopy(plan)
    for service in resources_of(plan, ":ApiManagementService"):
        assert "enableClientCertificate" not in service["inputs"]
    for site in resources_of(plan, ":web:WebApp"):
        assert "appSettings" not in site["inputs"].get("siteConfig", {})
    assert resources_of(plan, ":web:WebAppApplicationSettings")
    return plan


def failing(report: CheckReport, rule: str) -> list[str]:
    return [f.message for f in report.findings if f.rule == rule and f.level == "mandatory"]


def assert_fails_with(report: CheckReport, rule: str) -> None:
    """`check` fails, and its text names the rule, its number and its source."""
    assert report.mandatory_failed
    assert failing(report, rule), format_text(report)
    text = format_text(report)
    info = RULES[rule]
    assert f"#{info.number} {rule}" in text
    assert f"(source: {info.mirrors})" in text
    assert {f.rule for f in report.findings if f.level == "mandatory"} == {rule}, text


@pytest.fixture
def plan(dev_plan: Plan) -> Plan:
    return deployable(dev_plan)


def test_the_dev_plan_passes_every_mandatory_rule(plan: Plan) -> None:
    report = run_check(plan, {})
    assert not report.mandatory_failed, format_text(report)
    assert not any(KV_PREFIX in str(r["inputs"].get("siteConfig")) for r in plan["resources"])


def test_enable_client_certificate_false_is_refused_on_the_developer_gateway(plan: Plan) -> None:
    [service] = resources_of(plan, ":ApiManagementService")
    broken = edit(plan, service["name"], lambda d: d.update(enableClientCertificate=False))
    report = run_check(broken, {})
    assert_fails_with(report, "preflight-apim-client-certificate")
    assert (
        "not supported for Developer SKU" in failing(report, "preflight-apim-client-certificate")[0]
    )


def test_a_key_vault_reference_back_in_site_config_is_refused(plan: Plan) -> None:
    site = resources_of(plan, ":web:WebApp")[0]
    reference = {"name": "K", "value": "@Microsoft.KeyVault(VaultName=kv-contoso-dev;SecretName=x)"}
    broken = edit(plan, site["name"], lambda d: d["siteConfig"].update(appSettings=[reference]))
    assert_fails_with(run_check(broken, {}), "preflight-key-vault-reference-resolves")


def test_settings_that_no_longer_wait_for_the_reader_grants_are_refused(plan: Plan) -> None:
    broken = copy.deepcopy(plan)
    settings = resources_of(broken, ":WebAppApplicationSettings")[0]
    settings["dependencies"] = [u for u in settings["dependencies"] if "RoleAssignment" not in u]
    assert_fails_with(run_check(broken, {}), "preflight-key-vault-reference-resolves")


def test_a_duplicate_operation_with_a_renamed_template_parameter_is_refused(plan: Plan) -> None:
    broken = copy.deepcopy(plan)
    original = next(
        r for r in resources_of(broken, ":ApiOperation") if "{" in r["inputs"]["urlTemplate"]
    )
    twin = copy.deepcopy(original)
    twin["name"] += "-twin"
    twin["urn"] += "-twin"
    for props in (twin["inputs"], twin["outputs"]):
        props["operationId"] += "-twin"
        props["urlTemplate"] = props["urlTemplate"].replace("{", "{renamed").replace("}", "X}")
        props["templateParameters"] = [
            {**p, "name": f"renamed{p['name']}X"} for p in props["templateParameters"]
        ]
    broken["resources"].append(twin)
    report = run_check(broken, {})
    assert_fails_with(report, "preflight-apim-operation-unique")
    [finding] = [f for f in report.findings if f.rule == "preflight-apim-operation-unique"]
    assert finding.resource_name == twin["name"]


def test_cipher_custom_properties_on_a_standard_v2_gateway_are_refused(plan: Plan) -> None:
    [service] = resources_of(plan, ":ApiManagementService")
    broken = edit(plan, service["name"], lambda d: d["sku"].update(name="StandardV2"))
    assert service["inputs"]["customProperties"]  # the classic-tier hardening is still sent
    assert_fails_with(run_check(broken, {}), "preflight-apim-v2-cipher-settings")


@pytest.mark.parametrize("switch", ["enableSoftDelete", "enablePurgeProtection"])
def test_a_key_vault_deletion_switch_sent_as_false_is_refused(plan: Plan, switch: str) -> None:
    [vault] = resources_of(plan, ":keyvault:Vault")
    broken = edit(plan, vault["name"], lambda d: d["properties"].update({switch: False}))
    report = run_check(broken, {})
    assert_fails_with(report, "preflight-key-vault-deletion-protection")
    assert f"{switch}=false" in failing(report, "preflight-key-vault-deletion-protection")[0]


@pytest.mark.parametrize(
    ("type_suffix", "prop", "too_long"),
    [
        (":keyvault:Vault", "vaultName", "kv-" + "c" * 22),
        (":web:WebApp", "name", "app-" + "c" * 57),
        (":ApiManagementService", "serviceName", "apim-" + "c" * 46),
        (":apimanagement:Subscription", "sid", "s" * 81),
    ],
)
def test_an_over_long_name_is_refused(
    plan: Plan, type_suffix: str, prop: str, too_long: str
) -> None:
    target = resources_of(plan, type_suffix)[0]
    broken = edit(plan, target["name"], lambda d: d.update({prop: too_long}))
    report = run_check(broken, {})
    assert_fails_with(report, "preflight-azure-name-limits")
    assert f"({len(too_long)} characters)" in failing(report, "preflight-azure-name-limits")[0]


def test_a_reader_grant_sent_with_the_sdk_default_principal_type_is_refused(plan: Plan) -> None:
    grant = resources_of(plan, ":authorization:RoleAssignment")[0]
    broken = edit(plan, grant["name"], lambda d: d.update(principalType="User"))
    assert_fails_with(run_check(broken, {}), "preflight-role-assignment-principal-type")


def test_developer_group_app_roles_get_the_licence_advisory_with_its_source(plan: Plan) -> None:
    report = run_check(plan, {})
    advice = [f for f in report.findings if f.rule == "preflight-app-role-group-licence"]
    assert advice and all(f.level == "advisory" for f in advice)
    assert "P1 or P2" in advice[0].message
    assert f"(source: {RULES['preflight-app-role-group-licence'].mirrors})" in format_text(report)
