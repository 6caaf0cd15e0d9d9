"""Call an API through API Management with an Entra token and the subscription key.

Built on azure-core's pipeline so the token cache and refresh (BearerTokenCredentialPolicy),
retries and Retry-After handling are the SDK's own, tested code rather than ours.
"""

from __future__ import annotations

import json as jsonlib
import os
from collections.abc import Mapping
from dataclasses import dataclass
from types import TracebackType
from typing import Any, Self

from azure.core import PipelineClient
from azure.core.credentials import AccessToken, TokenCredential
from azure.core.exceptions import (
    ClientAuthenticationError,
    ServiceRequestError,
    ServiceResponseError,
)
from azure.core.pipeline import PipelineResponse
from azure.core.pipeline.policies import (
    BearerTokenCredentialPolicy,
    DistributedTracingPolicy,
    HeadersPolicy,
    HttpLoggingPolicy,
    RequestIdPolicy,
    RetryPolicy,
    UserAgentPolicy,
)
from azure.core.rest import HttpRequest, HttpResponse

from .app_settings import AZURE_CLIENT_ID, ApiSettings, read_settings
from .errors import (
    GatewayError,
    GatewayUnreachableError,
    TokenAcquisitionError,
    explain_token_failure,
    gateway_message,
)

__version__ = "0.1.0"
USER_AGENT = f"secure-api-calls-consumer/{__version__}"

# 429 comes from APIM's rate-limit policy before the backend is called, so it is safe to
# retry for any method; 5xx may mean the backend already acted, so only idempotent methods.
_RETRY_STATUSES = frozenset({408, 429, 500, 502, 503, 504})
_IDEMPOTENT = frozenset({"GET", "HEAD", "OPTIONS", "PUT", "DELETE", "TRACE"})


class GatewayRetryPolicy(RetryPolicy):  # type: ignore[type-arg]
    """azure-core's RetryPolicy, narrowed for calls through a gateway.

    The base policy retries *any* 4xx that carries Retry-After and retries POST on 500/503/504,
    and it would sleep for as long as a server asks. A caller in a web request would rather
    see `429 ... Try again in 60 seconds.` at once than hang for a minute.
    """

    def __init__(self, *, max_retry_after: float = 10.0, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.max_retry_after = max_retry_after

    def is_retry(self, settings: dict[str, Any], response: PipelineResponse[Any, Any]) -> bool:
        status = response.http_response.status_code
        if status not in _RETRY_STATUSES:
            return False
        if status != 429 and response.http_request.method.upper() not in _IDEMPOTENT:
            return False
        retry_after = self.get_retry_after(response)
        if retry_after is not None and retry_after > self.max_retry_after:
            return False
        return bool(super().is_retry(settings, response))


@dataclass(frozen=True)
class ApiResponse:
    """A 2xx answer: status, headers (case-insensitive) and the body as text."""

    status: int
    headers: Mapping[str, str]
    text: str

    def json(self) -> Any:
        """The body parsed as JSON; None for an empty body (204 and friends)."""
        return jsonlib.loads(self.text) if self.text else None


class ApiClient:
    """One API behind the gateway. Thread-safe for concurrent requests, like PipelineClient."""

    def __init__(
        self,
        settings: ApiSettings,
        credential: TokenCredential | None,
        *,
        retry_total: int = 3,
        max_retry_after: float = 10.0,
        connection_timeout: float = 10.0,
        read_timeout: float = 30.0,
        http_logging: bool = False,
        owns_credential: bool = False,
        **pipeline_kwargs: Any,
    ) -> None:
        """`pipeline_kwargs` go to PipelineClient (e.g. `transport=` in tests).

        `credential=None` sends no Authorization header and an empty `subscription_key` no
        key header: what `secure-api-calls verify` needs to show the gateway refusing calls
        that lack either (it passes the headers it wants per request). A consumer always
        passes both.

        `http_logging=True` adds azure-core's HttpLoggingPolicy, which redacts the
        Authorization and subscription-key headers. NetworkTraceLoggingPolicy is left out on
        purpose: it logs raw headers, i.e. the bearer token and the key.
        """
        self.settings = settings
        self._credential = credential
        self._owns_credential = owns_credential
        self._timeouts = {"connection_timeout": connection_timeout, "read_timeout": read_timeout}
        key = settings.subscription_key
        policies: list[Any] = [
            RequestIdPolicy(),
            HeadersPolicy({settings.subscription_key_header: key} if key else {}),
            UserAgentPolicy(USER_AGENT),
            GatewayRetryPolicy(
                retry_total=retry_total,
                retry_backoff_factor=0.5,
                retry_backoff_max=4,
                max_retry_after=max_retry_after,
                timeout=60,
            ),
        ]
        if credential is not None:
            # Inside the retry loop so every attempt carries a valid (cached) token.
            policies.append(BearerTokenCredentialPolicy(credential, settings.scope))
        policies.append(DistributedTracingPolicy())
        if http_logging:
            policies.append(HttpLoggingPolicy())
        # No RedirectPolicy: a gateway API has no business redirecting, and following one
        # would hand the subscription key to whatever host the Location names.
        self._client: PipelineClient[HttpRequest, HttpResponse] = PipelineClient(
            base_url=settings.base_url, policies=policies, **pipeline_kwargs
        )

    @classmethod
    def from_environment(
        cls,
        api_name: str,
        credential: TokenCredential | None = None,
        environ: Mapping[str, str] | None = None,
        **kwargs: Any,
    ) -> ApiClient:
        """Settings from app settings (or `environ`), token from DefaultAzureCredential.

        In App Service the credential finds the managed identity through IDENTITY_ENDPOINT and
        IDENTITY_HEADER; on a laptop it falls back to Azure CLI / azd sign-in. It reads the
        process environment itself: `environ` only supplies the API settings.
        """
        settings = read_settings(api_name, os.environ if environ is None else environ)
        owns = credential is None
        if credential is None:
            credential = default_credential()
        return cls(settings, credential, owns_credential=owns, **kwargs)

    @property
    def credential(self) -> TokenCredential | None:
        return self._credential

    def token(self) -> AccessToken:
        """A token for the API's scope, as the pipeline would send it (for diagnostics)."""
        if self._credential is None:
            raise TokenAcquisitionError(
                self.settings.scope, "this client sends no token", "pass a credential"
            )
        try:
            return self._credential.get_token(self.settings.scope)
        except ClientAuthenticationError as error:
            raise explain_token_failure(self.settings.scope, str(error.message)) from error

    def url_for(self, path: str = "") -> str:
        # Refuse absolute URLs: the token and the key must only ever go to the configured gateway.
        if "://" in path or path.startswith("//"):
            raise ValueError(f"path must be relative to {self.settings.base_url}, got {path!r}")
        return (
            f"{self.settings.base_url}/{path.lstrip('/')}"
            if path.strip("/")
            else self.settings.base_url
        )

    def request(
        self,
        method: str,
        path: str = "",
        *,
        json: Any = None,
        params: Mapping[str, str] | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> ApiResponse:
        """Send one request; ApiResponse on 2xx, GatewayError otherwise."""
        url = self.url_for(path)
        request = HttpRequest(
            method.upper(),
            url,
            json=json,
            params=dict(params) if params else None,
            headers=dict(headers) if headers else None,
        )
        options: dict[str, Any] = dict(self._timeouts)
        if self.settings.is_loopback and self._credential is not None:
            # The bearer policy refuses http otherwise (and is the one that reads the option).
            options["enforce_https"] = False
        try:
            response = self._client.send_request(request, **options)
        except ClientAuthenticationError as error:
            raise explain_token_failure(self.settings.scope, str(error.message)) from error
        except (ServiceRequestError, ServiceResponseError) as error:
            raise GatewayUnreachableError(url, str(error.message)) from error
        text = response.text()
        if not 200 <= response.status_code < 300:
            raise GatewayError(response.status_code, gateway_message(text), text, response.headers)
        return ApiResponse(response.status_code, response.headers, text)

    def get(self, path: str = "", **kwargs: Any) -> ApiResponse:
        return self.request("GET", path, **kwargs)

    def post(self, path: str = "", **kwargs: Any) -> ApiResponse:
        return self.request("POST", path, **kwargs)

    def put(self, path: str = "", **kwargs: Any) -> ApiResponse:
        return self.request("PUT", path, **kwargs)

    def delete(self, path: str = "", **kwargs: Any) -> ApiResponse:
        return self.request("DELETE", path, **kwargs)

    def close(self) -> None:
        self._client.close()
        if self._owns_credential and self._credential is not None:
            close = getattr(self._credential, "close", None)
            if callable(close):
                close()

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.close()


def default_credential() -> TokenCredential:
    """DefaultAzureCredential without the browser prompt, pinned to the system-assigned identity.

    Passing `managed_identity_client_id=None` overrides a stray AZURE_CLIENT_ID, which would
    otherwise make App Service look for a user-assigned identity the stack never created.
    """
    from azure.identity import DefaultAzureCredential  # deferred: heavy import, not always used

    return DefaultAzureCredential(
        exclude_interactive_browser_credential=True,
        managed_identity_client_id=None,
        workload_identity_client_id=os.environ.get(AZURE_CLIENT_ID),
    )
