"""Offline plan cost as the API catalogue grows (DESIGN §8: flat cost per resource).

Each case is a generated stack config (`Pulumi.bench.yaml`) with N APIs, each with 3 roles,
3 operations and 2 consumers of its own, written next to a copy of `__main__.py` in a temp
project dir. Everything not about the catalogue (gateway, vault, observability, developer
tools) is taken from the dev config, so the benchmark follows the product as it grows.

Every measurement runs in a fresh interpreter: imports, caches and the peak RSS then belong
to that one plan, as they do for `python -m sandbox plan` on a developer's machine or in CI.
"""

from __future__ import annotations

import copy
import json
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parent.parent
NS = "secure-api-calls:"
STACK = "bench"  # 1-12 lowercase letters/digits, as config validation requires


@dataclass(frozen=True)
class Run:
    """One plan in one fresh interpreter; times in seconds, memory in MiB."""

    case: str
    apis: int
    resources: int
    import_s: float  # interpreter up to `sandbox.plan.model` imported (the Pulumi SDK mostly)
    plan_s: float  # run_program + build_plan + dumps
    wall_s: float  # the whole child process, as the parent saw it
    peak_rss_mib: float

    @property
    def ms_per_resource(self) -> float:
        return 1000 * self.plan_s / self.resources if self.resources else 0.0


def _api(index: int) -> dict[str, Any]:
    name = f"api-{index:03d}"
    return {
        "name": name,
        "displayName": f"Catalogue API {index}",
        "path": name,
        "backendUrl": f"https://{name}.backend.contoso.example",
        "roles": [{"value": v} for v in ("Items.Read", "Items.Write", "Items.Admin")],
        "operations": [
            {"id": "list-items", "method": "GET", "urlTemplate": "/items", "roles": ["Items.Read"]},
            {"id": "add-item", "method": "POST", "urlTemplate": "/items", "roles": ["Items.Write"]},
            {
                "id": "drop-item",
                "method": "DELETE",
                "urlTemplate": "/items/{itemId}",
                "roles": ["Items.Admin"],
            },
        ],
    }


def catalogue_config(apis: int) -> dict[str, Any]:
    """The dev stack file with its catalogue replaced by `apis` generated APIs."""
    dev = yaml.safe_load((ROOT / "Pulumi.dev.yaml").read_text(encoding="utf-8"))
    config = copy.deepcopy(dev["config"])
    config[NS + "apis"] = [_api(i) for i in range(1, apis + 1)]
    # Two consumers per API, names <= 30 characters: `api-050-reader`.
    config[NS + "consumers"] = [
        {"name": f"api-{i:03d}-{who}", "calls": [{"api": f"api-{i:03d}", "roles": roles}]}
        for i in range(1, apis + 1)
        for who, roles in (("reader", ["Items.Read"]), ("writer", ["Items.Read", "Items.Write"]))
    ]
    developers = config.get(NS + "developers", {})
    developers["groups"] = []  # dev's groups name dev's APIs
    config[NS + "developers"] = developers
    return {"config": config}


def write_project(directory: Path, document: dict[str, Any], stack: str = STACK) -> Path:
    (directory / f"Pulumi.{stack}.yaml").write_text(yaml.safe_dump(document), encoding="utf-8")
    shutil.copy(ROOT / "__main__.py", directory / "__main__.py")
    shutil.copy(ROOT / "Pulumi.yaml", directory / "Pulumi.yaml")  # the CLI's config rules need it
    return directory


def measure(case: str, apis: int, project_dir: Path, stack: str) -> Run:
    """Plan `stack` from `project_dir` in a fresh interpreter and collect its numbers."""
    started = time.perf_counter()
    child = subprocess.run(
        [sys.executable, "-m", "benchmarks.plan_scaling", str(project_dir), stack],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=False,
    )
    wall = time.perf_counter() - started
    if child.returncode != 0:
        tail = "\n".join(child.stderr.strip().splitlines()[-5:])
        raise RuntimeError(f"benchmark case {case} failed (exit {child.returncode}):\n{tail}")
    numbers = json.loads(child.stdout.strip().splitlines()[-1])
    return Run(case=case, apis=apis, wall_s=round(wall, 3), **numbers)


def run_cases(sizes: tuple[int, ...], repeats: int) -> list[Run]:
    """The dev stack plus one generated catalogue per size; the median of `repeats` runs."""
    runs = [_median([measure("dev", 2, ROOT, "dev") for _ in range(repeats)])]
    with tempfile.TemporaryDirectory(prefix="bench-") as tmp:
        for size in sizes:
            project = Path(tmp) / f"apis-{size}"
            project.mkdir()
            write_project(project, catalogue_config(size))
            found = [measure(f"{size} APIs", size, project, STACK) for _ in range(repeats)]
            runs.append(_median(found))
    return runs


def _median(runs: list[Run]) -> Run:
    """The run with the median plan time (a real run, so its numbers belong together)."""
    middle = statistics.median_low(run.plan_s for run in runs)
    return next(run for run in runs if run.plan_s == middle)


def child_main(project_dir: str, stack: str) -> None:
    """In the fresh interpreter: import, plan, serialise; print the numbers as one JSON line."""
    started = time.perf_counter()
    from sandbox.plan.model import build_plan, dumps
    from sandbox.program.runner import run_program

    imported = time.perf_counter()
    plan = build_plan(run_program(stack, Path(project_dir)))
    dumps(plan)
    done = time.perf_counter()
    peak_kib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss  # KiB on Linux
    numbers = {
        "resources": len(plan["resources"]),
        "import_s": round(imported - started, 3),
        "plan_s": round(done - imported, 3),
        "peak_rss_mib": round(peak_kib / 1024, 1),
    }
    print(json.dumps(numbers))


def as_dicts(runs: list[Run]) -> list[dict[str, Any]]:
    return [{**asdict(run), "ms_per_resource": round(run.ms_per_resource, 2)} for run in runs]


if __name__ == "__main__":
    child_main(sys.argv[1], sys.argv[2])
