"""The bootstrap config refuses, in one line, what would let the pipeline escalate."""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from bootstrap.ci_identity import READER, CiIdentityArgs, RoleGrant
from bootstrap.config import PROJECT, ConfigError, parse_config
from sandbox.errors import SandboxError
from tests.bootstrap.plans import DEV_GROUP, PROD_GROUP, SUB, key, plan_with, raw_ci

Mutation = Callable[[dict[str, Any]], object]


@pytest.fixture(autouse=True)
def _keep_sys_path(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.setattr(sys, "path", list(sys.path))
    yield


def dev(config: dict[str, Any]) -> dict[str, Any]:
    entry: dict[str, Any] = config["environments"][0]
    return entry


def test_the_sample_config_parses() -> None:
    config = parse_config(raw_ci())
    assert [e.name for e in config.environments] == ["dev", "prod"]
    assert all(e.protected for e in config.environments)
    assert [e.name for e in config.previewed] == ["dev"]
    assert config.environments[1].resource_group_name == "rg-contoso-prod"
    assert config.environments[1].subscription_id == SUB


BAD_CONFIGS: list[tuple[Mutation, str]] = [
    (lambda c: c.update(githubRepo="x/y"), "githubRepo: unknown key"),
    (lambda c: c.pop("githubRepository"), "githubRepository: required key is missing"),
    (lambda c: c.pop("location"), "location: required key is missing"),
    (
        lambda c: c.update(githubRepository="contoso"),
        "githubRepository: 'contoso' is not OWNER/REPO",
    ),
    (lambda c: c.update(environments=[]), "environments:"),
    (lambda c: dev(c).update(name="Dev"), "environments[0].name:"),
    (lambda c: c["environments"][1].update(name="dev"), "environments[1].name: 'dev' appears"),
    (
        lambda c: c.update(environments=["dev", "prod"]),
        "environments[0]: 'dev' is not an environment; write {name: ...",
    ),
    (lambda c: dev(c).pop("resourceGroup"), "environments[0].resourceGroup: required key"),
    (
        lambda c: dev(c).update(resourceGroup=f"/subscriptions/{SUB}"),
        "environments[0].resourceGroup: '/subscriptions/7c1e",
    ),
    (
        lambda c: dev(c).update(resourceGroup="rg-contoso-dev"),
        "environments[0].resourceGroup: 'rg-contoso-dev' is not a resource group ID",
    ),
    (
        lambda c: c["environments"][1].update(
            resourceGroup=DEV_GROUP.replace("rg-contoso", "RG-Contoso")
        ),
        "environments[1].resourceGroup: 'prod' uses the resource group of 'dev'",
    ),
    (lambda c: dev(c).update(protected="yes"), "environments[0].protected: 'yes' is not a bool"),
    (lambda c: dev(c).update(reviewers=2), "environments[0].reviewers: unknown key"),
    (
        lambda c: dev(c).update(graphPermissions=["Application.ReadWrite.All"]),
        "environments[0].graphPermissions[0]: 'Application.ReadWrite.All' is not a permission",
    ),
    (
        lambda c: dev(c).update(graphPermissions=["Application.Read.All", "Application.Read.All"]),
        "environments[0].graphPermissions: 'Application.Read.All' is listed twice",
    ),
    (
        lambda c: dev(c).update(protected=False),
        "environments[0].graphPermissions: AppRoleAssignment.ReadWrite.All can grant any "
        "permission in the tenant, so only the deployer of a protected environment may hold "
        "it; give the GitHub environment 'dev' required reviewers",
    ),
    (
        lambda c: dev(c).update(graphPermissions=["AppRoleAssignment.ReadWrite.All"]),
        "environments[0].graphPermissions: AppRoleAssignment.ReadWrite.All needs "
        "Application.Read.All beside it",
    ),
    (
        lambda c: c.update(scope=DEV_GROUP),
        "scope: removed; each environment now names its own group",
    ),
    (lambda c: c.update(grantGraphPermissions=True), "grantGraphPermissions: removed;"),
    (
        lambda c: c.update(previewReadsSubscriptionKeys=True),
        "previewReadsSubscriptionKeys: removed; previews read no secret any more",
    ),
]


@pytest.mark.parametrize(("mutate", "expected"), BAD_CONFIGS)
def test_bad_config_is_one_line_naming_the_key(mutate: Mutation, expected: str) -> None:
    raw = raw_ci()
    mutate(raw)
    with pytest.raises(ConfigError) as caught:
        parse_config(raw)
    message = str(caught.value)
    assert "\n" not in message
    assert message.startswith(f"config {PROJECT}:{expected}"), message


def test_an_unprotected_environment_without_granting_permissions_is_accepted() -> None:
    raw = raw_ci()
    dev(raw).update(protected=False, graphPermissions=["Application.ReadWrite.OwnedBy"])
    assert parse_config(raw).environments[0].protected is False


def test_the_offline_plan_reports_a_bad_key_in_one_line(tmp_path: Path) -> None:
    def edit(config: dict[str, Any]) -> None:
        config[key("enviroments")] = []

    with pytest.raises(SandboxError) as caught:
        plan_with(tmp_path, edit, "typo")
    assert str(caught.value) == (
        f"config {PROJECT}:enviroments: unknown key (check the spelling; "
        "see docs/first-deployment.md)"
    )


def test_the_offline_plan_refuses_tier_zero_for_an_unprotected_environment(
    tmp_path: Path,
) -> None:
    def edit(config: dict[str, Any]) -> None:
        config[key("environments")][0]["protected"] = False

    with pytest.raises(SandboxError, match=r"environments\[0\]\.graphPermissions: AppRole"):
        plan_with(tmp_path, edit, "devopen")


def test_an_identity_refuses_a_wildcard_subject() -> None:
    with pytest.raises(ValueError, match="exact"):
        CiIdentityArgs(display_name="x", subject="repo:contoso/*:environment:prod", grants=())
    with pytest.raises(ValueError, match="label"):
        CiIdentityArgs(
            display_name="x",
            subject="repo:a/b:pull_request",
            grants=(RoleGrant("r", READER, PROD_GROUP), RoleGrant("r", READER, DEV_GROUP)),
        )


def test_an_identity_refuses_more_than_reader_for_pull_requests() -> None:
    with pytest.raises(ValueError, match="Reader only"):
        CiIdentityArgs(
            display_name="x",
            subject="repo:a/b:pull_request",
            grants=(RoleGrant("c", "b24988ac-6180-42a0-ab88-20f7382dd24c", DEV_GROUP),),
        )
    with pytest.raises(ValueError, match="no Graph permission but"):
        CiIdentityArgs(
            display_name="x",
            subject="repo:a/b:pull_request",
            grants=(),
            graph_permissions=("Application.ReadWrite.OwnedBy",),
        )
    reads = CiIdentityArgs(
        display_name="x",
        subject="repo:a/b:pull_request",
        grants=(RoleGrant("r", READER, DEV_GROUP),),
        graph_permissions=("Application.Read.All",),
    )
    assert reads.is_pull_request


def test_an_identity_refuses_a_granting_permission_unless_protected() -> None:
    granting = ("AppRoleAssignment.ReadWrite.All", "Application.Read.All")
    with pytest.raises(ValueError, match="protected"):
        CiIdentityArgs(
            display_name="x",
            subject="repo:a/b:environment:dev",
            grants=(),
            graph_permissions=granting,
        )
    args = CiIdentityArgs(
        display_name="x",
        subject="repo:a/b:environment:dev",
        grants=(),
        graph_permissions=granting,
        protected=True,
    )
    assert args.credential_description.endswith("required reviewers.")
