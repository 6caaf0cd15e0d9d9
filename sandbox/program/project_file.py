"""`Pulumi.yaml` as the Pulumi CLI loads it: the name, stackConfigDir and the `config:` schema.

The order and the error texts follow pulumi/pulumi sdk/go/common/workspace/loaders.go
`LoadProjectBytes`: decode, `ValidateProject` (name, then the JSON schema project.json),
`RewriteConfigPathIntoStackConfigDir`, `RewriteShorthandConfigValues`, `Project.Validate`.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sandbox.errors import SandboxError
from sandbox.program.go_yaml import YamlError, load_yaml

# project.json `simpleConfigType`; `object` is accepted since CLI 3.186 and checked since 3.187.
TYPES = ("string", "integer", "boolean", "array", "object")
# project.json `configTypeDeclaration`: additionalProperties false.
ATTRIBUTES = ("default", "description", "items", "secret", "type", "value")


@dataclass(frozen=True)
class ItemsType:
    """ProjectConfigItemsType: the element type of an array, itself possibly an array."""

    type: str
    items: ItemsType | None = None


@dataclass(frozen=True)
class ConfigType:
    """ProjectConfigType; `default`/`value` None means absent (Go's nil `any`, YAML null too)."""

    type: str | None = None
    items: ItemsType | None = None
    description: str = ""
    default: Any = None
    value: Any = None
    secret: bool = False


@dataclass(frozen=True)
class Project:
    name: str
    path: Path
    config: Mapping[str, ConfigType]
    stack_config_dir: str | None = None

    def stack_path(self, stack: str) -> Path:
        """workspace/paths.go ProjectStackPath: Pulumi.<stack>.yaml beside Pulumi.yaml, or in
        stackConfigDir when the project names one."""
        # Go's filepath.Join keeps an absolute stackConfigDir under the project folder too.
        folder = self.path.parent / (self.stack_config_dir or "").lstrip("/")
        return folder / f"Pulumi.{stack}.yaml"


def full_type_name(type_name: str, items: ItemsType | None) -> str:
    """project.go InferFullTypeName: `array<string>`, `array<array<integer>>`."""
    return f"array<{full_type_name(items.type, items.items)}>" if items else type_name


def valid_config_value(type_name: str, items: ItemsType | None, value: Any) -> bool:
    """project.go ValidateConfigValue, on the Go values the CLI compares: a stack scalar is its
    text, an object or list its decoded JSON, a project default its YAML value."""
    if type_name == "string":
        return isinstance(value, str)
    if type_name == "integer":
        if isinstance(value, bool):
            return False
        if isinstance(value, int) or (isinstance(value, float) and value.is_integer()):
            return True
        return isinstance(value, str) and _go_atoi(value)
    if type_name == "boolean":
        return isinstance(value, bool) or value in ("true", "false")
    if type_name == "object":
        return isinstance(value, dict)
    if not isinstance(value, list) or items is None:
        return False
    return all(valid_config_value(items.type, items.items, item) for item in value)


def _go_atoi(text: str) -> bool:
    """strconv.Atoi: an optional sign, decimal digits, within int64."""
    digits = text[1:] if text[:1] in ("+", "-") else text
    return digits.isascii() and digits.isdigit() and -(2**63) <= int(text) < 2**63


def in_project_namespace(project: str, key: str) -> bool:
    """project.go configKeyIsNamespacedByProject."""
    return ":" not in key or key.startswith(project + ":")


def closest_key(needle: str, known: tuple[str, ...]) -> str | None:
    """The suggestion of project.go findClosestKey: the first known name (sorted) within a
    Levenshtein distance of 2, compared case-insensitively."""
    best, distance = None, 3
    for key in sorted(known):
        found = _levenshtein(needle.lower(), key.lower())
        if found < distance:
            best, distance = key, found
    return best


def _levenshtein(a: str, b: str) -> int:
    row = list(range(len(b) + 1))
    for i, char in enumerate(a, 1):
        previous, row[0] = row[0], i
        for j, other in enumerate(b, 1):
            previous, row[j] = row[j], min(row[j] + 1, row[j - 1] + 1, previous + (char != other))
    return row[-1]


def _schema_error(path: Path, where: str, message: str) -> SandboxError:
    # The CLI reports schema problems with the JSON schema library's words, several per file;
    # this is one line in the same place (`#/config/<key>`), with the CLI's suggestion added.
    return SandboxError(f"could not validate '{path}': {where}: {message}")


def _items(path: Path, where: str, raw: Any) -> ItemsType:
    """project.json `configItemsType`: an object with a `type`; an array type needs `items`."""
    if not isinstance(raw, dict) or not isinstance(raw.get("type"), str):
        raise _schema_error(path, where, "missing properties: 'type'")
    if raw["type"] not in TYPES:
        raise _schema_error(path, f"{where}/type", f"value must be one of {TYPES}")
    if raw["type"] == "array" and "items" not in raw:
        raise _schema_error(path, where, "missing properties: 'items'")
    inner = _items(path, f"{where}/items", raw["items"]) if "items" in raw else None
    return ItemsType(raw["type"], inner)


def _declaration(path: Path, key: str, raw: Any) -> ConfigType:
    """One `config:` entry after the shorthand rewrite, checked against project.json."""
    where = f"#/config/{key}"
    if not isinstance(raw, dict):
        allowed = "a string, integer, boolean, array, or {type, description, default, value}"
        raise _schema_error(path, where, f"expected {allowed}")
    for attribute in sorted(raw):
        if attribute not in ATTRIBUTES:
            hint = closest_key(str(attribute), ATTRIBUTES)
            allowed = ", ".join(f"'{a}'" for a in ATTRIBUTES[:-1]) + f" and '{ATTRIBUTES[-1]}'"
            suggestion = (
                f"did you mean '{hint}'?" if hint else f"the allowed attributes are {allowed}"
            )
            raise _schema_error(
                path, where, f"additionalProperties '{attribute}' not allowed; {suggestion}"
            )
    kind = raw.get("type")
    if kind is not None and kind not in TYPES:
        raise _schema_error(path, f"{where}/type", f"value must be one of {TYPES}")
    for attribute, wanted in (("description", str), ("secret", bool)):
        if attribute in raw and not isinstance(raw[attribute], wanted):
            raise _schema_error(path, f"{where}/{attribute}", f"expected {wanted.__name__}")
    items = _items(path, f"{where}/items", raw["items"]) if raw.get("items") is not None else None
    description, secret = raw.get("description", ""), bool(raw.get("secret", False))
    return ConfigType(kind, items, description, raw.get("default"), raw.get("value"), secret)


def _validate(name: str, key: str, declared: ConfigType) -> str | None:
    """project.go Project.Validate, for one key; the CLI's message, or None."""
    if declared.default is not None and declared.value is not None:
        return f"project config '{key}' cannot have both a 'default' and 'value' attribute"
    if in_project_namespace(name, key):
        if declared.type == "array" and declared.items is None:
            return (
                f"The configuration key '{key}' declares an array but does not specify the "
                "underlying type via the 'items' attribute"
            )
        kind, default = declared.type, declared.default
        typed_default = kind is not None and default is not None
        if typed_default and not valid_config_value(kind or "", declared.items, default):
            return (
                f"The default value specified for configuration key '{key}' is not of the "
                f"expected type '{full_type_name(kind or '', declared.items)}'"
            )
        return None
    if declared.type is not None:
        return (
            f"Configuration key '{key}' is not namespaced by the project and should not "
            "define a type"
        )
    if declared.default is not None:
        return (
            f"Configuration key '{key}' is not namespaced by the project and should not define "
            "a default value. Did you mean to use the 'value' attribute instead of 'default'?"
        )
    if declared.value is None:
        return f"Configuration key '{key}' is namespaced and must provide an attribute 'value'"
    return None


def load_project(project_dir: Path) -> Project:
    """Pulumi.yaml of `project_dir`, checked as the CLI checks it; SandboxError otherwise."""
    path = project_dir / "Pulumi.yaml"
    try:
        document = load_yaml(path.read_text(encoding="utf-8-sig"))  # the CLI strips a BOM too
    except OSError as error:
        raise SandboxError(f"could not read '{path}': {error.strerror}") from None
    except YamlError as error:
        raise SandboxError(f"could not unmarshal '{path}': {error}") from None
    except UnicodeDecodeError:
        raise SandboxError(f"could not unmarshal '{path}': not UTF-8 text") from None
    if not isinstance(document, dict):
        raise SandboxError(f"could not validate '{path}': expected project to be an object")
    name = document.get("name")
    if "name" not in document:
        hint = closest_key("name", tuple(document))
        found = f"; found '{hint}' instead" if hint else ""
        raise SandboxError(
            f"could not validate '{path}': project is missing a 'name' attribute{found}"
        )
    if not isinstance(name, str) or not name:
        raise SandboxError(
            f"could not validate '{path}': project is missing a non-empty string 'name' attribute"
        )
    config = document.get("config")
    stack_dir = document.get("stackConfigDir")
    if isinstance(config, str):  # RewriteConfigPathIntoStackConfigDir: the old config-dir form
        if "stackConfigDir" in document:
            raise SandboxError(
                "Should not use both config and stackConfigDir to define the stack directory. "
                "Use only stackConfigDir instead."
            )
        config, stack_dir = None, config
    if config is not None and not isinstance(config, dict):
        raise _schema_error(path, "#/config", "expected object, string or null")
    if stack_dir is not None and not isinstance(stack_dir, str):
        raise _schema_error(path, "#/stackConfigDir", "expected string or null")
    declared: dict[str, ConfigType] = {}
    for key, raw in (config or {}).items():
        if isinstance(raw, str | int | list):  # bool is an int here, as in Go's type switch
            # RewriteShorthandConfigValues: a bare string, integer, boolean or list is the
            # default of a project key and the value of any other namespace's key.
            raw = {"default" if in_project_namespace(name, key) else "value": raw}
        declared[key] = _declaration(path, key, raw)
    # Project.Validate walks a Go map (random order); sorted keys make the first error stable.
    for key in sorted(declared):
        problem = _validate(name, key, declared[key])
        if problem is not None:
            raise SandboxError(f"could not unmarshal '{path}': {problem}")
    return Project(name, path, declared, stack_dir)
