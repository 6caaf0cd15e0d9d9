"""Rehearsal cost (DESIGN §8: "servers up to verdict table: under 15 seconds") and the
rehearsal gateway's throughput with token validation, against the backend called directly.

Three measurements, all on 127.0.0.1:

- **CLI wall**: `python -m sandbox rehearse --stack STACK` in a fresh interpreter (imports,
  plan, policy check, servers, scenarios, verdict table), the median of a few runs.
- **Servers up to verdicts**: `run_rehearsal(stack, plan)` in this process with a plan made
  beforehand; `report.seconds` is the time from starting the servers to the verdicts.
- **Throughput**: inside one `Rehearsal`, one consumer's genuine token (from the emulated
  Entra issuer) and its subscription key, for an operation the config says it may call. The
  same request goes N times through the gateway (subscription key, validate-jwt, role check,
  forward to the echo backend) and N times straight to the echo backend, first sequentially
  on one connection, then from a few threads with one httpx client each. Requests/s, p50/p95
  latency and the ratio gateway / direct.

Every loop is bounded by a request count and a deadline. Client, gateway and backend share
one Python process (the servers run in threads), so the numbers describe the emulator on this
machine, not Azure API Management.
"""

from __future__ import annotations

import statistics
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

import httpx

from benchmarks.plan_scaling import ROOT
from components.config import StackConfig
from consumer import DEFAULT_SUBSCRIPTION_KEY_HEADER, setting_names
from sandbox.plan.model import plan_stack
from sandbox.program.runner import PROJECT_DIR
from sandbox.rehearsal.scenarios import intended_operations
from sandbox.rehearsal.servers import Rehearsal
from sandbox.rehearsal.session import load_intent, run_rehearsal

BUDGET_S = 15.0  # DESIGN §8: servers up to verdict table
DEADLINE_S = 60.0  # no single request loop runs longer than this
CLI_TIMEOUT_S = 180.0
WARMUP = 20  # requests per target before timing: connections, JWKS cache, first-call imports


@dataclass(frozen=True)
class Settings:
    """How much to measure; `quick()` is for `python -m benchmarks --quick`."""

    cli_runs: int = 3
    in_process_runs: int = 3
    sequential: int = 300
    threads: int = 8
    per_thread: int = 100

    @classmethod
    def quick(cls) -> Settings:
        return cls(cli_runs=1, in_process_runs=1, sequential=100, threads=8, per_thread=25)


@dataclass(frozen=True)
class Target:
    """One request a consumer is allowed to make, as it would send it to the gateway."""

    consumer: str
    api: str
    operation: str
    method: str
    gateway_url: str
    direct_url: str  # where the gateway forwards it: the echo backend
    headers: dict[str, str]

    def describe(self) -> str:
        return f"{self.consumer} -> {self.api} {self.operation} ({self.method})"


@dataclass(frozen=True)
class Load:
    """One bounded request loop against one URL."""

    requests: int
    errors: int
    seconds: float
    latencies_ms: tuple[float, ...]

    @property
    def rps(self) -> float:
        return self.requests / self.seconds if self.seconds else 0.0

    def as_dict(self) -> dict[str, Any]:
        return {
            "requests": self.requests,
            "errors": self.errors,
            "seconds": round(self.seconds, 3),
            "rps": round(self.rps, 1),
            "p50_ms": round(_percentile(self.latencies_ms, 50), 2),
            "p95_ms": round(_percentile(self.latencies_ms, 95), 2),
        }


def _percentile(values: tuple[float, ...], pct: int) -> float:
    if len(values) < 2:
        return values[0] if values else 0.0
    return statistics.quantiles(values, n=100, method="inclusive")[pct - 1]


# -- wall time of the command ------------------------------------------------------------


def cli_wall(stack: str, runs: int) -> dict[str, Any]:
    """`python -m sandbox rehearse --stack STACK` in fresh interpreters; the median run."""
    command = [sys.executable, "-m", "sandbox", "rehearse", "--stack", stack]
    walls: list[float] = []
    for _ in range(runs):
        started = time.perf_counter()
        child = subprocess.run(
            command,
            cwd=ROOT,
            capture_output=True,
            text=True,
            check=False,
            timeout=CLI_TIMEOUT_S,
        )
        walls.append(round(time.perf_counter() - started, 3))
        if child.returncode != 0:
            tail = "\n".join((child.stderr or child.stdout).strip().splitlines()[-5:])
            raise RuntimeError(
                f"rehearse --stack {stack} failed (exit {child.returncode}):\n{tail}"
            )
    return {
        "command": f"python -m sandbox rehearse --stack {stack}",
        "runs": runs,
        "wall_s": walls,
        "median_wall_s": round(statistics.median(walls), 3),
    }


def servers_to_verdicts(stack: str, plan: dict[str, Any], runs: int) -> dict[str, Any]:
    """`report.seconds` of `run_rehearsal` with a ready plan, in this process."""
    seconds: list[float] = []
    scenarios = 0
    ok = True
    for _ in range(runs):
        report = run_rehearsal(stack, plan)
        seconds.append(round(report.seconds, 3))
        scenarios = len(report.results)
        ok = ok and report.ok
    median = statistics.median(seconds)
    return {
        "runs": runs,
        "seconds": seconds,
        "median_s": round(median, 3),
        "scenarios": scenarios,
        "all_as_expected": ok,
        "budget_s": BUDGET_S,
        "within_budget": median < BUDGET_S,
    }


# -- throughput --------------------------------------------------------------------------


def pick_call(intent: StackConfig, rehearsal: Rehearsal) -> tuple[str, str, str, str, str]:
    """The first (consumer, API, GET operation) the config allows, preferring templates
    without parameters: (consumer, api, operation id, method, sample path)."""
    in_plan = {c.name for c in rehearsal.tenant.consumers}
    candidates: list[tuple[int, str, str, str, str, str]] = []
    for caller in intent.consumers:
        if caller.name not in in_plan:
            continue
        for call in caller.calls:
            if call.api not in rehearsal.tenant.apis:
                continue
            for op in intended_operations(intent.api(call.api), PROJECT_DIR):
                if op.method == "GET" and set(op.roles) & set(call.roles):
                    rank = 1 if "{" in op.url_template else 0
                    candidates.append(
                        (rank, caller.name, call.api, op.id, op.method, op.sample_path())
                    )
    if not candidates:
        raise RuntimeError("no consumer in the config may GET any operation; nothing to measure")
    # min keeps the first of equals: config order decides between equally good calls.
    _, consumer, api, op_id, method, path = min(candidates, key=lambda c: c[0])
    return consumer, api, op_id, method, path


def build_target(intent: StackConfig, rehearsal: Rehearsal, http: httpx.Client) -> Target:
    """A genuine token and key for the picked call; one request through the gateway tells
    which backend URL it forwards to, so the direct run calls exactly that."""
    consumer, api, op_id, method, path = pick_call(intent, rehearsal)
    names = setting_names(api)
    environ = rehearsal.consumer_environment(consumer)
    token = rehearsal.issuer.issue_app_token(
        rehearsal.tenant.consumer(consumer).principal_id,
        rehearsal.tenant.apis[api].identifier_uri,
    )
    header = environ.get(names.subscription_key_header) or DEFAULT_SUBSCRIPTION_KEY_HEADER
    headers = {"Authorization": f"Bearer {token}", header: environ[names.subscription_key]}
    gateway_url = environ[names.base_url] + path
    answer = http.request(method, gateway_url, headers=headers)
    if answer.status_code != 200:
        raise RuntimeError(
            f"{consumer} {method} {gateway_url} through the gateway answered "
            f"{answer.status_code}, not 200: {answer.text[:200]}"
        )
    echoed = answer.json()
    query = f"?{echoed['query']}" if echoed.get("query") else ""
    direct_url = rehearsal.echo.url + str(echoed["path"]) + query
    return Target(consumer, api, op_id, method, gateway_url, direct_url, headers)


def _loop(http: httpx.Client, method: str, url: str, headers: dict[str, str], count: int) -> Load:
    latencies: list[float] = []
    errors = 0
    started = time.perf_counter()
    deadline = started + DEADLINE_S
    for _ in range(count):
        sent = time.perf_counter()
        if sent > deadline:
            break
        try:
            status = http.request(method, url, headers=headers).status_code
        except httpx.HTTPError:
            status = 0
        latencies.append(1000 * (time.perf_counter() - sent))
        errors += status != 200
    return Load(len(latencies), errors, time.perf_counter() - started, tuple(latencies))


def _client() -> httpx.Client:
    return httpx.Client(trust_env=False, timeout=10.0)


def sequential(target: Target, url: str, count: int) -> Load:
    with _client() as http:
        _loop(http, target.method, url, target.headers, min(WARMUP, count))
        return _loop(http, target.method, url, target.headers, count)


def concurrent(target: Target, url: str, threads: int, per_thread: int) -> Load:
    """`threads` workers, one httpx client each, released together; wall time of the whole."""
    start = threading.Barrier(threads + 1)

    def worker() -> Load:
        with _client() as http:
            _loop(http, target.method, url, target.headers, min(WARMUP, per_thread))
            start.wait(timeout=DEADLINE_S)
            return _loop(http, target.method, url, target.headers, per_thread)

    with ThreadPoolExecutor(max_workers=threads) as pool:
        futures = [pool.submit(worker) for _ in range(threads)]
        start.wait(timeout=DEADLINE_S)
        began = time.perf_counter()
        loads = [future.result(timeout=2 * DEADLINE_S) for future in futures]
        seconds = time.perf_counter() - began
    latencies = tuple(ms for load in loads for ms in load.latencies_ms)
    return Load(len(latencies), sum(load.errors for load in loads), seconds, latencies)


def _compare(gateway: Load, direct: Load) -> dict[str, Any]:
    return {
        "gateway": gateway.as_dict(),
        "direct": direct.as_dict(),
        "ratio": round(gateway.rps / direct.rps, 3) if direct.rps else None,
    }


def throughput(stack: str, plan: dict[str, Any], settings: Settings) -> dict[str, Any]:
    intent = load_intent(stack)
    with Rehearsal(plan) as rehearsal, _client() as http:
        target = build_target(intent, rehearsal, http)
        runs: dict[str, Callable[[str], Load]] = {
            "sequential": lambda url: sequential(target, url, settings.sequential),
            "concurrent": lambda url: concurrent(
                target, url, settings.threads, settings.per_thread
            ),
        }
        found: dict[str, Any] = {
            "call": target.describe(),
            "path": target.gateway_url.removeprefix(rehearsal.gateway.url),
            "backend_path": target.direct_url.removeprefix(rehearsal.echo.url),
        }
        for name, run in runs.items():
            # Direct first, then through the gateway: each pair runs back to back.
            direct = run(target.direct_url)
            gateway = run(target.gateway_url)
            found[name] = _compare(gateway, direct)
        found["sequential"]["connections"] = 1
        found["concurrent"] |= {"threads": settings.threads, "per_thread": settings.per_thread}
    return found


# -- all of it ---------------------------------------------------------------------------


def measure(stack: str = "dev", settings: Settings | None = None) -> dict[str, Any]:
    """Everything above, as the `rehearsal` section of `benchmarks/results.json`."""
    settings = settings or Settings()
    cli = cli_wall(stack, settings.cli_runs)
    started = time.perf_counter()
    plan = plan_stack(stack)
    plan_s = time.perf_counter() - started
    in_process = servers_to_verdicts(stack, plan, settings.in_process_runs)
    in_process["plan_s"] = round(plan_s, 3)
    return {
        "stack": stack,
        "cli": cli,
        "in_process": in_process,
        "throughput": throughput(stack, plan, settings),
    }


def problems(section: dict[str, Any]) -> list[str]:
    """Why this measurement should fail the benchmark run (empty when it should not)."""
    found = []
    in_process = section["in_process"]
    if not in_process["all_as_expected"]:
        found.append("the rehearsal reported mismatches")
    if not in_process["within_budget"]:
        found.append(
            f"servers up to verdicts took {in_process['median_s']} s (budget {BUDGET_S} s)"
        )
    for mode in ("sequential", "concurrent"):
        for side in ("gateway", "direct"):
            if section["throughput"][mode][side]["errors"]:
                found.append(f"{mode} {side}: requests that did not answer 200")
    return found


def table(section: dict[str, Any]) -> str:
    cli, in_process, load = section["cli"], section["in_process"], section["throughput"]
    lines = [
        f"rehearsal of {section['stack']}: CLI wall {cli['median_wall_s']:.2f} s "
        f"(median of {cli['runs']}); servers up to verdicts {in_process['median_s']:.2f} s "
        f"(median of {in_process['runs']}, budget < {BUDGET_S:.0f} s); "
        f"{in_process['scenarios']} scenarios, "
        + ("all as expected" if in_process["all_as_expected"] else "MISMATCHES"),
        f"throughput: {load['call']}, {load['path']} -> backend {load['backend_path']}",
        f"{'run':<12}{'target':<9}{'requests':>9}{'req/s':>9}{'p50 ms':>9}{'p95 ms':>9}"
        f"{'errors':>8}{'ratio':>8}",
    ]
    for mode in ("sequential", "concurrent"):
        result = load[mode]
        label = mode if mode == "sequential" else f"{load[mode]['threads']} threads"
        for side in ("gateway", "direct"):
            row = result[side]
            ratio = f"{result['ratio']:.2f}" if side == "gateway" and result["ratio"] else ""
            lines.append(
                f"{label:<12}{side:<9}{row['requests']:>9}{row['rps']:>9.1f}"
                f"{row['p50_ms']:>9.2f}{row['p95_ms']:>9.2f}{row['errors']:>8}{ratio:>8}"
            )
    return "\n".join(lines)


if __name__ == "__main__":
    quick = "--quick" in sys.argv[1:]
    result = measure(settings=Settings.quick() if quick else None)
    print(table(result))
    sys.exit(1 if problems(result) else 0)
