"""The server's outer guard, as pure ASGI middleware: Host allowlist, body size limit, access log.

- **Host allowlist.** A page on another site can make a browser send requests to ``127.0.0.1`` under
  its own name (DNS rebinding: ``attacker.example`` re-resolved to the loopback address). The
  browser then sends ``Host: attacker.example``, which is refused with 400 before the app runs.
- **Body size limit.** The body is read and counted as it arrives, chunk by chunk, so a request
  without ``Content-Length`` (chunked) is held to the same bound; past it the answer is 413 and the
  app never sees the request. A ``Content-Length`` over the bound is refused before reading.
- **Access log.** One JSON line per request: time, user (set by ``cibwatch.api.auth``), method,
  path, status and milliseconds, appended to ``access.log`` in the case and sent to the
  ``cibwatch.access`` logger. JSON, so a path or name cannot forge a line.
"""

from __future__ import annotations

import json
import logging
import threading
import time
from collections.abc import Iterable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from starlette.types import ASGIApp, Message, Receive, Scope, Send

LOOPBACK_HOSTS = ("127.0.0.1", "localhost", "::1")
MAX_BODY = 1_000_000  # bytes; review requests are a few hundred
ACCESS_LOG = "access.log"
logger = logging.getLogger("cibwatch.access")


def host_name(header: str) -> str:
    """The host of a Host header, without port or IPv6 brackets, lower case.

    >>> host_name("[::1]:8000"), host_name("LocalHost:80")
    ('::1', 'localhost')
    """
    header = header.strip().lower()
    if header.startswith("["):
        return header[1:].split("]", 1)[0]
    return header.rsplit(":", 1)[0] if header.count(":") == 1 else header


class Guard:
    """Wraps ``app``: refuses foreign Host names (400) and bodies over ``max_body`` (413); logs requests."""

    def __init__(
        self,
        app: ASGIApp,
        *,
        allowed_hosts: Iterable[str] = (),
        max_body: int = MAX_BODY,
        access_log: Path | None = None,
    ) -> None:
        self.app = app
        self.allowed_hosts = frozenset(h.lower().strip("[]") for h in (*LOOPBACK_HOSTS, *allowed_hosts))
        self.max_body = max_body
        self.access_log = access_log
        self._log_lock = threading.Lock()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status = 500  # unless a response starts: an exception the app did not turn into one
        scope.setdefault("state", {})

        async def send_logged(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            refusal = self._refusal(scope)
            body = b""
            if refusal is None:
                body, refusal = await self._read_body(receive)
            if refusal is not None:
                await _plain(send_logged, *refusal)
            else:
                await self.app(scope, _replay(body, receive), send_logged)
        finally:
            self._log(scope, status, (time.perf_counter() - started) * 1000)

    def _refusal(self, scope: Scope) -> tuple[int, str] | None:
        headers = _headers(scope)
        host = headers.get("host")
        if host is None or host_name(host) not in self.allowed_hosts:
            return 400, (
                f"Host {host!r} is not served here; start `cibwatch serve` with --allow-host NAME "
                "to serve it under that name"
            )
        length = headers.get("content-length")
        if length is not None and not length.isdigit():
            return 400, f"Content-Length {length!r} is not a number of bytes"
        if length is not None and int(length) > self.max_body:
            return 413, f"request body over {self.max_body} bytes (--max-body)"
        return None

    async def _read_body(self, receive: Receive) -> tuple[bytes, tuple[int, str] | None]:
        chunks: list[bytes] = []
        size = 0
        while True:
            message = await receive()
            if message["type"] != "http.request":  # the client went away
                return b"", (400, "the client disconnected")
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > self.max_body:
                return b"", (413, f"request body over {self.max_body} bytes (--max-body)")
            chunks.append(chunk)
            if not message.get("more_body", False):
                return b"".join(chunks), None

    def _log(self, scope: Scope, status: int, ms: float) -> None:
        user = scope.get("state", {}).get("user")
        line = json.dumps(
            {
                "time": datetime.now(UTC).isoformat(timespec="milliseconds"),
                "user": getattr(user, "name", None),
                "method": scope["method"],
                "path": scope["path"],
                "status": status,
                "ms": round(ms, 1),
            },
            ensure_ascii=False,
        )
        logger.info(line)
        if self.access_log is not None:
            with self._log_lock, self.access_log.open("a", encoding="utf-8") as fh:
                fh.write(line + "\n")


def _headers(scope: Scope) -> dict[str, str]:
    return {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope["headers"]}


def _replay(body: bytes, receive: Receive) -> Receive:
    """The body read by the guard, handed to the app in one message; then the client's own messages."""
    sent = False

    async def replayed() -> Message:
        nonlocal sent
        if not sent:
            sent = True
            return {"type": "http.request", "body": body, "more_body": False}
        return await receive()

    return replayed


async def _plain(send: Send, status: int, message: str) -> None:
    payload: Any = json.dumps({"error": message}).encode()
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [
                (b"content-type", b"application/json"),
                (b"content-length", str(len(payload)).encode()),
                (b"connection", b"close"),
            ],
        }
    )
    await send({"type": "http.response.body", "body": payload})
