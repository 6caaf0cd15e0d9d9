"""The import rules of docs/architecture.md, checked on the source."""

from __future__ import annotations

import ast
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
STDLIB = set(sys.stdlib_module_names)


def imports_of(folder: str) -> dict[str, set[str]]:
    """file -> the dotted modules it imports (absolute imports only)."""
    found: dict[str, set[str]] = {}
    for path in sorted((ROOT / folder).rglob("*.py")):
        names: set[str] = set()
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Import):
                names.update(alias.name for alias in node.names)
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                names.add(node.module)
        found[str(path.relative_to(ROOT))] = names
    return found


def roots(names: set[str]) -> set[str]:
    return {name.split(".")[0] for name in names}


def test_components_import_only_the_sdks_and_the_setting_names_from_consumer() -> None:
    allowed = {
        "pulumi",
        "pulumi_azure_native",
        "pulumi_azuread",
        "pydantic",
        "defusedxml",
        "components",
    }
    for path, names in imports_of("components").items():
        extra = roots(names) - STDLIB - allowed - {"consumer"}
        assert not extra, f"{path} imports {extra}"
        assert {n for n in names if n.startswith("consumer")} <= {"consumer.app_settings"}, path


def test_the_policy_pack_is_self_contained() -> None:
    for path, names in imports_of("policies").items():
        assert roots(names) - STDLIB <= {"pulumi_policy", "secure_api_policies", "defusedxml"}, path


def test_the_consumer_library_needs_only_azure_identity_and_core() -> None:
    for path, names in imports_of("consumer").items():
        assert roots(names) - STDLIB <= {"azure", "consumer"}, path


def test_nothing_outside_the_sandbox_imports_it() -> None:
    for folder in ("components", "policies", "consumer"):
        for path, names in imports_of(folder).items():
            assert "sandbox" not in roots(names), path


def test_the_program_entry_point_stays_thin() -> None:
    source = (ROOT / "__main__.py").read_text(encoding="utf-8")
    assert len(source.splitlines()) <= 40
    assert "os.environ" not in source
