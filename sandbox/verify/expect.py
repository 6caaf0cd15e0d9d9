"""What each call should get, and the verdict on what it got. Pure: no I/O.

A refusal counts only when it is the gateway's: the status *and* the gateway's own message
(APIM's texts for the key gate, the generated policy's texts for tokens and roles). A 401
with another message may be the backend refusing a token the gateway let through, which is
exactly the failure verify exists to catch.
"""

from __future__ import annotations

from dataclasses import dataclass

from components.gateway_policy import UNAUTHORIZED_MESSAGE
from sandbox.apim_answers import INVALID_KEY, MISSING_KEY, NO_OPERATION

# The start of every operation-scope 403 (components/gateway_policy.py `forbidden_message`).
FORBIDDEN_PREFIX = "Forbidden. This operation requires"
GATEWAY_MESSAGES = frozenset({UNAUTHORIZED_MESSAGE, MISSING_KEY, INVALID_KEY})


@dataclass(frozen=True)
class Expectation:
    statuses: frozenset[int] = frozenset()  # empty: the backend's own answer, whatever it is
    message: str | None = None  # the exact message, where the gateway's text is known
    words: tuple[str, ...] = ()  # words the message must contain (a 403 names the roles)

    @property
    def label(self) -> str:
        if not self.statuses:
            return "backend"
        return "/".join(str(status) for status in sorted(self.statuses))


def refused(status: int, message: str | None = None) -> Expectation:
    return Expectation(frozenset({status}), message)


TOKEN_REFUSED = refused(401, UNAUTHORIZED_MESSAGE)
BACKEND = Expectation()


def forbidden(roles: tuple[str, ...]) -> Expectation:
    return Expectation(frozenset({403}), words=(FORBIDDEN_PREFIX, *roles))


@dataclass(frozen=True)
class Outcome:
    """What one call produced: an HTTP status and the body's one-line message, or no answer
    (status None, message saying why)."""

    status: int | None
    message: str = ""

    @property
    def actual(self) -> str:
        return "no answer" if self.status is None else str(self.status)


def is_gateway_refusal(outcome: Outcome) -> bool:
    """The gateway itself said no (key gate, token, role, or no operation)."""
    if outcome.status in (401, 403):
        return outcome.message in GATEWAY_MESSAGES or outcome.message.startswith(FORBIDDEN_PREFIX)
    return outcome.status == 404 and outcome.message == NO_OPERATION


def judge(expected: Expectation, outcome: Outcome) -> tuple[str, ...]:
    """The problems with an outcome; empty when it is as expected."""
    status, message = outcome.status, outcome.message
    if status is None:
        return (f"no answer: {message}",)
    if not expected.statuses:
        if is_gateway_refusal(outcome):
            return (f"the gateway refused it: {status} {message!r}",)
        return ()
    if 200 <= status < 300:
        return (f"expected {expected.label}, got {status}: the gateway let it through",)
    if status not in expected.statuses:
        return (f"expected {expected.label}, got {status} {message!r}",)
    if expected.message is not None and message != expected.message:
        return (
            f"{status} with {message!r}, not the gateway's {expected.message!r} "
            "(did the backend answer?)",
        )
    missing = [word for word in expected.words if word not in message]
    if missing:
        return (f"message {message!r} does not name {', '.join(missing)}",)
    return ()
