"""`make test` never reads the user's stacks: they are the user's data, not the suite's.

Two checks. Statically, no test plans, rehearses, serves or diagnoses a stack of the
repository without naming a fixture config file (tests/fixtures), whether it calls the reader,
hands it to a thread or a partial, builds the stack file's path (f-strings included) or runs
the command line. Dynamically, in a copy of the checkout whose stacks a user has edited the
ways users do (prod deleted, dev pointed at their own resource group, a typo in a key, another
stack file added), every test module that reads a stack still passes.
"""

from __future__ import annotations

import ast
import re
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]
HERE = Path(__file__).resolve()
FIXTURE_HELPERS = ROOT / "tests" / "fixture_stacks.py"
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
READERS = PROJECT_READERS | CHECKOUT_READERS
REPO_FOLDERS = {"ROOT", "PROJECT_DIR", "BOOTSTRAP"}
# A stack file's name, literal or with its stack formatted in: Pulumi.dev.yaml, Pulumi.{}.yaml.
STACK_FILE_NAME = re.compile(r"Pulumi\.[^/]+\.yaml")
PLANNING_COMMANDS = {"preview", "plan", "check", "rehearse", "doctor", "serve", "export-arm"}
CHECKOUT_STACKS = ("dev", "prod", "ci")


def _name(node: ast.expr) -> str | None:
    return node.id if isinstance(node, ast.Name) else getattr(node, "attr", None)


def _reader_calls(call: ast.Call) -> Iterator[ast.Call]:
    """The call itself if it calls a reader, and a reader handed over to be called later:
    `Thread(target=serve, args=(...), kwargs={...})`, `partial(serve, ...)`,
    `executor.submit(serve, ...)`, seen as the call they will make."""
    if _name(call.func) in READERS:
        yield call
    target = next((k.value for k in call.keywords if k.arg == "target"), None)
    if target is not None and _name(target) in READERS:
        given = next((k.value for k in call.keywords if k.arg == "args"), None)
        named = next((k.value for k in call.keywords if k.arg == "kwargs"), None)
        args = list(given.elts) if isinstance(given, ast.Tuple | ast.List) else []
        keywords = []
        if isinstance(named, ast.Dict):
            keywords = [
                ast.keyword(k.value, v)
                for k, v in zip(named.keys, named.values, strict=True)
                if isinstance(k, ast.Constant) and isinstance(k.value, str)
            ]
        elif named is not None:
            keywords = [ast.keyword("config_file", named)]  # a mapping we cannot read: trust it
        yield ast.Call(target, args, keywords, lineno=call.lineno)
    for index, arg in enumerate(call.args):
        if isinstance(arg, ast.Name) and arg.id in READERS:
            rest = call.args[index + 1 :]
            yield ast.Call(arg, rest, call.keywords, lineno=call.lineno)


def _reads_a_user_stack(call: ast.Call) -> bool:
    name = _name(call.func)
    keywords = {k.arg for k in call.keywords}
    if name not in READERS or "config_file" in keywords or None in keywords:
        return False
    stack = call.args[0] if call.args else None
    if isinstance(stack, ast.Constant) and stack.value not in CHECKOUT_STACKS:
        return False  # a stack no checkout has: the test is about the error
    if name == "load_intent" and len(call.args) >= 2:
        return False  # load_intent(stack, config_file)
    if name in PROJECT_READERS:
        folder = call.args[1] if len(call.args) >= 2 else None
        folder = folder or next((k.value for k in call.keywords if k.arg == "project_dir"), None)
        return folder is None or (isinstance(folder, ast.Name) and folder.id in REPO_FOLDERS)
    return True


def _text(node: ast.expr) -> str | None:
    """A string literal's text, an f-string's with `{}` for each formatted value."""
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return node.value
    if isinstance(node, ast.JoinedStr):
        return "".join(
            part.value if isinstance(part, ast.Constant) else "{}" for part in node.values
        )
    return None


def _root_of(node: ast.expr) -> ast.expr:
    while isinstance(node, ast.BinOp) and isinstance(node.op, ast.Div):
        node = node.left
    return node


def _in_the_checkout(node: ast.expr) -> bool:
    root = _root_of(node)
    return isinstance(root, ast.Name) and root.id in REPO_FOLDERS


def _names_a_user_stack_file(node: ast.AST) -> bool:
    """`ROOT / "Pulumi.dev.yaml"`, `ROOT / f"Pulumi.{env}.yaml"`, `BOOTSTRAP / ...`,
    `ROOT.joinpath(...)`, `ROOT.glob("Pulumi.*.yaml")`."""
    if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Div):
        text = _text(node.right)
        return text is not None and bool(STACK_FILE_NAME.fullmatch(text)) and _in_the_checkout(node)
    if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute):
        if node.func.attr not in ("joinpath", "glob", "rglob"):
            return False
        texts = [_text(arg) for arg in node.args]
        return _in_the_checkout(node.func.value) and any(
            t is not None and STACK_FILE_NAME.fullmatch(t.split("/")[-1].replace("*", "x"))
            for t in texts
        )
    return False


def _strings(node: ast.AST) -> list[str]:
    return [t for n in ast.walk(node) if isinstance(n, ast.expr) and (t := _text(n)) is not None]


def _plans_a_user_stack_on_the_command_line(call: ast.Call) -> bool:
    """`sandbox plan --stack dev ...` (as a subprocess argument list) without --config-file."""
    words = [w for arg in call.args for w in _strings(arg)]
    if not PLANNING_COMMANDS & set(words) or "--config-file" in words or "--plan" in words:
        return False
    for index, word in enumerate(words[:-1]):
        if word in ("--stack", "-s") and words[index + 1] in CHECKOUT_STACKS:
            folder = words[words.index("--project-dir") + 1] if "--project-dir" in words else "."
            return folder in (".", "bootstrap")
    return False


def user_stack_reads(source: str) -> list[tuple[int, str]]:
    """(line, code) of every place in `source` that reads a stack of the checkout."""
    found = []
    for node in ast.walk(ast.parse(source)):
        if _names_a_user_stack_file(node):
            found.append((getattr(node, "lineno", 0), ast.unparse(node)[:120]))
        if not isinstance(node, ast.Call):
            continue
        reads = [c for c in _reader_calls(node) if _reads_a_user_stack(c)]
        if reads or _plans_a_user_stack_on_the_command_line(node):
            found.append((node.lineno, ast.unparse(node)[:120]))
    return found


def _test_sources() -> Iterator[Path]:
    for path in sorted((ROOT / "tests").rglob("*.py")):
        if path not in (HERE, FIXTURE_HELPERS):
            yield path


def test_no_test_reads_a_stack_of_the_checkout() -> None:
    found = [
        f"{path.relative_to(ROOT)}:{line}: {code}"
        for path in _test_sources()
        for line, code in user_stack_reads(path.read_text(encoding="utf-8"))
    ]
    assert not found, "tests must plan tests/fixtures stacks:\n" + "\n".join(found)


def test_the_static_check_sees_f_string_paths_and_readers_handed_to_a_thread() -> None:
    # The two ways tests once read the user's stacks unseen (bootstrap's group check, serve).
    caught = {
        'yaml.safe_load((ROOT / f"Pulumi.{env}.yaml").read_text())',
        'ROOT / "bootstrap" / f"Pulumi.{stack}.yaml"',
        'ROOT.glob("Pulumi.*.yaml")',
        'threading.Thread(target=serve, args=("dev", plan), kwargs={"out": stream})',
        'functools.partial(run_rehearsal, "dev", plan)',
        'subprocess.run([sys.executable, "-m", "sandbox", "rehearse", "--stack", "dev"])',
    }
    passed = {
        'tmp_path / f"Pulumi.{env}.yaml"',
        'ROOT / "Pulumi.yaml"',
        'threading.Thread(target=serve, args=("dev", plan), kwargs={"config_file": DEV})',
        'functools.partial(run_rehearsal, "dev", plan, config_file=DEV)',
        'threading.Thread(target=lambda: run_rehearsal("dev", plan, config_file=DEV))',
        'serve("nosuch", plan)',
    }
    assert [code for code in sorted(caught) if not user_stack_reads(code)] == []
    assert [code for code in sorted(passed) if user_stack_reads(code)] == []


# What reads a stack besides the readers: the fixture helpers (tests/fixture_stacks.py), and
# a fixture looked up by a name made at run time (request.getfixturevalue(f"{stack}_plan")).
FIXTURE_HELPERS_CALLED = {
    "run_fixture_program",
    "stack_document",
    "stack_file",
    "config_file_args",
    "getfixturevalue",
}


def stack_reading_modules() -> list[str]:
    """Every test module that plans, rehearses, serves or diagnoses a stack, itself, through a
    helper module of tests/ or through a conftest fixture: the ones a user's edits could break
    if they read the checkout's stacks instead of the fixtures."""
    sources = {path: path.read_text(encoding="utf-8") for path in _test_sources()}
    trees = {path: ast.parse(source) for path, source in sources.items()}
    fixtures = {
        node.name
        for path, tree in trees.items()
        if path.name == "conftest.py"
        for node in ast.walk(tree)
        if isinstance(node, ast.FunctionDef) and _reads_stacks(node, set())
    }
    helpers = {
        path.relative_to(ROOT).with_suffix("").as_posix().replace("/", ".")
        for path, tree in trees.items()
        if not path.name.startswith("test_") and _reads_stacks(tree, fixtures)
    }
    return sorted(
        path.relative_to(ROOT).as_posix()
        for path, tree in trees.items()
        if path.name.startswith("test_")
        and (_reads_stacks(tree, fixtures) or any(h in sources[path] for h in helpers))
    )


def _reads_stacks(tree: ast.AST, fixtures: set[str]) -> bool:
    called = READERS | FIXTURE_HELPERS_CALLED
    for node in ast.walk(tree):
        if isinstance(node, ast.Name | ast.Attribute) and _name(node) in called:
            return True
        if isinstance(node, ast.arg) and node.arg in fixtures:
            return True
        if isinstance(node, ast.Call) and PLANNING_COMMANDS & set(_strings(node)):
            return True
    return False


def break_the_user_stacks(checkout: Path) -> None:
    """What a user may do to their own stacks, all at once."""
    (checkout / "Pulumi.prod.yaml").unlink()  # deleted
    dev = checkout / "Pulumi.dev.yaml"
    document = yaml.safe_load(dev.read_text(encoding="utf-8"))
    config = document["config"]
    config["secure-api-calls:resourceGroup"]["name"] = "rg-myteam-dev"  # their own group
    config["secure-api-calls:apis"][0]["dispalyName"] = "typo"  # a misspelt key
    dev.write_text(yaml.safe_dump(document), encoding="utf-8")
    (checkout / "Pulumi.typo.yaml").write_text("confg: [not, a, stack\n")  # another, broken
    ci = checkout / "bootstrap" / "Pulumi.ci.yaml"
    ci.write_text(ci.read_text(encoding="utf-8").replace("contoso/", "myteam/"), encoding="utf-8")


def test_every_stack_reading_test_module_is_found() -> None:
    modules = stack_reading_modules()
    # The two that once read the user's stacks, and the goldens and CLI tests.
    assert {
        "tests/bootstrap/test_ci_identity.py",
        "tests/sandbox/rehearsal/test_rehearsal.py",
        "tests/components/test_inventory_golden.py",
        "tests/sandbox/cli/test_cli_commands.py",
    } <= set(modules)
    assert "tests/test_fixture_independence.py" not in modules


def test_every_stack_reading_test_passes_beside_the_stacks_a_user_has_edited(
    tmp_path: Path,
) -> None:
    copy = tmp_path / "checkout"
    shutil.copytree(ROOT, copy, ignore=shutil.ignore_patterns(*NOT_THE_PRODUCT), symlinks=True)
    break_the_user_stacks(copy)
    result = subprocess.run(
        # One process (no xdist), in a stable order: the suite already runs on both cores, and
        # a second pool would only compete with it. (An ordering that once hung in run_program,
        # a test swapping the runtime's event loop, is fixed: tests/sandbox/cli/test_conventions.)
        [
            *(sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-p", "no:xdist"),
            *stack_reading_modules(),
        ],
        cwd=copy,
        capture_output=True,
        text=True,
        timeout=900,
    )
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-2000:]
