"""The thin HTTP layer: every call goes through the consumer's own client (`consumer.ApiClient`,
the azure-core pipeline `probe` and the Web Apps use), never retried, bounded in time.

The client is built without a credential and without a key, so it sends exactly the
Authorization and subscription-key headers each call asks for (none, a forged one, the
caller's own). Off the machine, proxies from the environment apply as for any azure-core
client; to 127.0.0.1 (the rehearsal) they never do, so a configured proxy never sees a key.
"""

from __future__ import annotations

from types import TracebackType
from typing import Any, Self
from urllib.parse import urlsplit

from azure.core.pipeline.transport import RequestsTransport

from consumer import ApiClient, ApiSettings, GatewayError, GatewayUnreachableError
from consumer.errors import one_line
from sandbox.verify.expect import Outcome
from sandbox.verify.scenarios import Call

_LOOPBACK = frozenset({"127.0.0.1", "localhost", "::1"})


def _is_loopback(url: str) -> bool:
    return (urlsplit(url).hostname or "") in _LOOPBACK


class Caller:
    """One `ApiClient` per base URL; a base URL that once gave no answer is not called again
    (its later calls are reported as not sent), so a dead host costs one timeout, not many."""

    def __init__(self, timeout: float) -> None:
        self.timeout = timeout
        self.sent = 0
        self._clients: dict[str, ApiClient] = {}
        self._silent: dict[str, str] = {}

    def _client(self, base_url: str) -> ApiClient:
        if base_url not in self._clients:
            settings = ApiSettings("verify", base_url.rstrip("/"), "", "")
            extra: dict[str, Any] = {}
            if _is_loopback(base_url):
                extra["transport"] = RequestsTransport(use_env_settings=False)
            self._clients[base_url] = ApiClient(
                settings,
                None,
                retry_total=0,  # an attack is sent once; a retry would be load, not evidence
                connection_timeout=self.timeout,
                read_timeout=self.timeout,
                **extra,
            )
        return self._clients[base_url]

    def send(self, call: Call) -> Outcome:
        if call.base_url in self._silent:
            return Outcome(None, f"not sent: {self._silent[call.base_url]}")
        headers: dict[str, str] = {}
        if call.token is not None:
            headers["Authorization"] = f"Bearer {call.token}"
        if call.key is not None:
            headers[call.key_header] = call.key
        self.sent += 1
        try:
            answer = self._client(call.base_url).request(
                call.method, call.path, json=call.body, headers=headers
            )
        except GatewayError as error:
            return Outcome(error.status, _redact(error.message, call))
        except GatewayUnreachableError as error:
            self._silent[call.base_url] = f"{call.base_url} did not answer"
            return Outcome(None, error.reason)
        return Outcome(answer.status, "")

    def get_json(self, url: str) -> Any:
        """A public document (OpenID metadata, JWKS); raises GatewayError/Unreachable."""
        return self._client(url).get().json()

    def close(self) -> None:
        for client in self._clients.values():
            client.close()
        self._clients.clear()

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.close()


def _redact(message: str, call: Call) -> str:
    """A backend that echoes its request must not put the token or the key in the report."""
    for secret, shown in ((call.token, "[token]"), (call.key, "[key]")):
        if secret:
            message = message.replace(secret, shown)
    return one_line(message)
