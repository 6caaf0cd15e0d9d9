"""The rehearsal's verdicts: one result per scenario, a plain-text table and a stable JSON form.

Plain text rather than a rich table: the same bytes in a terminal, a CI log and a test, and
nothing to strip when a pull-request comment quotes it.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import unquote_plus

from components.caller_headers import (
    CALLER_TOKEN_HEADER,
    METHOD_OVERRIDE_HEADERS,
    SUBSCRIPTION_KEY_HEADER,
    SUBSCRIPTION_KEY_QUERY,
)
from sandbox.rehearsal.scenarios import Scenario

AS_EXPECTED = "as expected"
MISMATCH = "MISMATCH"


@dataclass(frozen=True)
class Outcome:
    """What one call produced."""

    actual: int | str  # an HTTP status, or what happened instead ("no token: AADSTS...")
    message: str = ""  # the error message the caller saw
    backend: str | None = None  # "METHOD /path" as the echo backend saw it (for a 200)
    reason: str = ""  # the gateway's own account of a refusal (emulator-only header)
    seen: Mapping[str, Any] | None = None  # the echo backend's whole answer (for a 200)


@dataclass(frozen=True)
class BackendExpectation:
    """What an allowed call must show at the backend, from the intent: the route, the
    gateway's own token (for an API whose hop it authenticates) and the caller headers."""

    route: str  # "METHOD /path"
    api_client_id: str
    gateway_client_id: str | None = None  # None: the hop is not authenticated, by intent
    caller: Mapping[str, str] | None = None  # header name -> value (roles: any order)

    def problems(self, seen: Mapping[str, Any] | None) -> list[str]:
        if not isinstance(seen, Mapping):
            return ["the backend's answer is not the echo's"]
        found = []
        token = seen.get("authenticatedAs")
        if self.gateway_client_id is not None:
            client = (token or {}).get("azp", (token or {}).get("appid"))
            if client != self.gateway_client_id or (token or {}).get("aud") != self.api_client_id:
                found.append(
                    f"the backend did not receive the gateway's token for the API (azp/appid "
                    f"{client!r}, expected {self.gateway_client_id})"
                )
        headers = {str(k).lower(): str(v) for k, v in (seen.get("headers") or {}).items()}
        found += _caller_credentials(headers, str(seen.get("query") or ""), self.gateway_client_id)
        for name, wanted in (self.caller or {}).items():
            have = headers.get(name.lower())
            same = (
                have is not None and set(have.split(",")) == set(wanted.split(","))
                if name.lower() == "x-caller-roles"
                else have == wanted
            )
            if not same:
                found.append(f"the backend received {name}: {have!r}, expected {wanted!r}")
        return found


def _caller_credentials(
    headers: Mapping[str, str], query: str, gateway_client_id: str | None
) -> list[str]:
    """What the caller sent that must not reach the backend (components/caller_headers.py)."""
    leaked = [
        h for h in (SUBSCRIPTION_KEY_HEADER, *METHOD_OVERRIDE_HEADERS) if h.lower() in headers
    ]
    if gateway_client_id is None and CALLER_TOKEN_HEADER.lower() in headers:
        leaked.append(f"{CALLER_TOKEN_HEADER} (the caller's token)")
    names = {unquote_plus(pair.split("=", 1)[0]) for pair in query.split("&") if pair}
    if SUBSCRIPTION_KEY_QUERY in names:
        leaked.append(f"the query parameter {SUBSCRIPTION_KEY_QUERY}")
    return [f"the backend received the caller's {item}" for item in leaked]


@dataclass(frozen=True)
class ScenarioResult:
    scenario: Scenario
    actual: int | str
    message: str  # the gateway's message, or the backend's view for a 200
    reason: str  # why the gateway refused, in the emulator's words ("" for a 200)
    problems: tuple[str, ...]  # empty when the outcome matches the intent

    @property
    def verdict(self) -> str:
        return MISMATCH if self.problems else AS_EXPECTED


@dataclass(frozen=True)
class RehearsalReport:
    stack: str
    results: tuple[ScenarioResult, ...]
    seconds: float = 0.0  # servers up to verdicts; kept out of the JSON so it stays stable
    notes: tuple[str, ...] = ()  # what the scenarios leave untested, and why

    @property
    def ok(self) -> bool:
        return not self.mismatches

    @property
    def mismatches(self) -> tuple[ScenarioResult, ...]:
        return tuple(r for r in self.results if r.problems)

    @property
    def attacks(self) -> int:
        # Bypasses are attacks on the backend, past the gateway.
        return sum(1 for r in self.results if r.scenario.kind in ("attack", "bypass"))

    def summary(self) -> str:
        head = f"{len(self.results)} scenarios ({self.attacks} attacks) — "
        count = len(self.mismatches)
        if not count:
            return head + "all as expected"
        return head + f"{count} mismatch{'es' if count != 1 else ''}"


def judge(
    scenario: Scenario, outcome: Outcome, expected: BackendExpectation | str | None
) -> ScenarioResult:
    """Compare one outcome with the intent: status, then APIM's exact text or the words a
    403 must name, then (for a 200) what the backend received: the route, and with a
    BackendExpectation also whose token and which caller headers."""
    actual, message, backend = outcome.actual, outcome.message, outcome.backend
    expected_backend = expected.route if isinstance(expected, BackendExpectation) else expected
    problems: list[str] = []
    if actual != scenario.expected_status:
        problems.append(f"expected {scenario.expected_status}, got {actual}")
    elif scenario.expected_message is not None and message != scenario.expected_message:
        problems.append(f"message {message!r}, expected {scenario.expected_message!r}")
    elif missing := [w for w in scenario.expected_words if w not in message]:
        problems.append(f"message {message!r} does not name {', '.join(missing)}")
    elif actual == 200 and expected_backend is not None and backend != expected_backend:
        problems.append(f"backend received {backend!r}, expected {expected_backend!r}")
    elif actual == 200 and isinstance(expected, BackendExpectation):
        problems.extend(expected.problems(outcome.seen))
    shown = backend if actual == 200 and backend else message
    return ScenarioResult(scenario, actual, shown, outcome.reason, tuple(problems))


def format_table(report: RehearsalReport) -> str:
    rows = [("scenario", "expected", "actual", "verdict")]
    rows += [
        (r.scenario.name, str(r.scenario.expected_status), str(r.actual), r.verdict)
        for r in report.results
    ]
    widths = [max(len(row[i]) for row in rows) for i in range(3)]
    lines = [
        "  ".join(cell.ljust(widths[i]) if i < 3 else cell for i, cell in enumerate(row))
        for row in rows
    ]
    lines.insert(1, "  ".join("-" * w for w in (*widths, len("verdict"))))
    for result in report.mismatches:
        why = f" (gateway: {result.reason})" if result.reason else ""
        lines.append(f"{MISMATCH} {result.scenario.name}: {'; '.join(result.problems)}{why}")
    lines += [f"note: {note}" for note in report.notes]
    lines.append(report.summary())
    return "\n".join(lines) + "\n"


def format_json(report: RehearsalReport) -> str:
    """Sorted keys, scenario order, no timings: two runs of one plan give the same text."""
    document = {
        "stack": report.stack,
        "ok": report.ok,
        "notes": list(report.notes),
        "summary": {
            "scenarios": len(report.results),
            "attacks": report.attacks,
            "mismatches": len(report.mismatches),
        },
        "results": [
            {
                "name": r.scenario.name,
                "kind": r.scenario.kind,
                "api": r.scenario.api,
                "operation": r.scenario.operation,
                "consumer": r.scenario.consumer,
                "tool": r.scenario.tool,
                "group": r.scenario.group,
                "attack": r.scenario.attack,
                "expected": r.scenario.expected_status,
                "actual": r.actual,
                "verdict": r.verdict,
                "message": r.message,
                "problems": list(r.problems),
                "reason": r.reason,
            }
            for r in report.results
        ],
    }
    return json.dumps(document, indent=2, sort_keys=True, ensure_ascii=False) + "\n"
