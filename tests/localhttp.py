"""A local HTTP server for real-build tests that stand in for unreachable hosts (GitHub,
bootstrap.pypa.io): builds run in the host network namespace (buildah --isolation chroot), so a
RUN step reaches http://127.0.0.1:PORT."""

from __future__ import annotations

import functools
import http.server
import threading
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from pathlib import Path
from typing import Any


@contextmanager
def serve(handler: Callable[..., http.server.BaseHTTPRequestHandler]) -> Iterator[str]:
    """Serve ``handler`` on 127.0.0.1 (a free port) in a thread; yields http://127.0.0.1:PORT and
    stops the server on exit."""
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{httpd.server_address[1]}"
    finally:
        httpd.shutdown()
        httpd.server_close()


def serve_directory(root: Path) -> AbstractContextManager[str]:
    """Serve the files below ``root`` (plain GETs)."""
    handler: Any = functools.partial(http.server.SimpleHTTPRequestHandler, directory=str(root))
    return serve(handler)
