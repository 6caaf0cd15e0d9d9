from __future__ import annotations

import socket
import time

import httpx
import pytest

from sandbox.rehearsal.emulators.http_apps import echo_app
from sandbox.rehearsal.emulators.server import RunningServer, ServerStartError


def test_a_server_starts_on_a_free_loopback_port_and_stops_within_a_second():
    started = time.monotonic()
    with RunningServer(echo_app()) as server:
        assert server.port > 0
        assert server.url == f"http://127.0.0.1:{server.port}"
        assert httpx.get(f"{server.url}/ping").status_code == 200
    assert time.monotonic() - started < 1.0
    with pytest.raises(httpx.ConnectError):
        httpx.get(f"{server.url}/ping")


def test_two_servers_run_side_by_side_on_different_ports():
    with RunningServer(echo_app()) as first, RunningServer(echo_app()) as second:
        assert first.port != second.port
        assert httpx.get(first.url).status_code == httpx.get(second.url).status_code == 200


def test_a_server_listens_on_loopback_only():
    with RunningServer(echo_app()) as server:
        listening = server._server.servers[0].sockets[0].getsockname()
        assert listening[0] == "127.0.0.1"


def test_a_server_stops_even_with_a_client_connection_kept_alive():
    with httpx.Client() as client:
        started = time.monotonic()
        with RunningServer(echo_app()) as server:
            assert client.get(server.url).status_code == 200  # the pool keeps it open
        assert time.monotonic() - started < 2.0


def test_an_app_that_cannot_start_reports_it_instead_of_hanging():
    with socket.socket() as blocker:
        blocker.bind(("127.0.0.1", 0))
        server = RunningServer(echo_app(), start_timeout=2)
        server._server.config.port = blocker.getsockname()[1]  # taken: startup must fail
        with pytest.raises(ServerStartError, match="exit code 3"):
            server.start()
