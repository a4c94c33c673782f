"""A small OpenAI-compatible HTTP server on 127.0.0.1 for the formulator's tests.

It serves ``GET /v1/models`` and ``POST /v1/chat/completions`` from a queue of scripted replies
and records every request body, so tests exercise the real ``openai`` client against
well-formed, malformed, slow and failing replies without leaving loopback.
"""

from __future__ import annotations

import json
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


@dataclass
class Reply:
    """One scripted reply: a message ``content`` (a dict is sent as JSON text), or an HTTP
    ``status`` error, after ``delay_s``; ``finish_reason`` as the server reports it."""

    content: str | dict | None = None
    status: int = 200
    delay_s: float = 0.0
    finish_reason: str = "stop"


@dataclass
class FakeLLM:
    """The server's state: replies still to send and requests received."""

    replies: list[Reply] = field(default_factory=list)
    requests: list[dict[str, Any]] = field(default_factory=list)
    headers: list[dict[str, str]] = field(default_factory=list)

    def queue(self, *replies: Reply | dict | str) -> None:
        for r in replies:
            self.replies.append(r if isinstance(r, Reply) else Reply(content=r))


def _handler(state: FakeLLM):
    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args: Any) -> None:  # keep pytest output clean
            pass

        def _send(self, status: int, body: dict) -> None:
            data = json.dumps(body).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            try:
                self.wfile.write(data)
            except (BrokenPipeError, ConnectionResetError):
                pass  # the client timed out and left

        def do_GET(self) -> None:
            if self.path.rstrip("/") == "/v1/models":
                self._send(200, {"object": "list", "data": [{"id": "fake", "object": "model"}]})
            else:
                self._send(404, {"error": {"message": "not found"}})

        def do_POST(self) -> None:
            length = int(self.headers.get("Content-Length", 0))
            body = json.loads(self.rfile.read(length) or b"{}")
            state.requests.append(body)
            state.headers.append({k.lower(): v for k, v in self.headers.items()})
            if self.path.rstrip("/") != "/v1/chat/completions":
                self._send(404, {"error": {"message": "not found"}})
                return
            reply = state.replies.pop(0) if state.replies else Reply(status=500)
            time.sleep(reply.delay_s)
            if reply.status != 200:
                self._send(reply.status, {"error": {"message": f"scripted {reply.status}"}})
                return
            content = reply.content
            if isinstance(content, dict):
                content = json.dumps(content)
            self._send(
                200,
                {
                    "id": "chatcmpl-test",
                    "object": "chat.completion",
                    "created": 0,
                    "model": body.get("model", "fake"),
                    "choices": [
                        {
                            "index": 0,
                            "finish_reason": reply.finish_reason,
                            "message": {"role": "assistant", "content": content},
                        }
                    ],
                    "usage": {"prompt_tokens": 1, "completion_tokens": 1, "total_tokens": 2},
                },
            )

    return Handler


class FakeLLMServer:
    """Context manager: ``with FakeLLMServer() as (url, state): ...`` (``url`` ends in /v1)."""

    def __enter__(self) -> tuple[str, FakeLLM]:
        self.state = FakeLLM()
        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), _handler(self.state))
        self.httpd.daemon_threads = True
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()
        host, port = self.httpd.server_address[:2]
        return f"http://{host}:{port}/v1", self.state

    def __exit__(self, *exc: object) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()
