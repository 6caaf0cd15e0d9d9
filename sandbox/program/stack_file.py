"""A stack file (`Pulumi.<stack>.yaml`, or the `--config-file`) as the Pulumi CLI reads it.

pulumi/pulumi sdk/go/common/workspace/loaders.go `LoadProjectStackBytes`: decode, namespace
the unqualified keys with the project (`stackConfigNamespacedWithProject`), warn about null values
(`checkForEmptyConfig`), then unmarshal into `ProjectStack`, which keeps `config:` and
`environment:` (and the secrets-provider fields) and silently drops any other top-level key.
Each value becomes a `config.Value` (resource/config/object.go `MarshalString`).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from components.config_errors import OFFLINE_SECRET
from sandbox.errors import SandboxError
from sandbox.program.go_yaml import GoTime, YamlError, go_json, load_yaml

# workspace/project.go ProjectStack: the only top-level keys the CLI reads.
STACK_FILE_KEYS = ("config", "encryptedkey", "encryptionsalt", "environment", "secretsprovider")
# Offline, a `secure:` value nested in an object or list reads as this (it cannot be decrypted).
SECRET_PLACEHOLDER = OFFLINE_SECRET  # config errors name it as such (components/config_errors.py)


@dataclass(frozen=True)
class StackValue:
    """One config.Value: `text` as the program would get it (decrypted, offline a placeholder
    for each nested ciphertext), whether it is or holds a secret, and whether it is JSON."""

    text: str
    secure: bool = False
    object: bool = False


@dataclass(frozen=True)
class StackFile:
    path: Path
    values: Mapping[str, StackValue]  # namespaced keys, `ns:config:name` read as `ns:name`
    null_keys: tuple[str, ...]  # the keys checkForEmptyConfig warns about, as written namespaced
    environments: tuple[str, ...]  # the ESC environments the stack imports
    unknown_keys: tuple[str, ...]  # top-level keys the CLI ignores (`confg:`)


def parse_key(key: str) -> str | None:
    """resource/config/key.go ParseKey: `ns:name`, or the legacy `ns:config:name`; else None."""
    parts = key.split(":")
    if len(parts) == 2:
        return key
    if len(parts) == 3 and parts[1] == "config":
        return f"{parts[0]}:{parts[2]}"
    return None


def _is_ciphertext(raw: Any) -> bool:
    """object.go isSecureValue: a map whose only key is `secure`, holding a string."""
    return isinstance(raw, dict) and len(raw) == 1 and isinstance(raw.get("secure"), str)


def _plain(raw: Any) -> tuple[Any, bool]:
    """object.go unmarshalObject for a nested value: ciphertext stays a secret (offline: the
    placeholder), a time becomes time.Time.String(); also whether a secret was found."""
    if _is_ciphertext(raw):
        return SECRET_PLACEHOLDER, True
    if isinstance(raw, GoTime):
        return raw.go_string(), False
    if isinstance(raw, dict):
        pairs = {key: _plain(item) for key, item in raw.items()}
        return {k: v for k, (v, _) in pairs.items()}, any(s for _, s in pairs.values())
    if isinstance(raw, list):
        items = [_plain(item) for item in raw]
        return [v for v, _ in items], any(s for _, s in items)
    return raw, False


def stack_value(raw: Any) -> StackValue:
    """object.go MarshalString: strings as they are, booleans and numbers as Go JSON text,
    objects and lists as compact JSON with sorted keys; a top-level `secure:` is ciphertext."""
    if raw is None:  # yaml.v3 never calls the unmarshaler for null: config.Value{} is ""
        return StackValue("")
    if _is_ciphertext(raw):
        return StackValue(raw["secure"], secure=True)
    if isinstance(raw, str):
        return StackValue(raw)
    if isinstance(raw, GoTime):
        return StackValue(raw.go_string())
    if isinstance(raw, dict | list):
        plain, secure = _plain(raw)
        return StackValue(go_json(plain), secure=secure, object=True)
    return StackValue(go_json(raw))


def _environments(raw: Any) -> tuple[str, ...]:
    """workspace/project.go Environment.UnmarshalYAML: a list of names, or an inline
    definition whose `imports:` names them (an inline definition without imports is one too)."""
    if raw is None:
        return ()
    if isinstance(raw, list) and all(not isinstance(i, dict | list) for i in raw):
        return tuple(i if isinstance(i, str) else go_json(i) for i in raw)
    imports = raw.get("imports") if isinstance(raw, dict) else None
    names = [i for i in imports or [] if isinstance(i, str)] if isinstance(imports, list) else []
    return tuple(names) or ("(inline definition)",)


def read_stack_file(path: Path, project: str) -> StackFile:
    """The stack file at `path` (it exists) for `project`; SandboxError when the CLI would
    refuse it, in one line that names the file, the line or the key."""
    try:
        document = load_yaml(path.read_text(encoding="utf-8-sig"))  # the CLI strips a BOM too
    except OSError as error:
        raise SandboxError(f"{path.name}: cannot read it ({error.strerror})") from None
    except YamlError as error:
        raise SandboxError(f"{path.name}: not valid YAML: {error}; fix the file") from None
    except UnicodeDecodeError:  # yaml.v3: "invalid leading UTF-8 octet"
        raise SandboxError(f"{path.name}: not valid YAML: not UTF-8 text; fix the file") from None
    if document is None:  # an empty file: no config at all, as LoadProjectStackBytes reads it
        document = {}
    if not isinstance(document, dict):
        kind = "a list" if isinstance(document, list) else "a single value"
        raise SandboxError(
            f"{path.name}: the file is {kind}; a stack file is a mapping with 'config:' "
            "(and optionally 'environment:')"
        )
    config = document.get("config")
    if config is not None and not isinstance(config, dict):
        raise SandboxError(f"{path.name}: 'config:' must be a mapping of key: value")
    values: dict[str, StackValue] = {}
    written: dict[str, str] = {}
    null_keys: list[str] = []
    for key, raw in (config or {}).items():
        namespaced = key if ":" in key else f"{project}:{key}"
        parsed = parse_key(namespaced)
        if parsed is None:
            raise SandboxError(
                f"{path.name}: could not unmarshal map: could not parse {namespaced} as a "
                "configuration key (configuration keys should be of the form `<namespace>:<name>`)"
            )
        if parsed in written:
            # The CLI keeps whichever a Go map iteration visits last: refuse the ambiguity.
            raise SandboxError(
                f"{path.name}: config key '{parsed}' is set twice (as '{written[parsed]}' and "
                f"'{key}'); keep one"
            )
        written[parsed] = key
        if raw is None:
            null_keys.append(namespaced)
        try:
            values[parsed] = stack_value(raw)
        except YamlError as error:
            raise SandboxError(f"{path.name}: config {key}: {error}; quote the value") from None
    unknown = tuple(key for key in document if key not in STACK_FILE_KEYS)
    return StackFile(
        path, values, tuple(null_keys), _environments(document.get("environment")), unknown
    )
