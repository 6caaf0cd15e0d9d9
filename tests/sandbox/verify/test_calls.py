"""verify's HTTP layer: the consumer's own client, sending exactly the headers a call asks
for, once, within the time limit, and never a secret into the report."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator
from dataclasses import dataclass, field

import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from consumer import ApiClient, ApiSettings, TokenAcquisitionError
from sandbox.rehearsal.emulators.server import RunningServer
from sandbox.verify.calls import Caller
from sandbox.verify.scenarios import Call


@dataclass
class Backend:
    url: str
    seen: list[dict[str, str]] = field(default_factory=list)


@pytest.fixture
def backend() -> Iterator[Backend]:
    record = Backend("")

    async def answer(request: Request) -> Response:
        record.seen.append(dict(request.headers))
        if request.url.path == "/busy":
            return JSONResponse({"message": "busy"}, status_code=503)
        if request.url.path == "/slow":
            await asyncio.sleep(3)
        if request.url.path == "/echo-error":
            said = request.headers.get("authorization", "") + " " + request.headers.get("k", "")
            return JSONResponse({"message": f"refused {said}"}, status_code=401)
        return JSONResponse({"ok": True})

    app = Starlette(routes=[Route("/{path:path}", answer, methods=["GET", "POST", "DELETE"])])
    with RunningServer(app) as server:
        record.url = server.url
        yield record


def test_a_call_without_token_or_key_sends_neither_header(backend: Backend):
    with Caller(5) as caller:
        assert caller.send(Call(backend.url, "GET", "/x")).status == 200
    (headers,) = backend.seen
    assert "authorization" not in headers
    assert "ocp-apim-subscription-key" not in headers
    assert headers["user-agent"].startswith("secure-api-calls-consumer/")  # the consumer's client


def test_the_token_and_key_a_call_names_are_sent_as_given(backend: Backend):
    with Caller(5) as caller:
        caller.send(Call(backend.url, "POST", "/x", token="t.o.k", key="abc", key_header="K"))
    (headers,) = backend.seen
    assert headers["authorization"] == "Bearer t.o.k"
    assert headers["k"] == "abc"


def test_a_503_is_not_retried(backend: Backend):
    with Caller(5) as caller:
        outcome = caller.send(Call(backend.url, "GET", "/busy"))
    assert outcome.status == 503
    assert len(backend.seen) == 1  # the consumer's client would retry a GET three times


def test_a_slow_host_costs_one_timeout_and_is_not_called_again(backend: Backend):
    with Caller(1) as caller:
        started = time.monotonic()
        first = caller.send(Call(backend.url, "GET", "/slow"))
        second = caller.send(Call(backend.url, "GET", "/x"))
        elapsed = time.monotonic() - started
    assert first.status is None
    assert second == type(second)(None, f"not sent: {backend.url} did not answer")
    assert elapsed < 2.5
    assert caller.sent == 1


def test_a_refusal_that_echoes_the_token_or_key_is_redacted(backend: Backend):
    with Caller(5) as caller:
        outcome = caller.send(
            Call(
                backend.url, "GET", "/echo-error", token="secret.to.ken", key="k3y", key_header="K"
            )
        )
    assert outcome == type(outcome)(401, "refused Bearer [token] [key]")


def test_a_proxy_in_the_environment_never_sees_a_loopback_call(
    backend: Backend, monkeypatch: pytest.MonkeyPatch
):
    monkeypatch.setenv("HTTP_PROXY", "http://127.0.0.1:9")  # nothing listens on the discard port
    monkeypatch.setenv("http_proxy", "http://127.0.0.1:9")
    monkeypatch.delenv("NO_PROXY", raising=False)
    monkeypatch.delenv("no_proxy", raising=False)
    with Caller(5) as caller:
        assert caller.send(Call(backend.url, "GET", "/x")).status == 200


def test_the_consumer_client_without_a_credential_has_no_token_to_give(backend: Backend):
    with ApiClient(ApiSettings("orders", backend.url, "api://x/.default", ""), None) as client:
        with pytest.raises(TokenAcquisitionError, match="this client sends no token"):
            client.token()
        assert client.get("/x").status == 200
    assert "authorization" not in backend.seen[0]
