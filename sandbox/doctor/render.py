"""How the token doctor says it: a plain-text report for people, stable JSON for scripts."""

from __future__ import annotations

import dataclasses
import json
from typing import Any

from components.gateway_policy import UNAUTHORIZED_MESSAGE, forbidden_message
from sandbox.doctor.diagnose import Diagnosis, exit_code, minutes, seconds, utc

NOT_VERIFIED = (
    "signature NOT verified: the doctor explains the claims; the gateway also checks the "
    "signature against Entra's published keys"
)


def _time(claim: Any, now: float) -> str:
    if (epoch := seconds(claim)) is None:
        if claim is None:
            return "—"
        return repr(claim) if isinstance(claim, str) else json.dumps(claim, ensure_ascii=False)
    when = "ago" if epoch <= now else "from now"
    return f"{utc(epoch)} ({minutes(epoch - now)} {when})"


def _text(value: Any) -> str:
    return value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)


def _claim(source: dict[str, Any], name: str) -> str:
    """A claim as text; an absent or null claim is a dash, never Python's None."""
    value = source.get(name)
    if value is None or value == "":
        return "—"
    # A token is JSON: a claim that is not text is shown as JSON (null, not None).
    return _text(value)


def _facts(d: Diagnosis) -> list[tuple[str, str]]:
    claims, caller = d.claims, d.caller
    roles = claims.get("roles")
    who = {
        "consumer": f"consumer {caller.name} (Web App managed identity)",
        "developer-tool": f"developer tool {caller.name}",
        "gateway": "the API Management gateway's own identity (the backend hop)",
        "unknown": "unknown caller",
    }[caller.kind]
    if caller.delegated:
        who += f", signed-in user {caller.object_text}"
    client_claim = "azp" if "azp" in claims else "appid"
    return [
        ("alg", _claim(d.header, "alg")),
        ("iss", _claim(claims, "iss")),
        ("ver", _claim(claims, "ver")),
        ("tid", _claim(claims, "tid")),
        (
            "aud",
            f"{_claim(claims, 'aud')} → "
            + (f"API {d.target_api}" if d.target_api else "no API of this stack"),
        ),
        (client_claim, f"{_claim(claims, client_claim)} → {who}"),
        ("oid", _claim(claims, "oid")),
        (
            "roles",
            ", ".join(_text(role) for role in roles)
            if isinstance(roles, list) and roles
            else _claim(claims, "roles"),
        ),
        ("scp", _claim(claims, "scp")),
        ("exp", _time(claims.get("exp"), d.now)),
        ("nbf", _time(claims.get("nbf"), d.now)),
    ]


def format_text(d: Diagnosis) -> str:
    lines = [f"Token doctor, stack '{d.stack}' at {utc(d.now)} ({NOT_VERIFIED})", ""]
    lines += [f"  {name:<6} {value}" for name, value in _facts(d)]
    for verdict in d.apis:
        lines.append("")
        mark = "✔" if verdict.status == 200 else "✘"
        aimed = "the token is for this API" if verdict.named_by_audience else "not its audience"
        if verdict.status == 200:
            state = "passes the API scope"
        else:
            state = f"401 at the API scope ({UNAUTHORIZED_MESSAGE})"
        lines.append(f"{mark} {verdict.api} ({verdict.client_id}): {state}; {aimed}")
        for problem in verdict.problems:
            lines += [f"    ✘ {problem.check}: {problem.reason}", f"        fix: {problem.fix}"]
        width = max((len(op.operation) for op in verdict.operations), default=0)
        for op in verdict.operations:
            mark = "✔" if op.status == 200 else "✘"
            lines.append(f"    {mark} {op.operation:<{width}}  {op.status}  {op.reason}")
            if op.status == 403:
                lines.append(f"        gateway says: {forbidden_message(op.roles)}")
            if op.fix:
                lines.append(f"        fix: {op.fix}")
    if d.backends:
        lines += ["", "Sent straight to a backend (past the gateway):"]
    for backend in d.backends:
        mark = "✔" if backend.status == 200 else "✘"
        lines.append(f"  {mark} {backend.api}: {backend.status} from {backend.checked_by}")
        lines.append(f"        {backend.reason}")
        if backend.fix:
            lines.append(f"        fix: {backend.fix}")
    if d.notes:
        lines += ["", "Notes:"] + [f"  - {note}" for note in d.notes]
    code = exit_code(d)
    target = d.target_api or "no API of this stack"
    allowed = "accepted by at least one operation" if code == 0 else "refused by every operation"
    lines += ["", f"Verdict: {allowed} of {target} (exit {code})"]
    return "\n".join(lines)


def format_json(d: Diagnosis) -> str:
    document = dataclasses.asdict(d)
    document["exit_code"] = exit_code(d)
    return json.dumps(document, indent=2, sort_keys=True, ensure_ascii=False, default=str)
