"""The config a program gets, decided as `pulumi preview`/`up` decide it, before it runs.

pulumi/pulumi pkg/workspace/config.go `ValidateStackConfigAndApplyProjectConfig` (mergeConfig):
the stack's values win; a project `default` (or `value`) fills a key the stack lacks; a
project-namespaced key with neither is required; then every explicitly typed key is checked, in
sorted order, first error wins. The CLI prefixes both errors with `validating stack config: `
(pkg/cmd/pulumi/operations/preview.go, up.go).

What the offline tools cannot do, they say: a `secure:` value cannot be decrypted (the program
gets a placeholder, the key is listed as secret), and ESC environments cannot be opened.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sandbox.errors import SandboxError
from sandbox.program.go_yaml import GoTime, go_json
from sandbox.program.project_file import (
    ConfigType,
    Project,
    closest_key,
    full_type_name,
    load_project,
    valid_config_value,
)
from sandbox.program.stack_file import (
    SECRET_PLACEHOLDER,
    STACK_FILE_KEYS,
    StackFile,
    StackValue,
    parse_key,
    read_stack_file,
)

# A top-level `secure:` value offline: a value of the declared type, so the program gets the
# shape it expects (a string placeholder for string and untyped keys).
_PLACEHOLDERS = {"integer": "0", "boolean": "false", "object": "{}", "array": "[]"}
_PREFIX = "validating stack config: "


@dataclass(frozen=True)
class ProgramConfig:
    """What the engine hands the program (PULUMI_CONFIG, PULUMI_CONFIG_SECRET_KEYS), and the
    warnings to show before it runs (the CLI's own, and what the offline run cannot do)."""

    project: str
    config: dict[str, str]
    secret_keys: tuple[str, ...]
    notes: tuple[str, ...]


def config_value(raw: Any) -> StackValue:
    """config.go createConfigValue: a string, integer or boolean as fmt's %v, anything else as
    JSON (a time as encoding/json writes it, which the program then reads back as a string)."""
    if isinstance(raw, str):
        return StackValue(raw)
    if isinstance(raw, bool):
        return StackValue("true" if raw else "false")
    if isinstance(raw, int):
        return StackValue(str(raw))
    if isinstance(raw, GoTime):
        return StackValue(raw.rfc3339())
    return StackValue(go_json(raw), object=True)


def _and_list(items: list[str]) -> str:
    """config.go formatMissingKeys: 'a' / 'a' and 'b' / 'a', 'b' and 'c' (sorted)."""
    quoted = [f"'{item}'" for item in sorted(items)]
    return quoted[0] if len(quoted) == 1 else ", ".join(quoted[:-1]) + " and " + quoted[-1]


def _quoted_keys(keys: tuple[str, ...]) -> str:
    """loaders.go checkForEmptyConfig: "a", "a" and "b", "a", "b", "c" (the CLI visits a Go
    map, so its order varies; sorted here)."""
    quoted = [f'"{key}"' for key in sorted(keys)]
    return " and ".join(quoted) if len(quoted) == 2 else ", ".join(quoted)


def _unknown_hint(stack_file: StackFile) -> str:
    parts = []
    for key in stack_file.unknown_keys:
        near = closest_key(key, STACK_FILE_KEYS)
        parts.append(f"'{key}'" + (f" (did you mean '{near}'?)" if near else ""))
    return (
        f"{stack_file.path.name} has the unknown top-level key {', '.join(parts)}, which the "
        "Pulumi CLI ignores"
    )


def _file_notes(stack_file: StackFile) -> list[str]:
    notes = []
    if stack_file.null_keys:
        plural = "s" if len(stack_file.null_keys) > 1 else ""
        notes.append(
            f"No value for configuration key{plural} {_quoted_keys(stack_file.null_keys)}. "
            'This is currently treated as an empty string `""`, but will be treated as `null` '
            f'in a future version of pulumi. Set the value{plural} to `""` to avoid this warning.'
        )
    if stack_file.environments:
        names = ", ".join(f"'{name}'" for name in stack_file.environments)
        notes.append(
            f"{stack_file.path.name} imports the ESC environment {names} (environment:); the "
            "offline tools cannot open ESC environments, so the config and environment "
            "variables they set are not applied"
        )
    return notes


def _missing(stack: str, keys: list[str], stack_file: StackFile) -> SandboxError:
    word = "value" if len(keys) == 1 else "values"
    message = f"{_PREFIX}Stack '{stack}' is missing configuration {word} {_and_list(keys)}"
    if stack_file.environments:
        names = ", ".join(f"'{name}'" for name in stack_file.environments)
        it = "it" if len(keys) == 1 else "them"
        message += (
            f"; {it} may come from the ESC environment {names}, which the offline tools cannot "
            f"open: set {it} in {stack_file.path.name}, or in a config file given instead of it"
        )
    if stack_file.unknown_keys:
        message += "; " + _unknown_hint(stack_file)
    return SandboxError(message)


def _namespaced(project: Project, key: str) -> str:
    """config.go parseConfigKey for a Pulumi.yaml key."""
    parsed = parse_key(key if ":" in key else f"{project.name}:{key}")
    if parsed is None:
        raise SandboxError(
            f"{_PREFIX}could not parse {key} as a configuration key (configuration keys "
            "should be of the form `<namespace>:<name>`)"
        )
    return parsed


def _check_type(stack: str, key: str, declared: ConfigType, value: StackValue) -> None:
    """config.go validateStackConfigValue: the secret rule first, then the declared type."""
    if declared.secret and not value.secure:
        raise SandboxError(
            f"{_PREFIX}Stack '{stack}' with configuration key '{key}' must be encrypted as "
            "it's secret"
        )
    if declared.type is None or value.secure:  # offline the plaintext is unknown
        return
    content = json.loads(value.text) if value.object else value.text
    if not valid_config_value(declared.type, declared.items, content):
        raise SandboxError(
            f"{_PREFIX}Stack '{stack}' with configuration key '{key}' must be of type "
            f"'{full_type_name(declared.type, declared.items)}'"
        )


def merge_config(stack: str, project: Project, stack_file: StackFile) -> ProgramConfig:
    """mergeConfig with validation, on a loaded project and stack file (no ESC offline).

    A refusal is a SandboxError that carries the file's warnings (the CLI prints its null
    warning while loading, before it refuses)."""
    notes = _file_notes(stack_file)
    try:
        values = _merged_and_checked(stack, project, stack_file)
    except SandboxError as error:
        error.notes = tuple(notes)
        raise
    return _program_config(project, stack_file, values, notes)


def _merged_and_checked(
    stack: str, project: Project, stack_file: StackFile
) -> dict[str, StackValue]:
    values = dict(stack_file.values)
    missing = []
    for key in sorted(project.config):
        declared, namespaced = project.config[key], _namespaced(project, key)
        if namespaced in values:
            continue
        if declared.default is None and declared.value is None:
            if namespaced.split(":")[0] == project.name:
                missing.append(key)
            continue
        fallback = declared.default if declared.default is not None else declared.value
        values[namespaced] = config_value(fallback)
    if missing:
        raise _missing(stack, missing, stack_file)
    for key in sorted(project.config):
        if project.config[key].type is not None:  # IsExplicitlyTyped: untyped keys pass
            _check_type(stack, key, project.config[key], values[_namespaced(project, key)])
    return values


def _program_config(
    project: Project, stack_file: StackFile, values: dict[str, StackValue], notes: list[str]
) -> ProgramConfig:
    config: dict[str, str] = {}
    for key, value in sorted(values.items()):
        config[key] = value.text
        if value.secure and not value.object:
            declared_type = _declared_type(project, key)
            config[key] = _PLACEHOLDERS.get(declared_type or "", SECRET_PLACEHOLDER)
            notes.append(
                f"{key} is a secure: value the offline tools cannot decrypt; the program gets "
                f'the placeholder "{config[key]}" instead (marked secret, type not checked)'
            )
        elif value.secure:
            notes.append(
                f"{key} holds secure: values the offline tools cannot decrypt; the program gets "
                f'"{SECRET_PLACEHOLDER}" in their place (marked secret, type not checked)'
            )
    if stack_file.unknown_keys:
        notes.append(_unknown_hint(stack_file))
    secret_keys = tuple(key for key, value in sorted(values.items()) if value.secure)
    return ProgramConfig(project.name, config, secret_keys, tuple(notes))


def _declared_type(project: Project, namespaced: str) -> str | None:
    for key, declared in project.config.items():
        if _namespaced(project, key) == namespaced:
            return declared.type
    return None


def known_stacks(folder: Path) -> list[str]:
    """The stacks whose file is there to read (a folder or a dangling link named like one is
    not a stack)."""
    return sorted(
        p.name[len("Pulumi.") : -len(".yaml")] for p in folder.glob("Pulumi.*.yaml") if p.is_file()
    )


def _unreadable(path: Path) -> str | None:
    """Why `path` cannot be read as a stack file, or None. A pipe or a device (`/dev/stdin`,
    a process substitution) is read as the CLI reads it: os.ReadFile takes any file."""
    if path.is_dir():
        return f"{path} is a folder, not a stack file"
    if path.is_symlink() and not path.exists():
        return f"{path} is a symbolic link to a missing file"
    if not path.exists():
        return ""  # not there at all: the caller says what to do
    return None


def resolve_config(
    stack: str, project_dir: Path, *, config_file: Path | None = None
) -> ProgramConfig:
    """Pulumi.yaml and the stack file (or `config_file`, like the CLI's --config-file) of
    `project_dir`, read and checked as the CLI does before the program runs."""
    project = load_project(project_dir)
    path = config_file if config_file is not None else project.stack_path(stack)
    problem = _unreadable(path)
    if problem:
        raise SandboxError(f"{problem}; give a stack file's path" if config_file else problem)
    if problem is not None:
        # The CLI says the stack does not exist (or, for --config-file, reads no config at all).
        if config_file is not None:
            raise SandboxError(f"config file {config_file} not found; give a stack file's path")
        raise SandboxError(
            f"no stack '{stack}': {path.name} not found; known stacks: {known_stacks(path.parent)}"
        )
    return merge_config(stack, project, read_stack_file(path, project.name))
