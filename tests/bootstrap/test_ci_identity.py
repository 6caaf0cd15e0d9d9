"""The bootstrap program run offline: exact GitHub subjects, scoped roles, no secret."""

from __future__ import annotations

import copy
import json
import re
import shutil
import subprocess
import sys
import uuid
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from typing import Any

import pytest
import yaml

from bootstrap.ci_identity import (
    CONTRIBUTOR,
    GITHUB_ISSUER,
    KEY_VAULT_SECRETS_USER,
    RBAC_ADMINISTRATOR,
    READER,
    TOKEN_EXCHANGE_AUDIENCE,
    CiIdentityArgs,
    RoleGrant,
)
from bootstrap.config import PROJECT, ConfigError, parse_config
from bootstrap.stack import LIST_SUBSCRIPTION_SECRETS
from sandbox.check.runner import load_pack_config, run_check
from sandbox.errors import SandboxError
from sandbox.plan.model import build_plan
from sandbox.program.mocks import GRAPH_APP_ROLE_IDS
from sandbox.program.runner import run_program

ROOT = Path(__file__).resolve().parents[2]
BOOTSTRAP = ROOT / "bootstrap"
REPO = "contoso/secure-api-calls"
SUB = "7c1e4b2a-9d3f-4a6e-8b5c-2f0d1e3a4b5c"
DEV_SCOPE = f"/subscriptions/{SUB}/resourceGroups/rg-contoso-dev"
PROD_SCOPE = f"/subscriptions/{SUB}/resourceGroups/rg-contoso-prod"
SHARED_SCOPE = "/subscriptions/0a1b2c3d-4e5f-4a6b-8c7d-9e0f1a2b3c4d"

Plan = dict[str, Any]
Resource = Mapping[str, Any]


@pytest.fixture(autouse=True)
def _keep_sys_path(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    # The bootstrap entry point puts its repository on sys.path; undo that after each test.
    monkeypatch.setattr(sys, "path", list(sys.path))
    yield


def ci_config() -> dict[str, Any]:
    document = yaml.safe_load((BOOTSTRAP / "Pulumi.ci.yaml").read_text())
    config: dict[str, Any] = document["config"]
    return config


def plan_with(tmp_path: Path, edit: Callable[[dict[str, Any]], None], stack: str) -> Plan:
    """The bootstrap program planned offline with `Pulumi.ci.yaml` changed by `edit`."""
    shutil.copy(BOOTSTRAP / "__main__.py", tmp_path / "__main__.py")
    shutil.copy(BOOTSTRAP / "Pulumi.yaml", tmp_path / "Pulumi.yaml")
    config = copy.deepcopy(ci_config())
    edit(config)
    (tmp_path / f"Pulumi.{stack}.yaml").write_text(yaml.safe_dump({"config": config}))
    return build_plan(run_program(stack, tmp_path))


def key(name: str) -> str:
    return f"{PROJECT}:{name}"


@pytest.fixture(scope="module")
def ci_plan() -> Plan:
    return build_plan(run_program("ci", BOOTSTRAP))


def of_type(plan: Plan, suffix: str) -> list[Resource]:
    return [r for r in plan["resources"] if r["type"].endswith(suffix)]


def named(plan: Plan, name: str) -> Resource:
    matches: list[Resource] = [r for r in plan["resources"] if r["name"] == name]
    assert len(matches) == 1, name
    return matches[0]


def principal_of(plan: Plan, identity: str) -> str:
    object_id: str = named(plan, f"{identity}-sp")["outputs"]["objectId"]
    return object_id


def assignments_of(plan: Plan, identity: str) -> list[Resource]:
    principal = principal_of(plan, identity)
    return [r for r in of_type(plan, ":RoleAssignment") if r["inputs"]["principalId"] == principal]


def role_and_scope(assignment: Resource) -> tuple[str, str]:
    role = assignment["inputs"]["roleDefinitionId"].rsplit("/", 1)[-1]
    return role, assignment["inputs"]["scope"]


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


def test_the_environment_list_decides_which_subjects_exist(tmp_path: Path) -> None:
    def edit(config: dict[str, Any]) -> None:
        config[key("environments")] = ["staging"]
        config[key("scope")] = SHARED_SCOPE

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


# --- Azure roles ----------------------------------------------------------------------------


def test_each_deploying_identity_holds_contributor_and_rbac_admin_on_its_own_scope(
    ci_plan: Plan,
) -> None:
    for env, scope in (("dev", DEV_SCOPE), ("prod", PROD_SCOPE)):
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


def test_the_preview_identity_can_read_and_list_keys_but_never_write(ci_plan: Plan) -> None:
    key_reader = named(ci_plan, "preview-subscription-key-reader")
    custom = key_reader["inputs"]["roleDefinitionId"]
    roles = sorted(role_and_scope(a) for a in assignments_of(ci_plan, "preview"))
    assert roles == sorted(
        [(READER, DEV_SCOPE), (READER, PROD_SCOPE), (custom, DEV_SCOPE), (custom, PROD_SCOPE)]
    )
    assert key_reader["inputs"]["permissions"] == [{"actions": [LIST_SUBSCRIPTION_SECRETS]}]
    assert key_reader["inputs"]["assignableScopes"] == [DEV_SCOPE, PROD_SCOPE]


def test_without_key_listing_the_preview_identity_is_reader_only(tmp_path: Path) -> None:
    def edit(config: dict[str, Any]) -> None:
        config[key("previewReadsSubscriptionKeys")] = False

    plan = plan_with(tmp_path, edit, "readeronly")
    assert of_type(plan, ":RoleDefinition") == []
    roles = sorted(role_and_scope(a) for a in assignments_of(plan, "preview"))
    assert roles == sorted([(READER, DEV_SCOPE), (READER, PROD_SCOPE)])


def test_a_shared_scope_is_granted_once_to_the_preview_identity(tmp_path: Path) -> None:
    def edit(config: dict[str, Any]) -> None:
        config[key("scope")] = SHARED_SCOPE

    plan = plan_with(tmp_path, edit, "shared")
    scopes = [role_and_scope(a) for a in assignments_of(plan, "preview")]
    assert sorted(role for role, _ in scopes).count(READER) == 1
    assert {scope for _, scope in scopes} == {SHARED_SCOPE}
    for env in ("dev", "prod"):
        assert {s for _, s in map(role_and_scope, assignments_of(plan, f"deploy-{env}"))} == {
            SHARED_SCOPE
        }


def test_role_assignments_have_stable_uuid5_names_and_literal_role_ids(ci_plan: Plan) -> None:
    again = build_plan(run_program("ci", BOOTSTRAP))
    names = [r["inputs"]["roleAssignmentName"] for r in of_type(ci_plan, ":RoleAssignment")]
    assert names == [r["inputs"]["roleAssignmentName"] for r in of_type(again, ":RoleAssignment")]
    assert len(set(names)) == len(names) == 8
    assert all(uuid.UUID(name).version == 5 for name in names)
    for assignment in of_type(ci_plan, ":RoleAssignment"):
        assert assignment["inputs"]["principalType"] == "ServicePrincipal"
        assert assignment["inputs"]["roleDefinitionId"].startswith(
            f"/subscriptions/{SUB}/providers/Microsoft.Authorization/roleDefinitions/"
        )


# --- Microsoft Graph ------------------------------------------------------------------------


def test_graph_permissions_go_to_each_deploying_identity_when_enabled(ci_plan: Plan) -> None:
    grants = of_type(ci_plan, ":AppRoleAssignment")
    expected = {
        GRAPH_APP_ROLE_IDS["Application.ReadWrite.OwnedBy"],
        GRAPH_APP_ROLE_IDS["AppRoleAssignment.ReadWrite.All"],
    }
    for env in ("dev", "prod"):
        mine = [
            g
            for g in grants
            if g["inputs"]["principalObjectId"] == principal_of(ci_plan, f"deploy-{env}")
        ]
        assert {g["inputs"]["appRoleId"] for g in mine} == expected
    assert len(grants) == 4  # the preview identity gets none
    assert len({g["inputs"]["resourceObjectId"] for g in grants}) == 1
    assert GRAPH_APP_ROLE_IDS["Application.ReadWrite.All"] not in {
        g["inputs"]["appRoleId"] for g in grants
    }


def test_no_graph_permissions_when_disabled(tmp_path: Path) -> None:
    def edit(config: dict[str, Any]) -> None:
        config[key("grantGraphPermissions")] = False

    plan = plan_with(tmp_path, edit, "nograph")
    assert of_type(plan, ":AppRoleAssignment") == []
    assert len(of_type(plan, ":ApplicationFederatedIdentityCredential")) == 3


def test_graph_permissions_are_off_unless_asked_for(tmp_path: Path) -> None:
    def edit(config: dict[str, Any]) -> None:
        del config[key("grantGraphPermissions")]

    assert of_type(plan_with(tmp_path, edit, "default"), ":AppRoleAssignment") == []


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
        f"gh variable set AZURE_CLIENT_ID --repo {REPO} --env prod --body {client['deploy-prod']}"
        in outputs["githubCommands"]
    )
    assert len(outputs["githubCommands"]) == 7


# --- configuration errors -------------------------------------------------------------------


def raw_ci() -> dict[str, Any]:
    prefix = f"{PROJECT}:"
    return {k[len(prefix) :]: v for k, v in ci_config().items()}


BAD_CONFIGS: list[tuple[Callable[[dict[str, Any]], object], str]] = [
    (lambda c: c.update(githubRepo="x/y"), "githubRepo: unknown key"),
    (lambda c: c.pop("githubRepository"), "githubRepository: required key is missing"),
    (
        lambda c: c.update(githubRepository="contoso"),
        "githubRepository: 'contoso' is not OWNER/REPO",
    ),
    (lambda c: c.update(environments=[]), "environments:"),
    (lambda c: c.update(environments=["dev", "Prod"]), "environments[1]:"),
    (lambda c: c.update(environments=["dev", "dev"]), "environments[1]: 'dev' appears twice"),
    (
        lambda c: c.update(environments=["dev", "prod", "qa"]),
        "scope: no scope for environment 'qa'",
    ),
    (lambda c: c["scope"].update(qa=DEV_SCOPE), "scope.qa: 'qa' is not one of environments"),
    (
        lambda c: c["scope"].update(dev="/subscriptions/*"),
        "scope.dev: '/subscriptions/*' is not a scope",
    ),
    (lambda c: c.update(scope="rg-contoso-dev"), "scope: 'rg-contoso-dev' is not a scope"),
    (lambda c: c.update(scope=42), "scope: must be one scope, or a map of environment to scope"),
    (
        lambda c: c.update(grantGraphPermissions="yes"),
        "grantGraphPermissions: 'yes' is not a boolean",
    ),
]


@pytest.mark.parametrize(("mutate", "expected"), BAD_CONFIGS)
def test_bad_config_is_one_line_naming_the_key(
    mutate: Callable[[dict[str, Any]], object], expected: str
) -> None:
    raw = copy.deepcopy(raw_ci())
    mutate(raw)
    with pytest.raises(ConfigError) as caught:
        parse_config(raw)
    message = str(caught.value)
    assert "\n" not in message
    assert message.startswith(f"config {PROJECT}:{expected}"), message


def test_the_offline_plan_reports_a_bad_key_in_one_line(tmp_path: Path) -> None:
    def edit(config: dict[str, Any]) -> None:
        config[key("enviroments")] = ["dev"]

    with pytest.raises(SandboxError) as caught:
        plan_with(tmp_path, edit, "typo")
    assert str(caught.value) == (
        f"config {PROJECT}:enviroments: unknown key (check the spelling; "
        "see docs/first-deployment.md)"
    )


def test_an_identity_refuses_a_wildcard_subject() -> None:
    with pytest.raises(ValueError, match="exact"):
        CiIdentityArgs(display_name="x", subject="repo:contoso/*:environment:prod", grants=())
    with pytest.raises(ValueError, match="label"):
        CiIdentityArgs(
            display_name="x",
            subject="repo:a/b:pull_request",
            grants=(RoleGrant("r", READER, SHARED_SCOPE), RoleGrant("r", READER, DEV_SCOPE)),
        )


# --- policy pack, command line, project files -----------------------------------------------


@pytest.mark.parametrize("pack_config", ["config.dev.json", "config.prod.json"])
def test_the_bootstrap_plan_passes_every_policy_rule(ci_plan: Plan, pack_config: str) -> None:
    report = run_check(ci_plan, load_pack_config(ROOT / "policies" / pack_config))
    assert not report.mandatory_failed
    assert report.findings == ()


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
            "--stack",
            "ci",
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
    assert len(json.loads(out.read_text())["resources"]) == 25


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
