"""A Slack incoming-webhook endpoint on 127.0.0.1, in a thread (the Lambdas use blocking HTTP).

It speaks the incoming-webhook protocol: a JSON body with `text` and/or `blocks` gets 200 `ok`;
an unparsable body gets 400 `invalid_payload`; `fail_next` queues 429s (with `Retry-After`) or 5xx
answers. Every request is recorded with its headers, so the same server doubles as a generic
webhook receiver whose signatures the test checks.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


@dataclass
class Received:
    path: str
    headers: dict[str, str]  # names lower-cased: HTTP header names are case-insensitive
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body)


@dataclass
class FakeSlack:
    url: str = ""
    received: list[Received] = field(default_factory=list)
    answered: list[int] = field(default_factory=list)
    _failures: list[tuple[int, str | None]] = field(default_factory=list)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def fail_next(self, status: int, times: int = 1, retry_after: str | None = None) -> None:
        """Answer the next `times` requests with `status` (and `Retry-After` when given)."""
        with self._lock:
            self._failures.extend([(status, retry_after)] * times)

    def accepted(self, path: str | None = None) -> list[Received]:
        """Requests answered 200, optionally only those to `path`."""
        return [r for r, s in zip(self.received, self.answered, strict=True) if s == 200 and path in (None, r.path)]

    def _answer(self, request: Received) -> tuple[int, dict[str, str], bytes]:
        with self._lock:
            failure = self._failures.pop(0) if self._failures else None
        if failure is not None:
            status, retry_after = failure
            headers = {"Retry-After": retry_after} if retry_after is not None else {}
            return status, headers, b"rate_limited" if status == 429 else b"internal_error"
        try:
            document = request.json()
        except ValueError:
            return 400, {}, b"invalid_payload"
        if request.path.startswith("/services/") and not (
            isinstance(document, dict) and ("text" in document or "blocks" in document)
        ):
            return 400, {}, b"no_text"
        return 200, {}, b"ok"


@contextmanager
def start_fake_slack() -> Iterator[FakeSlack]:
    """Run the fake on a free port; `url` is its base (`{url}/services/T000/B000/XXXX` is a webhook)."""
    fake = FakeSlack()

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            length = int(self.headers.get("Content-Length", "0"))
            request = Received(self.path, {k.lower(): v for k, v in self.headers.items()}, self.rfile.read(length))
            status, headers, body = fake._answer(request)
            with fake._lock:
                fake.received.append(request)
                fake.answered.append(status)
            self.send_response(status)
            for key, value in headers.items():
                self.send_header(key, value)
            self.send_header("Content-Type", "text/plain")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    fake.url = f"http://127.0.0.1:{server.server_address[1]}"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield fake
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)
