"""`make test` never reads the user's stacks: they are the user's data, not the suite's.

Two checks. Statically, no test plans, rehearses or diagnoses a stack of the repository
without naming a fixture config file (tests/fixtures). Dynamically, in a copy of the checkout
whose Pulumi.dev.yaml a user has broken and beside which they added another stack file, the
tests that plan and rehearse the fixtures still pass.
"""

from __future__ import annotations

import ast
import re
import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
HERE = Path(__file__).resolve()
# What a checkout holds besides the product (built, cached or the user's own output).
NOT_THE_PRODUCT = (
    ".git",
    "venv",
    "plans",
    ".base",
    "build",
    "*.egg-info",
    "__pycache__",
    ".pytest_cache",
    ".mypy_cache",
    ".ruff_cache",
    ".hypothesis",
)
# Functions that read a stack of the project folder they are given (default: this checkout).
PROJECT_READERS = {"plan_stack", "plan_stack_with_notes", "run_program", "read_stack_config"}
# Functions that always read a stack of this checkout unless given a config file.
CHECKOUT_READERS = {"run_rehearsal", "serve", "load_intent", "load_config"}
REPO_FOLDERS = {"ROOT", "PROJECT_DIR", "BOOTSTRAP"}
USER_STACK_READ = re.compile(r'(ROOT|PROJECT_DIR|BOOTSTRAP)\s*/\s*"Pulumi\.[a-z0-9]+\.yaml"')
PLANNING_COMMANDS = {"preview", "plan", "check", "rehearse", "doctor"}


def _name(call: ast.Call) -> str | None:
    func = call.func
    return func.id if isinstance(func, ast.Name) else getattr(func, "attr", None)


def _reads_a_user_stack(call: ast.Call) -> bool:
    name = _name(call)
    keywords = {k.arg for k in call.keywords}
    if name not in PROJECT_READERS | CHECKOUT_READERS or "config_file" in keywords:
        return False
    stack = call.args[0] if call.args else None
    if isinstance(stack, ast.Constant) and stack.value not in ("dev", "prod", "ci"):
        return False  # a stack no checkout has: the test is about the error
    if name == "load_intent" and len(call.args) >= 2:
        return False  # load_intent(stack, config_file)
    if name in PROJECT_READERS:
        folder = call.args[1] if len(call.args) >= 2 else None
        folder = folder or next((k.value for k in call.keywords if k.arg == "project_dir"), None)
        return folder is None or (isinstance(folder, ast.Name) and folder.id in REPO_FOLDERS)
    return True


def _strings(node: ast.AST) -> list[str]:
    return [
        n.value for n in ast.walk(node) if isinstance(n, ast.Constant) and isinstance(n.value, str)
    ]


def _plans_a_user_stack_on_the_command_line(call: ast.Call) -> bool:
    """`sandbox plan --stack dev ...` (as a subprocess argument list) without --config-file."""
    words = [w for arg in call.args for w in _strings(arg)]
    if not PLANNING_COMMANDS & set(words) or "--config-file" in words or "--plan" in words:
        return False
    for index, word in enumerate(words[:-1]):
        if word in ("--stack", "-s") and words[index + 1] in ("dev", "prod", "ci"):
            folder = words[words.index("--project-dir") + 1] if "--project-dir" in words else "."
            return folder in (".", "bootstrap")
    return False


def test_no_test_reads_a_stack_of_the_checkout() -> None:
    found = []
    for path in sorted((ROOT / "tests").rglob("*.py")):
        if path in (HERE, ROOT / "tests" / "fixture_stacks.py"):
            continue
        source = path.read_text(encoding="utf-8")
        where = path.relative_to(ROOT)
        found += [f"{where}: {m.group(0)}" for m in USER_STACK_READ.finditer(source)]
        for node in ast.walk(ast.parse(source)):
            if isinstance(node, ast.Call) and (
                _reads_a_user_stack(node) or _plans_a_user_stack_on_the_command_line(node)
            ):
                found.append(f"{where}:{node.lineno}: {ast.unparse(node)[:120]}")
    assert not found, "tests must plan tests/fixtures stacks:\n" + "\n".join(found)


def test_the_suite_passes_beside_a_broken_user_stack_and_an_extra_stack_file(
    tmp_path: Path,
) -> None:
    copy = tmp_path / "checkout"
    shutil.copytree(ROOT, copy, ignore=shutil.ignore_patterns(*NOT_THE_PRODUCT), symlinks=True)
    # What a user may do to their own stacks: break one, add another.
    (copy / "Pulumi.dev.yaml").write_text("config:\n  secure-api-calls:namePrefx: oops\n")
    (copy / "Pulumi.typo.yaml").write_text("confg: [not, a, stack\n")
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "pytest",
            "-q",
            "-p",
            "no:cacheprovider",
            # The goldens (plans of both fixtures), the known-stacks message that an extra
            # stack file used to change, and a rehearsal through the command line.
            "tests/components/test_inventory_golden.py",
            "tests/sandbox/plan/test_plan_command.py::"
            "test_unknown_stack_and_bad_options_are_one_line_errors",
            "tests/sandbox/cli/test_cli_commands.py::"
            "test_rehearse_runs_every_scenario_as_expected_and_reports_json",
        ],
        cwd=copy,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-2000:]
