"""`sandbox check`: the pack's own policy objects over a hand-made Plan."""

from __future__ import annotations

import copy
import json
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from policies.secure_api_policies import all_policies
from sandbox.check.runner import (
    CheckReport,
    format_json,
    format_markdown,
    format_text,
    load_pack_config,
    run_check,
)
from sandbox.errors import SandboxError
from sandbox.plan.model import load_plan
from tests.policy_fixtures import (
    API_POLICY,
    APP_OBJECT_ID,
    CLIENT_ID,
    GATEWAY_PRINCIPAL_ID,
    GATEWAY_ROLE_ID,
    PRINCIPAL_ID,
    READ_ID,
    SP_OBJECT_ID,
    TENANT,
    WRITE_ID,
)

PROJECT, STACK = "secure-api-calls", "dev"
SECURITY = "Microsoft.WindowsAzure.ApiManagement.Gateway.Security"
SERVICE = {"serviceName": "apim-dev", "resourceGroupName": "rg-dev"}

OPERATION_POLICY = (
    "<policies><inbound><base />"
    '<validate-azure-ad-token tenant-id="{{tenant-id}}" failed-validation-httpcode="403" '
    'failed-validation-error-message="Missing role Orders.Read">'
    "<audiences><audience>{{orders-audience}}</audience></audiences>"
    '<required-claims><claim name="roles" match="any"><value>Orders.Read</value></claim>'
    "</required-claims></validate-azure-ad-token></inbound>"
    "<backend><base /></backend><outbound><base /></outbound><on-error><base /></on-error>"
    "</policies>"
)


def urn(type_: str, name: str) -> str:
    return f"urn:pulumi:{STACK}::{PROJECT}::{type_}::{name}"


def resource(
    type_: str,
    name: str,
    inputs: dict[str, Any],
    outputs: dict[str, Any] | None = None,
    deps: dict[str, list[str]] | None = None,
) -> dict[str, Any]:
    return {
        "urn": urn(type_, name),
        "type": type_,
        "name": name,
        "parent": None,
        "custom": True,
        "inputs": inputs,
        "outputs": {**inputs, **(outputs or {})},
        "dependencies": sorted({u for us in (deps or {}).values() for u in us}),
        "propertyDependencies": deps or {},
    }


WEB = "azure-native:web:WebApp"
APIM = "azure-native:apimanagement:"
AAD = "azuread:index/"
REG = AAD + "applicationRegistration:ApplicationRegistration"
SP = AAD + "servicePrincipal:ServicePrincipal"
ROLE = AAD + "applicationAppRole:ApplicationAppRole"


def compliant_plan() -> dict[str, Any]:
    app_id = f"/applications/{APP_OBJECT_ID}"
    reg_urn, web_urn = urn(REG, "orders-api"), urn(WEB, "orders-client")
    web_app = {
        "name": "orders-client-app",
        "resourceGroupName": "rg-dev",
        "httpsOnly": True,
        "publicNetworkAccess": "Disabled",
        "identity": {"type": "SystemAssigned"},
        "siteConfig": {
            "minTlsVersion": "1.2",
            "ftpsState": "Disabled",
            "remoteDebuggingEnabled": False,
            "http20Enabled": True,
            "healthCheckPath": "/healthz",
        },
    }
    switch = {"name": "orders-client-app", "resourceGroupName": "rg-dev", "allow": False}
    custom = dict.fromkeys(
        [
            f"{SECURITY}.{s}Protocols.{p}"
            for s in ("", "Backend.")
            for p in ("Ssl30", "Tls10", "Tls11")
        ]
        + [f"{SECURITY}.Ciphers.TripleDes168"],
        "false",
    )
    resources = [
        resource(
            "azure-native:web:AppServicePlan",
            "consumers",
            {"sku": {"name": "P1v3", "tier": "PremiumV3", "capacity": 3}, "zoneRedundant": True},
        ),
        resource(
            WEB,
            "orders-client",
            web_app,
            {"identity": {"type": "SystemAssigned", "principalId": PRINCIPAL_ID}},
        ),
        resource(
            "azure-native:web:WebAppFtpAllowed",
            "orders-client-ftp",
            switch,
            deps={"name": [web_urn]},
        ),
        resource(
            "azure-native:web:WebAppScmAllowed",
            "orders-client-scm",
            switch,
            deps={"name": [web_urn]},
        ),
        resource(
            APIM + "ApiManagementService",
            "gateway",
            {
                "serviceName": "apim-dev",
                "sku": {"name": "Developer", "capacity": 1},
                "identity": {"type": "SystemAssigned"},
                "virtualNetworkType": "External",
                "customProperties": custom,
            },
        ),
        resource(
            APIM + "NamedValue",
            "tenant-id",
            {"displayName": "tenant-id", "value": TENANT, **SERVICE},
        ),
        resource(
            APIM + "NamedValue",
            "orders-audience",
            {"displayName": "orders-audience", "value": CLIENT_ID, **SERVICE},
            deps={"value": [reg_urn]},
        ),
        resource(
            APIM + "Backend",
            "orders-backend",
            {"url": "https://orders.contoso.com", "protocol": "http", **SERVICE},
        ),
        resource(
            APIM + "Api",
            "orders",
            {
                "apiId": "orders",
                "path": "orders",
                "protocols": ["https"],
                "subscriptionRequired": True,
                **SERVICE,
            },
        ),
        resource(
            APIM + "ApiOperation",
            "orders-get",
            {"apiId": "orders", "operationId": "get-order", "method": "GET", **SERVICE},
        ),
        resource(
            APIM + "ApiPolicy",
            "orders-policy",
            {"apiId": "orders", "format": "xml", "value": API_POLICY, **SERVICE},
        ),
        resource(
            APIM + "ApiOperationPolicy",
            "orders-get-policy",
            {
                "apiId": "orders",
                "operationId": "get-order",
                "format": "xml",
                "value": OPERATION_POLICY,
                **SERVICE,
            },
        ),
        resource(
            APIM + "Subscription",
            "orders-client-sub",
            {"scope": "/apis/orders", "displayName": "orders-client", **SERVICE},
        ),
        resource(
            REG,
            "orders-api",
            {
                "displayName": "orders-api",
                "signInAudience": "AzureADMyOrg",
                "requestedAccessTokenVersion": 2,
            },
            {"clientId": CLIENT_ID, "objectId": APP_OBJECT_ID, "id": app_id},
        ),
        resource(
            AAD + "applicationIdentifierUri:ApplicationIdentifierUri",
            "orders-api-uri",
            {"applicationId": app_id, "identifierUri": f"api://{CLIENT_ID}"},
            deps={"applicationId": [reg_urn], "identifierUri": [reg_urn]},
        ),
        resource(
            ROLE,
            "orders-api-read",
            {
                "applicationId": app_id,
                "roleId": READ_ID,
                "value": "Orders.Read",
                "allowedMemberTypes": ["Application"],
            },
            deps={"applicationId": [reg_urn]},
        ),
        resource(
            ROLE,
            "orders-api-write",
            {
                "applicationId": app_id,
                "roleId": WRITE_ID,
                "value": "Orders.Write",
                "allowedMemberTypes": ["Application", "User"],
            },
            deps={"applicationId": [reg_urn]},
        ),
        resource(
            SP,
            "orders-api-sp",
            {"clientId": CLIENT_ID, "appRoleAssignmentRequired": True},
            {"objectId": SP_OBJECT_ID},
            deps={"clientId": [reg_urn]},
        ),
        resource(
            AAD + "appRoleAssignment:AppRoleAssignment",
            "orders-client-read",
            {
                "appRoleId": READ_ID,
                "principalObjectId": PRINCIPAL_ID,
                "resourceObjectId": SP_OBJECT_ID,
            },
            deps={"principalObjectId": [web_urn], "resourceObjectId": [urn(SP, "orders-api-sp")]},
        ),
        resource(
            ROLE,
            "orders-api-gateway-forward",
            {
                "applicationId": app_id,
                "roleId": GATEWAY_ROLE_ID,
                "value": "Gateway.Forward",
                "allowedMemberTypes": ["Application"],
            },
            deps={"applicationId": [reg_urn]},
        ),
        resource(
            AAD + "appRoleAssignment:AppRoleAssignment",
            "orders-gateway-forward",
            {
                "appRoleId": GATEWAY_ROLE_ID,
                "principalObjectId": GATEWAY_PRINCIPAL_ID,
                "resourceObjectId": SP_OBJECT_ID,
            },
            deps={
                "principalObjectId": [urn(APIM + "ApiManagementService", "gateway")],
                "resourceObjectId": [urn(SP, "orders-api-sp")],
            },
        ),
        resource(
            AAD + "applicationFederatedIdentityCredential:ApplicationFederatedIdentityCredential",
            "ci-prod",
            {
                "applicationId": app_id,
                "issuer": "https://token.actions.githubusercontent.com",
                "subject": "repo:contoso/secure-api-calls:environment:prod",
                "audiences": ["api://AzureADTokenExchange"],
            },
        ),
    ]
    return {
        "format": "secure-api-calls-plan",
        "version": 1,
        "project": PROJECT,
        "stack": STACK,
        "resources": resources,
        "outputs": {},
        "masked": [],
    }


def edit(
    plan: dict[str, Any], name: str, change: Callable[[dict[str, Any]], None]
) -> dict[str, Any]:
    """Apply `change` to both the inputs and outputs of the resource called `name`."""
    plan = copy.deepcopy(plan)
    [res] = [r for r in plan["resources"] if r["name"] == name]
    change(res["inputs"])
    change(res["outputs"])
    return plan


def drop(plan: dict[str, Any], name: str) -> dict[str, Any]:
    plan = copy.deepcopy(plan)
    plan["resources"] = [r for r in plan["resources"] if r["name"] != name]
    return plan


def add(plan: dict[str, Any], res: dict[str, Any]) -> dict[str, Any]:
    plan = copy.deepcopy(plan)
    plan["resources"].append(res)
    return plan


def mandatory_rules(report: CheckReport) -> set[str]:
    return {f.rule for f in report.findings if f.level == "mandatory"}


def test_the_compliant_plan_passes_with_no_findings_at_all() -> None:
    report = run_check(compliant_plan(), {})
    assert report.findings == ()
    assert not report.mandatory_failed
    assert report.counts.rules_run == len(all_policies())
    assert report.counts.resources == len(compliant_plan()["resources"])


MUTATIONS: list[tuple[str, Callable[[dict[str, Any]], dict[str, Any]], str]] = [
    (
        "https off",
        lambda p: edit(p, "orders-client", lambda d: d.update(httpsOnly=False)),
        "webapp-https-only",
    ),
    (
        "tls 1.0",
        lambda p: edit(p, "orders-client", lambda d: d["siteConfig"].update(minTlsVersion="1.0")),
        "webapp-min-tls-1-2",
    ),
    ("api without policy", lambda p: drop(p, "orders-policy"), "apim-api-validates-entra-token"),
    (
        "policy without allowed callers",
        lambda p: edit(
            p,
            "orders-policy",
            lambda d: d.update(
                value=re.sub(
                    r"<client-application-ids>.*?</client-application-ids>", "", d["value"]
                )
            ),
        ),
        "apim-api-validates-entra-token",
    ),
    (
        "plain http api",
        lambda p: edit(p, "orders", lambda d: d.update(protocols=["http", "https"])),
        "apim-api-https-only",
    ),
    (
        "all-apis subscription",
        lambda p: edit(p, "orders-client-sub", lambda d: d.update(scope="/apis")),
        "apim-subscription-not-all-apis",
    ),
    (
        "client secret",
        lambda p: add(
            p,
            resource(
                AAD + "applicationPassword:ApplicationPassword", "ci-secret", {"applicationId": "x"}
            ),
        ),
        "entra-no-password-credentials",
    ),
    (
        "assignment optional",
        lambda p: edit(p, "orders-api-sp", lambda d: d.update(appRoleAssignmentRequired=False)),
        "entra-assignment-required",
    ),
    (
        "undefined role",
        lambda p: edit(
            p,
            "orders-policy",
            lambda d: d.update(value=API_POLICY.replace("Orders.Write", "Orders.Delete")),
        ),
        "entra-required-roles-defined",
    ),
    (
        "https unknown at preview",
        lambda p: edit(p, "orders-client", lambda d: d.update(httpsOnly="<unknown>")),
        "webapp-https-only",
    ),
]


@pytest.mark.parametrize(("label", "mutate", "rule"), MUTATIONS, ids=[m[0] for m in MUTATIONS])
def test_each_mutation_is_a_mandatory_violation_of_the_right_rule(
    label: str, mutate: Callable[[dict[str, Any]], dict[str, Any]], rule: str
) -> None:
    report = run_check(mutate(compliant_plan()), {})
    assert report.mandatory_failed
    assert mandatory_rules(report) == {rule}, label


def test_a_finding_names_the_rule_number_mirrors_and_resource() -> None:
    plan = edit(compliant_plan(), "orders-client", lambda d: d.update(httpsOnly=False))
    [finding] = run_check(plan, {}).findings
    assert finding.number == 1
    assert "CKV_AZURE_14" in finding.mirrors
    assert finding.resource_name == "orders-client"
    assert finding.resource_type == WEB
    assert finding.urn == urn(WEB, "orders-client")
    assert finding.message.startswith("WebApp 'orders-client' has httpsOnly=false")


def test_stack_links_survive_unknown_ids_through_property_dependencies() -> None:
    plan = edit(compliant_plan(), "orders-api-read", lambda d: d.update(applicationId="<unknown>"))
    plan = edit(plan, "orders-api-write", lambda d: d.update(applicationId="<unknown>"))
    assert run_check(plan, {}).findings == ()


def test_an_advisory_rule_is_advisory_by_default_and_mandatory_when_raised() -> None:
    plan = edit(
        compliant_plan(), "orders-client", lambda d: d["siteConfig"].update(http20Enabled=False)
    )
    default = run_check(plan, {})
    assert [f.level for f in default.findings] == ["advisory"]
    assert not default.mandatory_failed
    raised = run_check(plan, {"webapp-http2-enabled": {"enforcementLevel": "mandatory"}})
    assert mandatory_rules(raised) == {"webapp-http2-enabled"}
    assert raised.mandatory_failed


def test_the_prod_pack_config_raises_http2_to_mandatory() -> None:
    config = load_pack_config(Path(__file__).resolve().parents[3] / "policies/config.prod.json")
    plan = edit(
        compliant_plan(), "orders-client", lambda d: d["siteConfig"].update(http20Enabled=False)
    )
    assert run_check(plan, config).mandatory_failed


def test_a_disabled_rule_does_not_run() -> None:
    plan = edit(compliant_plan(), "orders-client", lambda d: d.update(httpsOnly=False))
    report = run_check(plan, {"webapp-https-only": "disabled"})
    assert report.findings == ()
    assert report.disabled_rules == ("webapp-https-only",)
    assert report.counts.rules_disabled == 1


def test_all_sets_every_level_and_a_named_entry_overrides_it() -> None:
    plan = edit(
        compliant_plan(), "orders-client", lambda d: d["siteConfig"].update(http20Enabled=False)
    )
    assert run_check(plan, {"all": "mandatory"}).mandatory_failed
    config = {"all": "mandatory", "webapp-http2-enabled": {"enforcementLevel": "advisory"}}
    assert not run_check(plan, config).mandatory_failed


def test_rule_options_from_pack_config_reach_the_rule() -> None:
    plan = edit(compliant_plan(), "ci-prod", lambda d: d.update(issuer="https://gitlab.com"))
    assert run_check(plan, {}).mandatory_failed
    config = {"entra-federated-credential-scoped": {"allowedIssuers": ["https://gitlab.com"]}}
    assert not run_check(plan, config).mandatory_failed


@pytest.mark.parametrize(
    ("plan", "expected"),
    [
        ([], "not a secure-api-calls plan"),
        ({"resources": []}, "missing 'format'"),
        ({"format": "pulumi-preview", "version": 1}, "format is 'pulumi-preview'"),
        (
            {"format": "secure-api-calls-plan", "version": 2, "project": "p", "stack": "s"},
            "version 2",
        ),
        (
            {"format": "secure-api-calls-plan", "version": 1, "project": "p", "stack": "s"},
            "'resources'",
        ),
        (
            {
                "format": "secure-api-calls-plan",
                "version": 1,
                "project": "p",
                "stack": "s",
                "resources": [{"type": "t"}],
            },
            "resources[0] has no 'urn'",
        ),
    ],
)
def test_a_malformed_or_foreign_plan_is_a_one_line_sandbox_error(plan: Any, expected: str) -> None:
    with pytest.raises(SandboxError) as err:
        run_check(plan, {}, source="plan.json")
    message = str(err.value)
    assert expected in message
    assert message.startswith("plan.json: ")
    assert "secure-api-calls plan" in message
    assert "\n" not in message


def test_repeated_urns_are_refused() -> None:
    plan = compliant_plan()
    plan["resources"].append(copy.deepcopy(plan["resources"][0]))
    with pytest.raises(SandboxError, match="repeats URN"):
        run_check(plan, {})


def test_unknown_policy_names_and_levels_in_pack_config_are_refused() -> None:
    with pytest.raises(SandboxError, match="unknown policy 'webapp-https'"):
        run_check(compliant_plan(), {"webapp-https": {"enforcementLevel": "advisory"}})
    with pytest.raises(SandboxError, match="enforcementLevel 'blocking'"):
        run_check(compliant_plan(), {"webapp-https-only": {"enforcementLevel": "blocking"}})
    with pytest.raises(SandboxError, match="has no option 'allowedIssuer'"):
        run_check(compliant_plan(), {"entra-federated-credential-scoped": {"allowedIssuer": []}})


def test_load_pack_config_reads_files_and_refuses_bad_json(tmp_path: Path) -> None:
    assert load_pack_config(None) == {}
    good = tmp_path / "config.json"
    good.write_text(json.dumps({"webapp-http2-enabled": {"enforcementLevel": "mandatory"}}))
    assert load_pack_config(good) == {"webapp-http2-enabled": {"enforcementLevel": "mandatory"}}
    bad = tmp_path / "bad.json"
    bad.write_text("{not json")
    with pytest.raises(SandboxError, match="not JSON"):
        load_pack_config(bad)
    with pytest.raises(SandboxError, match="cannot read"):
        load_pack_config(tmp_path / "missing.json")


def test_a_rule_that_raises_is_one_line_naming_the_rule_and_the_resource(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from sandbox.check import runner

    (policy,) = [p for p in all_policies() if p.name == "apim-api-https-only"]

    def crash(args: Any, report: Any) -> None:
        raise TypeError("unhashable type: 'dict'")

    monkeypatch.setattr(policy, "validate", crash)
    plan = compliant_plan()
    with pytest.raises(SandboxError) as raised:
        runner._validate(policy, plan["resources"][:1], None, [])
    message = str(raised.value)
    name = plan["resources"][0]["name"]
    assert message.startswith(f"policy 'apim-api-https-only' failed on resource {name} (")
    assert "TypeError: unhashable type: 'dict'" in message and "\n" not in message
    assert isinstance(raised.value.__cause__, TypeError)  # kept for a debugger


def test_a_policy_pack_config_that_is_not_utf8_is_refused_in_one_line(tmp_path: Path) -> None:
    binary = tmp_path / "bin.json"
    binary.write_bytes(b"\xff\xfe")
    with pytest.raises(SandboxError, match=r"bin.json: the policy pack config is not UTF-8 text"):
        load_pack_config(binary)


def test_load_plan_round_trips_a_plan_file(tmp_path: Path) -> None:
    path = tmp_path / "plan.json"
    path.write_text(json.dumps(compliant_plan()))
    assert load_plan(path) == compliant_plan()
    path.write_text("[]")
    with pytest.raises(SandboxError, match=r"plan\.json: not a secure-api-calls plan"):
        load_plan(path)


def failing_report() -> CheckReport:
    plan = edit(compliant_plan(), "orders-client", lambda d: d.update(httpsOnly=False))
    plan = edit(plan, "orders-client", lambda d: d["siteConfig"].update(http20Enabled=False))
    return run_check(plan, {})


def test_json_output_is_stable_and_ordered() -> None:
    text = format_json(failing_report())
    assert text == format_json(failing_report())
    data = json.loads(text)
    assert list(data) == [
        "pack",
        "project",
        "stack",
        "mandatoryFailed",
        "counts",
        "disabledRules",
        "findings",
    ]
    assert data["mandatoryFailed"] is True
    assert [f["level"] for f in data["findings"]] == ["mandatory", "advisory"]
    assert list(data["findings"][0]) == [
        "rule",
        "number",
        "mirrors",
        "level",
        "severity",
        "urn",
        "resourceName",
        "resourceType",
        "message",
    ]


def test_text_output_lists_findings_and_the_verdict() -> None:
    text = format_text(failing_report())
    assert "MANDATORY" in text
    assert "#1 webapp-https-only" in text
    assert text.rstrip().splitlines()[-1].startswith("FAILED: 1 mandatory, 1 advisory")


def test_markdown_output_is_a_table_with_escaped_cells() -> None:
    plan = edit(
        compliant_plan(),
        "orders-policy",
        lambda d: d.update(
            value=API_POLICY.replace("<outbound><base /></outbound>", "<outbound />")
        ),
    )
    text = format_markdown(run_check(plan, {}))
    assert text.startswith("### ❌")
    assert "| Level | Rule | Resource | Message |" in text
    assert "&lt;outbound&gt;" in text
    assert "<outbound>" not in text


def test_markdown_for_a_clean_plan_says_so() -> None:
    text = format_markdown(run_check(compliant_plan(), {}))
    assert text.startswith("### ✅")
    assert "No violations." in text


@pytest.mark.parametrize("stack", ["dev", "prod"])
def test_the_real_stacks_pass_every_mandatory_rule_with_their_pack_config(
    stack: str, request: pytest.FixtureRequest
) -> None:
    plan = request.getfixturevalue(f"{stack}_plan")  # from tests/conftest.py, made under mocks
    config = load_pack_config(Path(__file__).resolve().parents[3] / f"policies/config.{stack}.json")
    report = run_check(plan, config)
    assert not report.mandatory_failed, format_text(report)
    assert report.counts.rules_run == len(all_policies())
