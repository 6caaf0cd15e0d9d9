"""The CLI's merge of Pulumi.yaml and the stack file: required keys, defaults, types, secrets."""

from __future__ import annotations

from pathlib import Path

import pytest

from sandbox.errors import SandboxError
from sandbox.plan.model import plan_stack
from sandbox.program.runner import run_program
from sandbox.program.stack_config import resolve_config
from tests.sandbox.program.config_projects import project

REQUIRED = """\
zeta:
  type: string
alpha:
  description: untyped and required
proj:mid: {}
"""


def refusal(tmp_path: Path, schema: str, stack_file: str = "config: {}\n") -> SandboxError:
    with pytest.raises(SandboxError) as caught:
        resolve_config("dev", project(tmp_path, schema, stack_file))
    return caught.value


@pytest.mark.parametrize(
    ("stack_file", "expected"),
    [
        ("config: {}\n", "values 'alpha', 'proj:mid' and 'zeta'"),
        ("config:\n  zeta: z\n", "values 'alpha' and 'proj:mid'"),
        ("config:\n  zeta: z\n  proj:mid: m\n", "value 'alpha'"),
    ],
)
def test_a_required_key_the_stack_omits_fails_with_the_clis_message(
    tmp_path: Path, stack_file: str, expected: str
) -> None:
    error = refusal(tmp_path, REQUIRED, stack_file)
    assert str(error) == f"validating stack config: Stack 'dev' is missing configuration {expected}"


def test_planning_refuses_the_missing_key_before_the_program_runs(tmp_path: Path) -> None:
    project(tmp_path, REQUIRED, "config:\n  zeta: z\n  alpha: a\n")
    (tmp_path / "__main__.py").write_text("raise SystemExit('the program must not run')\n")
    message = "^validating stack config: Stack 'dev' is missing configuration value 'proj:mid'$"
    with pytest.raises(SandboxError, match=message):
        plan_stack("dev", tmp_path)


def test_a_default_or_value_applies_only_where_the_stack_has_no_value(tmp_path: Path) -> None:
    schema = """\
    size: {type: string, default: small}
    tier: {value: basic}
    count: {type: integer, default: 3}
    flags: {type: object, default: {b: true, a: [1, 2.5]}}
    aws:region: {value: us-west-2}
    """
    resolved = resolve_config("dev", project(tmp_path, schema, "config:\n  tier: gold\n"))
    assert resolved.config == {
        "proj:size": "small",
        "proj:tier": "gold",
        "proj:count": "3",
        "proj:flags": '{"a":[1,2.5],"b":true}',
        "aws:region": "us-west-2",
    }
    stack_wins = "config:\n  size: large\n  count: 7\n  aws:region: eu-north-1\n"
    assert resolve_config("dev", project(tmp_path, schema, stack_wins)).config == {
        **resolved.config,
        "proj:size": "large",
        "proj:tier": "basic",
        "proj:count": "7",
        "aws:region": "eu-north-1",
    }


@pytest.mark.parametrize(
    ("declaration", "value", "refused_as"),
    [
        ("type: string", "42", None),
        ("type: string", "{a: 1}", "string"),
        ("type: integer", "'20'", None),
        ("type: integer", "4.5", "integer"),
        ("type: integer", "hello", "integer"),
        ("type: boolean", "True", None),
        ("type: boolean", "yes", "boolean"),
        ("type: object", "{a: 1}", None),
        ("type: object", "[a]", "object"),
        ("type: object", "a", "object"),
        ("type: array\n  items: {type: object}", "[{a: 1}]", None),
        ("type: array\n  items: {type: string}", "[1]", "array<string>"),
        ("type: array\n  items: {type: integer}", "[1, 2.0]", None),
        ("description: untyped", "[1, {b: 2}]", None),
    ],
)
def test_explicitly_typed_keys_are_checked_and_untyped_keys_are_not(
    tmp_path: Path, declaration: str, value: str, refused_as: str | None
) -> None:
    schema, stack_file = f"key:\n  {declaration}\n", f"config:\n  key: {value}\n"
    if refused_as is None:
        assert "proj:key" in resolve_config("dev", project(tmp_path, schema, stack_file)).config
        return
    assert str(refusal(tmp_path, schema, stack_file)) == (
        "validating stack config: Stack 'dev' with configuration key 'key' must be of type "
        f"'{refused_as}'"
    )


def test_the_first_wrong_type_in_sorted_key_order_is_the_one_reported(tmp_path: Path) -> None:
    schema = "zeta: {type: integer}\nbeta: {type: boolean}\nalpha: {type: string}\n"
    error = refusal(tmp_path, schema, "config:\n  zeta: x\n  beta: x\n  alpha: x\n")
    assert str(error).endswith("key 'beta' must be of type 'boolean'")


def test_a_secret_key_with_a_plain_value_fails_with_the_clis_message(tmp_path: Path) -> None:
    error = refusal(tmp_path, "token: {type: string, secret: true}\n", "config:\n  token: x\n")
    assert str(error) == (
        "validating stack config: Stack 'dev' with configuration key 'token' must be encrypted "
        "as it's secret"
    )


def test_a_secure_value_is_a_marked_placeholder_with_a_note_and_no_crash(tmp_path: Path) -> None:
    schema = "token: {type: string, secret: true}\ncount: {type: integer}\n"
    stack_file = """\
    config:
      token: {secure: v1:Zm9v:YmFy}
      count: {secure: v1:Zm9v:YmF6}
      settings: {name: a, key: {secure: v1:Zm9v:cXV4}}
    """
    run = run_program("dev", project(tmp_path, schema, stack_file))
    assert run.outputs["config"] == {
        "proj:token": "[secret]",
        "proj:count": "0",
        "proj:settings": '{"key":"[secret]","name":"a"}',
    }
    assert run.outputs["secretKeys"] == ["proj:count", "proj:settings", "proj:token"]
    assert run.notes == (
        "proj:count is a secure: value the offline tools cannot decrypt; the program gets the "
        'placeholder "0" instead (marked secret, type not checked)',
        "proj:settings holds secure: values the offline tools cannot decrypt; the program gets "
        '"[secret]" in their place (marked secret, type not checked)',
        "proj:token is a secure: value the offline tools cannot decrypt; the program gets the "
        'placeholder "[secret]" instead (marked secret, type not checked)',
    )


def test_an_environment_list_is_noted_and_named_when_a_required_key_is_missing(
    tmp_path: Path,
) -> None:
    stack_file = "environment: [shared/azure]\nconfig:\n  other: x\n"
    resolved = resolve_config("dev", project(tmp_path, "other: {}\n", stack_file))
    assert resolved.notes == (
        "Pulumi.dev.yaml imports the ESC environment 'shared/azure' (environment:); the offline "
        "tools cannot open ESC environments, so the config and environment variables they set "
        "are not applied",
    )
    error = refusal(tmp_path, "other: {}\nzone: {type: string}\n", stack_file)
    assert str(error) == (
        "validating stack config: Stack 'dev' is missing configuration value 'zone'; it may come "
        "from the ESC environment 'shared/azure', which the offline tools cannot open: set it in "
        "Pulumi.dev.yaml, or in a config file given instead of it"
    )
    assert error.notes == resolved.notes


def test_a_misspelled_config_section_is_named_beside_the_missing_keys(tmp_path: Path) -> None:
    error = refusal(tmp_path, "size: {type: string}\n", "confg:\n  size: small\n")
    assert str(error) == (
        "validating stack config: Stack 'dev' is missing configuration value 'size'; "
        "Pulumi.dev.yaml has the unknown top-level key 'confg' (did you mean 'config'?), which "
        "the Pulumi CLI ignores"
    )
    resolved = resolve_config("dev", project(tmp_path, "size: small\n", "confg:\n  size: x\n"))
    assert resolved.config == {"proj:size": "small"}  # the CLI's verdict: the section is ignored
    assert resolved.notes == (
        "Pulumi.dev.yaml has the unknown top-level key 'confg' (did you mean 'config'?), which "
        "the Pulumi CLI ignores",
    )


def test_a_config_file_replaces_the_stack_file_like_the_clis_config_file_flag(
    tmp_path: Path,
) -> None:
    folder = project(tmp_path / "proj", "size: {type: string}\n", "config:\n  size: small\n")
    (tmp_path / "elsewhere.yaml").write_text("config:\n  size: large\n")
    resolved = resolve_config("dev", folder, config_file=tmp_path / "elsewhere.yaml")
    assert resolved.config == {"proj:size": "large"}
    run = run_program("dev", folder, config_file=tmp_path / "elsewhere.yaml")
    assert run.outputs["config"] == {"proj:size": "large"}
    with pytest.raises(SandboxError, match=r"^config file .*missing\.yaml not found"):
        resolve_config("dev", folder, config_file=tmp_path / "missing.yaml")


def test_a_missing_stack_file_names_the_known_stacks(tmp_path: Path) -> None:
    project(tmp_path, stack="prod")
    with pytest.raises(SandboxError) as caught:
        resolve_config("qa", tmp_path)
    assert str(caught.value) == "no stack 'qa': Pulumi.qa.yaml not found; known stacks: ['prod']"


def test_a_folder_or_a_dangling_link_named_like_a_stack_file_is_said_to_be_one(
    tmp_path: Path,
) -> None:
    project(tmp_path, stack="prod")
    (tmp_path / "Pulumi.qa.yaml").mkdir()
    (tmp_path / "Pulumi.gone.yaml").symlink_to(tmp_path / "nowhere.yaml")
    with pytest.raises(SandboxError, match=r"Pulumi\.qa\.yaml is a folder, not a stack file$"):
        resolve_config("qa", tmp_path)
    with pytest.raises(SandboxError, match=r"Pulumi\.gone\.yaml is a symbolic link to a missing"):
        resolve_config("gone", tmp_path)
    with pytest.raises(SandboxError) as caught:
        resolve_config("uat", tmp_path)
    assert str(caught.value).endswith("known stacks: ['prod']")  # neither counts as a stack


def test_a_config_file_that_is_a_pipe_is_read_as_the_cli_reads_it(tmp_path: Path) -> None:
    import os
    import threading

    folder = project(tmp_path / "proj", "size: {type: string}\n", "config:\n  size: small\n")
    fifo = tmp_path / "config.fifo"
    os.mkfifo(fifo)

    def feed() -> None:
        fifo.write_text("config:\n  size: large\n")

    writer = threading.Thread(target=feed, daemon=True)  # a refusal must not leave it blocking
    writer.start()
    try:
        assert resolve_config("dev", folder, config_file=fifo).config == {"proj:size": "large"}
    finally:
        if writer.is_alive():  # nobody read the pipe: open it once so the writer can finish
            with open(fifo, encoding="utf-8") as unblock:
                unblock.read()
        writer.join(10)
