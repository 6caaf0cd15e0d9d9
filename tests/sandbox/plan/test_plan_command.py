"""`python -m sandbox preview|plan`: the tree, the plan file, and one-line errors."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from tests.fixture_stacks import config_file_args, stack_document, stack_file

ROOT = Path(__file__).resolve().parents[3]


def sandbox(*args: str, cwd: Path = ROOT) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "sandbox", *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=120,
    )


def project_with(tmp_path: Path, edit: object) -> Path:
    """A copy of the project whose dev config is changed by `edit(config_dict)`."""
    shutil.copy(ROOT / "__main__.py", tmp_path / "__main__.py")
    shutil.copy(ROOT / "Pulumi.yaml", tmp_path / "Pulumi.yaml")
    document = stack_document("dev")
    edit(document["config"])  # type: ignore[operator]
    (tmp_path / "Pulumi.dev.yaml").write_text(yaml.safe_dump(document))
    return tmp_path


def test_preview_shows_the_tree_outputs_and_summary() -> None:
    result = sandbox("preview", *config_file_args("prod"))
    assert result.returncode == 0, result.stderr
    assert "pulumi:pulumi:Stack" in result.stdout
    assert "├─ azure-native:web:WebApp" in result.stdout
    assert "Outputs:" in result.stdout and "appScope: api://" in result.stdout
    assert "Offline plan: no cloud was contacted." in result.stdout
    assert "Secrets masked (values never written or shown):" in result.stdout
    assert "key-vault-apim-key-orders-storefront: inputs.properties.value" in result.stdout


def test_plan_file_is_byte_identical_across_runs_and_masks_secrets(tmp_path: Path) -> None:
    first, second = tmp_path / "a.json", tmp_path / "b.json"
    assert sandbox("plan", *config_file_args("dev"), "--out", str(first)).returncode == 0
    assert sandbox("plan", *config_file_args("dev"), "--out", str(second)).returncode == 0
    assert first.read_bytes() == second.read_bytes()
    plan = json.loads(first.read_text())
    assert plan["format"] == "secure-api-calls-plan" and plan["version"] == 1
    # The keys wherever they go (generator, subscription, Key Vault secret), and the App
    # Insights connection string wherever it goes (logger, Web App settings).
    where = {path.split("#")[1] for path in plan["masked"]}
    # Each secret is masked where it was marked, not its enclosing object.
    assert where == {
        f"{side}.{prop}"
        for side in ("inputs", "outputs")
        for prop in (
            "properties.value",
            "properties.APPLICATIONINSIGHTS_CONNECTION_STRING",
            "primaryKey",
            "secondaryKey",
            "credentials.connectionString",
        )
    } | {"outputs.result", "outputs.bcryptHash"} | {
        f"outputs.apis.{api}.verification.subscriptionKey" for api in ("orders", "inventory")
    }
    assert len(plan["masked"]) == 54


@pytest.mark.parametrize(
    ("edit", "expected"),
    [
        (
            lambda c: c["secure-api-calls:apis"][0].update(backendUrll="https://x.example"),
            "error: config secure-api-calls:apis[0].backendUrll: unknown key",
        ),
        (
            lambda c: c["secure-api-calls:apis"][0]["operations"][2].update(roles=["Orders.Nuke"]),
            "error: config secure-api-calls:apis[0].operations[2].roles: role 'Orders.Nuke'",
        ),
        (
            lambda c: c["secure-api-calls:consumers"][1]["calls"][0].update(api="billing"),
            "error: config secure-api-calls:consumers[1].calls[0].api: unknown API 'billing'",
        ),
        (
            lambda c: c["secure-api-calls:apis"][0].update(backendUrl="http://orders.example"),
            "error: config secure-api-calls:apis[0].backendUrl: 'http://orders.example' must be",
        ),
    ],
    ids=["misspelled key", "unknown operation role", "unknown API", "http backend"],
)
def test_bad_config_exits_non_zero_with_one_line_naming_the_key(
    tmp_path: Path, edit: object, expected: str
) -> None:
    project = project_with(tmp_path, edit)
    out = tmp_path / "plan.json"
    result = sandbox("plan", "--stack", "dev", "--project-dir", str(project), "--out", str(out))
    assert result.returncode == 2
    assert result.stderr.startswith(expected)
    assert result.stderr.count("\n") == 1
    assert not out.exists(), "no half-written plan may be left behind"


def test_unknown_stack_and_bad_options_are_one_line_errors(tmp_path: Path) -> None:
    for name in ("Pulumi.yaml", "__main__.py"):
        shutil.copy(ROOT / name, tmp_path / name)
    for stack in ("dev", "prod"):
        shutil.copy(stack_file(stack), tmp_path / f"Pulumi.{stack}.yaml")
    missing = sandbox("preview", "--stack", "qa", "--project-dir", str(tmp_path))
    assert missing.returncode == 2
    assert missing.stderr == (
        "error: no stack 'qa': Pulumi.qa.yaml not found; known stacks: ['dev', 'prod']\n"
    )
    bad = sandbox("plan", "--bogus")
    assert bad.returncode == 2 and bad.stderr.startswith("error: No such option: --bogus")


def test_an_unwritable_out_path_is_a_one_line_error() -> None:
    result = sandbox("plan", *config_file_args("dev"), "--out", "/proc/plan.json")
    assert result.returncode == 2
    assert result.stderr.startswith("error: --out /proc/plan.json: cannot write there")
    assert result.stderr.count("\n") == 1
