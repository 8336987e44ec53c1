"""The loopback gateway's HTTP server: a threading server that tracks its connections so ``stop()`` can cut them,
a handler that hands every request to the gateway, and request-parsing helpers."""

from __future__ import annotations

import contextlib
import json
import socket
import socketserver
import sys
import threading
import time
from collections.abc import Iterable, Mapping
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from ._loopback import LoopbackGateway


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive and chunked streams, like a real gateway
    server: Server

    def log_message(self, format: str, *args: Any) -> None:
        """Silent: a test run is not an access log."""

    def do_GET(self) -> None:
        self.server.gateway._exchange(self)

    do_POST = do_PUT = do_PATCH = do_DELETE = do_GET

    def read_body(self) -> bytes:
        length = int(self.headers.get("content-length") or 0)
        return self.rfile.read(length) if length else b""

    def send_head(self, status: int, headers: Mapping[str, str]) -> None:
        self.send_response(status)
        for name, value in headers.items():
            self.send_header(name, value)
        self.end_headers()

    def send_chunk(self, data: bytes) -> None:
        self.wfile.write(b"%x\r\n%s\r\n" % (len(data), data))


class Server(ThreadingHTTPServer):
    """Tracks its connections and handler threads so that ``stop()`` can end them promptly and join them."""

    daemon_threads = True
    block_on_close = False  # threads are joined by stop(), after their sockets are shut down

    def __init__(self, gateway: LoopbackGateway) -> None:
        super().__init__(("127.0.0.1", 0), Handler)
        self.gateway = gateway
        self._lock = threading.Lock()
        self._connections: set[socket.socket] = set()
        self._workers: set[threading.Thread] = set()

    def server_bind(self) -> None:
        # HTTPServer.server_bind would resolve the host name (getfqdn), a DNS lookup a loopback server does not need.
        socketserver.TCPServer.server_bind(self)
        self.server_name, self.server_port = "127.0.0.1", int(self.server_address[1])

    def get_request(self) -> tuple[socket.socket, Any]:
        sock, address = super().get_request()
        # SSE events are small writes; without this, Nagle + delayed ACK stalls them by ~40 ms.
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        with self._lock:
            self._connections.add(sock)
        return sock, address

    def process_request(self, request: socket.socket | tuple[bytes, socket.socket], client_address: Any) -> None:
        thread = threading.Thread(
            target=self._serve_connection, args=(request, client_address), name="aigw-loopback-conn", daemon=True
        )
        with self._lock:
            self._workers.add(thread)
        thread.start()

    def _serve_connection(self, request: socket.socket | tuple[bytes, socket.socket], client_address: Any) -> None:
        try:
            self.process_request_thread(request, client_address)
        finally:
            with self._lock:
                self._connections.discard(request)
                self._workers.discard(threading.current_thread())

    def handle_error(self, request: Any, client_address: Any) -> None:
        # A client that hangs up mid-response (a stream closed early, a cancelled task, stop()) is a normal event
        # for a test gateway; socketserver's default would print a traceback into the test output.
        exc = sys.exc_info()[1]
        if isinstance(exc, (ConnectionError, TimeoutError, OSError)):
            return
        super().handle_error(request, client_address)

    def close_connections(self, timeout: float) -> None:
        """Shut down every open connection (waking handlers blocked on keep-alive reads) and join their threads."""
        with self._lock:
            connections, threads = list(self._connections), list(self._workers)
        for sock in connections:
            with contextlib.suppress(OSError):  # already closed by its handler
                sock.shutdown(socket.SHUT_RDWR)
        deadline = time.monotonic() + timeout
        for thread in threads:
            thread.join(max(0.0, deadline - time.monotonic()))


def lower_headers(items: Iterable[tuple[str, str]]) -> dict[str, str]:
    out: dict[str, str] = {}
    for name, value in items:
        key = name.lower()
        out[key] = f"{out[key]}, {value}" if key in out else value
    return out


def parse_json(body: bytes) -> Any:
    try:
        return json.loads(body) if body else None
    except ValueError:
        return None
