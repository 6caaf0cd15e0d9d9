"""A PlanDiff as terminal text, a pull-request comment (Markdown) or JSON for tools.

All three read the same masked PlanDiff, so none of them can show a secret. Long or multi-line
values (gateway policy XML) are shown as a unified diff of lines, not as two walls of text.
"""

from __future__ import annotations

import difflib
import json
import re
from typing import Any

from sandbox.diff.model import ABSENT, Change, FieldChange, PlanDiff, exit_code

_SYMBOL = {"create": "+", "update": "~", "replace": "+-", "delete": "-"}
_LONG = 100  # characters; longer strings are diffed by line
_TABLE_PATHS = 4  # changed input paths named per table row; the rest are in the details
MAX_COMMENT = 60_000  # characters; GitHub refuses comments over 65,536


def _short(token: str) -> str:
    return token.rsplit(":", 1)[-1]


def show(value: Any) -> str:
    return "(absent)" if value is ABSENT else json.dumps(value, sort_keys=True, ensure_ascii=False)


def is_long(change: FieldChange) -> bool:
    return any(
        isinstance(v, str) and ("\n" in v or len(v) > _LONG) for v in (change.old, change.new)
    )


def line_diff(change: FieldChange) -> list[str]:
    """Unified diff of the two values' lines (an absent or non-string side counts as empty)."""
    old = change.old if isinstance(change.old, str) else ""
    new = change.new if isinstance(change.new, str) else ""
    return list(
        difflib.unified_diff(
            old.splitlines(), new.splitlines(), "before", "after", lineterm="", n=2
        )
    )


def summary(diff: PlanDiff) -> str:
    counts = diff.counts
    parts = [f"{counts[k]} to {k}" for k in ("create", "update", "replace", "delete")]
    text = f"{', '.join(parts)}, {diff.unchanged} unchanged"
    if diff.outputs:
        text += f"; {len(diff.outputs)} stack output(s) changed"
    stacks = (
        diff.head_stack
        if diff.base_stack == diff.head_stack
        else (f"{diff.base_stack} → {diff.head_stack}")
    )
    if not diff.has_changes:
        return f"Plan diff ({stacks}): no changes ({diff.unchanged} resources unchanged)."
    critical = len(diff.critical)
    tail = (
        f"⚠ {critical} identity-critical consequence(s)"
        if critical
        else "Nothing identity-critical"
    )
    return f"Plan diff ({stacks}): {text}. {tail}."


def _kind_label(change: Change) -> str:
    return f"{change.kind} (renamed)" if change.renamed else change.kind


def format_text(diff: PlanDiff) -> str:
    lines = [f"warning: {w}" for w in diff.warnings] + [summary(diff)]
    critical = diff.critical
    notes = [c for c in diff.consequences if not c.critical]
    if critical:
        lines += ["", "⚠ Identity-critical:"] + [f"  ! {c.message}" for c in critical]
    if notes:
        lines += ["", "Other effects:"] + [f"  · {c.message}" for c in notes]
    if diff.changes:
        lines += ["", "Changes:"]
    for change in diff.changes:
        lines.append(
            f"  {_SYMBOL[change.kind]:<2} {_kind_label(change):<18} {change.type}  {change.label}"
        )
        lines += ["      " + row for row in _field_rows(change.fields)]
    if diff.outputs:
        lines += ["", "Stack outputs:"] + ["  " + row for row in _field_rows(diff.outputs)]
    return "\n".join(lines) + "\n"


def _field_rows(fields: tuple[FieldChange, ...]) -> list[str]:
    rows = []
    for change in fields:
        mark = "  (forces replacement)" if change.forces_replacement else ""
        if is_long(change):
            rows.append(f"{change.path}:{mark}")
            rows += ["    " + line for line in line_diff(change)]
        else:
            rows.append(f"{change.path}: {show(change.old)} → {show(change.new)}{mark}")
    return rows


def _code(text: str, table: bool = False) -> str:
    """Inline Markdown code that survives backticks in the value (and pipes in a table cell,
    where GitHub honours `\\|` even inside code; elsewhere the backslash would show)."""
    fence = "``" if "`" in text else "`"
    pad = " " if text.startswith("`") or text.endswith("`") else ""
    code = f"{fence}{pad}{text}{pad}{fence}"
    return code.replace("|", "\\|") if table else code


def _table_row(change: Change) -> str:
    resource = _code(change.name, table=True)
    if change.renamed:
        resource = f"{_code(change.old_name or '', table=True)} → {resource}"
    paths = [
        _code(f.path, table=True) + (" ⟲" if f.forces_replacement else "")
        for f in change.fields[:_TABLE_PATHS]
    ]
    if len(change.fields) > _TABLE_PATHS:
        paths.append(f"… {len(change.fields) - _TABLE_PATHS} more")
    return (
        f"| {_SYMBOL[change.kind]} {_kind_label(change)} | {resource} | "
        f"{_code(_short(change.type), table=True)} | {', '.join(paths) or '—'} |"
    )


def format_markdown(diff: PlanDiff) -> str:
    """A pull-request comment: summary line, critical consequences, other effects, a table of
    changes, then changed inputs and stack outputs folded in <details>. Kept under GitHub's
    comment limit by dropping details (never the summary, consequences or table)."""
    warned = [f"> ⚠ Warning: {w}" for w in diff.warnings]
    head = [*warned, *([""] if warned else []), f"**{summary(diff)}**"]
    if not diff.has_changes:
        return "\n".join(head) + "\n"
    if diff.critical:
        head += ["", "### ⚠ Identity-critical", ""] + [f"- {c.message}" for c in diff.critical]
    notes = [c for c in diff.consequences if not c.critical]
    if notes:
        head += ["", "### Other effects", ""] + [f"- {c.message}" for c in notes]
    if diff.changes:
        head += [
            "",
            "### Changes",
            "",
            "| Change | Resource | Type | Changed inputs |",
            "|---|---|---|---|",
        ] + [_table_row(c) for c in diff.changes]
        head += ["", "⟲ forces replacement"] if any(c.fields for c in diff.changes) else []
    details: list[str] = []
    for change in (c for c in diff.changes if c.fields):
        details += [f"**{_code(change.label)}** ({_code(change.type)})", ""]
        details += [*_markdown_fields(change.fields), ""]
    folded = [
        ("Changed inputs", details),
        ("Stack outputs changed", _markdown_fields(diff.outputs)),
    ]
    size = len("\n".join(head))
    for title, body in folded:
        text = "\n".join(body)
        if not body:
            continue
        if size + len(text) > MAX_COMMENT:
            head += ["", f"_{title} left out to fit a comment; run `make diff` for them._"]
            continue
        head += ["", f"<details><summary>{title}</summary>", "", text, "", "</details>"]
        size += len(text)
    return "\n".join(head) + "\n"


def _fence(lines: list[str]) -> str:
    """A code fence longer than any backtick run in the block, so the XML cannot close it."""
    runs = [len(run) for line in lines for run in re.findall(r"`+", line)]
    return "`" * max(3, max(runs, default=0) + 1)


def _markdown_fields(fields: tuple[FieldChange, ...]) -> list[str]:
    lines = []
    for change in fields:
        if is_long(change):
            block = line_diff(change)
            fence = _fence(block)
            lines += [f"- {_code(change.path)}:", "", f"{fence}diff", *block, fence, ""]
        else:
            lines.append(
                f"- {_code(change.path)}: {_code(show(change.old))} → {_code(show(change.new))}"
            )
    return lines


def _field_json(change: FieldChange) -> dict[str, Any]:
    out: dict[str, Any] = {"path": change.path, "forcesReplacement": change.forces_replacement}
    for side in ("old", "new"):
        value = getattr(change, side)
        if value is not ABSENT:  # absent: the key is left out (null is a real JSON value)
            out[side] = value
    return out


def format_json(diff: PlanDiff) -> str:
    summary_counts: dict[str, int] = {str(kind): count for kind, count in diff.counts.items()}
    summary_counts.update(
        unchanged=diff.unchanged, critical=len(diff.critical), outputs=len(diff.outputs)
    )
    document: dict[str, Any] = {
        "format": "secure-api-calls-plan-diff",
        "version": 1,
        "base": {"stack": diff.base_stack},
        "head": {"stack": diff.head_stack},
        "summary": summary_counts,
        "warnings": list(diff.warnings),
        "consequences": [
            {"urn": c.urn, "message": c.message, "critical": c.critical} for c in diff.consequences
        ],
        "changes": [
            {
                "kind": c.kind,
                "urn": c.urn,
                "type": c.type,
                "name": c.name,
                "custom": c.custom,
                "oldUrn": c.old_urn,
                "oldName": c.old_name,
                "fields": [_field_json(f) for f in c.fields],
            }
            for c in diff.changes
        ],
        "outputs": [_field_json(f) for f in diff.outputs],
        "exitCode": exit_code(diff),
    }
    return json.dumps(document, indent=2, sort_keys=True, ensure_ascii=False) + "\n"
