"""Run an ASGI app with uvicorn on 127.0.0.1, on a port the OS picks, in a background thread.

Port 0 avoids collisions between parallel test workers and rehearsals; a thread (rather than
a process) keeps start and stop in the tens of milliseconds and lets tests share objects
with the app.
"""

from __future__ import annotations

import threading
import time
from types import TracebackType
from typing import Any, Self

import uvicorn

HOST = "127.0.0.1"


class ServerStartError(RuntimeError):
    pass


class RunningServer:
    """`with RunningServer(app) as server: httpx.get(server.url + "/...")`."""

    def __init__(self, app: Any, *, start_timeout: float = 10.0, stop_timeout: float = 5.0):
        config = uvicorn.Config(
            app,
            host=HOST,
            port=0,
            log_level="warning",
            access_log=False,
            # Leave the process's logging configuration alone: several servers start per run.
            log_config=None,
            lifespan="off",
            timeout_graceful_shutdown=1,
        )
        self._server = uvicorn.Server(config)
        self._thread = threading.Thread(target=self._run, name="sandbox-server", daemon=True)
        self._exit_code: int | str | None = None
        self._start_timeout = start_timeout
        self._stop_timeout = stop_timeout
        self.port = 0

    def _run(self) -> None:
        try:
            self._server.run()
        except SystemExit as exit_:
            # uvicorn exits on startup failures (port taken, app error); in a thread that
            # would only surface as a warning, so keep the code for start() to report.
            self._exit_code = exit_.code

    @property
    def url(self) -> str:
        return f"http://{HOST}:{self.port}"

    def start(self) -> Self:
        self._thread.start()
        deadline = time.monotonic() + self._start_timeout
        while not self._server.started:
            # A failed startup ends the thread (uvicorn calls sys.exit), so don't wait it out.
            if not self._thread.is_alive():
                raise ServerStartError(
                    f"uvicorn could not start (exit code {self._exit_code}); its log says why"
                )
            if time.monotonic() > deadline:
                self.stop()
                raise ServerStartError(f"the server did not start in {self._start_timeout} s")
            time.sleep(0.005)
        self.port = self._server.servers[0].sockets[0].getsockname()[1]
        return self

    def stop(self) -> None:
        self._server.should_exit = True
        if self._thread.is_alive():
            self._thread.join(self._stop_timeout)
        if self._thread.is_alive():
            # Connections that will not close must not keep a test run hanging.
            self._server.force_exit = True
            self._thread.join(self._stop_timeout)

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.stop()
