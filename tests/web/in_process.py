"""The app served over real HTTP from inside the test process, for browser tests that must reach into it
(a clock they move): uvicorn in a thread of its own, on a free port of 127.0.0.1."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager

import uvicorn

from app.services import HurenApp
from tests.processes import ServerFailed


@contextmanager
def serve_in_process(app: HurenApp, port: int, timeout: float = 30.0) -> Iterator[str]:
    """Serve `app` until the block ends; yields its base URL once start-up (the lifespan) has run, so that
    `app.services` is there to be changed."""
    config = uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", lifespan="on")
    server = uvicorn.Server(config)
    # uvicorn installs no signal handlers outside the main thread: it stops when told to, below.
    thread = threading.Thread(target=server.run, name=f"huren-in-process-{port}", daemon=True)
    thread.start()
    deadline = time.monotonic() + timeout
    while not server.started:
        if not thread.is_alive():
            raise ServerFailed("the in-process server stopped during start-up")
        if time.monotonic() > deadline:
            server.should_exit = True
            raise ServerFailed(f"the in-process server did not start within {timeout} s")
        time.sleep(0.05)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=15)
