"""Rules 44-46 over the bootstrap plan: every insecure variant of it fails `check`."""

from __future__ import annotations

import copy
import sys
from collections.abc import Iterator
from typing import Any

import pytest

from bootstrap import ci_identity
from policies.secure_api_policies import pipeline
from sandbox.check.runner import run_check
from sandbox.program.mocks import GRAPH_APP_ROLE_IDS
from tests.bootstrap.plans import (
    REPO,
    SUB,
    Plan,
    add_resource,
    named,
    plan_ci,
    principal_of,
    set_prop,
)

PREVIEW_RULE = "pipeline-preview-identity-read-only"
GRANTING_RULE = "pipeline-permission-granting-only-protected"
SUBJECT_RULE = "pipeline-federated-subject-exact"
CONTRIBUTOR = "b24988ac-6180-42a0-ab88-20f7382dd24c"
TIER_ZERO = GRAPH_APP_ROLE_IDS["AppRoleAssignment.ReadWrite.All"]


@pytest.fixture(autouse=True)
def _keep_sys_path(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.setattr(sys, "path", list(sys.path))
    yield


@pytest.fixture(scope="module")
def sample() -> Plan:
    return plan_ci()


@pytest.fixture
def plan(sample: Plan) -> Plan:
    return copy.deepcopy(sample)


def failed(plan: Plan) -> dict[str, list[str]]:
    """Mandatory findings by rule name."""
    found: dict[str, list[str]] = {}
    for finding in run_check(plan, {}).findings:
        if finding.level == "mandatory":
            found.setdefault(finding.rule, []).append(finding.message)
    return found


def role_definition_id(guid: str) -> str:
    return f"/subscriptions/{SUB}/providers/Microsoft.Authorization/roleDefinitions/{guid}"


def give_preview_role(plan: Plan, guid: str, name: str = "preview-extra") -> None:
    add_resource(
        plan,
        "preview-reader-dev",
        name,
        roleDefinitionId=role_definition_id(guid),
        roleAssignmentName=f"{guid[:8]}-0000-5000-8000-000000000000",
    )


def custom_role(plan: Plan, actions: list[str], data: list[str] | None = None) -> str:
    guid = "11111111-2222-5333-8444-555555555555"
    template = named(plan, "rg-dev")
    role = copy.deepcopy(template)
    role.update(
        type="azure-native:authorization:RoleDefinition",
        name="preview-custom-role",
        urn=template["urn"].replace(
            "resources:ResourceGroup::rg-dev", "authorization:RoleDefinition::preview-custom-role"
        ),
    )
    props = {
        "roleDefinitionId": guid,
        "roleName": "custom",
        "permissions": [{"actions": actions, "dataActions": data or []}],
    }
    role["inputs"] = dict(props)
    role["outputs"] = {**props, "name": guid}
    plan["resources"].append(role)
    return guid


def graph_grant(plan: Plan, identity: str, app_role: str, name: str) -> dict[str, Any]:
    grant = add_resource(
        plan,
        "deploy-prod-graph-application-read-all",
        name,
        appRoleId=app_role,
        principalObjectId=principal_of(plan, identity),
    )
    return grant


# --- the sample and the main stacks pass ---------------------------------------------------


def test_the_sample_bootstrap_plan_passes_the_pipeline_rules(plan: Plan) -> None:
    assert failed(plan) == {}


@pytest.mark.parametrize("stack", ["dev", "prod"])
def test_the_main_stacks_have_nothing_for_the_pipeline_rules_to_report(
    stack: str, request: pytest.FixtureRequest
) -> None:
    main_plan = request.getfixturevalue(f"{stack}_plan")
    rules = {f.rule for f in run_check(main_plan, {}).findings}
    assert not rules & {PREVIEW_RULE, GRANTING_RULE, SUBJECT_RULE}


# --- rule 44: the preview identity only reads --------------------------------------------


def test_a_preview_identity_with_a_list_secrets_role_fails(plan: Plan) -> None:
    guid = custom_role(plan, ["Microsoft.ApiManagement/service/subscriptions/listSecrets/action"])
    give_preview_role(plan, guid)
    [message] = failed(plan)[PREVIEW_RULE]
    assert "listSecrets/action" in message and "return secrets" in message


@pytest.mark.parametrize(
    ("actions", "data"),
    [
        (["Microsoft.Storage/storageAccounts/listKeys/action"], []),
        (["Microsoft.Web/sites/config/list/action"], []),
        (["*"], []),
        (["*/read"], ["Microsoft.KeyVault/vaults/secrets/getSecret/action"]),
    ],
)
def test_a_preview_identity_with_any_secret_reading_action_fails(
    plan: Plan, actions: list[str], data: list[str]
) -> None:
    give_preview_role(plan, custom_role(plan, actions, data))
    assert "return secrets" in failed(plan)[PREVIEW_RULE][0]


def test_a_preview_identity_with_data_actions_beyond_reader_fails(plan: Plan) -> None:
    data = ["Microsoft.Storage/storageAccounts/blobServices/containers/blobs/read"]
    give_preview_role(plan, custom_role(plan, ["*/read"], data))
    assert "blobs/read" in failed(plan)[PREVIEW_RULE][0]


def test_a_preview_identity_may_hold_a_narrower_read_only_custom_role(plan: Plan) -> None:
    give_preview_role(plan, custom_role(plan, ["Microsoft.Web/sites/read", "*/read"]))
    assert PREVIEW_RULE not in failed(plan)


def test_a_preview_identity_with_a_built_in_role_beyond_reader_fails(plan: Plan) -> None:
    give_preview_role(plan, CONTRIBUTOR)
    [message] = failed(plan)[PREVIEW_RULE]
    assert "Contributor, more than Reader" in message


def test_a_preview_identity_with_a_graph_write_permission_fails(plan: Plan) -> None:
    graph_grant(plan, "preview", GRAPH_APP_ROLE_IDS["Application.ReadWrite.OwnedBy"], "pr-owned")
    assert "which pull requests can use" in failed(plan)[PREVIEW_RULE][0]


def test_a_preview_identity_may_read_applications_in_graph(plan: Plan) -> None:
    graph_grant(plan, "preview", GRAPH_APP_ROLE_IDS["Application.Read.All"], "pr-read")
    assert failed(plan) == {}


# --- rule 45: permission-granting permissions behind protection -----------------------------


def test_tier_zero_for_an_environment_not_declared_protected_fails(plan: Plan) -> None:
    credential = named(plan, "deploy-dev-github")
    set_prop(
        credential,
        "description",
        f"GitHub Actions OIDC: repo:{REPO}:environment:dev. {ci_identity.ENVIRONMENT_UNPROTECTED}.",
    )
    [message] = failed(plan)[GRANTING_RULE]
    assert "AppRoleAssignment.ReadWrite.All" in message
    assert "environment 'dev', not declared protected" in message


def test_tier_zero_for_the_preview_identity_fails_both_rules(plan: Plan) -> None:
    graph_grant(plan, "preview", TIER_ZERO, "pr-tier0")
    found = failed(plan)
    assert "pull_request, not a GitHub environment" in found[GRANTING_RULE][0]
    assert PREVIEW_RULE in found


@pytest.mark.parametrize(
    "permission",
    [
        "Application.ReadWrite.All",
        "RoleManagement.ReadWrite.Directory",
        "Directory.ReadWrite.All",
        "DelegatedPermissionGrant.ReadWrite.All",
    ],
)
def test_every_permission_granting_graph_permission_is_held_to_the_rule(
    plan: Plan, permission: str
) -> None:
    [role_id] = [i for i, n in pipeline.PERMISSION_GRANTING.items() if n == permission]
    set_prop(named(plan, "deploy-dev-github"), "description", "GitHub Actions OIDC.")
    graph_grant(plan, "deploy-dev", role_id, "dev-extra")
    messages = failed(plan)[GRANTING_RULE]
    assert any(permission in m for m in messages)


def test_tier_zero_for_a_principal_this_stack_does_not_define_fails(plan: Plan) -> None:
    grant = graph_grant(plan, "deploy-dev", TIER_ZERO, "outsider")
    set_prop(grant, "principalObjectId", "99999999-9999-4999-8999-999999999999")
    [message] = failed(plan)[GRANTING_RULE]
    assert "not a CI identity of this stack" in message


def test_a_second_pull_request_credential_on_a_deployer_fails(plan: Plan) -> None:
    add_resource(plan, "deploy-prod-github", "deploy-prod-pr", subject=f"repo:{REPO}:pull_request")
    found = failed(plan)
    assert any("Contributor" in m for m in found[PREVIEW_RULE])
    assert any("pull_request, not a GitHub environment" in m for m in found[GRANTING_RULE])


def test_a_pull_request_subject_on_a_deployer_fails(plan: Plan) -> None:
    set_prop(named(plan, "deploy-prod-github"), "subject", f"repo:{REPO}:pull_request")
    found = failed(plan)
    assert PREVIEW_RULE in found and GRANTING_RULE in found


def test_links_are_followed_by_dependency_when_ids_are_unknown_at_preview(plan: Plan) -> None:
    # A first `pulumi preview`: no object ID exists yet, only the engine's dependencies.
    for resource in plan["resources"]:
        for prop in ("objectId", "clientId", "principalObjectId", "principalId", "applicationId"):
            if prop in resource.get("outputs", {}):
                set_prop(resource, prop, "<unknown>")
    assert failed(plan) == {}
    set_prop(named(plan, "deploy-dev-github"), "description", "GitHub Actions OIDC.")
    assert GRANTING_RULE in failed(plan)


# --- rule 46: exact subjects (and rule 35: issuer, audience) ------------------------------


def test_a_wildcard_subject_fails(plan: Plan) -> None:
    set_prop(named(plan, "deploy-dev-github"), "subject", f"repo:{REPO}:environment:*")
    found = failed(plan)
    assert SUBJECT_RULE in found
    assert "entra-federated-credential-scoped" in found
    assert GRANTING_RULE in found  # `*` names no environment, so tier-0 is not behind one


def test_a_flexible_credential_that_matches_by_expression_fails(plan: Plan) -> None:
    flexible = add_resource(plan, "deploy-prod-github", "deploy-prod-any-branch")
    flexible["type"] = pipeline.FLEXIBLE_CREDENTIAL
    flexible["urn"] = flexible["urn"].replace(
        "applicationFederatedIdentityCredential:ApplicationFederatedIdentityCredential",
        "applicationFlexibleFederatedIdentityCredential:ApplicationFlexibleFederatedIdentityCredential",
    )
    for side in ("inputs", "outputs"):
        flexible[side].pop("subject")
        flexible[side]["claimsMatchingExpression"] = {"value": "claims['sub'] matches 'repo:*'"}
    found = failed(plan)
    assert "matches subjects by expression" in found[SUBJECT_RULE][0]
    assert "has no exact subject" in found[GRANTING_RULE][0]


@pytest.mark.parametrize(
    ("prop", "value"),
    [("issuer", "https://evil.example"), ("audiences", ["api://AzureADTokenExchange", "x"])],
)
def test_a_foreign_issuer_or_audience_fails(plan: Plan, prop: str, value: Any) -> None:
    set_prop(named(plan, "preview-github"), prop, value)
    assert "entra-federated-credential-scoped" in failed(plan)


@pytest.mark.parametrize(
    "subject",
    [
        f"repo:{REPO}:environment:prod",
        f"repo:{REPO}:pull_request",
        f"repo:{REPO}:ref:refs/heads/main",
        f"repo:{REPO}:ref:refs/tags/v1.2.0",
    ],
)
def test_githubs_exact_default_subjects_pass(subject: str) -> None:
    assert pipeline.federated_subject_exact({"subject": subject}, "c") == []


@pytest.mark.parametrize(
    "subject",
    [
        f"repo:{REPO}:environment:",
        f"repo:{REPO}:environment:prod*",
        "repo:contoso/*:pull_request",
        f"repo:{REPO}",
        f"{REPO}:pull_request",
        f"repo:{REPO}:pull_request:extra",
        f"repo:{REPO}:environment:prod ",
        None,
    ],
)
def test_anything_else_is_not_an_exact_subject(subject: str | None) -> None:
    assert (
        "name one exact GitHub subject"
        in pipeline.federated_subject_exact({"subject": subject}, "c")[0]
    )


# --- one source of truth -------------------------------------------------------------------


def test_the_pack_reads_the_protection_mark_the_bootstrap_writes() -> None:
    assert pipeline.ENVIRONMENT_PROTECTED == ci_identity.ENVIRONMENT_PROTECTED
    assert pipeline.ENVIRONMENT_PROTECTED not in ci_identity.ENVIRONMENT_UNPROTECTED


def test_the_packs_graph_ids_agree_with_the_ids_the_offline_tenant_publishes() -> None:
    by_name = {**pipeline.PERMISSION_GRANTING, **pipeline.READ_ONLY_GRAPH}
    names = {name: role_id for role_id, name in by_name.items()}
    for name, role_id in GRAPH_APP_ROLE_IDS.items():
        assert names.get(name, role_id) == role_id, name
    assert ci_identity.READER == pipeline.READER
