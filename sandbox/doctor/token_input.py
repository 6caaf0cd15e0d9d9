"""Reading the doctor's input: the TOKEN argument, the unverified JWT, the stack's config."""

from __future__ import annotations

import base64
import binascii
import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TextIO

from components.config import PROJECT, ConfigError, StackConfig, decode_values, parse_config
from sandbox.errors import SandboxError
from sandbox.program.runner import PROJECT_DIR, read_stack_config

_PART = re.compile(r"^[A-Za-z0-9_-]+$")


@dataclass(frozen=True)
class DecodedToken:
    header: dict[str, Any]
    claims: dict[str, Any]


def read_token_argument(arg: str, stdin: TextIO) -> str:
    """TOKEN, `@file` or `-` (stdin) -> the bare token; `Bearer ` and quotes are dropped."""
    if arg == "-":
        text = stdin.read()
    elif arg.startswith("@"):
        try:
            text = Path(arg[1:]).read_text(encoding="utf-8")
        except FileNotFoundError:
            raise SandboxError(f"{arg}: no such file; pass the token, @file or '-'") from None
        except (OSError, UnicodeDecodeError) as error:
            raise SandboxError(f"{arg}: cannot read ({error.__class__.__name__})") from None
    else:
        text = arg
    text = text.strip()
    if text.startswith("{"):  # `az account get-access-token` output piped in as is
        try:
            data = json.loads(text)
        except json.JSONDecodeError:
            data = None
        if isinstance(data, dict):
            text = str(data.get("accessToken") or data.get("access_token") or text)
    text = re.sub(r"^(authorization:\s*)?bearer(\s+|$)", "", text, flags=re.I).strip().strip("\"'")
    if not text:
        raise SandboxError("no token given: pass the token, @file, or '-' to read stdin")
    return text


def _json_part(part: str, which: str) -> dict[str, Any]:
    try:
        value = json.loads(base64.urlsafe_b64decode(part + "=" * (-len(part) % 4)))
    except (binascii.Error, ValueError):  # ValueError covers bad UTF-8 and bad JSON
        raise SandboxError(f"not a JWT: the {which} is not base64url-encoded JSON") from None
    if not isinstance(value, dict):
        raise SandboxError(f"not a JWT: the {which} is not a JSON object")
    return value


def decode_unverified(token: str) -> DecodedToken:
    """Header and claims, read without verifying anything; every problem is one line."""
    parts = token.strip().split(".")
    if len(parts) == 5:
        raise SandboxError(
            "an encrypted token (JWE, five parts): its claims cannot be read; Entra access "
            "tokens for these APIs are signed JWTs (three parts), request one of those"
        )
    if len(parts) != 3 or not all(_PART.match(p) for p in parts[:2]):
        raise SandboxError("not a JWT: expected three base64url parts separated by '.'")
    return DecodedToken(_json_part(parts[0], "header"), _json_part(parts[1], "payload"))


def load_config(
    stack: str, project_dir: Path = PROJECT_DIR, config_file: Path | None = None
) -> StackConfig:
    """The stack's strict config, as the program parses it; config errors are SandboxErrors."""
    prefix = f"{PROJECT}:"
    raw = {
        k[len(prefix) :]: v
        for k, v in read_stack_config(stack, project_dir, config_file=config_file).items()
        if k.startswith(prefix)
    }
    try:
        return parse_config(decode_values(raw), stack, project_dir)
    except ConfigError as error:
        raise SandboxError(str(error)) from None
