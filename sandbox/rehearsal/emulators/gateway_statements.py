"""Policy statements, executed on the request as it stands when each one runs.

`set-header` edits the headers that later statements see and the backend receives;
`set-query-parameter` (delete) removes a query parameter before the call is forwarded;
`authentication-managed-identity` replaces Authorization with the gateway's own token (from an
injected `IdentityTokens`), so a `validate-azure-ad-token` after it judges the gateway's token,
not the caller's, exactly as in APIM. The only expressions evaluated are the caller-header
templates (components/caller_headers.py): the parser refuses any other, and `check_runnable`
refuses, before the first request, a template whose context variable no earlier validation sets.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol
from urllib.parse import unquote_plus

from components.caller_headers import TEMPLATES, TOKEN_VARIABLE
from components.gateway_policy import (
    AuthenticationManagedIdentity,
    SetBackendService,
    SetHeader,
    SetQueryParameter,
    Statement,
    ValidateAzureAdToken,
)
from sandbox.rehearsal.emulators.gateway_model import GatewayConfigError
from sandbox.rehearsal.emulators.gateway_token import (
    INVALID_JWT,
    JWT_NOT_PRESENT,
    KeySource,
    validate_token,
)

# [choice] APIM's answer when the managed-identity token cannot be obtained is not documented
# byte for byte; a server error, because the caller did nothing wrong.
NO_IDENTITY_TOKEN = "The gateway could not obtain its managed identity's token."


class IdentityTokenError(Exception):
    """Entra refused the gateway's identity a token; the message says why (AADSTS...)."""


class IdentityTokens(Protocol):
    def token(self, resource: str) -> str:
        """An access token for `resource` for the gateway's system-assigned identity."""
        ...


@dataclass(frozen=True)
class Refusal:
    status: int
    message: str
    reason: str


@dataclass
class RequestState:
    headers: list[tuple[str, str]]  # the request as the next statement and the backend see it
    query: str = ""  # raw, without "?", as the backend will receive it
    backend_url: str | None = None
    variables: dict[str, object] = field(default_factory=dict)

    def values(self, name: str) -> list[str]:
        return [v for k, v in self.headers if k.lower() == name.lower()]

    def remove(self, name: str) -> None:
        # HTTP header names are case-insensitive: a forged `x-caller-roles` goes too.
        self.headers = [(k, v) for k, v in self.headers if k.lower() != name.lower()]

    def remove_query(self, name: str) -> None:
        # Each `name=value` pair whose decoded name is `name` goes; the others keep their bytes.
        kept = [
            pair
            for pair in self.query.split("&")
            if pair and unquote_plus(pair.split("=", 1)[0]) != name
        ]
        self.query = "&".join(kept)

    def put(self, name: str, value: str) -> None:
        self.remove(name)
        self.headers.append((name, value))


@dataclass(frozen=True)
class StatementRunner:
    key_source: KeySource
    clock: Callable[[], float]
    backends: Mapping[str, str]  # backendId -> URL
    identity: IdentityTokens | None = None

    def check_runnable(self, statement: Statement, variables: set[str], where: str) -> None:
        """What would have to be guessed at run time refuses to start instead."""
        if isinstance(statement, SetBackendService) and statement.backend_id not in self.backends:
            raise GatewayConfigError(f"{where}: unknown backend-id {statement.backend_id!r}")
        if isinstance(statement, ValidateAzureAdToken) and statement.output_token_variable_name:
            variables.add(statement.output_token_variable_name)
        if (
            isinstance(statement, SetHeader)
            and statement.value in TEMPLATES
            and TOKEN_VARIABLE not in variables
        ):
            raise GatewayConfigError(
                f"{where}: set-header {statement.name!r} reads the context variable "
                f"{TOKEN_VARIABLE!r}, which no earlier validate-azure-ad-token sets"
            )
        if isinstance(statement, AuthenticationManagedIdentity):
            if statement.client_id is not None:
                raise GatewayConfigError(f"{where}: a user-assigned identity is not emulated")
            if self.identity is None:
                raise GatewayConfigError(
                    f"{where}: authentication-managed-identity, but the Plan gives the "
                    "gateway no managed identity (outputs.gatewayIdentity)"
                )

    def run(self, statement: Statement, state: RequestState) -> Refusal | None:
        if isinstance(statement, SetBackendService):
            state.backend_url = self.backends[statement.backend_id]
            return None
        if isinstance(statement, SetHeader):
            if statement.exists_action == "delete" or statement.value is None:
                state.remove(statement.name)
            else:
                state.put(statement.name, _header_value(statement.value, state))
            return None
        if isinstance(statement, SetQueryParameter):
            state.remove_query(statement.name)  # the parser admits delete only
            return None
        if isinstance(statement, AuthenticationManagedIdentity):
            return self._managed_identity(statement, state)
        if isinstance(statement, ValidateAzureAdToken):
            return self._validate(statement, state)
        # Unreachable with the strict parser; a new statement type must not pass silently.
        raise GatewayConfigError(f"statement {type(statement).__name__} is not emulated")

    def _validate(self, statement: ValidateAzureAdToken, state: RequestState) -> Refusal | None:
        # The header as it stands now: after authentication-managed-identity it holds the
        # gateway's own token, exactly as in APIM.
        verdict = validate_token(
            statement, state.values(statement.header_name), self.key_source, self.clock()
        )
        if verdict.ok:
            if statement.output_token_variable_name:
                state.variables[statement.output_token_variable_name] = verdict.claims
            return None
        default = JWT_NOT_PRESENT if verdict.reason == JWT_NOT_PRESENT else INVALID_JWT
        message = statement.failed_validation_error_message or default
        return Refusal(statement.failed_validation_httpcode, message, verdict.reason)

    def _managed_identity(
        self, statement: AuthenticationManagedIdentity, state: RequestState
    ) -> Refusal | None:
        if self.identity is None:  # refused at start-up
            raise GatewayConfigError("authentication-managed-identity without an identity")
        try:
            token = self.identity.token(statement.resource)
        except IdentityTokenError as refused:
            if statement.ignore_error:
                return None
            return Refusal(500, NO_IDENTITY_TOKEN, f"managed identity: {refused}")
        # [doc] "the policy will set the value of the token in the Authorization header using
        # the Bearer scheme" (authentication-managed-identity-policy); the variable as well.
        state.put("Authorization", f"Bearer {token}")
        if statement.output_token_variable_name:
            state.variables[statement.output_token_variable_name] = token
        return None


def _header_value(value: str, state: RequestState) -> str:
    template = TEMPLATES.get(value)
    if template is None:
        return value  # a literal (the parser lets no other expression through)
    claims: Any = state.variables.get(TOKEN_VARIABLE)
    if not isinstance(claims, Mapping):
        # Checked at start-up; reaching this would mean a statement ran out of order.
        raise GatewayConfigError(f"context variable {TOKEN_VARIABLE!r} is not set")
    return template.value(claims)
