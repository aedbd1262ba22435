"""The test suite itself may only reach loopback (pytest-socket, pyproject addopts)."""

from __future__ import annotations

import socket

import pytest
from pytest_socket import SocketConnectBlockedError


def test_non_loopback_connections_are_blocked() -> None:
    with (
        socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s,
        pytest.warns(UserWarning, match="192.0.2.1"),
        pytest.raises(SocketConnectBlockedError),
    ):
        s.connect(("192.0.2.1", 80))  # TEST-NET-1: must never be tried


def test_loopback_range_is_allowed() -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as server:
        server.bind(("127.0.0.9", 0))
        server.listen(1)
        with socket.create_connection(server.getsockname(), timeout=2):
            pass
