"""`python -m benchmarks [--quick] [--profile] [--rehearsal]`: what the offline tools cost.

Plans: prints a table (dev stack; 1, 10 and 50 generated APIs), writes
`benchmarks/results.json` (the numbers `docs/performance.md` quotes) and checks DESIGN §8:
cost per resource stays flat, i.e. 50 APIs cost at most FLAT_LIMIT times as much per resource
as 10 APIs. When it is not flat (or with --profile) the largest case is run under cProfile and
the hot spots printed.

Rehearsal (`benchmarks/rehearsal_timing.py`, also part of the full run; `--rehearsal` runs it
alone): wall time of `python -m sandbox rehearse --stack dev`, servers up to verdicts against
the < 15 s budget, and the rehearsal gateway's throughput against the backend called
directly. Its numbers go under the `rehearsal` key of the results file.
"""

from __future__ import annotations

import argparse
import datetime
import io
import json
import os
import platform
import pstats
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

from benchmarks.plan_scaling import (
    ROOT,
    STACK,
    Run,
    as_dicts,
    catalogue_config,
    run_cases,
    write_project,
)

FLAT_LIMIT = 1.5
RESULTS = Path(__file__).resolve().parent / "results.json"


def table(runs: list[Run]) -> str:
    header = (
        f"{'case':<10}{'resources':>10}{'plan s':>9}{'ms/res':>9}{'import s':>10}"
        f"{'wall s':>9}{'peak MiB':>10}"
    )
    rows = [
        f"{r.case:<10}{r.resources:>10}{r.plan_s:>9.2f}{r.ms_per_resource:>9.2f}"
        f"{r.import_s:>10.2f}{r.wall_s:>9.2f}{r.peak_rss_mib:>10.1f}"
        for r in runs
    ]
    return "\n".join([header, "-" * len(header), *rows])


def scaling(runs: list[Run]) -> dict[str, object]:
    """Per-resource cost of the largest catalogue against the one before it."""
    generated = sorted((r for r in runs if r.case != "dev"), key=lambda r: r.apis)
    if len(generated) < 2:
        return {}
    small, large = generated[-2], generated[-1]
    ratio = large.ms_per_resource / small.ms_per_resource
    return {
        "compare": f"{small.case} -> {large.case}",
        "ms_per_resource": [round(small.ms_per_resource, 2), round(large.ms_per_resource, 2)],
        "ratio": round(ratio, 2),
        "limit": FLAT_LIMIT,
        "flat": ratio <= FLAT_LIMIT,
    }


def profile(apis: int, top: int = 20) -> str:
    """cProfile one plan of `apis` generated APIs in a fresh interpreter; the hot spots."""
    with tempfile.TemporaryDirectory(prefix="bench-profile-") as tmp:
        project = write_project(Path(tmp), catalogue_config(apis))
        stats_file = Path(tmp) / "plan.prof"
        subprocess.run(
            [
                sys.executable,
                "-m",
                "cProfile",
                "-o",
                str(stats_file),
                "-m",
                "benchmarks.plan_scaling",
                str(project),
                STACK,
            ],
            cwd=ROOT,
            check=True,
            capture_output=True,
        )
        out = []
        for order in ("tottime", "cumulative"):
            stream = io.StringIO()
            pstats.Stats(str(stats_file), stream=stream).sort_stats(order).print_stats(top)
            out.append(f"-- top {top} by {order} --\n{stream.getvalue().strip()}")
        return "\n\n".join(out)


def machine() -> dict[str, object]:
    return {
        "cpus": os.cpu_count(),
        "python": platform.python_version(),
        "system": f"{platform.system()} {platform.machine()}",
    }


def rehearsal_section(quick: bool) -> tuple[dict[str, Any], list[str]]:
    """Run the rehearsal benchmark; its results-file section and what should fail the run."""
    # Imported here: it loads the sandbox and the Pulumi SDK, which the plan cases leave to
    # their fresh interpreters.
    from benchmarks import rehearsal_timing

    settings = rehearsal_timing.Settings.quick() if quick else rehearsal_timing.Settings()
    print(
        f"\nRehearsal of the dev stack: the CLI {settings.cli_runs} time(s) in fresh "
        f"interpreters, servers up to verdicts {settings.in_process_runs} time(s), then "
        f"{settings.sequential} sequential and {settings.threads} x {settings.per_thread} "
        "concurrent requests, through the gateway and straight to the backend.",
        flush=True,
    )
    section = rehearsal_timing.measure("dev", settings)
    print(rehearsal_timing.table(section))
    found = rehearsal_timing.problems(section)
    for problem in found:
        print(f"rehearsal: {problem}")
    document = {
        "generated": datetime.date.today().isoformat(),
        "command": "python -m benchmarks --rehearsal" + (" --quick" if quick else ""),
        "machine": machine(),
        **section,
    }
    return document, found


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks", description=__doc__)
    parser.add_argument(
        "--quick",
        action="store_true",
        help="dev, 1 and 10 APIs, one run each, a shorter rehearsal; results.json is left alone",
    )
    parser.add_argument(
        "--repeats",
        type=int,
        default=None,
        help="runs per case, the median is kept (default 3, quick 1)",
    )
    parser.add_argument(
        "--profile",
        action="store_true",
        help="also cProfile the largest case and print the hot spots",
    )
    parser.add_argument(
        "--rehearsal",
        action="store_true",
        help="only the rehearsal benchmark; updates the 'rehearsal' key of the results file",
    )
    parser.add_argument(
        "--out",
        type=Path,
        default=None,
        help=f"results file (default {RESULTS.relative_to(ROOT)}; quick: none)",
    )
    args = parser.parse_args(argv)
    if args.rehearsal and args.profile:
        parser.error("--profile profiles a plan; it does not go with --rehearsal")
    out = args.out or (None if args.quick else RESULTS)
    if args.rehearsal:
        section, found = rehearsal_section(args.quick)
        if out is not None:
            existing = out.read_text(encoding="utf-8") if out.is_file() else "{}"
            document = json.loads(existing) | {"rehearsal": section}
            out.write_text(json.dumps(document, indent=2) + "\n", encoding="utf-8")
            print(f"wrote the rehearsal section of {out}")
        return 1 if found else 0
    sizes = (1, 10) if args.quick else (1, 10, 50)
    repeats = args.repeats or (1 if args.quick else 3)
    print(
        f"Planning offline in fresh interpreters: dev, {', '.join(map(str, sizes))} APIs; "
        f"{repeats} run(s) each, median kept. This takes a while.",
        flush=True,
    )
    runs = run_cases(sizes, repeats)
    print(table(runs))
    verdict = scaling(runs)
    if verdict:
        state = "flat" if verdict["flat"] else "GROWS"
        print(
            f"\nCost per resource {verdict['compare']}: x{verdict['ratio']} "
            f"(limit x{FLAT_LIMIT}): {state}"
        )
    if args.profile or (verdict and not verdict["flat"]):
        print("\n" + profile(max(sizes)))
    section, found = rehearsal_section(args.quick)
    section["command"] = "python -m benchmarks" + (" --quick" if args.quick else "")
    if out is not None:
        document = {
            "generated": datetime.date.today().isoformat(),
            "command": "python -m benchmarks" + (" --quick" if args.quick else ""),
            "machine": machine(),
            "repeats": repeats,
            "runs": as_dicts(runs),
            "scaling": verdict,
            "rehearsal": section,
        }
        out.write_text(json.dumps(document, indent=2) + "\n", encoding="utf-8")
        print(f"wrote {out}")
    flat = not verdict or bool(verdict["flat"])
    return 0 if flat and not found else 1


if __name__ == "__main__":
    sys.exit(main())
