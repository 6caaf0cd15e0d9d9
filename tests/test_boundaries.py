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


PACKAGES = ("components", "consumer", "sandbox", "bootstrap", "policies/secure_api_policies")


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[0] == "policies":  # the pack imports its rules as a top-level package
        parts = parts[1:]
    if parts[-1] == "__init__":
        parts = parts[:-1]
    return ".".join(parts)


def project_import_graph() -> dict[str, set[str]]:
    """module -> the project modules it imports, anywhere in the file (functions and
    TYPE_CHECKING blocks included: a cycle hidden behind either is still a cycle)."""
    files = {_module_name(p): p for pkg in PACKAGES for p in sorted((ROOT / pkg).rglob("*.py"))}
    graph: dict[str, set[str]] = {}
    for module, path in files.items():
        targets: set[str] = set()
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Import):
                targets.update(alias.name for alias in node.names)
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                for alias in node.names:
                    child = f"{node.module}.{alias.name}"
                    targets.add(child if child in files else node.module)
        graph[module] = {t for t in targets if t in files and t != module}
    return graph


def test_no_room_has_an_import_cycle() -> None:
    graph = project_import_graph()
    state: dict[str, int] = {}  # 1: on the current path, 2: done
    path: list[str] = []

    def visit(module: str) -> None:
        state[module] = 1
        path.append(module)
        for target in sorted(graph[module]):
            if state.get(target) == 1:
                cycle = [*path[path.index(target) :], target]
                raise AssertionError("import cycle: " + " -> ".join(cycle))
            if target not in state:
                visit(target)
        path.pop()
        state[module] = 2

    for module in sorted(graph):
        if module not in state:
            visit(module)


def test_the_offline_tools_have_one_folder_per_tool_and_no_name_prefixes() -> None:
    tools = {"program", "plan", "check", "diff", "doctor", "rehearsal"}
    folders = {p.name for p in (ROOT / "sandbox").iterdir() if (p / "__init__.py").is_file()}
    assert tools <= folders
    loose = {p.stem for p in (ROOT / "sandbox").glob("*.py")} - {"__init__", "__main__"}
    for stem in loose:
        assert not any(stem.startswith(f"{tool}_") for tool in tools | folders), stem


def test_inside_the_offline_tools_only_the_command_line_reaches_across_tools() -> None:
    # A tool may use the shared layers (program, plan, output, errors); only cli ties tools
    # together, so a tool can be read, tested and changed on its own.
    shared = {"program", "plan", "output", "errors"}
    graph = project_import_graph()
    for module, targets in graph.items():
        parts = module.split(".")
        if parts[0] != "sandbox" or len(parts) < 2 or parts[1] in ("cli", "__main__"):
            continue
        for target in targets:
            if target.startswith("sandbox."):
                room = target.split(".")[1]
                assert room == parts[1] or room in shared, f"{module} imports {target}"
