import os
import socket

import pytest

os.environ.setdefault("WANDB_MODE", "disabled")


@pytest.fixture
def loopback_only(monkeypatch):
    """Fail the test if it opens a connection beyond 127.0.0.1 (the formulator's tests)."""
    real = socket.socket.connect

    def connect(self, address):
        host = address[0] if isinstance(address, tuple) else address
        if isinstance(host, str) and host not in ("127.0.0.1", "localhost", "::1"):
            raise AssertionError(f"a test tried to reach {address}")
        return real(self, address)

    monkeypatch.setattr(socket.socket, "connect", connect)
