"""The errors a consumer sees, each saying in one line what went wrong and what to do.

Standard library only: `app_settings` raises `ConsumerConfigError`, and the stack's
`components/` package imports `app_settings` in a virtualenv without azure-core.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from http import HTTPStatus
from typing import Any

_MAX_MESSAGE = 300


def one_line(text: str, limit: int = _MAX_MESSAGE) -> str:
    """Collapse whitespace and cut long text, so an HTML error page cannot flood a log line."""
    flat = re.sub(r"\s+", " ", text).strip()
    return flat if len(flat) <= limit else flat[: limit - 1].rstrip() + "…"


class ConsumerError(Exception):
    """Base class: everything this library raises on purpose."""


class ConsumerConfigError(ConsumerError, ValueError):
    """An app setting is missing or invalid; the message names it and says how to fix it."""


class TokenAcquisitionError(ConsumerError):
    """The credential could not produce a token for the API's scope."""

    def __init__(self, scope: str, reason: str, hint: str) -> None:
        self.scope = scope
        self.reason = one_line(reason)
        self.hint = hint
        super().__init__(f"could not get a token for {scope}: {self.reason} (hint: {hint})")


class GatewayUnreachableError(ConsumerError):
    """No HTTP answer at all: DNS, TLS, connection refused or timed out (after retries)."""

    def __init__(self, url: str, reason: str) -> None:
        self.url = url
        self.reason = one_line(reason)
        super().__init__(f"could not reach {url}: {self.reason}")


class GatewayError(ConsumerError):
    """A non-2xx answer. `str()` is one line: `403 from gateway: Forbidden. <message>`."""

    def __init__(
        self, status: int, message: str, body: str, headers: Mapping[str, str] | None = None
    ) -> None:
        self.status = status
        self.message = message
        self.body = body
        self.headers: Mapping[str, str] = (
            headers if headers is not None else {}
        )  # case-insensitive from the client
        super().__init__(status, message, body)

    @property
    def reason(self) -> str:
        try:
            return HTTPStatus(self.status).phrase
        except ValueError:
            return "HTTP error"

    def __str__(self) -> str:
        text = f"{self.status} from gateway: {self.reason}."
        return f"{text} {self.message}" if self.message else text


def gateway_message(body: str) -> str:
    """The human message inside an error body, in one line.

    APIM answers `{ "statusCode": 401, "message": "..." }`; backends behind it often use the
    Azure `{"error": {"message": ...}}` shape or RFC 7807 problem details. Anything else is
    shown as text, because a truncated body beats no clue at all.
    """
    try:
        data: Any = json.loads(body)
    except ValueError:
        return one_line(body)
    if isinstance(data, dict):
        error = data.get("error")
        candidates = [
            data.get("message"),
            error.get("message") if isinstance(error, dict) else error,
            data.get("detail"),
            data.get("title"),
        ]
        for candidate in candidates:
            if isinstance(candidate, str) and candidate.strip():
                return one_line(candidate)
    return one_line(body)


# Known Entra/azure-identity failures, most specific first: (pattern, hint).
_TOKEN_HINTS: tuple[tuple[str, str], ...] = (
    (
        r"AADSTS501051|not assigned to a role",
        (
            "the identity is not assigned to a role of this API — assign one directly "
            "(roles through groups do not reach managed identities)"
        ),
    ),
    (
        r"AADSTS65001|consent",
        (
            "the developer tool is not pre-authorized on the API's app registration — "
            "add it under authorized client applications (the stack does this for CLI/azd)"
        ),
    ),
    (
        r"AADSTS500011|resource principal .* was not found",
        (
            "no API with this application ID URI exists in the tenant — compare the scope "
            "with `pulumi stack output` and check you signed in to the right tenant"
        ),
    ),
    (
        r"AADSTS70011|scope .* (is )?not valid",
        "the scope is malformed: a managed identity needs `api://<clientId>/.default`",
    ),
    (
        r"az login|azd auth login|not logged in|Please run 'az",
        (
            "sign in with `az login` or `azd auth login` (on a laptop), or run where the Web App's "
            "managed identity is available"
        ),
    ),
)
_DEFAULT_TOKEN_HINT = (
    "in a Web App, turn on its system-assigned identity and assign it an app role of the API; "
    "on a laptop, run `az login` or `azd auth login`"
)


_ATTEMPT = re.compile(r"^(\w+Credential): (.*)$")
_UNAVAILABLE = re.compile(
    r"unavailable|not found|could not be found|not installed|requires the|no accounts",
    re.IGNORECASE,
)
# azure-identity's wording for an App Service answer it could not use; MSAL labels every such
# answer "invalid_scope", whatever the real cause, so only the status and message are kept.
_MI_ERROR = re.compile(r"Token request error: (?:\(\w+\) )?(?:(\d{3}), )?(.*)$")


def explain_token_failure(scope: str, detail: str) -> TokenAcquisitionError:
    """Turn azure-identity's (often multi-line, per-credential) message into one line + a hint.

    DefaultAzureCredential reports every credential it tried. An App Service refusal does not
    stop the chain (azure-identity treats it as "unavailable" and moves on to Azure CLI, azd,
    ...), so the line worth reading is the identity endpoint's answer or an AADSTS code, not
    the last line.
    """
    lines = [line.strip() for line in detail.splitlines() if line.strip()]
    reason = _reason(lines)
    hint = next(
        (h for pattern, h in _TOKEN_HINTS if re.search(pattern, reason, re.IGNORECASE)),
        _DEFAULT_TOKEN_HINT,
    )
    return TokenAcquisitionError(scope, reason, hint)


def _reason(lines: list[str]) -> str:
    for line in lines:
        match = _MI_ERROR.search(line)
        if match:
            status, message = match.groups()
            answered = f"answered {status}" if status else "refused"
            return f"the managed identity endpoint {answered}: {message}"
    aadsts = next((line for line in lines if "AADSTS" in line), None)
    if aadsts:
        return aadsts
    attempts = [m.groups() for m in map(_ATTEMPT.match, lines) if m]
    failed = [f"{name}: {text}" for name, text in attempts if not _UNAVAILABLE.search(text)]
    if failed:
        return failed[-1]  # the credential that tried and stopped the chain
    if attempts:
        return "no credential was available (no managed identity here and no developer sign-in)"
    return lines[0] if lines else "no detail given"
