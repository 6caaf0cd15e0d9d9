"""Text, JSON and Markdown forms of a policy check report (see `sandbox.check.runner`)."""

from __future__ import annotations

import json
from typing import Any

from sandbox.check.report import CheckReport

PACK_NAME = "secure-api-calls"


def _summary(report: CheckReport) -> str:
    c = report.counts
    verdict = "FAILED" if report.mandatory_failed else "passed"
    return (
        f"{verdict}: {c.mandatory} mandatory, {c.advisory} advisory "
        f"({c.rules_run} rules run, {c.rules_disabled} disabled, {c.resources} resources)"
    )


def format_text(report: CheckReport) -> str:
    lines = [f"Policy pack {PACK_NAME} on {report.project}/{report.stack}"]
    for f in report.findings:
        lines.append(f"{f.level.upper():<9}  #{f.number} {f.rule}  {f.resource_name} ({f.urn})")
        lines.append(f"           {f.message}")
    lines.append(_summary(report))
    return "\n".join(lines) + "\n"


def report_to_dict(report: CheckReport) -> dict[str, Any]:
    """A JSON-ready dict in a fixed key order (diffable across runs)."""
    c = report.counts
    return {
        "pack": PACK_NAME,
        "project": report.project,
        "stack": report.stack,
        "mandatoryFailed": report.mandatory_failed,
        "counts": {
            "mandatory": c.mandatory,
            "advisory": c.advisory,
            "rulesRun": c.rules_run,
            "rulesDisabled": c.rules_disabled,
            "resources": c.resources,
        },
        "disabledRules": list(report.disabled_rules),
        "findings": [
            {
                "rule": f.rule,
                "number": f.number,
                "mirrors": f.mirrors,
                "level": f.level,
                "severity": f.severity,
                "urn": f.urn,
                "resourceName": f.resource_name,
                "resourceType": f.resource_type,
                "message": f.message,
            }
            for f in report.findings
        ],
    }


def format_json(report: CheckReport) -> str:
    return json.dumps(report_to_dict(report), indent=2, ensure_ascii=False) + "\n"


def _cell(text: str) -> str:
    # GitHub renders <inbound> as an HTML tag and | as a column break.
    return (
        text.replace("&", "&amp;")
        .replace("<", "&lt;")
        .replace(">", "&gt;")
        .replace("|", "\\|")
        .replace("\n", " ")
    )


def format_markdown(report: CheckReport) -> str:
    icon = "❌" if report.mandatory_failed else "✅"
    lines = [
        f"### {icon} Policy pack `{PACK_NAME}` on `{report.project}/{report.stack}`",
        "",
        _summary(report),
        "",
    ]
    if report.findings:
        lines += ["| Level | Rule | Resource | Message |", "|---|---|---|---|"]
        for f in report.findings:
            kind = f.resource_type.rsplit(":", 1)[-1]
            lines.append(
                f"| {f.level} | #{f.number} `{f.rule}` | {kind} `{_cell(f.resource_name)}` "
                f"| {_cell(f.message)} |"
            )
    else:
        lines.append("No violations.")
    return "\n".join(lines) + "\n"
