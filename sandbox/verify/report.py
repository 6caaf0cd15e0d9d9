"""verify's verdicts: one row per call, as text (the `rehearse` table), JSON and Markdown
(for a CI job summary). Neither tokens nor keys ever appear: only names, statuses and the
gateway's messages (redacted by the caller)."""

from __future__ import annotations

import json
from dataclasses import dataclass

from sandbox.verify.expect import Outcome, judge
from sandbox.verify.scenarios import Scenario

AS_EXPECTED = "as expected"
UNEXPECTED = "UNEXPECTED"


@dataclass(frozen=True)
class Result:
    scenario: Scenario
    outcome: Outcome
    problems: tuple[str, ...]

    @property
    def verdict(self) -> str:
        return UNEXPECTED if self.problems else AS_EXPECTED


def result_of(scenario: Scenario, outcome: Outcome) -> Result:
    return Result(scenario, outcome, judge(scenario.expected, outcome))


@dataclass(frozen=True)
class Report:
    source: str
    gateway_url: str
    results: tuple[Result, ...]
    notes: tuple[str, ...] = ()

    @property
    def unexpected(self) -> tuple[Result, ...]:
        return tuple(r for r in self.results if r.problems)

    @property
    def ok(self) -> bool:
        return not self.unexpected

    def counts(self) -> dict[str, int]:
        found = {"refusal": 0, "allowed": 0, "forbidden": 0, "bypass": 0}
        for result in self.results:
            found[result.scenario.kind] += 1
        return found

    def summary(self) -> str:
        counts = self.counts()
        head = (
            f"{len(self.results)} calls ({counts['refusal']} refusals, {counts['allowed']} "
            f"allowed, {counts['forbidden']} forbidden, {counts['bypass']} backend bypass) — "
        )
        if self.ok:
            return head + "all as expected"
        count = len(self.unexpected)
        return head + f"{count} unexpected"


def _rows(report: Report) -> list[tuple[str, str, str, str]]:
    return [
        (r.scenario.name, r.scenario.expected.label, r.outcome.actual, r.verdict)
        for r in report.results
    ]


def format_text(report: Report) -> str:
    rows = [("scenario", "expected", "actual", "verdict"), *_rows(report)]
    widths = [max(len(row[i]) for row in rows) for i in range(3)]
    lines = [f"verify: {report.source} ({report.gateway_url})"]
    lines += ["  ".join([*(row[i].ljust(widths[i]) for i in range(3)), row[3]]) for row in rows]
    lines.insert(2, "  ".join("-" * w for w in (*widths, len("verdict"))))
    lines += [f"note: {note}" for note in report.notes]
    lines += [f"{UNEXPECTED} {r.scenario.name}: {'; '.join(r.problems)}" for r in report.unexpected]
    lines.append(report.summary())
    return "\n".join(lines) + "\n"


def _cell(text: str) -> str:
    return text.replace("|", "\\|")


def format_markdown(report: Report) -> str:
    lines = [
        f"### secure-api-calls verify: {_cell(report.source)}",
        "",
        f"Gateway `{report.gateway_url}`. {report.summary()}",
        "",
        "| scenario | expected | actual | verdict |",
        "|---|---|---|---|",
    ]
    for name, expected, actual, verdict in _rows(report):
        shown = f"**{verdict}**" if verdict == UNEXPECTED else verdict
        lines.append(f"| {_cell(name)} | {expected} | {actual} | {shown} |")
    if report.unexpected:
        lines += [
            "",
            *(
                f"- **{_cell(r.scenario.name)}**: {_cell('; '.join(r.problems))}"
                for r in report.unexpected
            ),
        ]
    if report.notes:
        lines += ["", *(f"- note: {_cell(note)}" for note in report.notes)]
    return "\n".join(lines) + "\n"


def format_json(report: Report) -> str:
    document = {
        "source": report.source,
        "gatewayUrl": report.gateway_url,
        "ok": report.ok,
        "summary": {
            "calls": len(report.results),
            "unexpected": len(report.unexpected),
            **report.counts(),
        },
        "notes": list(report.notes),
        "results": [
            {
                "name": r.scenario.name,
                "api": r.scenario.api,
                "kind": r.scenario.kind,
                "method": r.scenario.call.method,
                "url": r.scenario.call.base_url.rstrip("/")
                + ("/" + r.scenario.call.path.lstrip("/") if r.scenario.call.path else ""),
                "expected": r.scenario.expected.label,
                "actual": r.outcome.status,
                "message": r.outcome.message,
                "verdict": r.verdict,
                "problems": list(r.problems),
            }
            for r in report.results
        ],
    }
    return json.dumps(document, indent=2, sort_keys=True, ensure_ascii=False) + "\n"
