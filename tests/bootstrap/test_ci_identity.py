"""The bootstrap program run offline: exact GitHub subjects, scoped roles, no secret."""

from __future__ import annotations

import asyncio
import json
import re
import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pulumi
import pytest
from pulumi.runtime.mocks import MockMonitor

from bootstrap.ci_identity import (
    CONTRIBUTOR,
    ENVIRONMENT_PROTECTED,
    ENVIRONMENT_UNPROTECTED,
    GITHUB_ISSUER,
    KEY_VAULT_SECRETS_USER,
    RBAC_ADMINISTRATOR,
    READER,
    TOKEN_EXCHANGE_AUDIENCE,
)
from bootstrap.config import parse_config
from bootstrap.stack import _resource_groups
from sandbox.check.runner import load_pack_config, run_check
from sandbox.program.mocks import GRAPH_APP_ROLE_IDS, StackMocks
from tests.bootstrap.plans import (
    BOOTSTRAP,
    DEV_GROUP,
    PROD_GROUP,
    REPO,
    ROOT,
    SUB,
    Plan,
    assignments_of,
    ci_config,
    environment,
    graph_grants_of,
    key,
    of_type,
    plan_ci,
    plan_with,
    raw_ci,
    role_and_scope,
)
from tests.fixture_stacks import BOOTSTRAP as FIXTURE_BOOTSTRAP
from tests.fixture_stacks import config_file_args, stack_document

OTHER_SUB = "0a1b2c3d-4e5f-4a6b-8c7d-9e0f1a2b3c4d"
GRAPH_NEEDED = {
    GRAPH_APP_ROLE_IDS[name]
    for name in ("Application.ReadWrite.OwnedBy", "AppRoleAssignment.ReadWrite.All")
} | {GRAPH_APP_ROLE_IDS["Application.Read.All"]}


@pytest.fixture(autouse=True)
def _keep_sys_path(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    # The bootstrap entry point puts its repository on sys.path; undo that after each test.
    monkeypatch.setattr(sys, "path", list(sys.path))
    yield


@pytest.fixture(scope="module")
def ci_plan() -> Plan:
    return plan_ci()


# --- federated credentials -----------------------------------------------------------------


def test_each_environment_and_pull_requests_get_exactly_one_subject_each(ci_plan: Plan) -> None:
    subjects = {
        r["parent"].rsplit("::", 1)[-1]: r["inputs"]["subject"]
        for r in of_type(ci_plan, ":ApplicationFederatedIdentityCredential")
    }
    assert subjects == {
        "deploy-dev": f"repo:{REPO}:environment:dev",
        "deploy-prod": f"repo:{REPO}:environment:prod",
        "preview": f"repo:{REPO}:pull_request",
    }


def test_every_federated_credential_trusts_only_github_for_token_exchange(ci_plan: Plan) -> None:
    credentials = of_type(ci_plan, ":ApplicationFederatedIdentityCredential")
    assert len(credentials) == 3
    for credential in credentials:
        assert credential["inputs"]["issuer"] == GITHUB_ISSUER
        assert credential["inputs"]["audiences"] == [TOKEN_EXCHANGE_AUDIENCE]
        assert "*" not in credential["inputs"]["subject"]


def test_each_credential_belongs_to_its_own_registration(ci_plan: Plan) -> None:
    registrations = of_type(ci_plan, ":ApplicationRegistration")
    assert len(registrations) == 3
    owners = {r["inputs"]["applicationId"] for r in of_type(ci_plan, "IdentityCredential")}
    assert owners == {f"/applications/{r['outputs']['objectId']}" for r in registrations}


def test_each_environment_credential_says_whether_its_environment_is_protected(
    tmp_path: Path,
) -> None:
    def edit(config: dict[str, Any]) -> None:
        environment(config, "dev").update(protected=False, graphPermissions=[])

    plan = plan_with(tmp_path, edit, "devopen")
    described = {
        r["name"]: r["inputs"]["description"]
        for r in of_type(plan, ":ApplicationFederatedIdentityCredential")
    }
    assert described["deploy-prod-github"].endswith(f"{ENVIRONMENT_PROTECTED}.")
    assert described["deploy-dev-github"].endswith(f"{ENVIRONMENT_UNPROTECTED}.")
    assert ENVIRONMENT_PROTECTED not in described["deploy-dev-github"]
    assert "protection" not in described["preview-github"]


def test_the_environment_list_decides_which_subjects_exist(tmp_path: Path) -> None:
    def edit(config: dict[str, Any]) -> None:
        config[key("environments")] = [
            {"name": "staging", "resourceGroup": f"/subscriptions/{SUB}/resourceGroups/rg-st"}
        ]

    plan = plan_with(tmp_path, edit, "stagingonly")
    subjects = sorted(
        r["inputs"]["subject"] for r in of_type(plan, ":ApplicationFederatedIdentityCredential")
    )
    assert subjects == [f"repo:{REPO}:environment:staging", f"repo:{REPO}:pull_request"]


# --- no secrets -----------------------------------------------------------------------------


def test_no_identity_has_a_password_or_certificate(ci_plan: Plan) -> None:
    types = {r["type"] for r in ci_plan["resources"]}
    for forbidden in ("Password", "Certificate", "azuread:index/application:Application"):
        assert not [t for t in types if forbidden in t], forbidden
    assert ci_plan["masked"] == []


def test_registrations_are_single_tenant_and_principals_require_assignment(ci_plan: Plan) -> None:
    for registration in of_type(ci_plan, ":ApplicationRegistration"):
        assert registration["inputs"]["signInAudience"] == "AzureADMyOrg"
    for principal in of_type(ci_plan, ":ServicePrincipal"):
        assert principal["inputs"]["appRoleAssignmentRequired"] is True


# --- resource groups ------------------------------------------------------------------------


def test_the_bootstrap_creates_each_environments_group_in_its_subscription(ci_plan: Plan) -> None:
    groups = {r["name"]: r for r in of_type(ci_plan, ":ResourceGroup")}
    assert sorted(groups) == ["rg-dev", "rg-prod"]
    assert groups["rg-dev"]["inputs"]["resourceGroupName"] == "rg-contoso-dev"
    assert groups["rg-prod"]["inputs"]["resourceGroupName"] == "rg-contoso-prod"
    [provider] = of_type(ci_plan, "pulumi:providers:azure-native")
    assert provider["inputs"]["subscriptionId"] == SUB
    for group in groups.values():
        assert group["inputs"]["location"] == "westeurope"


def test_groups_in_two_subscriptions_get_one_provider_each(tmp_path: Path) -> None:
    def edit(config: dict[str, Any]) -> None:
        environment(config, "prod")["resourceGroup"] = (
            f"/subscriptions/{OTHER_SUB}/resourceGroups/rg-contoso-prod"
        )

    plan = plan_with(tmp_path, edit, "twosubs")
    providers = of_type(plan, "pulumi:providers:azure-native")
    assert sorted(p["inputs"]["subscriptionId"] for p in providers) == sorted([SUB, OTHER_SUB])
    prod = f"/subscriptions/{OTHER_SUB}/resourceGroups/rg-contoso-prod"
    assert {s for _, s in map(role_and_scope, assignments_of(plan, "deploy-prod"))} == {prod}
    commands = plan["outputs"]["githubCommands"]
    assert (
        f"gh variable set AZURE_SUBSCRIPTION_ID --repo {REPO} --env prod --body '{OTHER_SUB}'"
        in (commands)
    )


def test_role_assignments_wait_for_the_group_they_are_scoped_to(ci_plan: Plan) -> None:
    urn = {r["name"]: r["urn"] for r in of_type(ci_plan, ":ResourceGroup")}
    for env in ("dev", "prod"):
        for assignment in assignments_of(ci_plan, f"deploy-{env}"):
            assert urn[f"rg-{env}"] in assignment["dependencies"]
    for assignment in assignments_of(ci_plan, "preview"):
        assert urn["rg-dev"] in assignment["dependencies"]


# --- Azure roles ----------------------------------------------------------------------------


def test_each_deploying_identity_holds_contributor_and_rbac_admin_on_its_own_group(
    ci_plan: Plan,
) -> None:
    for env, scope in (("dev", DEV_GROUP), ("prod", PROD_GROUP)):
        roles = sorted(role_and_scope(a) for a in assignments_of(ci_plan, f"deploy-{env}"))
        assert roles == sorted([(CONTRIBUTOR, scope), (RBAC_ADMINISTRATOR, scope)])


def test_rbac_admin_may_only_assign_key_vault_secrets_user_to_service_principals(
    ci_plan: Plan,
) -> None:
    admins = [
        a for a in of_type(ci_plan, ":RoleAssignment") if role_and_scope(a)[0] == RBAC_ADMINISTRATOR
    ]
    assert len(admins) == 2
    for admin in admins:
        condition = admin["inputs"]["condition"]
        assert admin["inputs"]["conditionVersion"] == "2.0"
        guids = re.findall(r"GuidEquals \{([0-9a-f-]+)\}", condition)
        assert guids == [KEY_VAULT_SECRETS_USER, KEY_VAULT_SECRETS_USER]
        assert "!(ActionMatches{'Microsoft.Authorization/roleAssignments/write'})" in condition
        assert "!(ActionMatches{'Microsoft.Authorization/roleAssignments/delete'})" in condition
        assert condition.count("StringEqualsIgnoreCase {'ServicePrincipal'}") == 2
    for other in of_type(ci_plan, ":RoleAssignment"):
        if other not in admins:
            assert "condition" not in other["inputs"]


def test_the_preview_identity_holds_reader_on_previewed_groups_and_nothing_else(
    ci_plan: Plan,
) -> None:
    assert of_type(ci_plan, ":RoleDefinition") == []
    roles = sorted(role_and_scope(a) for a in assignments_of(ci_plan, "preview"))
    assert roles == [(READER, DEV_GROUP)]  # prod is not previewed by pull requests
    # The program reads each Web App's service principal from Graph, at preview too.
    [graph] = graph_grants_of(ci_plan, "preview")
    assert graph["inputs"]["appRoleId"] == GRAPH_APP_ROLE_IDS["Application.Read.All"]


def test_without_previewed_stacks_the_preview_identity_holds_nothing(tmp_path: Path) -> None:
    def edit(config: dict[str, Any]) -> None:
        environment(config, "dev")["preview"] = False

    plan = plan_with(tmp_path, edit, "nopreview")
    assert assignments_of(plan, "preview") == []
    assert graph_grants_of(plan, "preview") == []
    assert plan["outputs"]["githubVariables"]["repository"]["PREVIEW_STACKS"] == "[]"


def test_previewing_prod_too_adds_reader_on_its_group_only(tmp_path: Path) -> None:
    def edit(config: dict[str, Any]) -> None:
        environment(config, "prod")["preview"] = True

    plan = plan_with(tmp_path, edit, "bothpreviewed")
    roles = sorted(role_and_scope(a) for a in assignments_of(plan, "preview"))
    assert roles == sorted([(READER, DEV_GROUP), (READER, PROD_GROUP)])
    variables = plan["outputs"]["githubVariables"]["repository"]
    assert json.loads(variables["PREVIEW_STACKS"]) == ["dev", "prod"]


def test_role_assignments_have_stable_uuid5_names_and_literal_role_ids(ci_plan: Plan) -> None:
    again = plan_ci()
    names = [r["inputs"]["roleAssignmentName"] for r in of_type(ci_plan, ":RoleAssignment")]
    assert names == [r["inputs"]["roleAssignmentName"] for r in of_type(again, ":RoleAssignment")]
    assert len(set(names)) == len(names) == 5
    assert all(uuid.UUID(name).version == 5 for name in names)
    for assignment in of_type(ci_plan, ":RoleAssignment"):
        assert assignment["inputs"]["principalType"] == "ServicePrincipal"
        assert assignment["inputs"]["roleDefinitionId"].startswith(
            f"/subscriptions/{SUB}/providers/Microsoft.Authorization/roleDefinitions/"
        )


# --- Microsoft Graph ------------------------------------------------------------------------


def test_each_deploying_identity_gets_the_graph_permissions_its_environment_lists(
    ci_plan: Plan,
) -> None:
    grants = of_type(ci_plan, ":AppRoleAssignment")
    for env in ("dev", "prod"):
        mine = graph_grants_of(ci_plan, f"deploy-{env}")
        assert {g["inputs"]["appRoleId"] for g in mine} == GRAPH_NEEDED
    assert len(grants) == 7  # and Application.Read.All for the preview identity
    assert len({g["inputs"]["resourceObjectId"] for g in grants}) == 1
    assert GRAPH_APP_ROLE_IDS["Application.ReadWrite.All"] not in {
        g["inputs"]["appRoleId"] for g in grants
    }


def test_an_environment_without_graph_permissions_gets_none(tmp_path: Path) -> None:
    def edit(config: dict[str, Any]) -> None:
        environment(config, "dev").update(protected=False, graphPermissions=[])

    plan = plan_with(tmp_path, edit, "devnograph")
    assert graph_grants_of(plan, "deploy-dev") == []
    assert len(graph_grants_of(plan, "deploy-prod")) == 3


def test_an_unprotected_environment_may_hold_graph_permissions_that_grant_nothing(
    tmp_path: Path,
) -> None:
    def edit(config: dict[str, Any]) -> None:
        environment(config, "dev").update(
            protected=False, graphPermissions=["Application.ReadWrite.OwnedBy"]
        )

    plan = plan_with(tmp_path, edit, "devownedby")
    [grant] = graph_grants_of(plan, "deploy-dev")
    assert grant["inputs"]["appRoleId"] == GRAPH_APP_ROLE_IDS["Application.ReadWrite.OwnedBy"]
    report = run_check(plan, {})
    assert not report.mandatory_failed, [f.message for f in report.findings]


# --- outputs --------------------------------------------------------------------------------


def test_outputs_name_the_exact_github_variables_to_set(ci_plan: Plan) -> None:
    outputs = ci_plan["outputs"]
    client = {
        r["name"].removesuffix("-app"): r["outputs"]["clientId"]
        for r in of_type(ci_plan, ":ApplicationRegistration")
    }
    assert outputs["githubVariables"] == {
        "repository": {
            "AZURE_TENANT_ID": outputs["tenantId"],
            "AZURE_CLIENT_ID": client["preview"],
            "AZURE_SUBSCRIPTION_ID": SUB,
            "PREVIEW_STACKS": '["dev"]',
        },
        "environments": {
            env: {"AZURE_CLIENT_ID": client[f"deploy-{env}"], "AZURE_SUBSCRIPTION_ID": SUB}
            for env in ("dev", "prod")
        },
    }
    assert outputs["deployClientIds"] == {
        "dev": client["deploy-dev"],
        "prod": client["deploy-prod"],
    }
    assert outputs["previewClientId"] == client["preview"]
    assert (
        f"gh variable set AZURE_CLIENT_ID --repo {REPO} --env prod --body '{client['deploy-prod']}'"
        in outputs["githubCommands"]
    )
    assert (
        f"gh variable set PREVIEW_STACKS --repo {REPO} --body '[\"dev\"]'"
        in (outputs["githubCommands"])
    )
    assert len(outputs["githubCommands"]) == 8


def test_outputs_say_per_environment_what_the_config_declared(ci_plan: Plan) -> None:
    environments = ci_plan["outputs"]["environments"]
    assert environments["dev"] == {
        "resourceGroup": DEV_GROUP,
        "protected": True,
        "preview": True,
        "graphPermissions": [
            "Application.ReadWrite.OwnedBy",
            "AppRoleAssignment.ReadWrite.All",
            "Application.Read.All",
        ],
    }
    assert environments["prod"]["preview"] is False


def test_the_fixture_stacks_use_the_groups_the_fixture_bootstrap_creates_as_they_are() -> None:
    # The suite's own stacks (tests/fixtures), never the user's: theirs are judged by
    # `make check-stacks`. Each environment's group, created by the bootstrap, is the one the
    # stack of that name uses as it is (existing: true), as Pulumi.ci.yaml's comment asks.
    groups = {e["name"]: e["resourceGroup"] for e in ci_config()[key("environments")]}
    assert groups == {"dev": DEV_GROUP, "prod": PROD_GROUP}
    for env, group in groups.items():
        stack = stack_document(env)["config"]
        assert stack["secure-api-calls:resourceGroup"] == {
            "name": group.rsplit("/", 1)[-1],
            "existing": True,
        }


# --- policy pack, command line, project files -----------------------------------------------


@pytest.mark.parametrize("pack_config", ["config.dev.json", "config.prod.json"])
def test_the_bootstrap_plan_passes_every_policy_rule(ci_plan: Plan, pack_config: str) -> None:
    report = run_check(ci_plan, load_pack_config(ROOT / "policies" / pack_config))
    assert not report.mandatory_failed
    assert report.findings == ()


def test_the_documented_check_command_passes_the_sample_bootstrap_stack() -> None:
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "sandbox",
            "check",
            *config_file_args("ci", FIXTURE_BOOTSTRAP),
            "--project-dir",
            "bootstrap",
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "passed: 0 mandatory" in result.stdout


def test_the_documented_offline_plan_command_works(tmp_path: Path) -> None:
    out = tmp_path / "ci.json"
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "sandbox",
            "plan",
            "--project-dir",
            "bootstrap",
            *config_file_args("ci", FIXTURE_BOOTSTRAP),
            "--out",
            str(out),
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert len(json.loads(out.read_text())["resources"]) == 27


def test_the_bootstrap_pins_the_same_sdk_versions_as_the_stack() -> None:
    def pins(path: Path) -> list[str]:
        lines = path.read_text().splitlines()
        return sorted(line for line in lines if line and not line.startswith("#"))

    # Every SDK the bootstrap pins, at the stack's version (the stack may need more, e.g.
    # pulumi-random for its subscription keys, which the bootstrap does not use).
    assert set(pins(BOOTSTRAP / "requirements.txt")) <= set(pins(ROOT / "requirements.txt"))


def test_the_bootstrap_entry_point_stays_thin() -> None:
    source = (BOOTSTRAP / "__main__.py").read_text(encoding="utf-8")
    assert len(source.splitlines()) <= 40
    assert "os.environ" not in source


def test_the_bootstrap_program_imports_only_the_sdks_pydantic_and_itself() -> None:
    import ast

    allowed = {"pulumi", "pulumi_azure_native", "pulumi_azuread", "pydantic", "bootstrap"}
    for path in sorted(BOOTSTRAP.glob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            names = (
                [alias.name for alias in node.names]
                if isinstance(node, ast.Import)
                else [node.module]
                if isinstance(node, ast.ImportFrom) and node.level == 0 and node.module
                else []
            )
            for name in names:
                root = name.split(".")[0]
                assert root in allowed or root in sys.stdlib_module_names, f"{path.name}: {name}"


class _OptionsMonitor(MockMonitor):
    """Keeps the resource options the engine receives, which a Plan does not record."""

    def __init__(self) -> None:
        super().__init__(StackMocks("ci"))
        self.requests: dict[str, Any] = {}

    def RegisterResource(self, request: Any) -> Any:  # the gRPC method name
        self.requests[request.name] = request
        return super().RegisterResource(request)  # type: ignore[no-untyped-call]


def test_the_groups_are_protected_and_made_by_their_subscriptions_provider() -> None:
    asyncio.set_event_loop(asyncio.new_event_loop())  # an earlier asyncio.run() clears it
    monitor = _OptionsMonitor()
    pulumi.runtime.set_mocks(monitor.mocks, project="p", stack="ci", preview=False, monitor=monitor)

    @pulumi.runtime.test
    def register() -> None:
        _resource_groups(parse_config(raw_ci()))

    register()
    for env in ("dev", "prod"):
        request = monitor.requests[f"rg-{env}"]
        assert request.protect is True  # deleting the bootstrap stack must not delete a stack
        assert f"subscription-{SUB}" in request.provider


def test_the_preview_workflow_previews_what_the_bootstrap_says_with_the_preview_token(
    ci_plan: Plan,
) -> None:
    import yaml

    workflow = yaml.safe_load((ROOT / ".github" / "workflows" / "preview.yml").read_text())
    job = workflow["jobs"]["preview"]
    assert "vars.PREVIEW_STACKS" in job["strategy"]["matrix"]["stack"]
    assert "PREVIEW_STACKS" in ci_plan["outputs"]["githubVariables"]["repository"]
    assert "environment" not in job  # the subject must stay repo:ORG/REPO:pull_request
    [step] = [s for s in job["steps"] if s.get("name") == "pulumi preview"]
    assert step["env"]["PULUMI_ACCESS_TOKEN"] == "${{ secrets.PULUMI_PREVIEW_ACCESS_TOKEN }}"
    assert step["with"]["command"] == "preview"
    assert "refresh" not in step["with"]  # a refresh would read app settings (not in Reader)
