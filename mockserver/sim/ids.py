"""Random ids (request ids, file ids), drawn from a buffered pool of OS randomness.

``uuid.uuid4()`` asks the kernel for 16 bytes on every call; at thousands of
submits a second that system call showed in profiles. The pool asks for 4 KB
at a time: the ids are just as unpredictable, 256 to a call. Request ids are
made 128 at a time from it, and handed out without a lock.
"""

from __future__ import annotations

import os
import threading

_POOL_BYTES = 4096
_VARIANT = "89ab" * 4  # RFC 4122 variant digit, indexed by any hex digit's value


class _Pool:
    """Random bytes kept as hex text: ids are hex, so a draw is a slice."""

    def __init__(self) -> None:
        self.reset()

    def reset(self) -> None:
        self._hex = ""
        self._at = 0
        # Mocks serving from several threads of one process (test suites) share the pool.
        self._lock = threading.Lock()

    def take_hex(self, digits: int) -> str:
        with self._lock:
            at = self._at
            if at + digits > len(self._hex):
                self._hex, at = os.urandom(_POOL_BYTES).hex(), 0
            self._at = at + digits
            return self._hex[at : at + digits]


_POOL = _Pool()
_BATCH = 128  # uuids made at a time


def _uuids(count: int) -> list[str]:
    """``count`` random (version 4) UUIDs in their usual 36-character form."""
    digits = _POOL.take_hex(32 * count)
    # Digit 12 becomes the version (4); digit 16 keeps two random bits under the variant's two.
    return [
        f"{h[:8]}-{h[8:12]}-4{h[13:16]}-{_VARIANT[int(h[16], 16)]}{h[17:20]}-{h[20:32]}"
        for h in (digits[at : at + 32] for at in range(0, 32 * count, 32))
    ]


_UUIDS: list[str] = []


def _reset() -> None:
    _POOL.reset()
    _UUIDS.clear()


# A forked child must not hand out its parent's ids, nor inherit a lock held by another thread.
os.register_at_fork(after_in_child=_reset)


def uuid4() -> str:
    """A random (version 4) UUID in its usual 36-character form."""
    # Made in batches and handed out by list.pop, which is atomic: no lock per id. Threads
    # that find the list empty at once each add a batch of fresh ones, which is harmless.
    while True:
        try:
            return _UUIDS.pop()
        except IndexError:
            _UUIDS.extend(_uuids(_BATCH))


def token_hex(nbytes: int = 16) -> str:
    """``nbytes`` random bytes as hex."""
    return _POOL.take_hex(2 * nbytes)
