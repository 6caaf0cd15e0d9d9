"""A stack file read as the Pulumi CLI reads it: keys, encoding, null, and refused files."""

from __future__ import annotations

from pathlib import Path

import pytest

from sandbox.errors import SandboxError
from sandbox.program.runner import run_program
from sandbox.program.stack_config import resolve_config
from tests.sandbox.program.config_projects import project


def handed(tmp_path: Path, stack_file: str, schema: str = "") -> dict[str, str]:
    return resolve_config("dev", project(tmp_path, schema, stack_file)).config


@pytest.mark.parametrize(
    ("written", "expected"),
    [
        ("plain text", "plain text"),
        ("'true'", "true"),
        ("true", "true"),
        ("True", "true"),
        ("yes", "yes"),  # YAML 1.1 booleans are strings to yaml.v3
        ("42", "42"),
        ("010", "8"),  # yaml.v3: Go ParseInt base 0, a leading 0 is octal
        ("0x1F", "31"),
        ("1_000", "1000"),
        ("'007'", "007"),
        ("1.5", "1.5"),
        ("1.0", "1"),  # Go's float text has no ".0"
        ("1e3", "1000"),  # a float to yaml.v3, a string to PyYAML
        ("1e21", "1e+21"),
        ("2024-01-31", "2024-01-31 00:00:00 +0000 UTC"),  # Go's time.Time.String()
        ("{b: 1, a: [x, 2.5, null, false]}", '{"a":["x",2.5,null,false],"b":1}'),
        ("[1, two]", '[1,"two"]'),
        ("{tag: a<b&c}", '{"tag":"a\\u003cb\\u0026c"}'),  # encoding/json escapes <, >, &
        ("{since: 2024-01-31}", '{"since":"2024-01-31 00:00:00 +0000 UTC"}'),
    ],
)
def test_values_reach_the_program_encoded_as_the_cli_encodes_them(
    tmp_path: Path, written: str, expected: str
) -> None:
    assert handed(tmp_path, f"config:\n  value: {written}\n") == {"proj:value": expected}


def test_the_program_gets_exactly_those_strings_under_the_mocked_engine(tmp_path: Path) -> None:
    stack = "config:\n  flag: true\n  count: 010\n  shape: {z: 1, a: [1.0]}\n  other:ns: x\n"
    run = run_program("dev", project(tmp_path, "", stack))
    assert run.outputs["config"] == {
        "proj:flag": "true",
        "proj:count": "8",
        "proj:shape": '{"a":[1],"z":1}',
        "other:ns": "x",
    }
    assert run.outputs["secretKeys"] == [] and run.notes == ()


def test_unqualified_and_legacy_keys_are_namespaced_as_the_cli_does(tmp_path: Path) -> None:
    stack = "config:\n  a: 1\n  proj:b: 2\n  aws:config:region: eu\n"
    assert handed(tmp_path, stack) == {"proj:a": "1", "proj:b": "2", "aws:region": "eu"}


def test_a_null_value_is_an_empty_string_with_the_clis_warning(tmp_path: Path) -> None:
    resolved = resolve_config("dev", project(tmp_path, "", "config:\n  namePrefix:\n  b: ~\n"))
    assert resolved.config == {"proj:namePrefix": "", "proj:b": ""}
    assert resolved.notes == (
        'No value for configuration keys "proj:b" and "proj:namePrefix". This is currently '
        'treated as an empty string `""`, but will be treated as `null` in a future version of '
        'pulumi. Set the values to `""` to avoid this warning.',
    )


def test_a_null_value_counts_as_set_but_fails_a_typed_integer(tmp_path: Path) -> None:
    assert handed(tmp_path, "config:\n  name: null\n", "name:\n  type: string\n") == {
        "proj:name": ""
    }
    with pytest.raises(SandboxError) as caught:
        handed(tmp_path, "config:\n  count:\n", "count:\n  type: integer\n")
    assert str(caught.value) == (
        "validating stack config: Stack 'dev' with configuration key 'count' must be of type "
        "'integer'"
    )
    assert caught.value.notes[0].startswith('No value for configuration key "proj:count".')


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("config:\n  a: [1\n", r"^Pulumi\.dev\.yaml: not valid YAML: line 3: .*; fix the file$"),
        ("config:\n  a: 1\n  a: 2\n", 'line 3: mapping key "a" already defined at line 2'),
        ("- config\n", "the file is a list; a stack file is a mapping with 'config:'"),
        ("config: [a]\n", "'config:' must be a mapping of key: value"),
        ("config:\n  1: a\n", "expected only string keys, got '1'"),
        ("config:\n  a:b:c: 1\n", "could not parse a:b:c as a configuration key"),
        ("config:\n  a: 1\n  proj:a: 2\n", "config key 'proj:a' is set twice"),
        ("config:\n  a: .inf\n", "config a: json: unsupported value: \\+Inf; quote the value"),
    ],
    ids=["bad YAML", "twice", "a list", "config list", "int key", "colons", "dup", "inf"],
)
def test_a_stack_file_the_cli_refuses_is_one_line_naming_the_problem(
    tmp_path: Path, text: str, expected: str
) -> None:
    with pytest.raises(SandboxError, match=expected) as caught:
        handed(tmp_path, text)
    assert "\n" not in str(caught.value)


def test_a_stack_file_that_is_not_utf8_is_one_line(tmp_path: Path) -> None:
    project(tmp_path)
    (tmp_path / "Pulumi.dev.yaml").write_bytes(b"config:\n  a: \xff\n")
    with pytest.raises(SandboxError, match=r"^Pulumi\.dev\.yaml: not valid YAML: not UTF-8"):
        resolve_config("dev", tmp_path)


def test_an_empty_stack_file_has_no_config(tmp_path: Path) -> None:
    assert handed(tmp_path, "") == {}
