"""Running the application: in the foreground (the CLI) or in a background thread.

The engine is started before the HTTP server listens, so a start-up error (a missing
adapter, a model that does not load) is a clear error, not a half-started server.

Example:
    >>> url_of("0.0.0.0", 8000)
    'http://0.0.0.0:8000/v1'
"""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Callable
from typing import Any

from airloom.serve import service as svc
from airloom.serve.app import create_app
from airloom.serve.service import Service

__all__ = ["BackgroundServer", "bound_port", "serve", "url_of"]


def url_of(host: str, port: int) -> str:
    """The base URL clients use (ending in ``/v1``)."""
    shown = f"[{host}]" if ":" in host else host
    return f"http://{shown}:{port}/v1"


def _uvicorn_server(service: Service, port: int) -> Any:
    import uvicorn

    config = uvicorn.Config(
        create_app(service, manage_engine=False),
        host=service.config.host,
        port=port,
        log_level="warning",
        lifespan="on",
        timeout_graceful_shutdown=5,
    )
    return uvicorn.Server(config)


def bound_port(server: Any) -> int:
    """The port a started uvicorn server listens on (useful with port 0)."""
    return int(server.servers[0].sockets[0].getsockname()[1])


async def serve(
    service: Service,
    *,
    on_loading: Callable[[], None] = lambda: None,
    on_ready: Callable[[str], None] = lambda url: None,
) -> None:
    """Start the engine, listen, call ``on_ready(url)``, serve until stopped."""
    on_loading()
    await svc.start(service)
    try:
        server = _uvicorn_server(service, service.config.port)
        task = asyncio.create_task(server.serve())
        while not server.started and not task.done():
            await asyncio.sleep(0.02)
        if server.started:
            on_ready(url_of(service.config.host, bound_port(server)))
        await task
    finally:
        await svc.stop(service)


class BackgroundServer:
    """A started service served from a thread (tests, benchmarks, notebooks).

    Example:
        >>> # with BackgroundServer(build_service(config)) as server: server.url
    """

    def __init__(self, service: Service, *, start_timeout: float = 600.0) -> None:
        self.service = service
        self.start_timeout = start_timeout
        self.url = ""
        self._server: Any = None
        self._thread: threading.Thread | None = None
        self._error: BaseException | None = None
        self._ready = threading.Event()

    def _run(self) -> None:
        async def main() -> None:
            try:
                await svc.start(self.service)
                self._server = _uvicorn_server(self.service, self.service.config.port)
                task = asyncio.create_task(self._server.serve())
                while not self._server.started and not task.done():
                    await asyncio.sleep(0.02)
                self.url = url_of(self.service.config.host, bound_port(self._server))
                self._ready.set()
                await task
            finally:
                await svc.stop(self.service)

        try:
            asyncio.run(main())
        except BaseException as exc:
            self._error = exc
        finally:
            self._ready.set()

    def start(self) -> BackgroundServer:
        """Start the engine and listen; raise the start-up error if there is one."""
        self._thread = threading.Thread(target=self._run, name="airloom-serve", daemon=True)
        self._thread.start()
        deadline = time.monotonic() + self.start_timeout
        while not self._ready.wait(0.05):
            if time.monotonic() > deadline:
                raise TimeoutError("the server did not start in time")
        if self._error is not None:
            raise self._error
        return self

    def stop(self) -> None:
        """Stop listening and free the engine."""
        if self._server is not None:
            self._server.should_exit = True
        if self._thread is not None:
            self._thread.join(timeout=30)

    def __enter__(self) -> BackgroundServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
