"""Pulumi.yaml read as the Pulumi CLI reads it: shorthand, schema, and Project.Validate."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from components.config import StackConfig, decode_values, parse_config
from sandbox.errors import SandboxError
from sandbox.program.project_file import load_project
from sandbox.program.stack_config import resolve_config
from tests.sandbox.program.config_projects import MINIMAL_STACK, project

ROOT = Path(__file__).resolve().parents[3]


def refusal(tmp_path: Path, schema: str, **kwargs: str) -> str:
    with pytest.raises(SandboxError) as caught:
        load_project(project(tmp_path, schema, **kwargs))
    return str(caught.value)


def test_a_bare_value_is_the_default_of_a_project_key_and_the_value_of_another_namespace(
    tmp_path: Path,
) -> None:
    config = resolve_config("dev", project(tmp_path, "size: small\naws:region: us-west-2\n"))
    assert config.config == {"proj:size": "small", "aws:region": "us-west-2"}
    declared = load_project(tmp_path).config
    assert declared["size"].default == "small" and declared["size"].value is None
    assert declared["aws:region"].value == "us-west-2" and declared["aws:region"].default is None


def test_a_key_with_both_default_and_value_is_refused_with_the_cli_message(
    tmp_path: Path,
) -> None:
    message = refusal(tmp_path, "size:\n  default: small\n  value: large\n")
    assert message == (
        f"could not unmarshal '{tmp_path / 'Pulumi.yaml'}': project config 'size' cannot have "
        "both a 'default' and 'value' attribute"
    )


def test_an_array_without_items_is_refused_with_the_cli_message(tmp_path: Path) -> None:
    message = refusal(tmp_path, "zones:\n  type: array\n  default: [a]\n")
    assert message.endswith(
        ": The configuration key 'zones' declares an array but does not specify the underlying "
        "type via the 'items' attribute"
    )


@pytest.mark.parametrize(
    ("declaration", "type_name"),
    [
        ("type: integer\ndefault: many", "integer"),
        ("type: integer\ndefault: 4.5", "integer"),
        ("type: string\ndefault: 42", "string"),
        ("type: boolean\ndefault: yes", "boolean"),
        ("type: object\ndefault: [a]", "object"),
        ("type: array\nitems: {type: string}\ndefault: [1]", "array<string>"),
        (
            "type: array\nitems: {type: array, items: {type: integer}}\ndefault: [[x]]",
            "array<array<integer>>",
        ),
    ],
)
def test_a_default_not_of_the_declared_type_is_refused_naming_the_full_type(
    tmp_path: Path, declaration: str, type_name: str
) -> None:
    indented = "\n".join("  " + line for line in declaration.splitlines())
    message = refusal(tmp_path, f"key:\n{indented}\n")
    assert message.endswith(
        f": The default value specified for configuration key 'key' is not of the expected "
        f"type '{type_name}'"
    )


@pytest.mark.parametrize(
    ("declaration", "expected"),
    [
        (
            "type: string\n  value: x",
            "Configuration key 'aws:region' is not namespaced by the project and should not "
            "define a type",
        ),
        (
            "default: us-west-2",
            "Configuration key 'aws:region' is not namespaced by the project and should not "
            "define a default value. Did you mean to use the 'value' attribute instead of "
            "'default'?",
        ),
        (
            "description: the region",
            "Configuration key 'aws:region' is namespaced and must provide an attribute 'value'",
        ),
    ],
    ids=["type", "default", "no value"],
)
def test_a_key_of_another_namespace_may_only_give_a_value(
    tmp_path: Path, declaration: str, expected: str
) -> None:
    assert refusal(tmp_path, f"aws:region:\n  {declaration}\n").endswith(": " + expected)


def test_a_misspelled_attribute_is_refused_with_the_clis_suggestion(tmp_path: Path) -> None:
    message = refusal(tmp_path, "size:\n  defualt: small\n")
    assert message == (
        f"could not validate '{tmp_path / 'Pulumi.yaml'}': #/config/size: additionalProperties "
        "'defualt' not allowed; did you mean 'default'?"
    )


def test_an_unknown_type_name_is_refused(tmp_path: Path) -> None:
    message = refusal(tmp_path, "size:\n  type: number\n")
    assert "#/config/size/type: value must be one of" in message


def test_a_project_without_a_name_is_refused_with_the_cli_message(tmp_path: Path) -> None:
    project(tmp_path)
    (tmp_path / "Pulumi.yaml").write_text("nmae: proj\nruntime: python\n")
    with pytest.raises(SandboxError, match=r"missing a 'name' attribute; found 'nmae' instead$"):
        load_project(tmp_path)


def test_stack_files_are_read_from_the_stack_config_dir(tmp_path: Path) -> None:
    project(tmp_path, "size: small\n", stack_file=None, extra="stackConfigDir: stacks\n")
    (tmp_path / "stacks").mkdir()
    (tmp_path / "stacks" / "Pulumi.dev.yaml").write_text("config:\n  size: large\n")
    assert resolve_config("dev", tmp_path).config == {"proj:size": "large"}


def test_the_shipped_project_requires_only_what_the_program_cannot_default() -> None:
    required = {
        key
        for key, declared in load_project(ROOT).config.items()
        if declared.default is None and declared.value is None
    }
    assert required == {"namePrefix", "gateway", "apis"}
    assert all(declared.type for declared in load_project(ROOT).config.values())
    bootstrap = load_project(ROOT / "bootstrap").config
    assert {k for k, d in bootstrap.items() if d.default is None} == {
        "githubRepository",
        "environments",
        "location",
    }


def test_the_shipped_defaults_reach_the_program_as_its_own_defaults(tmp_path: Path) -> None:
    shutil.copy(ROOT / "Pulumi.yaml", tmp_path / "Pulumi.yaml")
    (tmp_path / "Pulumi.dev.yaml").write_text(MINIMAL_STACK)
    prefix = "secure-api-calls:"
    handed = resolve_config("dev", tmp_path).config
    assert handed[prefix + "resourceGroup"] == "{}" and handed[prefix + "consumers"] == "[]"
    raw = {key.removeprefix(prefix): value for key, value in handed.items()}
    config = parse_config(decode_values(raw), "dev", tmp_path)
    defaulted = ("resource_group", "app_service_plan", "key_vault", "developers", "observability")
    for field in (*defaulted, "consumers", "tags", "location"):
        assert getattr(config, field) == StackConfig.model_fields[field].default, field
