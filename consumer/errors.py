"""The errors a consumer sees, each saying in one line what went wrong and what to do.

Standard library only: `app_settings` raises `ConsumerConfigError`, and the stack's
`components/` package imports `app_settings` in a virtualenv without azure-core.
"""

from __future__ import annotations

import json
import re
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
        self, status: int, message: str, body: str, headers: dict[str, str] | None = None
    ) -> None:
        self.status = status
        self.message = message
        self.body = body
        self.headers = headers or {}
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


def explain_token_failure(scope: str, detail: str) -> TokenAcquisitionError:
    """Turn azure-identity's (often multi-line, per-credential) message into one line + a hint."""
    lines = [line.strip() for line in detail.splitlines() if line.strip()]
    # DefaultAzureCredential lists every credential it tried; the line with an AADSTS code or
    # the last attempt (the one that stopped the chain) is the one worth reading.
    # App Service answers a refused token request with a 4xx that azure-identity reports as
    # "Token request error: ..." and then moves on down the chain, so prefer that line too.
    reason = next((line for line in lines if "AADSTS" in line), None)
    reason = reason or next((line for line in lines if "Token request error" in line), None)
    if reason is None:
        attempts = [line for line in lines if re.match(r"^\w+Credential: ", line)]
        reason = attempts[-1] if attempts else (lines[0] if lines else "no detail given")
    hint = next(
        (h for pattern, h in _TOKEN_HINTS if re.search(pattern, detail, re.IGNORECASE)),
        _DEFAULT_TOKEN_HINT,
    )
    return TokenAcquisitionError(scope, reason, hint)
