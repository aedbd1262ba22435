"""Password hashing at the production cost (the web worlds hash cheaply)."""

from __future__ import annotations

import asyncio
import threading
import time
from unittest import mock

from nttd import auth
from nttd.auth import (
    PasswordHashing,
    hash_password,
    hash_scrypt,
    password_needs_rehash,
    verify_password,
)


def test_argon2id_with_the_rfc_9106_low_memory_parameters() -> None:
    stored = hash_password("correct horse battery")
    assert stored.startswith("$argon2id$v=19$m=65536,t=3,p=4$")
    assert verify_password("correct horse battery", stored)
    assert not verify_password("correct horse batterz", stored)
    assert not password_needs_rehash(stored)
    old = hash_scrypt("correct horse battery")
    assert verify_password("correct horse battery", old)
    assert not verify_password("wrong", old)
    assert password_needs_rehash(old)
    assert not verify_password("x", "garbage") and not verify_password("x", "scrypt$x$y")


async def test_hashing_runs_off_the_loop_a_few_at_a_time() -> None:
    running = peak = 0
    lock = threading.Lock()

    def slow_hash(password: str) -> str:
        nonlocal running, peak
        with lock:
            running += 1
            peak = max(peak, running)
        time.sleep(0.05)
        with lock:
            running -= 1
        return "$argon2id$fake"

    ticks = 0

    async def ticker() -> None:
        nonlocal ticks
        while True:
            await asyncio.sleep(0.005)
            ticks += 1

    hashing = PasswordHashing(limit=2)
    task = asyncio.create_task(ticker())
    with mock.patch.object(auth, "hash_password", slow_hash):
        results = await asyncio.gather(*(hashing.hash(f"p{n}") for n in range(6)))
    task.cancel()
    assert len(results) == 6
    assert peak == 2  # two at once, never more
    assert ticks >= 5  # the event loop kept running while hashing
