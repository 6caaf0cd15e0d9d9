"""Tiny Pulumi projects in a temporary folder, for the CLI's config rules."""

from __future__ import annotations

import textwrap
from pathlib import Path

# A program that exports exactly what the engine handed it: PULUMI_CONFIG and the secret keys.
ECHO_PROGRAM = """\
import pulumi
from pulumi.runtime.config import CONFIG, is_config_secret

pulumi.export("config", dict(CONFIG.get()))
pulumi.export("secretKeys", sorted(key for key in CONFIG.get() if is_config_secret(key)))
"""


def project(
    tmp_path: Path,
    config_schema: str = "",
    stack_file: str | None = "config: {}\n",
    *,
    name: str = "proj",
    stack: str = "dev",
    extra: str = "",
) -> Path:
    """Pulumi.yaml (`config:` block from `config_schema`), Pulumi.<stack>.yaml and the echo
    program; every text is dedented, so tests can write them indented."""
    tmp_path.mkdir(parents=True, exist_ok=True)
    schema = textwrap.dedent(config_schema)
    header = f"name: {name}\nruntime: python\n{textwrap.dedent(extra)}"
    body = "config:\n" + textwrap.indent(schema, "  ") if schema.strip() else ""
    (tmp_path / "Pulumi.yaml").write_text(header + body, encoding="utf-8")
    (tmp_path / "__main__.py").write_text(ECHO_PROGRAM, encoding="utf-8")
    if stack_file is not None:
        text = textwrap.dedent(stack_file)
        (tmp_path / f"Pulumi.{stack}.yaml").write_text(text, encoding="utf-8")
    return tmp_path


# The smallest stack of the real project: only its required keys (namePrefix, gateway, apis).
MINIMAL_STACK = """\
config:
  secure-api-calls:namePrefix: demo
  secure-api-calls:gateway:
    publisherName: Demo Platform Team
    publisherEmail: platform@demo.example
  secure-api-calls:apis:
    - name: orders
      displayName: Orders API
      path: orders
      backendUrl: https://orders.demo.example
      roles: [{value: Orders.Read}]
      operations: [{id: list-orders, method: GET, urlTemplate: /orders, roles: [Orders.Read]}]
"""
